const { runApp } = require("./common");
const client = process.argv[2] || "pg";
const connection = client === "pg" ? process.env.PG_URL : { host: process.env.MY_HOST, port: +process.env.MY_PORT, user: process.env.MY_USER, database: process.env.MY_DB };
const knex = require("knex")({ client: client === "pg" ? "pg" : "mysql2", connection, pool: { min: 0, max: 2 } });
let sent = 0;
knex.on("query", () => sent++);
const A = "kx_authors", B = "kx_books";
runApp("knex-" + client, {
  async migrate() {
    await knex.schema.dropTableIfExists(B);
    await knex.schema.dropTableIfExists(A);
    await knex.schema.createTable(A, (t) => { t.increments("id"); t.string("email").unique().notNullable(); t.string("name"); });
    await knex.schema.createTable(B, (t) => { t.increments("id"); t.integer("author_id").unsigned().references("id").inTable(A); t.string("title"); });
    return "done";
  },
  async insert() {
    const ids = await knex(A).insert([{ email: "a@x.org", name: "Ann" }, { email: "b@x.org", name: "Bob" }]).returning("id");
    await knex(B).insert([{ author_id: 1, title: "One" }, { author_id: 1, title: "Two" }, { author_id: 2, title: "Three" }]);
    return ids.length;
  },
  async join() {
    return knex(B).join(A, `${A}.id`, `${B}.author_id`).select(`${A}.name`, `${B}.title`).where(`${A}.email`, "a@x.org").orderBy(`${B}.id`);
  },
  async txok() {
    await knex.transaction(async (trx) => {
      const [row] = await trx(A).insert({ email: "c@x.org", name: "Cy" }).returning("id");
      await trx(B).insert({ author_id: row.id ?? row, title: "Four" });
    });
    return (await knex(B).count({ n: "*" }))[0].n;
  },
  async txfail() {
    try {
      await knex.transaction(async (trx) => {
        await trx(A).insert({ email: "d@x.org", name: "Di" });
        throw new Error("changed my mind");
      });
    } catch (e) { return "rolled back: " + e.message + " " + (await knex(A).where({ email: "d@x.org" })).length; }
  },
  async dup() {
    await knex(A).insert({ email: "a@x.org", name: "Again" });
  },
  async load() {
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) => knex.raw(client === "pg" ? "select pg_sleep(0.02), ? as i" : "select sleep(0.02) as s, ? as i", [i])));
    return all.length;
  },
}, async () => { await knex.destroy(); console.log("knex queries", sent); }, async (i) => knex.transaction(async (trx) => (await trx.raw(`select ${Array.from({ length: i }, () => '?').join(', ')}`, Array.from({ length: i }, (_, j) => j))).constructor.name));
