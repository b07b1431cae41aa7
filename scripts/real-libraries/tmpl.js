// scope's real-libraries check (run.sh): templates and parsers: handlebars, ejs, pug, cheerio, graphql.
const Handlebars = require("handlebars"); console.log(Handlebars.compile("{{#each xs}}<{{this}}>{{/each}}")({xs:[1,2]}));
const ejs = require("ejs"); console.log(ejs.render("<% for (const x of xs) { %><%= x %>,<% } %>", {xs:[1,2]}));
const pug = require("pug"); console.log(pug.render("ul\n  each x in xs\n    li= x", {xs:[1,2]}));
const cheerio = require("cheerio"); const $ = cheerio.load("<ul><li class=a>1</li><li>2</li></ul>"); console.log($("li").map((i,e)=>$(e).text()).get().join("|"), $(".a").text());
const { graphql, buildSchema } = require("graphql"); graphql({ schema: buildSchema("type Query { hi(n: Int): String }"), source: "{ hi(n: 2) }", rootValue: { hi: ({n}) => "x".repeat(n) } }).then(r => console.log(JSON.stringify(r)));
