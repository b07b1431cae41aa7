// Apollo Server 5 standalone: a query, one with variables and an operation name, a resolver that
// throws (200 with errors), an invalid query (400), a mutation; ROUNDS rounds of the five at once,
// keep-alive and a new connection each in turn; the first round printed, then a digest.
const { ApolloServer } = require('@apollo/server');
const { startStandaloneServer } = require('@apollo/server/standalone');
const http = require('node:http');
const { createHash } = require('node:crypto');

const typeDefs = `#graphql
  type Book { id: ID!, title: String!, author: String! }
  type Query { books: [Book!]!, book(id: ID!): Book, broken: String }
  type Mutation { addBook(title: String!, author: String!): Book! }
`;
const books = [{ id: '1', title: 'Dune', author: 'Herbert' }, { id: '2', title: 'Emma', author: 'Austen' }];
const resolvers = {
  Query: {
    books: () => books,
    book: async (_, { id }) => books.find((b) => b.id === id) ?? null,
    broken: () => { throw new Error('resolver failed on purpose'); },
  },
  Mutation: { addBook: (_, { title, author }) => ({ id: String(books.length + 1), title, author }) },
};

function post(port, body, agent) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = ''; res.setEncoding('utf8'); res.on('data', (c) => (text += c));
      res.on('end', () => {
        const hs = []; for (let i = 0; i < res.rawHeaders.length; i += 2) if (!/^(date|keep-alive|connection)$/i.test(res.rawHeaders[i])) hs.push(res.rawHeaders[i] + ': ' + res.rawHeaders[i + 1]);
        resolve(res.statusCode + '\n' + hs.join('\n') + '\n' + text);
      });
    });
    req.on('error', reject); req.end(data);
  });
}

(async () => {
  const server = new ApolloServer({ typeDefs, resolvers, includeStacktraceInErrorResponses: false });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  const port = Number(new URL(url).port);
  const queries = [
    { query: '{ books { id title } }' },
    { query: 'query One($id: ID!) { book(id: $id) { title author } }', variables: { id: '2' }, operationName: 'One' },
    { query: '{ broken }' },
    { query: '{ nope }' },
    { query: 'mutation Add($t: String!, $a: String!) { addBook(title: $t, author: $a) { id title } }', variables: { t: 'Ulysses', a: 'Joyce' } },
  ];
  const rounds = Number(process.env.ROUNDS ?? 2);
  const keep = new http.Agent({ keepAlive: true });
  const hash = createHash('sha256'); let first = ''; let n = 0;
  for (let r = 0; r < rounds; r++) {
    const outs = await Promise.all(queries.map((q) => post(port, q, r % 2 ? false : keep)));
    for (const o of outs) { hash.update(o); n++; if (r === 0) first += o + '\n---\n'; }
  }
  keep.destroy();
  process.stdout.write(first + `requests ${n} sha256 ${hash.digest('hex')}\n`);
  await server.stop();
})();
