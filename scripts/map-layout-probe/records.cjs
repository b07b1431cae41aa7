const p = require(process.argv[2]);
console.log(process.version);
p.roots();
let n = 7;
const big = 4000000000 + n;
p.probe({ id: n, seed: n, rounds: 200 });
p.probe({ id: 3, result: big });
p.probe({ id: 3, result: 1.5, s: "hello", t: true, f: false, nu: null, u: undefined, s2: "ab" + String(n) });
const o = {}; o.a = 1; o.b = "x"; o.c = 2.5; o.d = 3; o.e = 4; o.f = 5; o.g = 6;
p.probe(o);
class K { constructor() { this.x = 1; this.y = 2; } }
p.probe(new K());
const x = { a: 1, b: 2 }; x.a = 1.5; p.probe(x); p.probe({ a: 1, b: 2 });
// Arrays (previewNative, zig/napi.zig "Function previews written natively"): PACKED_SMI, PACKED_DOUBLE, PACKED, a literal's copy-on-write elements, one grown past its capacity.
p.array([1, 2, 3]);
p.array([1.5, -2.25, 3]);
p.array(["a", { x: 1 }, null]);
const grown = []; for (let i = 0; i < 5; i++) grown.push(i * 2); p.array(grown);
p.array(Array.from({ length: 3 }, (_, i) => ({ unit: 1.5 + i })));
