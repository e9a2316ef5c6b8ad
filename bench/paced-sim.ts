/**
 * An independent paced instrument for the HTTP benchmark: the simulator in a process of its own
 * (its own event loop, so its pacing does not share the gateway's), served on TCP at a free port
 * of 127.0.0.1, each connection its own line paced at `baud` (10 bits per byte) with `turnaround`
 * ms from a request's last byte to the answer's first, kept exact with `precisePacing`.
 * Baud 0 answers at once (what the software alone costs). Prints `{"port": N}` once it listens; stops on SIGTERM or when its parent goes.
 * A line `stats` on stdin prints `{"pacing": {...}}`, the simulator's own lateness since the last
 * such line (replies handed to the line, ms past their ideal time in total and at most), and starts again.
 *
 *   npx tsx bench/paced-sim.ts [baud=38400] [turnaroundMs=2] [nodes=3]
 */
import { createInterface } from 'node:readline';
import { createSimulator } from '../simulator/index.js';
import { serveTcp } from '../simulator/cli.js';

const baud = Number(process.argv[2] ?? 38400);
const turnaroundMs = Number(process.argv[3] ?? 2);
const nodes = (process.argv[4] ?? '3').split(',').map(Number);

// baud 0: unpaced, every answer at once (setImmediate, not a timer: precisePacing).
const sim = createSimulator({ nodes, ...(baud > 0 ? { baud } : {}), turnaroundMs, precisePacing: true, seed: 3 });
const server = await serveTcp(sim, '127.0.0.1', 0);
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
const stop = () => void server.close().then(() => sim.close()).then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdin.on('end', stop);
createInterface({ input: process.stdin }).on('line', (l) => {
  if (l.trim() !== 'stats') return;
  process.stdout.write(`${JSON.stringify({ pacing: sim.stats.pacing })}\n`);
  sim.stats.pacing = { pushes: 0, lateMs: 0, maxLateMs: 0 };
});
