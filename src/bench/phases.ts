/**
 * The pipeline's steps one by one (parse, transform, print), for scripts/profile-startup.ts
 * to time each in Node; `instrument()` runs them in one call.
 */
export { default as MagicString } from "magic-string";
export { parse } from "../instrument/parse";
export { transform } from "../instrument/transform";
export { print } from "../instrument/print";
