"use strict";
// For scripts/bench-web-profile.ts mode `als`: what Node 20 charges for a request context
// alone. One AsyncLocalStorage entered (enterWith) at each server request's start, as the
// agent does (src/agent/shared/request-context.ts), and nothing recorded.
const channels = require("node:diagnostics_channel");
const { AsyncLocalStorage } = require("node:async_hooks");
const storage = new AsyncLocalStorage();
let next = 1;
channels.subscribe("http.server.request.start", () => storage.enterWith(next++));
