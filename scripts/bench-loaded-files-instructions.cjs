"use strict";
// Instructions (not time) the agent's core adds to each CommonJS file Node loads, to test it
// against the library files the integrations hook (src/agent/node/lazy.ts hookLibraryFiles):
// run under Valgrind at two counts and take the difference, so start-up cancels out and a
// loaded machine moves nothing (BENCHMARKS.md "Library files without a frame"):
//   bash scripts/loaded-files-instructions.sh [node]
// Each file goes through Node's own Module.prototype.load (its paths lookup, the extension
// call, `loaded`), under node_modules in a `lib` directory (the string tests pass, the
// patterns run and fail: the common case, and the costlier one), its extension `.bench` (a
// function that sets the exports) so no disk is read.
// Modes:
//   none      nothing (the untraced program)
//   wrapper   main's mechanism before 2026-12-05: the extension wrapped, the same test after
//             the original returns (lazy.ts's fallback, as it still is under other loaders)
//   accessor  src/agent/node/loaded-files.ts whenFilesLoaded (bundled on the fly by `bun build`
//             into LOADED_FILES=path.cjs, with triggers.ts's isHookedDirectory and
//             isHookedFile as lazy.ts passes them)
const mode = process.argv[2] ?? "none";
const files = Number(process.argv[3] ?? 20000);
const Module = require("node:module");
const { isHookedDirectory, isHookedFile, whenFilesLoaded } = mode === "none" ? {} : require(process.env.LOADED_FILES);
let handed = 0;
const wanted = (filename) => isHookedFile(filename, true, true);
const handOver = () => handed++;
const extension = function (module, filename) {
  module.exports = filename.length;
};
Module._extensions[".bench"] = extension;
if (mode === "wrapper") {
  Module._extensions[".bench"] = function (module, filename) {
    const result = Reflect.apply(extension, this, arguments);
    if (typeof filename === "string" && wanted(filename)) handOver(filename, module.exports);
    return result;
  };
} else if (mode === "accessor") {
  if (!whenFilesLoaded(Module, (directory) => isHookedDirectory(directory, true, true), wanted, handOver)) throw new Error("this Node's loader has another shape: no accessor");
}
let sum = 0;
for (let i = 0; i < files; i++) {
  const filename = `/srv/app/node_modules/package-${i % 97}/lib/file-${i}.bench`;
  const child = new Module(filename, module);
  child.load(filename);
  sum += child.exports;
}
if (handed !== 0 || sum === 0) throw new Error("unexpected");
