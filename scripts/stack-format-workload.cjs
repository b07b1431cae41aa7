// Formats `new Error().stack` COUNT times at a stack depth of 20, in a module's top level
// (WHEN=top: required from the entry, so scope's frames are on the stack and its limit
// raised) or in a later callback (WHEN=later). For scripts/stack-format-instructions.sh.
//   node stack-format-workload.cjs COUNT top|later
const count = Number(process.argv[2]);
const when = process.argv[3];
function recurse(depth) {
  if (depth > 0) return recurse(depth - 1);
  let length = 0;
  for (let i = 0; i < count; i++) length += new Error("x").stack.length;
  return length;
}
module.exports = recurse;
if (require.main === module) {
  if (when === "top") require(__filename.replace(/\.cjs$/, "-top.cjs"));
  else setImmediate(() => console.log(recurse(20)));
}
