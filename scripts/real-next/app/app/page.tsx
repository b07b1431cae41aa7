// A static page: prerendered at build time.
export default function Home() {
  return <main><h1>Cats</h1><p>A static page.</p></main>;
}
