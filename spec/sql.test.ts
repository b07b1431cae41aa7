/** The query text normaliser (src/agent/shared/sql.ts): literals out, everything else as written. */
import { describe, expect, test } from "bun:test";
import { MAX_QUERY_CHARS, normalizeSql, SqlDialect } from "../src/agent/shared/sql";

const cases: [string, string][] = [
  ["SELECT * FROM users WHERE id = 42", "SELECT * FROM users WHERE id = ?"],
  ["select name from t where email = 'a@b.c' and pw = 'it''s secret'", "select name from t where email = ? and pw = ?"],
  ["SELECT $1::int + $2, 'x'", "SELECT $1::int + $2, ?"],
  ["INSERT INTO t1 (c2, col_3) VALUES (1, 2.5, -3e-4, .5, 0x1F, 1_000)", "INSERT INTO t1 (c2, col_3) VALUES (?, ?, -?, ?, ?, ?)"],
  ["SELECT E'it\\'s \\\\ here', e'x', B'1010', X'FF', N'nat', U&'d\\0061t'", "SELECT ?, ?, ?, ?, ?, ?"],
  ["SELECT $$a 'quoted' $1 value$$, $tag$ it's $$ inside $tag$, $q$x$q$", "SELECT ?, ?, ?"],
  ["SELECT a$b, $1 FROM t", "SELECT a$b, $1 FROM t"],
  ["SELECT 1 -- secret 123\nFROM t /* note 'x' /* nested 5 */ still */ WHERE b = 2", "SELECT ? FROM t WHERE b = ?"],
  ['SELECT "Col 1", "we""ird" FROM "T2" WHERE x IN (1, 2, 3)', 'SELECT "Col 1", "we""ird" FROM "T2" WHERE x IN (?, ?, ?)'],
  ["SELECT `a1`, [b 2] FROM t WHERE c = ?1 AND d = :name AND e = @v AND f = $w AND g = ?", "SELECT `a1`, [b 2] FROM t WHERE c = ?1 AND d = :name AND e = @v AND f = $w AND g = ?"],
  ["SELECT arr[1], now() - interval '1 day', '2020-01-01'::date, TRUE, NULL", "SELECT arr[?], now() - interval ?, ?::date, TRUE, NULL"],
  ["  SELECT\n\t  1\n\n  ", "SELECT ?"],
  ["SELECT 'unterminated", "SELECT ?"],
  ["SELECT $$unterminated", "SELECT ?"],
  ["SELECT /* unterminated", "SELECT"],
  ["SELECT 1.e5, 5., x.y1, t2.c3 FROM s1.t2", "SELECT ?, ?, x.y1, t2.c3 FROM s1.t2"],
  ["SELECT naïve, größe FROM t WHERE v = 'ü'", "SELECT naïve, größe FROM t WHERE v = ?"],
  ["", ""],
];

describe("normalizeSql", () => {
  for (const [input, expected] of cases) {
    test(JSON.stringify(input).slice(0, 70), () => {
      expect(normalizeSql(input)).toEqual({ text: expected, cut: false });
    });
  }

  test("a query of several MB is cut: bounded output, no value leaks across the cut", () => {
    const values = Array.from({ length: 200_000 }, (_, i) => `(${i}, 'secret-${i}')`).join(", ");
    const input = `INSERT INTO t (id, s) VALUES ${values}`;
    expect(input.length).toBeGreaterThan(4_000_000);
    const started = performance.now();
    const result = normalizeSql(input);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(result.cut).toBe(true);
    expect(result.text.length).toBeLessThanOrEqual(MAX_QUERY_CHARS);
    expect(result.text.startsWith("INSERT INTO t (id, s) VALUES (?, ?), (?, ?)")).toBe(true);
    expect(result.text).not.toContain("secret");
    expect(/\d/.test(result.text)).toBe(false);
  });

  test("one literal of several MB is one placeholder, cut", () => {
    const result = normalizeSql(`SELECT '${"x".repeat(5_000_000)}' AS big`);
    expect(result).toEqual({ text: "SELECT ?", cut: true });
  });
});

