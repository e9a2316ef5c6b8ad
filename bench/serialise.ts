/**
 * A chained read's 200 answer serialised two ways, side by side in one run: Fastify's serialiser of
 * the route's response schema (`ReadResultSchema`, whose items are a union of a value and an
 * inline error: fast-json-stringify validates each item against the branches to pick one), and
 * what the route uses, each item through its own branch's compiled serialiser
 * (src/api/instruments.ts). 8 values as the HTTP bench's chained read answers them, and 1.
 * Both outputs are checked to be the same bytes first.
 *
 *   npx tsx bench/serialise.ts [rounds=20000]
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { readResultSerializer } from '../src/api/instruments.js';
import { ReadResultSchema } from '../src/api/schemas.js';
import type { ParamErrorView, ReadResult, ValueView } from '../src/gateway/index.js';

const ROUNDS = Number(process.argv[2] ?? 20_000);
type Serialise = (payload: unknown) => string;

const app = Fastify();
let schema: Serialise | undefined;
let byItem: ((r: ReadResult) => string) | undefined;
app.get('/', { schema: { response: { 200: ReadResultSchema } } }, async (_request, reply) => {
  schema = reply.getSerializationFunction('200') as Serialise;
  byItem = readResultSerializer(reply);
  return { instrument: 'main:3', values: [] };
});
await app.inject('/');
await app.close();
if (!schema || !byItem) throw new Error('no serialisers');
const itemByItem = byItem;

const view = (i: number): ValueView => ({
  dde: 200 + i,
  key: `p${i}`,
  name: `Parameter ${i}`,
  unit: 'ln/min',
  raw: '3f9df3b6',
  value: 1.234 + i,
  inUnit: { value: 0.617, unit: 'ln/min' },
  percent: 12.5,
  time: new Date().toISOString(),
  cached: false,
});
const error: ParamErrorView = { dde: 25, key: 'fluidName', name: 'Fluid name', error: { code: 'BUS_STATUS', message: 'no such parameter', details: { status: 4 } } };

console.log(`${ROUNDS} rounds each, node ${process.version}, load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log('| answer | schema serialiser (union), µs | item by item, µs | ratio |');
console.log('|---|---:|---:|---:|');
for (const [label, result] of [
  ['8 values', { instrument: 'main:3', values: Array.from({ length: 8 }, (_, i) => view(i)) }],
  ['7 values and an inline error', { instrument: 'main:3', values: [...Array.from({ length: 7 }, (_, i) => view(i)), error] }],
  ['1 value', { instrument: 'main:3', values: [view(0)] }],
] as [string, ReadResult][]) {
  if (schema(result) !== itemByItem(result)) throw new Error(`${label}: the outputs differ`);
  const time = (f: (r: ReadResult) => string) => {
    let best = Infinity;
    for (let k = 0; k < 5; k++) {
      const t = performance.now();
      for (let i = 0; i < ROUNDS; i++) f(result);
      best = Math.min(best, ((performance.now() - t) / ROUNDS) * 1000);
    }
    return best;
  };
  const a = time(schema);
  const b = time(itemByItem);
  console.log(`| ${label} | ${a.toFixed(2)} | ${b.toFixed(2)} | **${(b / a).toFixed(2)}** |`);
}
console.log(`(best of 5 rounds each) command: npx tsx bench/serialise.ts ${ROUNDS}`);
