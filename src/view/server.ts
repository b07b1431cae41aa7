/**
 * `scope view`'s HTTP server: 127.0.0.1 only, every path under a random token (anything
 * else gets 403, so another user of the machine cannot read the trace; the token without
 * the last "/" is redirected to the page), the Host header
 * checked (a page elsewhere cannot reach it through DNS rebinding), the page and its
 * script served from memory (no CDN, no internet), and the trace answered in windows.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Server } from "bun";
import type { TraceIndex } from "./index";
import { pageAssets, type PageAssets } from "./page-assets";

export interface ViewServer {
  url: string;
  port: number;
  token: string;
  stop(): Promise<void>;
}

const security = {
  "Cache-Control": "no-store",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
};

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), { status, headers: { ...security, "Content-Type": "application/json" } });
}

function forbidden(): Response {
  return new Response("403 forbidden: this address needs the token scope view printed\n", { status: 403, headers: { ...security, "Content-Type": "text/plain" } });
}

function numberParam(url: URL, name: string): number | undefined {
  const text = url.searchParams.get(name);
  if (text === null || text === "") return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function tracksParam(url: URL): number[] | undefined {
  const text = url.searchParams.get("tracks");
  if (!text) return undefined;
  return text.split(",").map(Number).filter(Number.isInteger);
}

export async function startViewServer(index: TraceIndex, options: { port?: number; token?: string } = {}): Promise<ViewServer> {
  const token = options.token ?? randomBytes(18).toString("base64url");
  const assets: PageAssets = await pageAssets();
  const prefix = `/${token}/`;
  const expected = Buffer.from(prefix);
  let server: Server<undefined> | undefined;
  const tokenOk = (path: string) => {
    const given = Buffer.from(path.slice(0, expected.length));
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const hostOk = (host: string | null) => host === `127.0.0.1:${server!.port}` || host === `localhost:${server!.port}`;
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    idleTimeout: 60,
    fetch(request) {
      const url = new URL(request.url);
      if (!hostOk(request.headers.get("host"))) return forbidden();
      // The address copied without its last "/" (the token right): on to the page.
      if (url.pathname.length === prefix.length - 1 && tokenOk(`${url.pathname}/`)) {
        return new Response(null, { status: 308, headers: { ...security, Location: `${prefix}${url.search}` } });
      }
      if (!tokenOk(url.pathname)) return forbidden();
      if (request.method !== "GET") return new Response("405 method not allowed\n", { status: 405, headers: security });
      const route = url.pathname.slice(prefix.length);
      switch (route) {
        case "":
          return new Response(assets.html, { headers: { ...security, "Content-Type": "text/html; charset=utf-8" } });
        case "app.js":
          return new Response(assets.js, { headers: { ...security, "Content-Type": "text/javascript; charset=utf-8" } });
        case "style.css":
          return new Response(assets.css, { headers: { ...security, "Content-Type": "text/css; charset=utf-8" } });
        case "api/meta":
          return json(index.meta());
        case "api/window": {
          const startNs = numberParam(url, "start") ?? 0;
          const endNs = numberParam(url, "end") ?? index.meta().durationNs;
          const widthPx = Math.min(Math.max(numberParam(url, "width") ?? 1000, 1), 20_000);
          if (!(endNs > startNs)) return json({ error: "end must be after start" }, 400);
          return json(index.window({ startNs, endNs, widthPx, tracks: tracksParam(url) }));
        }
        case "api/event": {
          const details = index.details(numberParam(url, "id") ?? -1);
          return details ? json(details) : json({ error: "no such event" }, 404);
        }
        case "api/search":
          return json(index.search(url.searchParams.get("q") ?? ""));
        case "api/top": {
          const startNs = numberParam(url, "start") ?? 0;
          const endNs = numberParam(url, "end") ?? index.meta().durationNs;
          return json(index.top(startNs, endNs, tracksParam(url)));
        }
        default:
          return new Response("404 not found\n", { status: 404, headers: security });
      }
    },
  });
  const port = server.port!;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    port,
    token,
    async stop() {
      await server!.stop(true);
    },
  };
}
