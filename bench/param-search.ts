/**
 * Cost of the parameter database's text lookups on the event loop, per call: what an
 * outsider pays for by naming parameters that do not exist (`PARAM_UNKNOWN` with its
 * "did you mean" suggestions), next to ordinary lookups and typos. Prints microseconds
 * per call and each case's ratio to a plain key lookup.
 *
 *   npx tsx bench/param-search.ts
 */
import { findParam, resolveParam, searchParams } from '../src/params/index.js';

function unknownName(length: number, seed: number): string {
  // Letters only, so that nothing matches a DDE number, and different per call (no caching anywhere).
  let s = '';
  let x = seed * 2654435761;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += String.fromCharCode(97 + (x % 26));
  }
  return s;
}

function perCallUs(fn: (i: number) => void, minMs = 400): number {
  for (let i = 0; i < 20; i++) fn(i); // warm-up
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) fn(n++);
  return ((performance.now() - t0) * 1000) / n;
}

const swallow = (text: string) => {
  try {
    resolveParam(text);
  } catch {
    // PARAM_UNKNOWN is the point
  }
};

const cases: [string, (i: number) => void][] = [
  ['findParam("fSetpoint") (known key)', () => findParam('fSetpoint')],
  ['resolveParam("fsetpiont") (typo, suggestions)', () => swallow('fsetpiont')],
  ['resolveParam(unknown 16 chars)', (i) => swallow(unknownName(16, i))],
  ['resolveParam(unknown 64 chars)', (i) => swallow(unknownName(64, i))],
  ['resolveParam(unknown 80 chars)', (i) => swallow(unknownName(80, i))],
  ['resolveParam(unknown 2000 chars)', (i) => swallow(unknownName(2000, i))],
  ['searchParams("valve")', () => searchParams('valve')],
  ['searchParams(unknown 80 chars)', (i) => searchParams(unknownName(80, i))],
];

const base = perCallUs(cases[0]![1]);
console.log('case'.padEnd(48), 'us/call'.padStart(10), 'x known key'.padStart(12));
for (const [label, fn] of cases) {
  const us = perCallUs(fn);
  console.log(label.padEnd(48), us.toFixed(1).padStart(10), (us / base).toFixed(0).padStart(12));
}
