/**
 * `//# sourceMappingURL=`, assembled when the module loads. Spelled out in the source, the
 * bundled agents would carry a line tools read as a source-map comment (Bun's bundler turns a
 * string's `\n` into a real line break in a template literal): source-map-support reads the
 * last such line of every file with a frame on the stack, and scope's `_compile` wrapper is on
 * the stack during every `require` (spec/functions-toolchain.test.ts checks every agent file).
 */
export const MAP_COMMENT_PREFIX = "//" + String.fromCharCode(35) + " sourceMappingURL=";
