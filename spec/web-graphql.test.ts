/**
 * GraphQL operations (graphql-js 16 under Apollo Server 5, pinned, from npm): each request's
 * route is the operation it executed, its type and name (`query One`, `mutation Add`; `query`
 * for an anonymous one, framework `graphql`), and each error the execution met (a resolver's
 * throw or rejection, answered with 200 and an `errors` list) an `http_error` of the request:
 * the error's type and "path: message". Responses byte for byte as untraced, with Apollo's
 * stack traces in them (no frame of scope's on a resolver's stack).
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { installedNodes, runCli } from "./harness";
import type { TraceEvent } from "../src/core/model";
import { installTools, writeProject } from "./toolchain-harness";

afterAll(cleanup);

const app = (imports: string) => `${imports}
const typeDefs = \`#graphql
  type Book { id: ID!, title: String, author: String! }
  type Query { books: [Book!]!, book(id: ID!): Book, broken: String, late: String, denied: String }
  type Mutation { addBook(title: String!, author: String!): Book! }
\`;
const books = [{ id: "1", title: "Dune", author: "Herbert" }, { id: "2", title: "Emma", author: "Austen" }];
const resolvers = {
  Query: {
    books: () => books,
    book: async (_, { id }) => books.find((b) => b.id === id) ?? null,
    broken: () => { throw new Error("resolver failed on purpose"); },
    late: async () => { await null; throw new RangeError("too late"); },
    denied: () => { throw new GraphQLError("not allowed", { extensions: { code: "FORBIDDEN" } }); },
  },
  Book: { title: (book) => { if (book.id === "2") throw new TypeError("no title for " + book.id); return book.title; } },
  Mutation: { addBook: (_, { title, author }) => ({ id: String(books.length + 1), title, author }) },
};
(async () => {
  // Stack traces in the responses (Apollo's default outside production): the same traced.
  const server = new ApolloServer({ typeDefs, resolvers, includeStacktraceInErrorResponses: true });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: "127.0.0.1" } });
  const queries = [
    { query: "{ books { id } }" },
    { query: "query One($id: ID! = \\"1\\") { book(id: $id) { author } }", variables: { id: "1" }, operationName: "One" },
    { query: "query { broken late }" },
    { query: "query Titles { books { title } }" },
    { query: "# a comment\\nquery Two { denied }\\nquery Other { books { id } }", operationName: "Two" },
    { query: "{ nope }" },
    { query: "mutation Add($t: String!, $a: String!) { addBook(title: $t, author: $a) { id } }", variables: { t: "Ulysses", a: "Joyce" } },
  ];
  for (const q of queries) {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(q) });
    console.log(res.status, await res.text());
  }
  await server.stop();
})();
`;

const cjs = app(`const { ApolloServer } = require("@apollo/server");
const { startStandaloneServer } = require("@apollo/server/standalone");
const { GraphQLError } = require("graphql");`);
// An ES module: Node's import of graphql loads its CommonJS main; Bun's its ES build (the registry).
const esm = app(`import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { GraphQLError } from "graphql";`);

/** Per server request (in start order): [status, route, [error type, message]...]. */
function requests(events: TraceEvent[]) {
  return ofKind(events, "http_server_request").map((request) => {
    const errors = events.filter((e) => e.kind === "http_error" && e.fields.requestIndex === request.index).map((e) => [e.fields.code, e.fields.message]);
    return [request.fields.status, request.fields.route ?? null, ...errors];
  });
}

const runtimes: [string, string, "CommonJS" | "ES"][] = [...installedNodes.map(([name, path]): [string, string, "CommonJS"] => [name, path, "CommonJS"]), ["Node 24", installedNodes.at(-1)![1], "ES"], ["bun", process.execPath, "CommonJS"], ["bun", process.execPath, "ES"]];

for (const [name, runtime, format] of runtimes) {
  test(`${name}: Apollo Server (${format}): each request's operation as its route, each resolver error as its error, responses as untraced`, async () => {
    const nodeModules = await installTools("graphql");
    const file = format === "ES" ? "app.mjs" : "app.js";
    const dir = writeProject(join(scratchDir(), `graphql-${format}-${name.replace(/\W/g, "")}`), nodeModules, { [file]: format === "ES" ? esm : cjs });
    const argv = [runtime, join(dir, file)];
    const plain = await runUntraced(argv, { cwd: dir });
    const run = await runTraced(argv, { cwd: dir });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: plain.stderr });
    // The stack traces are in the responses (the comparison above holds them).
    expect(plain.stdout).toContain('"stacktrace":["Error: resolver failed on purpose"');
    expect(ofKind(run.events, "agent_error")).toEqual([]);
    const served = requests(run.events);
    expect(served).toEqual([
      [200, "query"],
      [200, "query One"],
      [200, "query", ["Error", "broken: resolver failed on purpose"], ["RangeError", "late: too late"]],
      [200, "query Titles", ["TypeError", "books.1.title: no title for 2"]],
      [200, "query Two", ["GraphQLError", "denied: not allowed"]],
      // Invalid: Apollo answers 400 before executing anything.
      [400, null],
      [200, "mutation Add"],
    ]);
    const route = ofKind(run.events, "http_route")[0]!;
    expect(route.fields.framework).toBe("graphql");
    if (name !== "node" || format !== "CommonJS") return;
    // OTLP: the server span named by the operation, with its type and name; failed with the error.
    const out = join(scratchDir(), "graphql-otlp.json");
    expect((await runCli(["export", "--otlp", out, run.out])).exitCode).toBe(0);
    const spans = (JSON.parse(readFileSync(out, "utf8")).resourceSpans as any[]).flatMap((r) => r.scopeSpans.flatMap((s: any) => s.spans)).filter((span) => span.kind === 2 || span.kind === "SPAN_KIND_SERVER");
    const attributes = (span: any) => Object.fromEntries(span.attributes.map((a: any) => [a.key, a.value.stringValue ?? a.value.intValue ?? a.value.boolValue]));
    const outline = spans.map((span) => {
      const a = attributes(span);
      return [span.name, a["graphql.operation.type"] ?? null, a["graphql.operation.name"] ?? null, a["http.route"] ?? null, a["error.type"] ?? null, span.status?.message ?? null];
    });
    expect(outline).toEqual([
      ["query", "query", null, null, null, null],
      ["query One", "query", "One", null, null, null],
      ["query", "query", null, null, "RangeError", "late: too late"],
      ["query Titles", "query", "Titles", null, "TypeError", "books.1.title: no title for 2"],
      ["query Two", "query", "Two", null, "GraphQLError", "denied: not allowed"],
      ["POST", null, null, null, null, null],
      ["mutation Add", "mutation", "Add", null, null, null],
    ]);
    // `scope query`: the operation is the request's route, its framework graphql.
    const query = await runCli(["query", run.out, "--json", "select route, framework, status, error_code from requests where kind = 'server' order by start_ns"]);
    expect(query.stdout.trim().split("\n").map((line) => JSON.parse(line)).map((r: any) => [r.route, r.framework, r.status, r.error_code])).toEqual([
      ["query", "graphql", 200, null],
      ["query One", "graphql", 200, null],
      ["query", "graphql", 200, "RangeError"],
      ["query Titles", "graphql", 200, "TypeError"],
      ["query Two", "graphql", 200, "GraphQLError"],
      [null, null, 400, null],
      ["mutation Add", "graphql", 200, null],
    ]);
  }, 120_000);
}
