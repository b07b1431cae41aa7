/** The query text normaliser (src/agent/shared/sql.ts): literals out, everything else as written. */
import { describe, expect, test } from "bun:test";
import { MAX_QUERY_CHARS, normalizeSql } from "../src/agent/shared/sql";

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
