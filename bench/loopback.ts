/**
 * What the machine costs a TCP round trip between two processes, with nothing else in it: this
 * process writes one byte to a child process that echoes it (both Node, loopback, Nagle off), and
 * waits for it, ROUNDS times, with no pause between round trips, then with 2 ms, then 10 ms (the
 * gaps of the HTTP bench's one-parameter and chained reads, during which both processes sleep).
 * Each line of bench/http-sequential.ts's line stage holds one such round trip (the gateway to the
 * paced instrument and back), and each HTTP request another (the client to the gateway and back).
 *
 *   npx tsx bench/loopback.ts [rounds=300]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';

const ROUNDS = Number(process.argv[2] ?? 300);

if (process.argv[2] === 'echo') {
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on('data', (d) => s.write(d));
  });
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as net.AddressInfo).port));
  process.on('disconnect', () => process.exit(0));
} else {
  const load = () => readFileSync('/proc/loadavg', 'utf8').trim();
  const child = fork(import.meta.filename, ['echo'], { execArgv: process.execArgv });
  const [port] = (await once(child, 'message')) as [number];
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  console.log(`loopback TCP round trip, one byte, node ${process.version}, ${ROUNDS} per gap; load ${load()}`);
  console.log('| pause between round trips | mean | p50 | p90 | p99 |');
  console.log('|---:|---:|---:|---:|---:|');
  for (const gapMs of [0, 2, 10]) {
    const rtt: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const t = performance.now();
      socket.write('x');
      await once(socket, 'data');
      rtt.push((performance.now() - t) * 1000);
      if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    }
    rtt.sort((a, b) => a - b);
    const at = (q: number) => (rtt[Math.min(rtt.length - 1, Math.floor(q * rtt.length))] as number).toFixed(0);
    console.log(`| ${gapMs} ms | ${(rtt.reduce((a, b) => a + b, 0) / rtt.length).toFixed(0)} µs | ${at(0.5)} µs | ${at(0.9)} µs | ${at(0.99)} µs |`);
  }
  console.log(`load at the end ${load()}; command: npx tsx bench/loopback.ts ${ROUNDS}`);
  socket.destroy();
  child.disconnect();
}
