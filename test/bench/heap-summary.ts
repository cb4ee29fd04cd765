/**
 * `npx tsx test/bench/heap-summary.ts <file.heapsnapshot> [top=40]`: what a V8 heap snapshot
 * holds, by self size: per node type (object, string, code, closure, ...), then per type + name
 * (constructor name for objects, `(...)` groups for V8 internals), then the scripts whose
 * functions hold the most compiled code and closures (by the `script_or_debug_info`/`shared`
 * edges: which library's code fills the heap). Take one with
 * `BENCH_HEAPSNAPSHOT=<dir> npx tsx test/bench/mem-probe.ts idle`.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] }; node_count: number };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: heap-summary.ts <file.heapsnapshot> [top]\n');
  process.exit(2);
}
const top = Number(process.argv[3] ?? 40);
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const { meta } = snap.snapshot;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const nType = meta.node_fields.indexOf('type');
const nName = meta.node_fields.indexOf('name');
const nSelf = meta.node_fields.indexOf('self_size');
const nEdges = meta.node_fields.indexOf('edge_count');
const eType = meta.edge_fields.indexOf('type');
const eName = meta.edge_fields.indexOf('name_or_index');
const eTo = meta.edge_fields.indexOf('to_node');
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const { nodes, edges, strings } = snap;
const count = nodes.length / NF;
const mb = (n: number) => (n / 2 ** 20).toFixed(2);

const byType = new Map<string, { n: number; size: number }>();
const byName = new Map<string, { n: number; size: number }>();
let total = 0;
for (let i = 0; i < count; i++) {
  const o = i * NF;
  const type = nodeTypes[nodes[o + nType]];
  const size = nodes[o + nSelf];
  total += size;
  const t = byType.get(type) ?? { n: 0, size: 0 };
  t.n++;
  t.size += size;
  byType.set(type, t);
  let name = strings[nodes[o + nName]];
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
  else if (name.length > 60) name = `${name.slice(0, 57)}...`;
  const key = `${type} ${name}`;
  const b = byName.get(key) ?? { n: 0, size: 0 };
  b.n++;
  b.size += size;
  byName.set(key, b);
}

// Per script: a closure -> its `shared` SharedFunctionInfo -> `script` (or `script_or_debug_info`)
// -> the Script's `name` string. Sum the closures', SFIs' and code objects' self sizes.
const firstEdge = new Uint32Array(count + 1);
for (let i = 0, e = 0; i < count; i++) {
  firstEdge[i] = e;
  e += nodes[i * NF + nEdges] * EF;
  firstEdge[i + 1] = e;
}
function edgeTo(node: number, name: string): number {
  for (let e = firstEdge[node]; e < firstEdge[node + 1]; e += EF) {
    const t = edgeTypes[edges[e + eType]];
    if (t === 'element' || t === 'hidden') continue;
    if (strings[edges[e + eName]] === name) return edges[e + eTo] / NF;
  }
  return -1;
}
const scriptName = new Map<number, string>();
function scriptOf(sfi: number): string {
  let s = edgeTo(sfi, 'script');
  if (s < 0) s = edgeTo(sfi, 'script_or_debug_info');
  if (s < 0) return '(no script)';
  const cached = scriptName.get(s);
  if (cached !== undefined) return cached;
  const nameNode = edgeTo(s, 'name');
  let name = nameNode >= 0 ? strings[nodes[nameNode * NF + nName]] : '(unnamed)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(name);
  if (m) name = `node_modules/${m[1]}`;
  else if (name.startsWith('node:')) name = 'node: (built-in)';
  scriptName.set(s, name);
  return name;
}
const byScript = new Map<string, { n: number; size: number }>();
for (let i = 0; i < count; i++) {
  const o = i * NF;
  const type = nodeTypes[nodes[o + nType]];
  if (type !== 'closure' && !(type === 'code' && strings[nodes[o + nName]].startsWith('(shared function info)'))) continue;
  let sfi = i;
  let size = nodes[o + nSelf];
  if (type === 'closure') {
    sfi = edgeTo(i, 'shared');
    if (sfi < 0) continue;
  } else {
    // The SFI itself and what hangs off it only through it: bytecode, scope info, feedback metadata.
    for (const child of ['function_data', 'bytecode', 'scope_info', 'feedback_metadata']) {
      const c = edgeTo(i, child);
      if (c >= 0) size += nodes[c * NF + nSelf];
    }
  }
  const key = scriptOf(sfi);
  const b = byScript.get(key) ?? { n: 0, size: 0 };
  b.n++;
  b.size += size;
  byScript.set(key, b);
}

const rows = (m: Map<string, { n: number; size: number }>, k: number) =>
  [...m.entries()]
    .sort((a, b) => b[1].size - a[1].size)
    .slice(0, k)
    .map(([name, v]) => `${mb(v.size).padStart(8)} MB ${String(v.n).padStart(8)}  ${name}`)
    .join('\n');

process.stdout.write(`${file}: ${count} nodes, ${mb(total)} MB self size in all\n\nby type:\n${rows(byType, 20)}\n\nby type + name:\n${rows(byName, top)}\n\n`);
process.stdout.write(`code by script (closures + shared function infos with their bytecode/scope info):\n${rows(byScript, top)}\n`);

// Strings by what holds them (the first retainer's type + name and the edge), and the largest ones.
const retainer = new Int32Array(count).fill(-1);
const retainerEdge = new Int32Array(count).fill(-1);
for (let i = 0; i < count; i++) {
  for (let e = firstEdge[i]; e < firstEdge[i + 1]; e += EF) {
    const to = edges[e + eTo] / NF;
    if (retainer[to] < 0 && edgeTypes[edges[e + eType]] !== 'weak') {
      retainer[to] = i;
      retainerEdge[to] = e;
    }
  }
}
const describe = (i: number) => {
  const name = strings[nodes[i * NF + nName]];
  return `${nodeTypes[nodes[i * NF + nType]]} ${name.length > 50 ? `${name.slice(0, 47)}...` : name}`;
};
const edgeLabel = (e: number) => {
  const t = edgeTypes[edges[e + eType]];
  return t === 'element' || t === 'hidden' ? `[${edges[e + eName]}]` : strings[edges[e + eName]];
};
const strByHolder = new Map<string, { n: number; size: number }>();
const bigStrings: number[] = [];
for (let i = 0; i < count; i++) {
  const type = nodeTypes[nodes[i * NF + nType]];
  if (type !== 'string' && type !== 'concatenated string' && type !== 'sliced string') continue;
  const r = retainer[i];
  const key = r < 0 ? '(none)' : `${describe(r).replace(/ \S*\/node_modules\/((?:@[^/]+\/)?[^/]+)\S*/, ' node_modules/$1').replace(/ file:\/\/\S+/, ' file:...')} .${edgeLabel(retainerEdge[i])}`;
  const b = strByHolder.get(key) ?? { n: 0, size: 0 };
  b.n++;
  b.size += nodes[i * NF + nSelf];
  strByHolder.set(key, b);
  if (nodes[i * NF + nSelf] > 20_000) bigStrings.push(i);
}
process.stdout.write(`\nstrings by first retainer:\n${rows(strByHolder, top)}\n`);
bigStrings.sort((a, b) => nodes[b * NF + nSelf] - nodes[a * NF + nSelf]);
process.stdout.write(`\nlargest strings (> 20 KB), with their first retainer:\n`);
for (const i of bigStrings.slice(0, top)) {
  const r = retainer[i];
  const holder = r < 0 ? '(none)' : r >= 0 && retainer[r] >= 0 ? `${describe(r)} <- ${describe(retainer[r])}` : describe(r);
  process.stdout.write(`${mb(nodes[i * NF + nSelf]).padStart(8)} MB  ${JSON.stringify(strings[nodes[i * NF + nName]].slice(0, 60))}  held by ${holder}\n`);
}
