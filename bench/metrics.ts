/**
 * GET /metrics with 32 instruments (issue 11, section 4): what one Prometheus scrape costs, against
 * a GET /api/v1/bus in the same run.
 *
 * The gateway runs in this process on 127.0.0.1 (any free port) against the simulator paced like
 * a real line (38400 baud, 2 ms turnaround, 32 instruments), polling the default parameters every
 * 500 ms. After discovery, SCRAPES rounds, each one GET /metrics then one GET /api/v1/bus, one at a
 * time on a keep-alive connection; the time of each from the request to the last byte. Printed:
 * p50 and p99 of both, their ratio, the scrape's size and series count, and the polls per second
 * during the scrapes against the same time without (the bus is what scrapes must not slow).
 *
 *   npx tsx bench/metrics.ts            (SCRAPES=50 for a shorter run)
 */
import { Agent, request } from 'node:http';
import { startBenchGateway } from './gateway.js';

const NODES = Array.from({ length: 32 }, (_, i) => i + 1);
const POLL_MS = 500;
const SCRAPES = Number(process.env.SCRAPES ?? 300);

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function get(url: URL, path: string): Promise<{ ms: number; bytes: number; body: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({ host: url.hostname, port: url.port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${path}: ${res.statusCode}`));
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ ms: performance.now() - t0, bytes: Buffer.byteLength(body), body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const bench = await startBenchGateway({ nodes: NODES, pollMs: POLL_MS, discoveryTimeoutMs: 120_000 });
  const { service, url } = bench;
  const okPolls = () => service.buses()[0]!.transactions.ok ?? 0;
  try {
    // Warm-up, then the bus alone for reference.
    for (let i = 0; i < 20; i++) {
      await get(url, '/metrics');
      await get(url, '/api/v1/bus');
    }
    const idleStart = performance.now();
    const idlePolls0 = okPolls();
    await new Promise((r) => setTimeout(r, 5000));
    const idleRate = (okPolls() - idlePolls0) / ((performance.now() - idleStart) / 1000);

    const scrape: number[] = [];
    const bus: number[] = [];
    let size = 0;
    let series = 0;
    const t0 = performance.now();
    const polls0 = okPolls();
    for (let i = 0; i < SCRAPES; i++) {
      const m = await get(url, '/metrics');
      scrape.push(m.ms);
      size = m.bytes;
      series = m.body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
      bus.push((await get(url, '/api/v1/bus')).ms);
    }
    const busyRate = (okPolls() - polls0) / ((performance.now() - t0) / 1000);
    scrape.sort((a, b) => a - b);
    bus.sort((a, b) => a - b);
    const f = (n: number) => n.toFixed(2);
    console.log(`${NODES.length} instruments, poll ${POLL_MS} ms, ${SCRAPES} scrapes (discovery ${bench.discoveryS.toFixed(1)} s)`);
    console.log(`GET /metrics      p50 ${f(quantile(scrape, 0.5))} ms  p99 ${f(quantile(scrape, 0.99))} ms  (${(size / 1024).toFixed(1)} KiB, ${series} series)`);
    console.log(`GET /api/v1/bus   p50 ${f(quantile(bus, 0.5))} ms  p99 ${f(quantile(bus, 0.99))} ms`);
    console.log(`ratio /metrics : /bus   p50 ${f(quantile(scrape, 0.5) / quantile(bus, 0.5))}  p99 ${f(quantile(scrape, 0.99) / quantile(bus, 0.99))}`);
    console.log(`ok transactions/s: ${idleRate.toFixed(1)} idle, ${busyRate.toFixed(1)} while scraping back to back (${f(busyRate / idleRate)})`);
  } finally {
    agent.destroy();
    await bench.gateway.close();
  }
}

await main();
