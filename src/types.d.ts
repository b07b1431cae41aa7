// Files imported `with { type: "file" }` resolve to their path.
declare module "*.so" {
  const path: string;
  export default path;
}
declare module "*.node" {
  const path: string;
  export default path;
}
declare module "*.cjs" {
  const path: string;
  export default path;
}
declare const SCOPE_ASSET_HASH: string | undefined;
/** The instrumenter's build id in the agent bundles (src/core/assets.ts transformBuildId). */
declare const SCOPE_TRANSFORM_BUILD: string | undefined;
declare module "*.mjs" {
  const path: string;
  export default path;
}
// Files imported `with { type: "text" }` are their text.
declare module "*.proto" {
  const text: string;
  export default text;
}
// The view page's files, bundled by scripts/build.ts and imported `with { type: "text" }`.
declare module "*.bundle" {
  const text: string;
  export default text;
}
