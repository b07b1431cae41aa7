import { addCat, catCount } from "../../lib/db";

export const dynamic = "force-dynamic";

async function add(formData: FormData) {
  "use server";
  await addCat(String(formData.get("name") ?? "anon"));
}

export default async function ActionPage() {
  const count = await catCount();
  return (
    <main>
      <p>{count} cats</p>
      <form action={add}>
        <input name="name" />
        <button type="submit">add</button>
      </form>
    </main>
  );
}
