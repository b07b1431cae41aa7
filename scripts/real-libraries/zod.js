// scope's real-libraries check (run.sh): validation: zod, yup, joi, ajv, superstruct.
const { z } = require("zod"); const yup = require("yup"); const Joi = require("joi"); const Ajv = require("ajv"); const ss = require("superstruct");
const s = z.object({ a: z.string(), b: z.number().int().positive().optional(), c: z.array(z.enum(["x","y"])) });
console.log(JSON.stringify(s.safeParse({a:"1",c:["x"]})), s.safeParse({a:1,c:["z"]}).error.issues.length);
yup.object({ n: yup.number().required() }).validate({}).catch(e => console.log("yup", e.message));
console.log(Joi.object({ a: Joi.string().min(3) }).validate({ a: "x" }).error.message);
const ajv = new Ajv(); const v = ajv.compile({type:"object",properties:{x:{type:"integer"}},required:["x"]}); console.log(v({x:1}), v({}), JSON.stringify(v.errors));
console.log(ss.is({a:1}, ss.object({a: ss.number()})));
