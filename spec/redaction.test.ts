/**
 * Redaction through real `scope run`s: each default catches what it promises (secret keys
 * in message previews and URL query strings, SQL literals), --redact-keys and
 * --redact-pattern add to them (previews, error messages, command lines, function
 * previews), --no-redact drops the defaults, a bad pattern is one line.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { redactTarget } from "../src/agent/shared/http";
import { DEFAULT_SECRET_KEYS, redactionOf, redactUserinfo } from "../src/agent/shared/redact";
import type { TraceEvent } from "../src/core/model";
import { loadTrace } from "../src/dump/load";
import { readEvents, repoRoot, runCli } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-redact-");

const card = "4111-1111-1111-1111";

/**
 * One program touching every place a secret can show: a message to a worker with secret and
 * plain keys, an HTTP request over loopback with a token in its query, a SQLite query with
 * literals, an instrumented function called with a card number.
 */
function program(dir: string): string {
  const path = join(dir, "app.js");
  writeFileSync(
    path,
    `const { Worker } = require("node:worker_threads");
const http = require("node:http");
const Database = require(${JSON.stringify(join(repoRoot, "node_modules/better-sqlite3"))});
function charge(note) { return note.length; }
const w = new Worker("let n = 0; require('node:worker_threads').parentPort.on('message', () => { if (++n === 5) process.exit(0); })", { eval: true });
// Small messages: a preview shows about 96 characters.
w.postMessage({ password: "p1", token: "t1", apiKey: "k1" });
w.postMessage({ Authorization: "Bearer b1", cookie: "c1", clientSecret: "s1" });
w.postMessage({ sessionId: "x1", credentials: "r1", name: "visible" });
w.postMessage({ card: "${card}", ssn: "078-05-1120" });
w.postMessage({ note: "pay ${card} now" });
w.on("exit", () => {
  const db = new Database(":memory:");
  db.exec("CREATE TABLE t (name TEXT, n INTEGER)");
  db.prepare("SELECT * FROM t WHERE name = 'Ada' AND n = 42").all();
  charge("pay ${card} now");
  const server = http.createServer((req, res) => res.end("ok")).listen(0, "127.0.0.1", () => {
    http.get({ host: "127.0.0.1", port: server.address().port, path: "/orders?token=abc123&page=2" }, (res) => {
      res.resume();
      res.on("end", () => { server.close(); console.log("done"); });
    });
  });
});
`,
  );
  return path;
}

async function traced(flags: string[]): Promise<TraceEvent[]> {
  const dir = tmp();
  const out = join(dir, "t.bin");
  const result = await runCli(["run", "--functions", "--include", "app.js", ...flags, "--out", out, "--", "node", program(dir)], { cwd: dir });
  expect(result.stdout).toBe("done\n");
  expect(result.exitCode, result.stderr).toBe(0);
  return readEvents(out);
}

/** Every string field of every event. */
const allText = (events: TraceEvent[]) =>
  events
    .flatMap((event) => Object.values(event.fields))
    .filter((value) => typeof value === "string")
    .join("\n");
const sendPreview = (events: TraceEvent[]) =>
  events
    .filter((event) => event.kind === "message_send")
    .map((event) => String(event.fields.preview))
    .join("\n");
const serverTarget = (events: TraceEvent[]) => String(events.find((event) => event.kind === "http_server_request")!.fields.target);
const queryText = (events: TraceEvent[]) => String(events.find((event) => event.kind === "db_query" && String(event.fields.text).startsWith("SELECT"))!.fields.text);
const chargeArgs = (events: TraceEvent[]) => String(events.find((event) => event.kind === "function_call" && String(event.fields.function).startsWith("charge"))!.fields.args);

