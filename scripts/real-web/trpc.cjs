// tRPC 11 standalone server and its client (plain httpLink and httpBatchLink): a query, a mutation,
// an UNAUTHORIZED TRPCError, a thrown Error, a bad input, a batch of three; ROUNDS rounds.
const { initTRPC, TRPCError } = require('@trpc/server');
const { createHTTPServer } = require('@trpc/server/adapters/standalone');
const { createTRPCClient, httpLink, httpBatchLink } = require('@trpc/client');

const t = initTRPC.create();
const appRouter = t.router({
  greet: t.procedure.input((v) => { if (typeof v !== 'string') throw new Error('want a string'); return v; }).query(({ input }) => `hello ${input}`),
  add: t.procedure.input((v) => v).mutation(({ input }) => input.a + input.b),
  secret: t.procedure.query(() => { throw new TRPCError({ code: 'UNAUTHORIZED', message: 'no token' }); }),
  boom: t.procedure.query(() => { throw new Error('exploded'); }),
});

(async () => {
  const server = createHTTPServer({ router: appRouter });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  const plain = createTRPCClient({ links: [httpLink({ url })] });
  const batch = createTRPCClient({ links: [httpBatchLink({ url })] });
  const out = [];
  const tryIt = async (p) => { try { return JSON.stringify(await p); } catch (e) { return `error ${e.data?.code} ${e.message}`; } };
  const rounds = Number(process.env.ROUNDS ?? 1);
  for (let r = 0; r < rounds; r++) {
    out.push(await tryIt(plain.greet.query('ann')));
    out.push(await tryIt(plain.add.mutate({ a: 2, b: 3 })));
    out.push(await tryIt(plain.secret.query()));
    out.push(await tryIt(plain.boom.query()));
    out.push(await tryIt(plain.greet.query(5)));
    out.push((await Promise.all([tryIt(batch.greet.query('bob')), tryIt(batch.secret.query()), tryIt(batch.greet.query('cid'))])).join(' ; '));
  }
  console.log(out.slice(0, 6).join('\n'), '\n', out.length);
  server.close();
})();
