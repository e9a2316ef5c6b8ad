#!/usr/bin/env node
// Compiles src/ and simulator/ to dist/ (tsconfig.build.json), with the files the compiled
// code reads beside itself, bundles and minifies the command for the runtime into dist/bundle/
// (scripts/bundle.mjs, esbuild: what bin/flowbus.js runs), and bundles the dashboard (web/,
// Vite) to dist/dashboard/ with a gzip and a brotli copy of each file, when the inputs changed
// since the last build.
//
//   node scripts/ensure-build.mjs           build when an input changed (npm start, npm test, prepare)
//   node scripts/ensure-build.mjs --force   build anyway (npm run build, prepack)
//
// Plain JavaScript, so that it runs without tsx. "Changed" means the path, size or mtime of a
// file under src/ or simulator/ (or of a config below) differs from what dist/.build-stamp.json
// recorded, so an added, removed or restored file counts as well as an edited one. The build
// goes to a temporary directory that replaces dist/ at the end, under a lock, so that two
// builds at once (two test workers, npm start beside npm test) neither clash nor leave a
// half-written dist/ behind. In an installed package (no src/) there is nothing to do.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const DIST = join(ROOT, 'dist');
const STAMP = '.build-stamp.json';
const LOCK = join(ROOT, '.build.lock');
const SOURCE_DIRS = ['src', 'simulator', 'web'];
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json', 'flowbus.example.yaml', 'scripts/ensure-build.mjs', 'scripts/bundle.mjs'];
/** The bundled command (scripts/bundle.mjs) under dist/: what bin/flowbus.js runs. */
export const BUNDLE_DIR = 'bundle';

/**
 * Files tsc does not emit that the compiled code reads by a path relative to its own
 * (`new URL(..., import.meta.url)`): source path -> path under dist/. The JSON that is
 * imported (`src/params/parameters.json`) tsc copies itself.
 */
export const ASSETS = {
  'src/store/sqlite-worker.js': 'src/store/sqlite-worker.js',
  // src/config/load.ts reads '../../flowbus.example.yaml': the root from src/config/, dist/ from dist/src/config/.
  'flowbus.example.yaml': 'flowbus.example.yaml',
};

/** path (relative to the root, `/`-separated) -> [size, mtimeMs] of every input. */
function inputs() {
  const found = {};
  const add = (rel) => {
    const s = statSync(join(ROOT, rel));
    found[rel] = [s.size, s.mtimeMs];
  };
  const walk = (rel) => {
    for (const e of readdirSync(join(ROOT, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(child);
      else if (e.isFile()) add(child);
    }
  };
  for (const d of SOURCE_DIRS) if (existsSync(join(ROOT, d))) walk(d);
  for (const f of CONFIGS) if (existsSync(join(ROOT, f))) add(f);
  return found;
}

/** True when this is a package without sources (installed from the tarball): nothing to build. */
export function installedWithoutSources() {
  return !existsSync(join(ROOT, 'src'));
}

/**
 * Why dist/ needs building, or undefined when it is up to date: "dist/ is missing",
 * "src/api/app.ts changed", "src/x.ts is new", "src/y.ts was removed", ...
 */
export function staleReason(current = inputs()) {
  if (!existsSync(join(DIST, 'src', 'cli.js')) || !existsSync(join(DIST, BUNDLE_DIR, 'cli.js'))) return 'dist/ is missing';
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(join(DIST, STAMP), 'utf8')).inputs;
  } catch {
    return `dist/${STAMP} is missing or unreadable`;
  }
  if (!recorded || typeof recorded !== 'object') return `dist/${STAMP} lists no inputs`;
  const changed = [];
  for (const [path, [size, mtime]] of Object.entries(current)) {
    const was = recorded[path];
    if (!was) changed.push(`${path} is new`);
    else if (was[0] !== size || was[1] !== mtime) changed.push(`${path} changed`);
  }
  for (const path of Object.keys(recorded)) if (!(path in current)) changed.push(`${path} was removed`);
  if (changed.length === 0) return undefined;
  return changed.length > 3 ? `${changed.slice(0, 3).join(', ')} and ${changed.length - 3} more` : changed.join(', ');
}

