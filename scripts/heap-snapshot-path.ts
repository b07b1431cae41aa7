// The shortest strong path from the GC roots to a node of a heap snapshot whose name contains a string:
// why it is still alive. Usage: bun scripts/heap-snapshot-path.ts snap.heapsnapshot <name-substring> [node type, e.g. code]
import { readFileSync } from "node:fs";
const j = JSON.parse(readFileSync(process.argv[2]!, "utf8"));
const meta = j.snapshot.meta; const nf = meta.node_fields.length; const ef = meta.edge_fields.length;
const types: string[] = meta.node_types[0]; const etypes: string[] = meta.edge_types[0];
const nodes: number[] = j.nodes; const edges: number[] = j.edges; const strings: string[] = j.strings;
const count = nodes.length / nf;
const first: number[] = new Array(count); let e = 0;
for (let i = 0; i < count; i++) { first[i] = e; e += nodes[i * nf + 4]!; }
const parent = new Int32Array(count).fill(-1); const pedge = new Int32Array(count).fill(-1);
const q = [0]; parent[0] = 0;
while (q.length) { const cur = q.shift()!; const n = nodes[cur * nf + 4]!;
  for (let k = 0; k < n; k++) { const eo = (first[cur]! + k) * ef; if (etypes[edges[eo]!] === "weak") continue; const to = edges[eo + 2]! / nf; if (parent[to] !== -1) continue; parent[to] = cur; pedge[to] = eo; q.push(to); } }
const label = (i: number) => `${types[nodes[i * nf]!]}:${String(strings[nodes[i * nf + 1]!]).slice(0, 70).replace(/\n/g, " ")}`;
const edgeName = (eo: number) => { const t = etypes[edges[eo]!]; const n = edges[eo + 1]!; return t === "element" || t === "hidden" ? `${t}[${n}]` : `${t}:${strings[n]}`; };
let shown = 0;
for (let i = 0; i < count && shown < 3; i++) {
  if (!String(strings[nodes[i * nf + 1]!]).includes(process.argv[3]!)) continue;
  if (process.argv[4] && types[nodes[i * nf]!] !== process.argv[4]) continue;
  shown++;
  const path: string[] = []; let cur = i;
  if (parent[cur] === -1) { console.log("unreachable from root (weak only):", label(i)); continue; }
  while (cur !== 0) { path.push(`${label(cur)}  <-${edgeName(pedge[cur]!)}-`); cur = parent[cur]!; }
  console.log("\n" + path.join("\n"));
}
