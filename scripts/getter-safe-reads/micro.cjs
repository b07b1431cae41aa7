// Getter-safe reads of a record's values, one way per process (BENCHMARKS.md "Getter-safe
// reads"): N iterations, each makes a fresh {id, seed, rounds} and reads its 3 values by MODE.
//   node micro.cjs MODE N      (scripts/getter-safe-reads/run.sh counts each MODE's instructions)
// make: nothing read (the loop); plain: for-in and o[k] (runs getters: the floor, not allowed);
// od: for-in and a descriptor per key (the walk's read); od-const: a descriptor per constant key
// (the shape writers' read); ods: Object.getOwnPropertyDescriptors once; lookup: for-in,
// __lookupGetter__ and __lookupSetter__, then o[k]; n-*: V8's C++ API from a Node-API function
// (READS_NATIVE: native.c built by run.sh): n-noop the call alone, n-keys the call, the isolate
// and context, and the loop over held keys, n-get GetRealNamedProperty per key (runs getters:
// the API's unit cost), n-safe HasRealNamedCallbackProperty, HasRealNamedProperty and
// GetRealNamedProperty per key (getter-safe); const-plain: o.id + o.seed + o.rounds (unsafe
// floor); held-only: scope.node's mapHeld (a Fast API call; SCOPE_ADDON or zig-out's); held-direct:
// mapHeld, then the three plain loads (the shape writers' read of a proved map).
const [mode, nText] = process.argv.slice(2);
const N = Number(nText);
const od = Object.getOwnPropertyDescriptor;
const ods = Object.getOwnPropertyDescriptors;
const lookupGetter = Object.prototype.__lookupGetter__;
const lookupSetter = Object.prototype.__lookupSetter__;
const scratch = new Float64Array(16);
let native;
if (mode.startsWith("n-")) {
  native = require(process.env.READS_NATIVE);
  native.setup(["id", "seed", "rounds"], scratch, Number(process.versions.v8.split(".")[0]) >= 12);
}
let held;
if (mode.startsWith("held")) {
  const addon = require(process.env.SCOPE_ADDON ?? require("node:path").join(__dirname, "../../zig-out/lib/scope.node"));
  const api = addon.mapApi();
  held = api.mapHeld;
  if (!api.mapProve({ id: 0, seed: 0, rounds: 3 }, 0)) throw new Error("not proved");
}
let sink = 0;
function run(n) {
  for (let i = 0; i < n; i++) {
    const o = { id: i, seed: i * 7, rounds: 3 };
    switch (mode) {
      case "make": sink += o.rounds; break;
      case "plain": for (const k in o) sink += o[k]; break;
      case "od": for (const k in o) { const d = od(o, k); if (d !== undefined && "value" in d) sink += d.value; } break;
      case "od-const": {
        let d = od(o, "id"); if (d === undefined || !("value" in d)) break; sink += d.value;
        d = od(o, "seed"); if (d === undefined || !("value" in d)) break; sink += d.value;
        d = od(o, "rounds"); if (d === undefined || !("value" in d)) break; sink += d.value;
        break;
      }
      case "ods": { const ds = ods(o); for (const k in ds) sink += ds[k].value; break; }
      case "lookup": for (const k in o) if (lookupGetter.call(o, k) === undefined && lookupSetter.call(o, k) === undefined) sink += o[k]; break;
      case "n-noop": native.noop(o); break;
      case "n-safe": if (native.read1(o) === 3) sink += scratch[0] + scratch[1] + scratch[2]; break;
      case "n-attr": if (native.read2(o) === 3) sink += scratch[0] + scratch[1] + scratch[2]; break;
      case "n-get": if (native.read3(o) === 3) sink += scratch[0] + scratch[1] + scratch[2]; break;
      case "n-keys": native.read4(o); break;
      case "const-plain": sink += o.id + o.seed + o.rounds; break;
      case "held-only": if (held(o, 0)) sink++; break;
      case "held-direct": if (held(o, 0)) sink += o.id + o.seed + o.rounds; break;
      default: throw new Error(mode);
    }
  }
}
run(N);
if (sink === 0.5) console.log(sink);
