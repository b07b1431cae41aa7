// scope's real-libraries check (run.sh): utilities: inversify with reflect-metadata, bluebird, async, semver, qs, validator, uuid, commander, yargs, tslib, fp-ts.
require("reflect-metadata"); const { injectable, inject, Container } = require("inversify");
const B = require("bluebird"); const async = require("async"); const semver = require("semver"); const qs = require("qs"); const validator = require("validator"); const { v4, v5 } = require("uuid");
B.map([1,2,3], x => B.delay(1).then(()=>x*2)).then(r => console.log("bluebird", r));
async.mapLimit([1,2,3], 2, (x, cb) => setTimeout(() => cb(null, x+1), 1), (e, r) => console.log("async", r));
console.log(semver.satisfies("1.2.3", "^1.0.0"), semver.inc("1.2.3","minor"), qs.stringify({a:[1,2],b:{c:1}}), qs.parse("a[0]=1&b[c]=2").b.c, validator.isEmail("a@b.co"), v5("x", v5.URL).length, typeof v4());
const { Command } = require("commander"); const p = new Command().option("-n, --num <n>", "num", "3").parse(["node","x","-n","5"]); console.log(p.opts());
const y = require("yargs/yargs")(["--a", "1", "b"]).parse(); console.log(y.a, y._);
const tslib = require("tslib"); console.log(typeof tslib.__awaiter);
const { pipe } = require("fp-ts/function"); const O = require("fp-ts/Option"); console.log(pipe(O.some(1), O.map(x => x + 1)));
