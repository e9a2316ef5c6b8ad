/**
 * V8 settings for a lean long-running process, applied when the `flowbus` command starts (the
 * first import of cli.ts, so before the other modules load; `node dist/src/cli.js`, `npx flowbus`
 * and `npm start` all get them, with no re-exec and no NODE_OPTIONS).
 *
 * The young generation (where new objects are allocated) keeps its starting size instead of
 * doubling up to 16 MB a semi-space (32 MB resident) whenever allocation is brisk: a start-up,
 * a burst of HTTP requests, a metrics scrape. The gateway allocates little per second, so the
 * extra scavenges cost next to nothing, and the resident memory stays level instead of carrying
 * a young generation sized for the busiest second since the start. `--max-semi-space-size`
 * would do the same but is read only when the heap is set up; the growth factor is read at
 * each resize, so it works from here. The README (Benchmarks, "Where the memory goes") has the
 * figures.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
