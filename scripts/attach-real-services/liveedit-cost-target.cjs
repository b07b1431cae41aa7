function f(x) { return x + 1 }
async function g(){ const inner = (y) => { return y * 2 }; await new Promise(r=>setTimeout(r, 1e6)); return inner(1); }
module.exports = { f, g };
