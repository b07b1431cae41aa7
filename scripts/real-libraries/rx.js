// scope's real-libraries check (run.sh): state and streams: rxjs, immer, Redux Toolkit, mobx, immutable, ramda.
const { from, map, filter, reduce, lastValueFrom, interval, take } = require("rxjs");
(async () => { console.log(await lastValueFrom(from([1,2,3,4]).pipe(map(x=>x*2), filter(x=>x>2), reduce((a,b)=>a+b,0)))); console.log(await lastValueFrom(interval(1).pipe(take(3), reduce((a,b)=>a+b,0)))); })();
const { produce } = require("immer"); console.log(JSON.stringify(produce({a:[1]}, d => { d.a.push(2); })));
const { configureStore, createSlice } = require("@reduxjs/toolkit"); const sl = createSlice({name:"c",initialState:{v:0},reducers:{inc:s=>{s.v++}}}); const st = configureStore({reducer:sl.reducer}); st.dispatch(sl.actions.inc()); console.log(st.getState().v);
const { observable, autorun, runInAction } = require("mobx"); const o = observable({x:1}); autorun(()=>console.log("mobx", o.x)); runInAction(()=>{o.x=2});
const I = require("immutable"); console.log(I.Map({a:1}).set("b",2).toJS());
const R = require("ramda"); console.log(R.pipe(R.map(R.inc), R.sum)([1,2,3]));
