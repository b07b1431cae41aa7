const { runApp } = require("./common");
const { Kysely, PostgresDialect, sql } = require("kysely");
const { Pool } = require("pg");
let sent = 0;
const db = new Kysely({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: process.env.PG_URL, max: 2 }) }), log: () => sent++ });
runApp("kysely", {
  async migrate() {
    await db.schema.dropTable("ky_books").ifExists().execute();
    await db.schema.dropTable("ky_authors").ifExists().execute();
    await db.schema.createTable("ky_authors").addColumn("id", "serial", (c) => c.primaryKey()).addColumn("email", "text", (c) => c.notNull().unique()).addColumn("name", "text").execute();
    await db.schema.createTable("ky_books").addColumn("id", "serial", (c) => c.primaryKey()).addColumn("author_id", "integer", (c) => c.references("ky_authors.id")).addColumn("title", "text").execute();
    return "done";
  },
  async insert() {
    const ids = await db.insertInto("ky_authors").values([{ email: "a@x.org", name: "Ann" }, { email: "b@x.org", name: "Bob" }]).returning("id").execute();
    await db.insertInto("ky_books").values([{ author_id: ids[0].id, title: "One" }, { author_id: ids[0].id, title: "Two" }, { author_id: ids[1].id, title: "Three" }]).execute();
    return ids.length;
  },
  async join() {
    return db.selectFrom("ky_books").innerJoin("ky_authors", "ky_authors.id", "ky_books.author_id").select(["ky_authors.name", "ky_books.title"]).where("ky_authors.email", "=", "a@x.org").orderBy("ky_books.id").execute();
  },
  async txok() {
    await db.transaction().execute(async (trx) => {
      const c = await trx.insertInto("ky_authors").values({ email: "c@x.org", name: "Cy" }).returning("id").executeTakeFirstOrThrow();
      await trx.insertInto("ky_books").values({ author_id: c.id, title: "Four" }).execute();
    });
    return (await db.selectFrom("ky_books").select(db.fn.countAll().as("n")).executeTakeFirst()).n;
  },
  async txfail() {
    try {
      await db.transaction().execute(async (trx) => { await trx.insertInto("ky_authors").values({ email: "d@x.org", name: "Di" }).execute(); throw new Error("changed my mind"); });
    } catch (e) { return "rolled back: " + e.message + " " + (await db.selectFrom("ky_authors").selectAll().where("email", "=", "d@x.org").execute()).length; }
  },
  async dup() { await db.insertInto("ky_authors").values({ email: "a@x.org", name: "Again" }).execute(); },
  async load() {
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) => sql`select pg_sleep(0.02), ${i}::int as i`.execute(db)));
    return all.length;
  },
}, async () => { await db.destroy(); console.log("kysely queries", sent); }, async (i) => db.transaction().execute(async (trx) => (await sql`select ${sql.join(Array.from({ length: i }, (_, j) => sql`${j}::int`))}`.execute(trx)).rows.length));
