// Heap snapshot diff: the objects of B (by node id) not in A, grouped by type and name, largest first.
// Usage: bun scripts/heap-snapshot-diff.ts A.heapsnapshot B.heapsnapshot [name-substring: retainers of those new objects]
// (TOP=n rows, RET=n groups). Snapshots from one process (v8.writeHeapSnapshot), so ids are comparable.
import { readFileSync } from "node:fs";
type Snap = { nodes: number[]; edges: number[]; strings: string[]; nf: number; ef: number; types: string[]; etypes: string[]; nodeCount: number };
function load(path: string): Snap {
  const j = JSON.parse(readFileSync(path, "utf8"));
  const meta = j.snapshot.meta;
  return { nodes: j.nodes, edges: j.edges, strings: j.strings, nf: meta.node_fields.length, ef: meta.edge_fields.length, types: meta.node_types[0], etypes: meta.edge_types[0], nodeCount: j.nodes.length / meta.node_fields.length };
}
const [a, b] = [load(process.argv[2]!), load(process.argv[3]!)];
const ids = new Set<number>();
for (let i = 0; i < a.nodeCount; i++) ids.add(a.nodes[i * a.nf + 2]!);
const groups = new Map<string, { count: number; size: number; idx: number[] }>();
let total = 0;
for (let i = 0; i < b.nodeCount; i++) {
  const o = i * b.nf;
  const id = b.nodes[o + 2]!;
  if (ids.has(id)) continue;
  const type = b.types[b.nodes[o]!]!;
  let name = b.strings[b.nodes[o + 1]!]!;
  if (type === "string" || type === "concatenated string" || type === "sliced string") name = name.slice(0, 60);
  const key = `${type}: ${name}`;
  const g = groups.get(key) ?? { count: 0, size: 0, idx: [] };
  g.count++;
  g.size += b.nodes[o + 3]!;
  if (g.idx.length < 5) g.idx.push(i);
  total += b.nodes[o + 3]!;
  groups.set(key, g);
}
console.log(`new objects: ${[...groups.values()].reduce((s, g) => s + g.count, 0)}, ${(total / 1024).toFixed(1)} KiB self`);
const sorted = [...groups.entries()].sort((x, y) => y[1].size - x[1].size);
for (const [key, g] of sorted.slice(0, Number(process.env.TOP ?? 60))) console.log(`${(g.size / 1024).toFixed(1).padStart(8)} KiB ${String(g.count).padStart(6)}  ${key.replace(/\n/g, " ").slice(0, 140)}`);
// Retainers of nodes matching a pattern.
const pattern = process.argv[4];
if (pattern) {
  const firstEdge: number[] = new Array(b.nodeCount);
  let e = 0;
  for (let i = 0; i < b.nodeCount; i++) { firstEdge[i] = e; e += b.nodes[i * b.nf + 4]!; }
  const rev: [number, number][][] = Array.from({ length: b.nodeCount }, () => []);
  for (let i = 0; i < b.nodeCount; i++) {
    const n = b.nodes[i * b.nf + 4]!;
    for (let k = 0; k < n; k++) {
      const eo = (firstEdge[i]! + k) * b.ef;
      const to = b.edges[eo + 2]! / b.nf;
      rev[to]!.push([i, eo]);
    }
  }
  const label = (i: number) => `${b.types[b.nodes[i * b.nf]!]}:${String(b.strings[b.nodes[i * b.nf + 1]!]).slice(0, 50).replace(/\n/g, " ")}@${b.nodes[i * b.nf + 2]}${ids.has(b.nodes[i * b.nf + 2]!) ? "(old)" : ""}`;
  const edgeName = (eo: number) => { const t = b.etypes[b.edges[eo]!]; const n = b.edges[eo + 1]!; return t === "element" || t === "hidden" ? `[${n}]` : `${t}:${b.strings[n]}`; };
  let shown = 0;
  for (const [key, g] of sorted) {
    if (!key.includes(pattern)) continue;
    for (const start of g.idx.slice(0, 2)) {
      console.log(`\n== ${label(start)}`);
      // BFS toward an old node or root, printing a path.
      const prev = new Map<number, [number, number]>();
      const queue = [start];
      const seen = new Set([start]);
      let found = -1;
      while (queue.length) {
        const cur = queue.shift()!;
        if (cur !== start && (ids.has(b.nodes[cur * b.nf + 2]!) )) { found = cur; break; }
        for (const [from, eo] of rev[cur]!) {
          const et = b.etypes[b.edges[eo]!];
          if (et === "weak") continue;
          if (seen.has(from)) continue;
          seen.add(from); prev.set(from, [cur, eo]); queue.push(from);
        }
      }
      let cur = found;
      const path: string[] = [];
      while (cur !== -1 && cur !== start) { const [next, eo] = prev.get(cur)!; path.push(`${label(cur)} --${edgeName(eo)}-->`); cur = next; }
      console.log(path.join("\n  ") || "(no old retainer)");
    }
    if (++shown >= Number(process.env.RET ?? 8)) break;
  }
}
