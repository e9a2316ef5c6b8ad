/**
 * `flowbus serve --simulator` as a user runs it loads only what it uses (issue 14, part 3): no
 * MySQL driver for the SQLite log, no MQTT client with MQTT off, no serialport without a serial
 * bus. A preload given through NODE_OPTIONS writes, when the main thread exits, every CommonJS
 * module it loaded (the three are CommonJS packages).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, buildOnce, flowbus } from '../helpers/cli.js';
import { startServe, untilReady } from '../helpers/serve.js';

const dir = mkdtempSync(join(tmpdir(), 'flowbus-lean-'));
const out = join(dir, 'loaded.json');
const preload = join(dir, 'loaded.mjs');
writeFileSync(
  preload,
  [
    "import { createRequire } from 'node:module';",
    "import { writeFileSync } from 'node:fs';",
    "import { isMainThread } from 'node:worker_threads';",
    `if (isMainThread) process.on('exit', () => writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(createRequire(import.meta.url).cache))));`,
  ].join('\n'),
);

beforeAll(() => buildOnce(), BUILD_TIMEOUT_MS);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Which of these packages a list of loaded module paths holds. */
const packages = (paths: readonly string[], names: readonly string[]) => names.filter((n) => paths.some((p) => p.includes(`/node_modules/${n}/`)));

describe('a lean serve', () => {
  it('serve --simulator (SQLite log, MQTT off) loads neither mysql2 nor mqtt nor serialport', async () => {
    const s = await startServe({ env: { NODE_OPTIONS: `--import=${pathToFileURL(preload).href}` } });
    try {
      await untilReady(s);
      expect((await fetch(`${s.url}/metrics`)).status).toBe(200);
      expect((await fetch(`${s.url}/api/v1/transactions?limit=5`)).status).toBe(200);
    } finally {
      expect(await s.stop()).toBe(0);
    }
    const loaded = JSON.parse(readFileSync(out, 'utf8')) as string[];
    // The probe sees CommonJS packages the gateway does use.
    expect(packages(loaded, ['fastify', 'pino'])).toEqual(['fastify', 'pino']);
    expect(packages(loaded, ['mysql2', 'mqtt', 'serialport', '@serialport/stream', '@serialport/bindings-cpp'])).toEqual([]);
  }, 90_000);

  it('the other commands are still there for everything but serve', async () => {
    const help = await flowbus('--help');
    expect(help.code).toBe(0);
    for (const command of ['serve', 'demo', 'simulate', 'get', 'backup', 'program', 'params', 'db', 'export', 'replay', 'decode', 'config']) expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    const params = await flowbus('params', 'fmeasure');
    expect(params.code).toBe(0);
    expect(params.stdout).toMatch(/fMeasure/);
  }, 60_000);
});
