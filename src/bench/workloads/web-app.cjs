"use strict";
// The web workload's service: an Express app with one middleware and two routes, one or two
// queries per request through `pool` (a pg Pool, or anything with its query()). Shared by
// the bench's web-server.cjs (over TCP) and scripts/web-inproc.cjs (over in-memory streams),
// so both measure the same handlers. `counts` ({served, queries}) is counted as it runs.
function webApp(express, pool, counts = { served: 0, queries: 0 }) {
  const app = express();
  app.use(function count(req, res, next) {
    if (req.url !== "/shutdown") counts.served++;
    next();
  });
  app.get("/items/:id", async function item(req, res, next) {
    try {
      counts.queries++;
      const { rows } = await pool.query("SELECT $1::int AS id, 'product' AS name, 100 + $1::int * 7 AS price", [req.params.id]);
      res.json({ ok: true, item: rows[0] });
    } catch (error) {
      next(error);
    }
  });
  app.get("/orders/:id", async function order(req, res, next) {
    try {
      counts.queries += 2;
      const { rows } = await pool.query("SELECT $1::int AS id, 3 AS lines", [req.params.id]);
      const total = await pool.query("SELECT sum(x)::int AS total FROM generate_series(1, $1::int) AS x", [rows[0].lines]);
      res.json({ ok: true, order: rows[0], total: total.rows[0].total });
    } catch (error) {
      next(error);
    }
  });
  return app;
}

module.exports = { webApp };
