// drizzle-orm over node-postgres ("pg"), postgres.js ("postgres"), better-sqlite3 ("sqlite") or bun:sqlite ("bun").
const { runApp } = require("./common");
const { eq, sql, count } = require("drizzle-orm");
const kind = process.argv[2] || "pg";
let db, close, core, sleep;
if (kind === "pg" || kind === "postgres") {
  core = require("drizzle-orm/pg-core");
  if (kind === "pg") {
    const { Pool } = require("pg");
    const pool = new Pool({ connectionString: process.env.PG_URL, max: 2 });
    db = require("drizzle-orm/node-postgres").drizzle(pool);
    close = () => pool.end();
  } else {
    const postgres = require("postgres"); const client = (postgres.default ?? postgres)(process.env.PG_URL, { max: 2, onnotice: () => {} });
    db = require("drizzle-orm/postgres-js").drizzle(client);
    close = () => client.end();
  }
  sleep = (i) => sql`select pg_sleep(0.02), ${i}::int as i`;
} else {
  core = require("drizzle-orm/sqlite-core");
  if (kind === "sqlite") {
    const Database = require("better-sqlite3");
    const file = new Database(":memory:");
    db = require("drizzle-orm/better-sqlite3").drizzle(file);
    close = () => file.close();
  } else {
    const { Database } = require("bun:sqlite");
    const file = new Database(":memory:");
    db = require("drizzle-orm/bun-sqlite").drizzle(file);
    close = () => file.close();
  }
  sleep = (i) => sql`select ${i} as i`;
}
const pgs = kind === "pg" || kind === "postgres";
const T = pgs ? core.pgTable : core.sqliteTable;
const id = pgs ? () => core.serial("id").primaryKey() : () => core.integer("id").primaryKey({ autoIncrement: true });
const authors = T("dz_authors", { id: id(), email: core.text("email").notNull().unique(), name: core.text("name") });
const books = T("dz_books", { id: id(), authorId: core.integer("author_id").references(() => authors.id), title: core.text("title") });
const run = (q) => (pgs ? db.execute(q) : db.run(q));
const sync = !pgs; // better-sqlite3 / bun:sqlite transactions are synchronous in drizzle
runApp("drizzle-" + kind, {
  async migrate() {
    await run(sql`drop table if exists dz_books`);
    await run(sql`drop table if exists dz_authors`);
    await run(pgs ? sql`create table dz_authors (id serial primary key, email text not null unique, name text)` : sql`create table dz_authors (id integer primary key autoincrement, email text not null unique, name text)`);
    await run(pgs ? sql`create table dz_books (id serial primary key, author_id integer references dz_authors(id), title text)` : sql`create table dz_books (id integer primary key autoincrement, author_id integer references dz_authors(id), title text)`);
    return "done";
  },
  async insert() {
    const ids = await db.insert(authors).values([{ email: "a@x.org", name: "Ann" }, { email: "b@x.org", name: "Bob" }]).returning({ id: authors.id });
    await db.insert(books).values([{ authorId: ids[0].id, title: "One" }, { authorId: ids[0].id, title: "Two" }, { authorId: ids[1].id, title: "Three" }]);
    return ids.length;
  },
  async join() {
    return db.select({ name: authors.name, title: books.title }).from(books).innerJoin(authors, eq(books.authorId, authors.id)).where(eq(authors.email, "a@x.org")).orderBy(books.id);
  },
  async txok() {
    if (sync) {
      db.transaction((tx) => {
        const [c] = tx.insert(authors).values({ email: "c@x.org", name: "Cy" }).returning({ id: authors.id }).all();
        tx.insert(books).values({ authorId: c.id, title: "Four" }).run();
      });
    } else {
      await db.transaction(async (tx) => {
        const [c] = await tx.insert(authors).values({ email: "c@x.org", name: "Cy" }).returning({ id: authors.id });
        await tx.insert(books).values({ authorId: c.id, title: "Four" });
      });
    }
    return (await db.select({ n: count() }).from(books))[0].n;
  },
  async txfail() {
    try {
      if (sync) db.transaction((tx) => { tx.insert(authors).values({ email: "d@x.org", name: "Di" }).run(); throw new Error("changed my mind"); });
      else await db.transaction(async (tx) => { await tx.insert(authors).values({ email: "d@x.org", name: "Di" }); throw new Error("changed my mind"); });
    } catch (e) { return "rolled back: " + e.message + " " + (await db.select().from(authors).where(eq(authors.email, "d@x.org"))).length; }
  },
  async dup() { await db.insert(authors).values({ email: "a@x.org", name: "Again" }); },
  async load() {
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) => (pgs ? db.execute(sleep(i)) : db.all(sleep(i)))));
    return all.length;
  },
}, async () => { await close(); }, pgs ? async (i) => db.transaction(async (tx) => { const r = await tx.execute(sql`select ${sql.join(Array.from({ length: i }, (_, j) => sql`${j}::int`), sql`, `)}`); return (r.rows ?? r).length; }) : undefined);
