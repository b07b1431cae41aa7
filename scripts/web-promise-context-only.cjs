"use strict";
// For scripts/bench-web-profile.ts mode `v8ctx`: what a request context carried by V8's
// promise hooks alone would cost (no async_hooks, no AsyncLocalStorage): a number set at
// each server request's start, stamped on every promise created while it is set and
// restored around each promise reaction; nothing recorded, and nothing carried through
// timers or I/O callbacks (what AsyncLocalStorage also covers). Compare with mode `als`.
const channels = require("node:diagnostics_channel");
const { promiseHooks } = require("node:v8");
const context = Symbol("context");
let current = 0;
let next = 1;
promiseHooks.createHook({
  init(promise) {
    if (current !== 0) promise[context] = current;
  },
  before(promise) {
    current = promise[context] ?? 0;
  },
  after() {
    current = 0;
  },
});
channels.subscribe("http.server.request.start", () => {
  current = next++;
});
