// Apollo Server 5 on graphql-js 16 (helper webops, BENCHMARKS.md "GraphQL operations and tRPC procedures as routes"): N keep-alive POSTs of a named query with
// a variable, every fifth with a resolver that throws (200 with an `errors` list), from this process, 8 in flight; prints CPU µs a request.
// Its packages: NODE_PATH=/tmp/scope-real-web/node_modules (scripts/real-web/run.sh installs them).
const http = require("node:http");
const { ApolloServer } = require("@apollo/server");
const { startStandaloneServer } = require("@apollo/server/standalone");
const typeDefs = "type Book { id: ID!, title: String! } type Query { book(id: ID!): Book, broken: String }";
const books = [{ id: "1", title: "Dune" }, { id: "2", title: "Emma" }];
const resolvers = { Query: { book: (_, { id }) => books.find((b) => b.id === id) ?? null, broken: () => { throw new Error("on purpose"); } } };
const N = Number(process.argv[2] || 2000);
const ok = JSON.stringify({ query: "query One($id: ID!) { book(id: $id) { title } }", variables: { id: "2" }, operationName: "One" });
const failing = JSON.stringify({ query: "query Broken { broken }" });
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
(async () => {
  const server = new ApolloServer({ typeDefs, resolvers, includeStacktraceInErrorResponses: false });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: "127.0.0.1" } });
  const port = Number(new URL(url).port);
  const one = (i) => new Promise((resolve) => {
    const body = i % 5 === 4 ? failing : ok;
    const req = http.request({ port, host: "127.0.0.1", method: "POST", path: "/", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => { res.resume(); res.on("end", resolve); });
    req.end(body);
  });
  for (let i = 0; i < 200; i++) await one(i);
  const t = process.cpuUsage();
  for (let i = 0; i < N; i += 8) await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((k) => one(i + k)));
  const d = process.cpuUsage(t);
  console.log(((d.user + d.system) / N).toFixed(2));
  agent.destroy();
  await server.stop();
})();
