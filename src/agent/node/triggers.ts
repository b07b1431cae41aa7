/**
 * What makes a thread load the agent's second chunk (node-extras.cjs: HTTP, frameworks,
 * databases; src/agent/node/lazy.ts): the diagnostics channels HTTP subscribes to, and the
 * library files the framework and database integrations hook. Constants only, in both
 * bundles: the core subscribes and tests with them at start, the integrations use the same.
 */

/** Every channel the HTTP integration handles (src/agent/node/http.ts, httpHandlers). */
export const HTTP_CHANNELS = [
  "net.server.socket",
  "http.server.request.start",
  "http.server.response.finish",
  "net.client.socket",
  "http.client.request.start",
  "http.client.response.finish",
  "undici:request:create",
  "undici:client:sendHeaders",
  "undici:request:headers",
  "undici:request:trailers",
  "undici:request:error",
] as const;

export type HttpChannel = (typeof HTTP_CHANNELS)[number];

/**
 * The channels on which HTTP's first message in a thread can come (the core subscribes
 * these at start, lazy.ts): a server's connection or request, a client's socket (before
 * its body: node:http's patches go in then) or request (https: no socket message), fetch's
 * request. Every other channel of HTTP_CHANNELS follows one of these in the same request.
 */
export const HTTP_FIRST_CHANNELS: readonly HttpChannel[] = ["net.server.socket", "http.server.request.start", "net.client.socket", "http.client.request.start", "undici:request:create"];

/** Express 4's layer, the router package's layer (Express 5), Fastify's entry file and hooks. */
export const frameworkFile = /[\\/]node_modules(?:[\\/].*)?(?:[\\/]lib[\\/]router[\\/]layer|[\\/]router[\\/]lib[\\/]layer|[\\/]fastify[\\/]fastify|[\\/]fastify[\\/]lib[\\/]hooks)\.js$/;

/** The library files whose exports a database integration hooks, by path under node_modules. */
export const libraryFile = /[\\/]node_modules[\\/](pg[\\/]lib[\\/](?:client|query)|pg-pool[\\/]index|postgres[\\/]cjs[\\/]src[\\/]query|better-sqlite3[\\/]lib[\\/]database)\.js$/;
