require("reflect-metadata");
const { runApp } = require("./common");
const { DataSource, EntitySchema } = require("typeorm");
const Author = new EntitySchema({ name: "ToAuthor", tableName: "to_authors", columns: { id: { type: Number, primary: true, generated: true }, email: { type: String, unique: true }, name: { type: String } }, relations: { books: { type: "one-to-many", target: "ToBook", inverseSide: "author" } } });
const Book = new EntitySchema({ name: "ToBook", tableName: "to_books", columns: { id: { type: Number, primary: true, generated: true }, title: { type: String } }, relations: { author: { type: "many-to-one", target: "ToAuthor", joinColumn: { name: "author_id" } } } });
let sent = 0;
const ds = new DataSource({ type: "postgres", url: process.env.PG_URL, entities: [Author, Book], poolSize: 2, logging: false, logger: { logQuery() { sent++; }, logQueryError() {}, logQuerySlow() {}, logSchemaBuild() {}, logMigration() {}, log() {} }, maxQueryExecutionTime: 1e9 });
ds.setOptions({ logging: ["query"] });
runApp("typeorm", {
  async migrate() {
    await ds.initialize();
    await ds.query("DROP TABLE IF EXISTS to_books"); await ds.query("DROP TABLE IF EXISTS to_authors");
    await ds.synchronize();
    return "done";
  },
  async insert() {
    const r = await ds.getRepository("ToAuthor").insert([{ email: "a@x.org", name: "Ann" }, { email: "b@x.org", name: "Bob" }]);
    const [a, b] = r.identifiers.map((x) => x.id);
    await ds.getRepository("ToBook").insert([{ author: { id: a }, title: "One" }, { author: { id: a }, title: "Two" }, { author: { id: b }, title: "Three" }]);
    return 2;
  },
  async join() {
    const rows = await ds.getRepository("ToBook").createQueryBuilder("b").innerJoinAndSelect("b.author", "a").where("a.email = :e", { e: "a@x.org" }).orderBy("b.id").getMany();
    return rows.map((r) => [r.author.name, r.title]);
  },
  async txok() {
    await ds.transaction(async (m) => {
      const { identifiers } = await m.insert("ToAuthor", { email: "c@x.org", name: "Cy" });
      await m.insert("ToBook", { author: { id: identifiers[0].id }, title: "Four" });
    });
    return ds.getRepository("ToBook").count();
  },
  async txfail() {
    try {
      await ds.transaction(async (m) => { await m.insert("ToAuthor", { email: "d@x.org", name: "Di" }); throw new Error("changed my mind"); });
    } catch (e) { return "rolled back: " + e.message + " " + (await ds.getRepository("ToAuthor").countBy({ email: "d@x.org" })); }
  },
  async dup() { await ds.getRepository("ToAuthor").insert({ email: "a@x.org", name: "Again" }); },
  async load() {
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) => ds.query("select pg_sleep(0.02), $1::int as i", [i])));
    return all.length;
  },
}, async () => { await ds.destroy(); console.log("typeorm queries", sent); }, async (i) => ds.transaction(async (m) => (await m.query(`select ${Array.from({ length: i }, (_, j) => '$' + (j + 1) + '::int').join(', ')}`, Array.from({ length: i }, (_, j) => j))).length));
