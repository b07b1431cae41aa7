import { catById } from "../../../lib/db";

export const dynamic = "force-dynamic";

export default async function CatPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const cat = await catById(Number(id));
  if (cat === undefined) return <main><h1>No cat {id}</h1></main>;
  return <main><h1>{cat.name}</h1><p>age {cat.age}</p></main>;
}
