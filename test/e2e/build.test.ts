/**
 * The compiled build: what the compiled code reads beside itself is in dist/ and in the package;
 * and scripts/ensure-build.mjs with bin/flowbus.js, run on a small project of their own (copies of
 * both, the real tsconfigs, three source files), build when and only when an input changed.
 * The full check of the package (npm pack, npm install -g, the installed flowbus run) takes
 * minutes: scripts/check-package.sh, which .ci/run runs after `npm test`.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, buildOnce, ROOT } from '../helpers/cli.js';

const run = promisify(execFile);

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []));
}

describe('dist/ and the package', () => {
  beforeAll(buildOnce, BUILD_TIMEOUT_MS);

  it('every file the compiled code opens by a path relative to itself is in dist/ and in the package; no sources or tests are', () => {
    const dist = join(ROOT, 'dist');
    const opened = jsFiles(dist).flatMap((file) =>
      // tsc keeps the quotes as written; the bundle (minified) has double quotes.
      [...readFileSync(file, 'utf8').matchAll(/new URL\(\s*(['"])([^'"]+)\1\s*,\s*import\.meta\.url\s*\)/g)].map((m) => ({
        from: relative(ROOT, file),
        target: join(dirname(file), m[2] as string),
      })),
    );
    // The SQLite worker and the example config (`flowbus config example`), at least.
    expect(opened.map((o) => relative(dist, o.target)).sort()).toEqual(expect.arrayContaining(['flowbus.example.yaml', 'src/store/sqlite-worker.js']));
    for (const o of opened) expect(existsSync(o.target), `${o.from} opens ${relative(ROOT, o.target)}`).toBe(true);
    // The bundle opens them where tsc's output has them (scripts/bundle.mjs rewrites the paths).
    const fromBundle = opened.filter((o) => o.from.startsWith('dist/bundle/')).map((o) => relative(dist, o.target));
    expect(fromBundle.sort()).toEqual(expect.arrayContaining(['flowbus.example.yaml', 'src/store/sqlite-worker.js']));

    const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--loglevel=error'], { cwd: ROOT, encoding: 'utf8' })) as { files: { path: string }[] }[];
    const files = new Set(packed[0]!.files.map((f) => f.path));
    for (const o of opened) expect(files.has(relative(ROOT, o.target)), `${relative(ROOT, o.target)} in the package`).toBe(true);
    for (const f of ['bin/flowbus.js', 'dist/bundle/cli.js', 'dist/src/cli.js', 'dist/simulator/cli.js', 'dist/src/params/parameters.json', 'flowbus.example.yaml', 'README.md', 'deploy/flowbus-gateway.service', 'package.json']) {
      expect(files.has(f), f).toBe(true);
    }
    expect([...files].filter((f) => /^(src|simulator|test|bench)\/|\.ts$|^dist\/\.build-stamp/.test(f))).toEqual([]);
  }, 60_000);
});

describe('ensure-build and bin/flowbus.js on a project of their own', () => {
  const root = mkdtempSync(join(tmpdir(), 'flowbus-build-'));
  const write = (rel: string, text: string) => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  const ensure = (...args: string[]) => run(process.execPath, [join(root, 'scripts/ensure-build.mjs'), ...args], { cwd: root });
  const flowbus = async () => {
    try {
      const r = await run(process.execPath, [join(root, 'bin/flowbus.js')], { cwd: tmpdir() });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  beforeAll(() => {
    for (const f of ['scripts/ensure-build.mjs', 'scripts/bundle.mjs', 'bin/flowbus.js', 'tsconfig.json', 'tsconfig.build.json']) {
      mkdirSync(dirname(join(root, f)), { recursive: true });
      copyFileSync(join(ROOT, f), join(root, f));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    write('package.json', '{ "type": "module" }\n');
    write('flowbus.example.yaml', 'buses: []\n');
    write('src/store/sqlite-worker.js', '// the worker\n');
    write('src/message.ts', "export const MESSAGE: string = 'first';\n");
    write('src/extra.ts', 'export const EXTRA = 1;\n');
    write(
      'src/cli.ts',
      [
        "import { existsSync } from 'node:fs';",
        "import { MESSAGE } from './message.js';",
        "const assets = [new URL('./store/sqlite-worker.js', import.meta.url), new URL('../flowbus.example.yaml', import.meta.url)];",
        "console.log(`${MESSAGE} ${assets.every((a) => existsSync(a)) ? 'assets' : 'no assets'}`);",
        '',
      ].join('\n'),
    );
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('without dist/, bin/flowbus.js says to run npm run build', async () => {
    const r = await flowbus();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the compiled program is missing (${join(root, 'dist/bundle/cli.js')}): run \`npm run build\` in ${root}/`);
  });

  it('builds when an input changed, and only then; bin/flowbus.js warns about a stale build', async () => {
    const first = await ensure();
    expect(first.stderr).toMatch(/building dist\/ \(dist\/ is missing\)/);
    expect(await flowbus()).toEqual({ code: 0, stdout: 'first assets\n', stderr: '' });
    const builtAt = statSync(join(root, 'dist/src/cli.js')).mtimeMs;

    const again = await ensure();
    expect(again.stderr).toBe('');
    expect(statSync(join(root, 'dist/src/cli.js')).mtimeMs).toBe(builtAt);

    write('src/message.ts', "export const MESSAGE: string = 'second';\n");
    const stale = await flowbus();
    expect(stale.stdout).toBe('first assets\n');
    expect(stale.stderr).toMatch(/warning: dist\/ is older than the sources \(src\/message\.ts changed\): run `npm run build`/);
    expect((await ensure()).stderr).toMatch(/building dist\/ \(src\/message\.ts changed\)/);
    expect(await flowbus()).toEqual({ code: 0, stdout: 'second assets\n', stderr: '' });

    // A removed source leaves nothing behind in dist/.
    rmSync(join(root, 'src/extra.ts'));
    expect(existsSync(join(root, 'dist/src/extra.js'))).toBe(true);
    expect((await ensure()).stderr).toMatch(/building dist\/ \(src\/extra\.ts was removed\)/);
    expect(existsSync(join(root, 'dist/src/extra.js'))).toBe(false);
  }, 120_000);

  it('two builds at once: one compiles, the other waits for it and finds dist/ up to date', async () => {
    write('src/message.ts', "export const MESSAGE: string = 'third';\n");
    const both = await Promise.all([ensure(), ensure()]);
    expect(both.filter((r) => /building dist\//.test(r.stderr))).toHaveLength(1);
    expect(readdirSync(root).filter((f) => f.startsWith('.dist-') || f === '.build.lock')).toEqual([]);
    expect(await flowbus()).toEqual({ code: 0, stdout: 'third assets\n', stderr: '' });
  }, 120_000);

  it('a type error fails the build and keeps the previous dist/', async () => {
    write('src/message.ts', 'export const MESSAGE: string = 4;\n');
    const failed = await ensure().then(
      () => undefined,
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(`${failed?.stdout}${failed?.stderr}`).toMatch(/src\/message\.ts.*TS2322/);
    expect(failed?.stderr).toMatch(/tsc -p tsconfig\.build\.json failed/);
    const r = await flowbus();
    expect(r.stdout).toBe('third assets\n');
    expect(r.stderr).toMatch(/src\/message\.ts changed/);
  }, 120_000);

  it('a lock left by a build that was killed is taken over: its pid is gone, or it has none after 10 s', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    write('.build.lock/pid', String(dead));
    write('src/message.ts', "export const MESSAGE: string = 'fourth';\n");
    expect((await ensure()).stderr).toMatch(/built dist\//);
    expect(existsSync(join(root, '.build.lock'))).toBe(false);
    expect((await flowbus()).stdout).toBe('fourth assets\n');

    mkdirSync(join(root, '.build.lock'));
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(join(root, '.build.lock'), minuteAgo, minuteAgo);
    write('src/message.ts', "export const MESSAGE: string = 'fifth';\n");
    expect((await ensure()).stderr).toMatch(/built dist\//);
    expect(existsSync(join(root, '.build.lock'))).toBe(false);
    expect((await flowbus()).stdout).toBe('fifth assets\n');
  }, 120_000);
});
