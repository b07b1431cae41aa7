import { Pool } from "pg";

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 4 });

export async function catById(id: number): Promise<{ name: string; age: number } | undefined> {
  const result = await pool.query("SELECT name, age FROM cats WHERE id = $1", [id]);
  return result.rows[0];
}

export async function allCats(): Promise<{ id: number; name: string }[]> {
  const result = await pool.query("SELECT id, name FROM cats ORDER BY id LIMIT 3");
  return result.rows;
}

export async function catCount(): Promise<number> {
  const result = await pool.query("SELECT count(*)::int AS n FROM cats");
  return result.rows[0].n;
}

export async function addCat(name: string): Promise<void> {
  await pool.query("INSERT INTO cats (name, age) VALUES ($1, 1)", [name]);
}
