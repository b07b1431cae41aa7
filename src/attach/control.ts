/**
 * Commands to a running `scope attach` session from another `scope` process (`scope detach
 * <pid>`, `scope attach <pid> --functions ...` / `--remove-functions` while one runs): a
 * unix socket per attached pid in a private directory of this user
 * (`$XDG_RUNTIME_DIR/scope-attach` or `/tmp/scope-attach-<uid>`, 0700), one JSON line each
 * way. The session passes them on to its agent (control file) and answers with the agent's
 * reply.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

export interface ControlRequest {
  op: "functions" | "remove" | "detach" | "ping";
  files?: string[];
  names?: string[];
  /** The directory `files` are relative to (the attached process's working directory). */
  root?: string;
}

export interface ControlReply {
  ok: boolean;
  message: string;
}

export function controlDir(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  const dir = runtime && existsSync(runtime) ? join(runtime, "scope-attach") : `/tmp/scope-attach-${process.getuid?.() ?? 0}`;
  if (!existsSync(dir)) mkdirSync(dir, { mode: 0o700, recursive: true });
  const stat = lstatSync(dir);
  // Someone else's directory (or a symlink) in /tmp: never talk through it.
  if (!stat.isDirectory() || stat.uid !== (process.getuid?.() ?? 0)) throw new Error(`${dir} is not a private directory of this user`);
  if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  return dir;
}

export function socketPath(pid: number): string {
  return join(controlDir(), `${pid}.sock`);
}

/** Serves requests for `pid` until stop(); `handle` answers each. */
export function serveControl(pid: number, handle: (request: ControlRequest) => Promise<ControlReply>): { stop(): void } {
  const path = socketPath(pid);
  rmSync(path, { force: true });
  const server = Bun.listen<{ buffer: string }>({
    unix: path,
    socket: {
      open(socket) {
        socket.data = { buffer: "" };
      },
      data(socket, chunk) {
        socket.data.buffer += chunk.toString();
        const newline = socket.data.buffer.indexOf("\n");
        if (newline < 0) return;
        let request: ControlRequest;
        try {
          request = JSON.parse(socket.data.buffer.slice(0, newline)) as ControlRequest;
        } catch {
          socket.end(`${JSON.stringify({ ok: false, message: "malformed request" })}\n`);
          return;
        }
        handle(request).then(
          (reply) => socket.end(`${JSON.stringify(reply)}\n`),
          (error) => socket.end(`${JSON.stringify({ ok: false, message: String((error as Error)?.message ?? error) })}\n`),
        );
      },
    },
  });
  chmodSync(path, 0o600);
  return {
    stop() {
      server.stop(true);
      rmSync(path, { force: true });
    },
  };
}

/** Sends one request to the session attached to `pid`; undefined when no session runs for it. */
export async function sendControl(pid: number, request: ControlRequest, timeoutMs = 60_000): Promise<ControlReply | undefined> {
  const path = socketPath(pid);
  if (!existsSync(path)) return undefined;
  return new Promise((resolve) => {
    let buffer = "";
    let settled = false;
    const settle = (reply: ControlReply | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(reply);
    };
    const timer = setTimeout(() => settle({ ok: false, message: `no answer from the scope attach session of pid ${pid}` }), timeoutMs);
    Bun.connect({
      unix: path,
      socket: {
        open(socket) {
          socket.write(`${JSON.stringify(request)}\n`);
        },
        data(_socket, chunk) {
          buffer += chunk.toString();
        },
        close() {
          try {
            settle(JSON.parse(buffer.trim()) as ControlReply);
          } catch {
            settle({ ok: false, message: `no answer from the scope attach session of pid ${pid}` });
          }
        },
        error() {
          settle(undefined);
        },
      },
    }).catch(() => {
      // A socket file left by a session that was killed.
      rmSync(path, { force: true });
      settle(undefined);
    });
  });
}