/** MySQL/MariaDB (mysql2's texts): where its lexical rules differ, no literal may pass. */
const mysqlCases: [string, string][] = [
  ["SELECT * FROM users WHERE id = ? AND name = 'bob'", "SELECT * FROM users WHERE id = ? AND name = ?"],
  ["SELECT 'it\\'s secret', 'a\\\\', 'b''c' FROM t", "SELECT ?, ?, ? FROM t"],
  ['SELECT "double quoted secret", "it\\"s", "x""y" FROM t', "SELECT ?, ?, ? FROM t"],
  ["SELECT `col 1`, `we``ird` FROM `db`.`t` WHERE a = ?", "SELECT `col 1`, `we``ird` FROM `db`.`t` WHERE a = ?"],
  ["SELECT 1 # secret 42 'x'\nFROM t -- more secret\nWHERE b = 2", "SELECT ? FROM t WHERE b = ?"],
  ["SELECT a FROM t WHERE x=#secret\n1", "SELECT a FROM t WHERE x= ?"],
  ["SELECT /* c1 /* not nested */ 'secret' */ 1", "SELECT ? */ ?"],
  ["SELECT /*!40101 SQL_NO_CACHE 'secret' */ a, /*M!100100 'maria' */ b /*! 7 */", "SELECT SQL_NO_CACHE ? a, ? b ?"],
  ["/*!40101 SET @saved = 'secret'*/;", "SET @saved = ? ;"],
  ["SELECT 0x1F2e, 0b1011, x'1F', X'ab', b'101', B'1', N'nat', _utf8mb4'secret', _binary\"y\"", "SELECT ?, ?, ?, ?, ?, ?, ?, _utf8mb4?, _binary?"],
  ["SELECT @v, @@session.sql_mode, a$b FROM t1 WHERE c IN (1, 2.5, -3e-4, .5)", "SELECT @v, @@session.sql_mode, a$b FROM t1 WHERE c IN (?, ?, -?, ?)"],
  ["INSERT INTO t (a, b) VALUES (?, ?) ON DUPLICATE KEY UPDATE b = 'x'", "INSERT INTO t (a, b) VALUES (?, ?) ON DUPLICATE KEY UPDATE b = ?"],
  ["SELECT 'unterminated \\' still secret", "SELECT ?"],
  ["SELECT \"unterminated", "SELECT ?"],
  ["SELECT a*b, c * 2, count(*) FROM t", "SELECT a*b, c * ?, count(*) FROM t"],
];

describe("normalizeSql, MySQL dialect", () => {
  for (const [input, expected] of mysqlCases) {
    test(JSON.stringify(input).slice(0, 70), () => {
      expect(normalizeSql(input, SqlDialect.mysql)).toEqual({ text: expected, cut: false });
    });
  }

  test("the standard dialect leaks what the MySQL one scrubs (why the dialect exists)", () => {
    expect(normalizeSql("SELECT 'it\\'s secret'").text).toContain("secret");
    expect(normalizeSql('SELECT "secret"').text).toContain("secret");
    expect(normalizeSql("SELECT 1 # secret").text).toContain("secret");
    for (const input of ["SELECT 'it\\'s secret'", 'SELECT "secret"', "SELECT 1 # secret"]) expect(normalizeSql(input, SqlDialect.mysql).text).not.toContain("secret");
  });

  test("no digit or secret of random MySQL literals reaches the text", () => {
    const pieces = ["'s3cret\\'9'", '"s3cret\\"9"', "x'9F'", "b'1001'", "0x9AF", "0b101", "9.5e3", "_binary'9s3cret'", "N'9s3cret'", "/*!50001 '9s3cret' */", "# 9s3cret\n", "-- 9s3cret\n", "/* 9s3cret */"];
    for (let round = 0; round < 200; round++) {
      let input = "SELECT a";
      for (let k = 0; k < 6; k++) input += ` , ${pieces[(round * 7 + k * 3) % pieces.length]}`;
      const text = normalizeSql(input + " FROM t", SqlDialect.mysql).text;
      expect(text).not.toContain("s3cret");
      expect(/\d/.test(text)).toBe(false);
    }
  });
});
