/**
 * The `flowbus` command's entry (`node dist/src/cli.js`, `bin/flowbus.js`, `npx flowbus`,
 * `npm start`): V8 settings for a lean long-running process first, then the program itself
 * (`program.ts`), loaded only after them, so that they hold while its modules load too.
 *
 * The young generation (where new objects are allocated) keeps its starting size instead of
 * doubling up to 16 MB a semi-space (32 MB resident) whenever allocation is brisk: the loading
 * of the modules, a burst of HTTP requests, a metrics scrape. The gateway allocates little per
 * second, so the extra scavenges cost next to nothing, and its resident memory stays level
 * instead of carrying a young generation sized for the busiest second since the start.
 * `--max-semi-space-size` would do the same, but V8 reads it only when the heap is set up
 * (a node flag, or a re-exec); the growth factor is read at each resize, so it works from here.
 * The README (Benchmarks, "Where the memory goes") has the figures.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
await import('./program.js');