function tscPath() {
  try {
    return createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    throw new Error('cannot build dist/: TypeScript is not installed (it is a development dependency): run `npm install` (without --omit=dev), then `npm run build`');
  }
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function lockAgeMs() {
  try {
    return Date.now() - statSync(LOCK).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Takes the build lock (a directory holding the owner's pid). A lock whose owner died is taken
 * over, and so is one still without a pid after 10 s (its owner died between the two steps).
 */
function lock(timeoutMs = 300_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      return () => rmSync(LOCK, { recursive: true, force: true });
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
    } catch {
      // The owner has made the directory but not yet written its pid, or just removed both.
    }
    const ownerDied = Number.isInteger(owner) && owner > 0 ? !alive(owner) : lockAgeMs() > 10_000;
    if (ownerDied) rmSync(LOCK, { recursive: true, force: true });
    else if (Date.now() > until) throw new Error(`cannot build dist/: ${LOCK} has been held for ${timeoutMs / 1000} s (by pid ${owner}); remove it if no build is running`);
    else sleep(100);
  }
}

/** Runs a build step; its failure says which step it was (the tool has printed its own errors). */
function step(name, file, args) {
  try {
    execFileSync(process.execPath, [file, ...args], { cwd: ROOT, stdio: 'inherit' });
  } catch (err) {
    throw Object.assign(new Error(`${name} failed`), { step: name, cause: err });
  }
}

function viteBin() {
  try {
    // vite's exports do not list its bin: find the package, then the file.
    return join(dirname(createRequire(join(ROOT, 'package.json')).resolve('vite/package.json')), 'bin', 'vite.js');
  } catch {
    throw new Error('cannot build the dashboard: Vite is not installed (it is a development dependency): run `npm install` (without --omit=dev), then `npm run build`');
  }
}

function esbuildInstalled() {
  try {
    createRequire(join(ROOT, 'package.json')).resolve('esbuild');
  } catch {
    throw new Error('cannot bundle dist/: esbuild is not installed (it is a development dependency): run `npm install` (without --omit=dev), then `npm run build`');
  }
}

/** Where the bundled dashboard goes under dist/ (src/api/dashboard.ts looks for it there). */
export const DASHBOARD_DIR = 'dashboard';

/** Bundles web/ into `out`, then writes NAME.gz and NAME.br beside each text file, so the gateway never compresses at run time. */
function buildDashboard(out) {
  step('vite build of web/', viteBin(), ['build', '--config', join(ROOT, 'web', 'vite.config.ts'), '--outDir', out, '--emptyOutDir', '--logLevel', 'warn']);
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (/\.(js|css|html|svg|json|txt|map)$/.test(e.name)) {
        const body = readFileSync(path);
        writeFileSync(`${path}.gz`, gzipSync(body, { level: 9 }));
        writeFileSync(`${path}.br`, brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length } }));
      }
    }
  };
  walk(out);
}

/** Compiles into a temporary directory, copies the assets and the stamp, then puts it in dist/'s place. */
function build(current) {
  const tmp = join(ROOT, `.dist-tmp-${process.pid}`);
  const old = join(ROOT, `.dist-old-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    step('tsc -p tsconfig.build.json', tscPath(), ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', tmp]);
    if (existsSync(join(ROOT, 'web', 'index.html'))) buildDashboard(join(tmp, DASHBOARD_DIR));
    for (const [from, to] of Object.entries(ASSETS)) {
      mkdirSync(dirname(join(tmp, to)), { recursive: true });
      copyFileSync(join(ROOT, from), join(tmp, to));
    }
    esbuildInstalled();
    step('esbuild bundle of src/cli.ts', join(ROOT, 'scripts', 'bundle.mjs'), [join(tmp, BUNDLE_DIR), tmp]);
    const stamp = { inputs: current, hash: createHash('sha256').update(JSON.stringify(current)).digest('hex'), builtAt: new Date().toISOString() };
    writeFileSync(join(tmp, STAMP), JSON.stringify(stamp) + '\n');
    if (existsSync(DIST)) renameSync(DIST, old);
    renameSync(tmp, DIST);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
}

/** Builds dist/ when it is out of date (or always, with `force`); returns what it did. */
export function ensureBuild({ force = false, log = (line) => console.error(line) } = {}) {
  if (installedWithoutSources()) return 'installed package: nothing to build';
  if (!force && !staleReason()) return 'up to date';
  const release = lock();
  try {
    // Another build may have finished while this one waited for the lock.
    const current = inputs();
    const why = force ? 'asked to' : staleReason(current);
    if (!why) return 'up to date';
    const t0 = Date.now();
    log(`flowbus: building dist/ (${why}) ...`);
    build(current);
    const done = `built dist/ in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    log(`flowbus: ${done}`);
    return done;
  } finally {
    release();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    ensureBuild({ force: process.argv.includes('--force') });
  } catch (err) {
    // tsc or vite has printed its errors already; say which step failed, in one line.
    console.error(`flowbus: ${err.step ? `${err.step} failed: see above` : err.message}`);
    process.exit(1);
  }
}
