/**
 * The Node agent's second chunk (dist/agent/node-extras.cjs): HTTP, Express/Fastify and the
 * database integrations, loaded by a thread when it first needs them (src/agent/node/lazy.ts).
 * The modules with state it shares with the core (request context, loop monitor:
 * chunks.ts EXTRAS_SHARED) are the core's own instances, handed in by lazy.ts.
 */
export { httpHandlers } from "./http";
export { frameworkFiles } from "./frameworks";
export { databaseFileHook } from "./db";
export { wsPackageFiles } from "./ws-package";
