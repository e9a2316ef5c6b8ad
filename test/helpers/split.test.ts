/** `npm run test:unit` and `npm run test:e2e` (the two vitest projects) share the suite out: every test file in exactly one. */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import config, { ALL_TESTS, E2E } from '../../vitest.config.js';

const ROOT = new URL('../../', import.meta.url);
const files = readdirSync(new URL('test/', ROOT), { recursive: true, encoding: 'utf8' })
  .map((f) => `test/${f.split('\\').join('/')}`)
  .filter((f) => f.endsWith('.test.ts'))
  .sort();

const inEntry = (file: string, entry: string) => (entry.endsWith('/') ? file.startsWith(entry) : file === entry);
const e2eFiles = files.filter((f) => E2E.some((e) => inEntry(f, e)));
const unitFiles = files.filter((f) => !e2eFiles.includes(f));

/** What a unit test must not use: ptys, socket servers, databases, child processes. */
const NOT_IN_UNIT: readonly [string, RegExp][] = [
  ['a socat pty', /helpers\/socat\.js|ptyPair\(|simOnPty\(/],
  ['a child process', /from 'node:child_process'|buildOnce\(/],
  ['a socket server', /\.listen\(|createServer\(|serveTcp\(/],
  ['a database', /openStore\(|freshTarget\(|mysqlRuns\(|from 'better-sqlite3'/],
];

describe('test:unit and test:e2e', () => {
  it('are the two projects of the suite: unit is everything but the e2e entries', () => {
    const projects = (config.test?.projects ?? []) as { test: { name: string; include?: string[]; exclude?: string[] } }[];
    expect(projects.map((p) => p.test.name)).toEqual(['unit', 'e2e']);
    const [unit, e2e] = projects.map((p) => p.test);
    expect(unit?.include).toEqual([ALL_TESTS]);
    expect(unit?.exclude).toEqual(e2e?.include);
    expect(e2e?.include).toEqual(E2E.map((e) => (e.endsWith('/') ? `${e}**/*.test.ts` : e)));
    const scripts = (JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['test:unit']).toBe('vitest run --project unit');
    expect(scripts['test:e2e']).toBe('vitest run --project e2e');
  });

  it('every e2e entry is a directory or a test file that exists, named once', () => {
    expect(new Set(E2E).size).toBe(E2E.length);
    for (const entry of E2E) {
      expect(entry.endsWith('/') || entry.endsWith('.test.ts'), entry).toBe(true);
      expect(files.filter((f) => inEntry(f, entry)).length, `${entry} names no test file`).toBeGreaterThan(0);
      const covering = E2E.filter((other) => other !== entry && other.endsWith('/') && entry.startsWith(other));
      expect(covering, `${entry} is inside another entry`).toEqual([]);
    }
  });

  it('puts every test file in exactly one of the two', () => {
    expect(files.length).toBeGreaterThan(50);
    expect([...unitFiles, ...e2eFiles].sort()).toEqual(files);
    expect(unitFiles.filter((f) => e2eFiles.includes(f))).toEqual([]);
    expect(unitFiles).toContain('test/helpers/split.test.ts');
  });

  it('no unit test opens a pty, a socket server, a database or a child process', () => {
    // This file names the patterns themselves.
    const offenders = unitFiles.filter((f) => f !== 'test/helpers/split.test.ts').flatMap((f) => {
      const text = readFileSync(new URL(f, ROOT), 'utf8');
      return NOT_IN_UNIT.filter(([, pattern]) => pattern.test(text)).map(([what]) => `${f} uses ${what}: list it in E2E (vitest.config.ts)`);
    });
    expect(offenders).toEqual([]);
    // The patterns do find what they look for.
    for (const f of ['test/transport/hangup.test.ts', 'test/e2e/cli.test.ts', 'test/store/store.test.ts']) {
      expect(NOT_IN_UNIT.some(([, p]) => p.test(readFileSync(new URL(f, ROOT), 'utf8'))), f).toBe(true);
    }
  });
});
