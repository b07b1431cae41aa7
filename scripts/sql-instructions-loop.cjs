// Loop of scripts/sql-instructions.sh: normalizeSql (from a bundle of a tree's
// src/agent/shared/sql.ts) over four PostgreSQL texts, N times, in a given dialect (0: standard).
//   node sql-instructions-loop.cjs BUNDLE N [DIALECT]
const [bundle, n, dialect] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] ?? 0)];
const { normalizeSql } = require(bundle);
const texts = [
  "SELECT id, name, email FROM users WHERE id = $1 AND status = 'active' ORDER BY created_at DESC LIMIT 10",
  "INSERT INTO orders (user_id, total, note) VALUES ($1, 19.99, 'it''s fine') RETURNING id",
  "UPDATE t SET a = a * 2, b = b + 1 WHERE c IN (1, 2, 3) /* comment */ -- trailing\n",
  "select u.*, count(*) from users u join posts p on p.user_id = u.id where u.created > now() - interval '1 day' group by u.id",
];
let sink = 0;
for (let i = 0; i < n; i++) sink += (dialect ? normalizeSql(texts[i & 3], dialect) : normalizeSql(texts[i & 3])).text.length;
if (sink < 0) console.log(sink);
