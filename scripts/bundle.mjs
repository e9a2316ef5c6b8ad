#!/usr/bin/env node
// Bundles and minifies the `flowbus` command for the runtime (esbuild): src/cli.ts and what it
// imports, with the npm packages that bundle cleanly, into OUT/cli.js, and every module loaded by
// `import()` (the program, the other commands, the simulator, MQTT) into a chunk of its own
// beside it (code splitting), so that `flowbus serve` still loads none of the other commands.
// scripts/ensure-build.mjs runs it after tsc, into dist/bundle/; bin/flowbus.js runs the bundle.
//
//   node scripts/bundle.mjs OUT DIST
//
// DIST is the tsc output the bundle sits in (OUT is under it). Why bundle: V8 keeps the source
// text of every loaded module and compiles what runs; one minified file per chunk is less text
// and less code than a thousand files of packages with their comments (README, "Where the
// memory goes"). Plain JavaScript, so that it runs without tsx.
//
// Kept out of the bundle (loaded from node_modules as before): native addons (better-sqlite3,
// serialport's bindings), what is loaded through createRequire (mysql2, serialport), and
// @fastify/swagger-ui, which serves its files from its own directory.
//
// A module that opens a file by a path relative to itself (`new URL('./x', import.meta.url)`)
// would, bundled, open it relative to the chunk instead: each such literal is rewritten to
// point from OUT to where the file is beside the module's compiled copy in DIST.
//
// Names are kept (keepNames: error classes and `err.name`), and a source map beside each chunk
// maps a stack trace back to src/ under `node --enable-source-maps`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const [out, dist] = process.argv.slice(2);
if (!out || !dist) {
  console.error('usage: node scripts/bundle.mjs OUT DIST');
  process.exit(1);
}
const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Packages left to node_modules (see above); their subpaths too. */
const EXTERNAL = ['better-sqlite3', 'serialport', '@serialport/*', 'mysql2', '@fastify/swagger-ui'];

const RELATIVE_URL = /new URL\(\s*(['"])(\.{1,2}\/[^'"]*)\1\s*,\s*import\.meta\.url\s*\)/g;

/** esbuild plugin: rewrites `new URL('./rel', import.meta.url)` in our sources for the chunk's place. */
const relativeUrls = {
  name: 'relative-urls',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      const rel = relative(ROOT, args.path);
      if (rel.startsWith('..') || rel.split(sep)[0] === 'node_modules') return undefined;
      const source = readFileSync(args.path, 'utf8');
      // The compiled module is DIST/<same path>.js; its assets are relative to that.
      const compiledDir = dirname(join(dist, rel));
      const contents = source.replace(RELATIVE_URL, (_all, quote, target) => {
        let moved = relative(out, join(compiledDir, target)).split(sep).join('/');
        if (target.endsWith('/')) moved += '/';
        if (!moved.startsWith('.')) moved = `./${moved}`;
        return `new URL(${quote}${moved}${quote}, import.meta.url)`;
      });
      return { contents, loader: 'ts' };
    });
  },
};

const esbuild = createRequire(join(ROOT, 'package.json'))('esbuild');
try {
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { cli: join(ROOT, 'src', 'cli.ts') },
    outdir: out,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minify: true,
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    chunkNames: 'chunk-[hash]',
    external: EXTERNAL,
    // Bundled CommonJS packages call require() for node's modules; an ES module has none.
    banner: { js: "import{createRequire as __flowbusRequire}from'node:module';const require=__flowbusRequire(import.meta.url);" },
    plugins: [relativeUrls],
    logLevel: 'warning',
  });
} catch {
  // esbuild has printed the errors.
  process.exit(1);
}
