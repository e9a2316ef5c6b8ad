/**
 * `flowbus serve --simulator` as a user runs it (bin/flowbus.js: the bundle in dist/bundle/)
 * loads only what it uses (issue 14, part 3): no MySQL driver for the SQLite log, no MQTT client
 * with MQTT off, no serialport without a serial bus, none of the other commands. A preload given
 * through NODE_OPTIONS records what the process loads: every ES module file (a module hook) and,
 * when the main thread exits, every CommonJS module. What a loaded chunk of the bundle holds, its
 * source map beside it says (the files it was made of).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, buildOnce, flowbus, ROOT } from '../helpers/cli.js';
import { startServe, untilReady } from '../helpers/serve.js';

const dir = mkdtempSync(join(tmpdir(), 'flowbus-lean-'));
const out = join(dir, 'loaded.json');
const esmOut = join(dir, 'loaded-esm.txt');
const hooks = join(dir, 'hooks.mjs');
const preload = join(dir, 'loaded.mjs');
writeFileSync(
  hooks,
  [
    "import { appendFileSync } from 'node:fs';",
    `export async function load(url, context, next) { if (url.startsWith('file:')) appendFileSync(${JSON.stringify(esmOut)}, url + '\\n'); return next(url, context); }`,
  ].join('\n'),
);
writeFileSync(
  preload,
  [
    "import { createRequire, register } from 'node:module';",
    "import { writeFileSync } from 'node:fs';",
    "import { isMainThread } from 'node:worker_threads';",
    `if (isMainThread) register(${JSON.stringify(pathToFileURL(hooks).href)});`,
    `if (isMainThread) process.on('exit', () => writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(createRequire(import.meta.url).cache))));`,
  ].join('\n'),
);

beforeAll(() => buildOnce(), BUILD_TIMEOUT_MS);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Which of these packages a list of loaded module paths holds. */
const packages = (paths: readonly string[], names: readonly string[]) => names.filter((n) => paths.some((p) => p.includes(`/node_modules/${n}/`)));

/** The files a chunk of the bundle was made of (absolute paths), from its source map. */
function sourcesOf(chunk: string): string[] {
  const map = `${chunk}.map`;
  if (!existsSync(map)) return [];
  return (JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] }).sources.map((s) => resolve(dirname(chunk), s));
}

describe('a lean serve', () => {
  it('serve --simulator runs the bundle and loads neither mysql2 nor mqtt nor serialport nor the other commands', async () => {
    const s = await startServe({ env: { NODE_OPTIONS: `--import=${pathToFileURL(preload).href}` } });
    try {
      await untilReady(s);
      expect((await fetch(`${s.url}/metrics`)).status).toBe(200);
      expect((await fetch(`${s.url}/api/v1/transactions?limit=5`)).status).toBe(200);
    } finally {
      expect(await s.stop()).toBe(0);
    }
    const required = JSON.parse(readFileSync(out, 'utf8')) as string[];
    const imported = readFileSync(esmOut, 'utf8').split('\n').filter(Boolean).map((u) => fileURLToPath(u));
    const bundle = join(ROOT, 'dist', 'bundle');
    const chunks = imported.filter((f) => f.startsWith(`${bundle}/`));
    expect(chunks).toContain(join(bundle, 'cli.js'));
    const bundled = chunks.flatMap(sourcesOf);
    // Fastify and pino come from the bundle, not from node_modules; the SQLite worker and its addon from beside it.
    expect(packages(bundled, ['fastify', 'pino'])).toEqual(['fastify', 'pino']);
    expect(packages(required, ['fastify', 'pino'])).toEqual([]);
    expect(bundled.some((f) => f === join(ROOT, 'src', 'main.ts'))).toBe(true);
    const loaded = [...required, ...imported, ...bundled];
    expect(packages(loaded, ['mysql2', 'mqtt', 'serialport', '@serialport/stream', '@serialport/bindings-cpp'])).toEqual([]);
    // The OpenAPI document and Swagger UI wait for their first request.
    expect(packages(loaded, ['@fastify/swagger', '@fastify/swagger-ui', '@fastify/static'])).toEqual([]);
    // (src/store/cli.ts and src/observe/cli.ts come in through their folders' index.ts, bundled or not.)
    const commands = loaded.filter((f) => /\/src\/commands\/|\/simulator\/cli\.ts$|\/src\/params\/cli\.ts$|\/src\/demo\.ts$/.test(f));
    expect(commands).toEqual([]);
  }, 90_000);

  it('the first request for /openapi.json or /docs loads @fastify/swagger and its UI', async () => {
    rmSync(esmOut, { force: true });
    const s = await startServe({ env: { NODE_OPTIONS: `--import=${pathToFileURL(preload).href}` } });
    try {
      await untilReady(s);
      const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
      expect(Object.keys(doc.paths)).toContain('/api/v1/instruments');
      const ui = await fetch(`${s.url}/docs/`);
      expect(ui.status).toBe(200);
      expect(await ui.text()).toContain('swagger');
    } finally {
      expect(await s.stop()).toBe(0);
    }
    const required = JSON.parse(readFileSync(out, 'utf8')) as string[];
    const imported = readFileSync(esmOut, 'utf8').split('\n').filter(Boolean).map((u) => fileURLToPath(u));
    const loaded = [...required, ...imported, ...imported.filter((f) => f.startsWith(join(ROOT, 'dist', 'bundle'))).flatMap(sourcesOf)];
    expect(packages(loaded, ['@fastify/swagger', '@fastify/swagger-ui'])).toEqual(['@fastify/swagger', '@fastify/swagger-ui']);
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