describe("redaction", () => {
  test("the defaults: secret-looking keys in previews and query strings, SQL literals; plain values kept", async () => {
    const events = await traced([]);
    const preview = sendPreview(events);
    for (const key of ["password", "token", "apiKey", "Authorization", "cookie", "clientSecret", "sessionId", "credentials"]) expect(preview).toContain(`"${key}":"[redacted]"`);
    for (const secret of ["p1", "t1", "k1", "Bearer b1", "c1", "s1", "x1", "r1"]) expect(preview).not.toContain(`"${secret}"`);
    expect(preview).toContain('"name":"visible"');
    expect(preview).toContain(card);
    expect(serverTarget(events)).toBe("/orders?token=[redacted]&page=2");
    expect(queryText(events)).not.toContain("Ada");
    expect(queryText(events)).not.toContain("42");
  });

  test("--redact-keys and --redact-pattern add to the defaults: previews, function arguments, query texts", async () => {
    const events = await traced(["--redact-keys", "card,ssn", "--redact-pattern", "\\d{4}-\\d{4}-\\d{4}-\\d{4}"]);
    const preview = sendPreview(events);
    expect(preview).toContain('"card":"[redacted]"');
    expect(preview).toContain('"ssn":"[redacted]"');
    expect(preview).toContain('"note":"pay [redacted] now"');
    expect(preview).not.toContain(card);
    expect(chargeArgs(events)).toContain("pay [redacted] now");
    expect(allText(events)).not.toContain(card);
  });

  test("--redact-pattern covers error messages and command lines", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const result = await runCli(["run", "--redact-pattern", "\\d{4}-\\d{4}-\\d{4}-\\d{4}", "--out", out, "--", "node", "-e", `throw new Error("declined: " + process.argv[1])`, card], { cwd: dir });
    expect(result.exitCode).toBe(1);
    const events = readEvents(out);
    expect(events.find((event) => event.kind === "process_exit")!.fields.errorMessage).toBe("declined: [redacted]");
    expect(String(events.find((event) => event.kind === "trace_start")!.fields.argv)).toEndWith("[redacted]");
    expect(allText(events)).not.toContain(card);
    // The header's command line (scope run's own, shown by dump) too: nowhere in the file.
    expect(loadTrace(out).header.argv.at(-1)).toBe("[redacted]");
    expect(readFileSync(out).includes(card)).toBe(false);
  });

  test("the defaults: a URL's user information in an error message (fetch names the URL it refuses)", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    // In a file: a command line is recorded as given (only --redact-pattern changes it).
    writeFileSync(join(dir, "app.js"), `fetch("http://ada:hunter2@127.0.0.1:9/x").catch((e) => { throw e; });`);
    const result = await runCli(["run", "--out", out, "--", "node", "app.js"], { cwd: dir });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("hunter2"); // the program's own output is its own
    const events = readEvents(out);
    expect(String(events.find((event) => event.kind === "process_exit")!.fields.errorMessage)).toContain("http://[redacted]@127.0.0.1:9/x");
    expect(allText(events)).not.toContain("hunter2");
    expect(readFileSync(out).includes("hunter2")).toBe(false);
  });

  test("--no-redact records secret keys' values and SQL literals as they are", async () => {
    const events = await traced(["--no-redact"]);
    expect(sendPreview(events)).toContain('"password":"p1"');
    expect(serverTarget(events)).toBe("/orders?token=abc123&page=2");
    expect(queryText(events)).toBe("SELECT * FROM t WHERE name = 'Ada' AND n = 42");
  });

  test("--redact-file: the same settings from a file; a bad file is one line", async () => {
    const dir = tmp();
    const file = join(dir, "redact.json");
    writeFileSync(file, JSON.stringify({ keys: ["card", "ssn"], patterns: ["\\d{4}-\\d{4}-\\d{4}-\\d{4}"] }));
    const events = await traced(["--redact-file", file]);
    expect(sendPreview(events)).toContain('"ssn":"[redacted]"');
    expect(sendPreview(events)).toContain('"note":"pay [redacted] now"');
    expect(allText(events)).not.toContain(card);
    writeFileSync(file, JSON.stringify({ keys: "card" }));
    const bad = await runCli(["run", "--redact-file", file, "--", "node", "-e", "console.log('ran')"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toBe(`scope: --redact-file: ${file}: "keys" and "patterns" must be arrays of strings, "off" true or false\n`);
  });

  test("a pattern that is not a regular expression: one line, exit 1, nothing run", async () => {
    const result = await runCli(["run", "--redact-pattern", "(unclosed", "--", "node", "-e", "console.log('ran')"]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toStartWith("scope: --redact-pattern: not a regular expression (");
  });
});

test("URL targets: secret query keys also when percent-encoded, an absolute URL's user information (Bun's fetch takes it)", () => {
  const cases: [string, string][] = [
    ["/x?p%61ssword=hunter2&page=2", "/x?p%61ssword=[redacted]&page=2"],
    ["/x?%74oken=t", "/x?%74oken=[redacted]"],
    ["/x?q=%20&page=2", "/x?q=%20&page=2"],
    ["http://user:s3cret@127.0.0.1:8080/p?token=t", "http://[redacted]@127.0.0.1:8080/p?token=[redacted]"],
    ["https://ghp_abc@host/repo", "https://[redacted]@host/repo"],
    ["http://host/p@q?to=a@b", "http://host/p@q?to=a@b"],
    ["/mail/a@b?x=1", "/mail/a@b?x=1"],
  ];
  expect(cases.map(([target]) => redactTarget(target))).toEqual(cases.map(([, expected]) => expected));
});

test("error messages: every URL's user information, anywhere in the text; other @s kept", () => {
  const cases: [string, string][] = [
    ["Request cannot be constructed from a URL that includes credentials: http://u:p@h/x", "Request cannot be constructed from a URL that includes credentials: http://[redacted]@h/x"],
    ["from postgres://app:pw@db:5432/a to https://t@h", "from postgres://[redacted]@db:5432/a to https://[redacted]@h"],
    ["mail ada@example.com failed at http://h/p@q", "mail ada@example.com failed at http://h/p@q"],
  ];
  expect(cases.map(([text]) => redactUserinfo(text, true))).toEqual(cases.map(([, expected]) => expected));
});

describe("the default secret keys' test (no regular expression compiled for ASCII keys)", () => {
  const expression = new RegExp(DEFAULT_SECRET_KEYS, "i");
  const secret = (text: string) => redactionOf({}).secretKey.test(text);

  test("gives what the case-insensitive expression gives, ASCII and not", () => {
    const texts = [
      "", "n", "hello", "password", "PASSWORD", "passwd", "PassPhrase", "pas", "pass", "bypass", "token", "apiToken", "tok",
      "authorization", "Authorisation", "AUTHORIZATION", "author", "cookie", "Cookies", "secret", "clientSecret", "key", "apiKey",
      "KEYS", "monkey", "ke", "credential", "credentials", "session", "sessionId", "ssn", "card", "a b key", "k\u0065y",
      "\u212Aey", "K\u0045Y", "se\u017Fsion", "pa\u017F\u017F", "AUTHOR\u0130ZATION", "\u0130", "\u00e9key", "cl\u00e9", "tok\u00e9n", "\u{1F511}key",
    ].map((text) => JSON.parse(`"${text}"`) as string);
    const mismatches = texts.filter((text) => secret(text) !== expression.test(text));
    expect(mismatches).toEqual([]);
    // The cases that show the rule: a non-ASCII character never folds to an ASCII letter.
    expect([secret("\u212Aey"), secret("se\u017Fsion"), secret("\u00e9key"), secret("KeY")]).toEqual([false, false, true, true]);
  });

  test("each letter of a default word replaced by every UTF-16 code unit", () => {
    const mismatches: string[] = [];
    for (const word of ["key", "pass"]) {
      for (let at = 0; at < word.length; at++) {
        for (let code = 0; code < 0x10000; code++) {
          const text = word.slice(0, at) + String.fromCharCode(code) + word.slice(at + 1);
          if (secret(text) !== expression.test(text)) mismatches.push(text);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  test("random ASCII keys built from the words' pieces", () => {
    const pieces = ["pa", "ss", "PA", "SS", "to", "KEN", "key", "K", "ey", "cook", "ie", "SEC", "ret", "auth", "ori", "z", "s", "ation", "cred", "ential", "sess", "ion", "x", "_", "-", "1"];
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % pieces.length;
    const texts = Array.from({ length: 5000 }, () => Array.from({ length: 1 + (next() % 6) }, () => pieces[next()]).join(""));
    expect(texts.filter((text) => secret(text) !== expression.test(text))).toEqual([]);
    expect(texts.some((text) => expression.test(text))).toBe(true);
    expect(texts.some((text) => !expression.test(text))).toBe(true);
  });

  test("keys given, or --no-redact, keep the regular expression", () => {
    expect(redactionOf({ keys: ["card"] }).secretKey.test("CardNumber")).toBe(true);
    expect(redactionOf({ keys: ["card"] }).secretKey.test("password")).toBe(true);
    expect(redactionOf({ off: true, keys: ["card"] }).secretKey.test("password")).toBe(false);
    expect(redactionOf({ off: true }).secretKey.test("password")).toBe(false);
  });
});
