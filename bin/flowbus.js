#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --v8-pool-size=1
// Runs the compiled program in dist/: its bundled and minified form, dist/bundle/cli.js
// (scripts/bundle.mjs; `node dist/src/cli.js` runs the same program unbundled, file by file).
// `npm run build` makes it; `npm start`, `npm test`, `npm install` in a clone and `npm pack`
// build it when the sources changed.
//
// Run as a command (`flowbus`, `npx flowbus`, `./bin/flowbus.js`, `npm start`, the systemd unit),
// the line above starts node with two settings that keep a long-running gateway about 10 MB
// smaller (README, "Where the memory goes"): one V8 worker thread for the garbage collector and
// the compiler instead of four, and two malloc arenas instead of one per thread that allocates.
// `node bin/flowbus.js` runs without them. (`env -S` is GNU coreutils 8.30 or later.)
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/bundle/cli.js', import.meta.url);
const root = fileURLToPath(new URL('../', import.meta.url));
if (!existsSync(cli)) {
  console.error(`flowbus: the compiled program is missing (${fileURLToPath(cli)}): run \`npm run build\` in ${root}`);
  process.exit(1);
}
// In a clone (sources beside dist/), say so when dist/ is older than the sources: it would run the old code.
if (existsSync(new URL('../src/', import.meta.url)) && existsSync(new URL('../scripts/ensure-build.mjs', import.meta.url))) {
  const { staleReason } = await import('../scripts/ensure-build.mjs');
  const why = staleReason();
  if (why) console.error(`flowbus: warning: dist/ is older than the sources (${why}): run \`npm run build\` in ${root}`);
}
await import(cli.href);
