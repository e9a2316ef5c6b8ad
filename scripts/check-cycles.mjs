#!/usr/bin/env node
// Fails when the project's own modules import each other in a cycle (README "Design").
// Every import counts, `import type` and `export ... from` included: a type-only cycle is a
// run-time cycle waiting for its first value import, and an interface file that imports from
// one of its implementations has its dependency the wrong way round.
//
// Usage: node scripts/check-cycles.mjs [folder ...]   (default: src simulator)
// Plain JavaScript on TypeScript's own import scanner, so it needs no build and no new package.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const folders = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['src', 'simulator'];

function sources(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** `./x.js` from `a/b.ts` -> the file it means (`a/x.ts`, or `a/x.js` for plain JS), if it exists. */
function resolveImport(from, spec) {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec);
  const candidates = [base, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => {
    try {
      return statSync(c).isFile();
    } catch {
      return false;
    }
  });
}

const files = folders.flatMap((f) => sources(join(root, f)));
const graph = new Map();
for (const file of files) {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const deps = new Set();
  for (const { fileName } of importedFiles) {
    const target = resolveImport(file, fileName);
    if (target && target !== file) deps.add(target);
  }
  graph.set(file, [...deps]);
}

// Tarjan's strongly connected components: every component of more than one file is a cycle.
let counter = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
function connect(v) {
  index.set(v, counter);
  low.set(v, counter);
  counter++;
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue;
    if (!index.has(w)) {
      connect(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) === index.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) cycles.push(component);
  }
}
for (const v of graph.keys()) if (!index.has(v)) connect(v);

/** One concrete loop through a component, for the message: a -> b -> a. */
function loopThrough(component) {
  const members = new Set(component);
  const start = [...component].sort()[0];
  const path = [start];
  const seen = new Set([start]);
  for (let v = start; ; ) {
    const next = (graph.get(v) ?? []).filter((w) => members.has(w));
    if (next.includes(start) && path.length > 1) return [...path, start];
    const w = next.find((n) => !seen.has(n)) ?? next[0];
    if (w === undefined || seen.has(w)) return [...path, w ?? start];
    path.push(w);
    seen.add(w);
    v = w;
  }
}

if (cycles.length > 0) {
  console.error(`import cycles: ${cycles.length}`);
  for (const c of cycles) console.error(`  ${loopThrough(c).map((f) => relative(root, f)).join(' -> ')}`);
  process.exit(1);
}
console.log(`no import cycles in ${files.length} files (${folders.join(', ')})`);
