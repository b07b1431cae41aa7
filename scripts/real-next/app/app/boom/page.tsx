export const dynamic = "force-dynamic";

// A page that throws: Next answers 500.
export default async function Boom() {
  throw new Error("the cat knocked it over");
}
