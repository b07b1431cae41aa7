const { runApp } = require("./common");
const { Sequelize, DataTypes } = require("sequelize");
let sent = 0;
const sequelize = new Sequelize(process.env.PG_URL, { logging: () => sent++, pool: { max: 2, min: 0 } });
const Author = sequelize.define("SqAuthor", { email: { type: DataTypes.STRING, unique: true, allowNull: false }, name: DataTypes.STRING }, { tableName: "sq_authors", timestamps: false });
const Book = sequelize.define("SqBook", { title: DataTypes.STRING }, { tableName: "sq_books", timestamps: false });
Author.hasMany(Book, { foreignKey: "authorId" });
Book.belongsTo(Author, { foreignKey: "authorId" });
runApp("sequelize", {
  async migrate() { await sequelize.sync({ force: true }); return "done"; },
  async insert() {
    const [a, b] = await Author.bulkCreate([{ email: "a@x.org", name: "Ann" }, { email: "b@x.org", name: "Bob" }]);
    await Book.bulkCreate([{ authorId: a.id, title: "One" }, { authorId: a.id, title: "Two" }, { authorId: b.id, title: "Three" }]);
    return 2;
  },
  async join() {
    const rows = await Book.findAll({ include: [{ model: Author, where: { email: "a@x.org" } }], order: [["id", "ASC"]] });
    return rows.map((r) => [r.SqAuthor.name, r.title]);
  },
  async txok() {
    await sequelize.transaction(async (t) => {
      const c = await Author.create({ email: "c@x.org", name: "Cy" }, { transaction: t });
      await Book.create({ authorId: c.id, title: "Four" }, { transaction: t });
    });
    return Book.count();
  },
  async txfail() {
    try {
      await sequelize.transaction(async (t) => {
        await Author.create({ email: "d@x.org", name: "Di" }, { transaction: t });
        throw new Error("changed my mind");
      });
    } catch (e) { return "rolled back: " + e.message + " " + (await Author.count({ where: { email: "d@x.org" } })); }
  },
  async dup() { await Author.create({ email: "a@x.org", name: "Again" }); },
  async load() {
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) => sequelize.query("select pg_sleep(0.02), :i as i", { replacements: { i } })));
    return all.length;
  },
}, async () => { await sequelize.close(); console.log("sequelize queries", sent); }, async (i) => sequelize.transaction(async (t) => (await sequelize.query(`select ${Array.from({ length: i }, (_, j) => '$' + (j + 1)).join(', ')}`, { bind: Array.from({ length: i }, (_, j) => j), transaction: t }))[0].length));
