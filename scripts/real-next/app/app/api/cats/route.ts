import { allCats } from "../../../lib/db";

export const dynamic = "force-dynamic";

// A route handler: a fetch from a local upstream, then a pg query.
export async function GET() {
  const upstream = await fetch(`http://127.0.0.1:${process.env.UPSTREAM_PORT}/facts`, { cache: "no-store" });
  const facts = (await upstream.json()) as { fact: string }[];
  const cats = await allCats();
  return Response.json({ facts, cats });
}
