// scope's real-libraries check (run.sh): the ES builds of zod, rxjs, date-fns, immer, Redux Toolkit, uuid, ramda, lodash, graphql.
import { z } from "zod";
import { from, map, reduce, lastValueFrom } from "rxjs";
import * as df from "date-fns";
import { produce } from "immer";
import { configureStore, createSlice } from "@reduxjs/toolkit";
import { v4 } from "uuid";
import * as R from "ramda";
import _ from "lodash";
import { graphql, buildSchema } from "graphql";
const s = z.object({ a: z.string() });
console.log(s.safeParse({ a: 1 }).success, await lastValueFrom(from([1, 2]).pipe(map((x) => x * 3), reduce((a, b) => a + b, 0))));
console.log(df.formatISO(new Date(Date.UTC(2020, 0, 1)), { representation: "date" }), JSON.stringify(produce({ a: 1 }, (d) => { d.b = 2; })));
const sl = createSlice({ name: "c", initialState: { v: 0 }, reducers: { inc: (s) => { s.v++; } } });
const st = configureStore({ reducer: sl.reducer }); st.dispatch(sl.actions.inc()); console.log(st.getState().v, typeof v4(), R.sum([1, 2]), _.kebabCase("Foo Bar"));
console.log(JSON.stringify(await graphql({ schema: buildSchema("type Query { a: Int }"), source: "{ a }", rootValue: { a: () => 7 } })));
