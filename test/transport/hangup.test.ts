import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSerialPort, serialOpener, Transport, type TransportStatus } from '../../src/transport/index.js';
import { openPort, ptyPair, sleep } from '../bridge/helpers.js';
import { SOCAT } from '../helpers/socat.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * When the far end of a tty goes away (USB adapter unplugged, pty master closed) the kernel
 * hangs the tty up and reads return 0 bytes. Stock serialport 13 then reads again forever at
 * full CPU and never reports the disconnect, so the gateway would never reopen the port.
 */
describe.skipIf(!SOCAT)('a serial port whose far end hangs up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-hangup-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('closes with a disconnect error even when the first read comes after the hang-up', async () => {
    const a = join(dir, 'a1');
    const pair = await ptyPair(a, join(dir, 'b1'));
    const port = createSerialPort(a, 38400);
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    port.on('error', () => undefined);
    const closed = new Promise<Error | null>((resolve) => port.once('close', (err: Error | null) => resolve(err)));
    // No read is pending: nothing has asked for data yet. Hang up, then start reading.
    port.pause();
    await pair.close();
    await sleep(100);
    port.resume();
    const cpu0 = process.cpuUsage();
    const err = await Promise.race([closed, sleep(3000).then(() => 'still open after 3 s' as const)]);
    const cpu = process.cpuUsage(cpu0);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/hung up/);
    expect(port.isOpen).toBe(false);
    // Not spinning either: a spinning read burns the whole 3 s.
    expect(cpu.user + cpu.system).toBeLessThan(1_500_000);
  });

  it('a transport on it sees every hang-up while bytes flow, and reopens when the port returns', async () => {
    const a = join(dir, 'a2');
    const b = join(dir, 'b2');
    let pair = await ptyPair(a, b);
    const t = new Transport(`serial://${a}`, serialOpener(a, 38400), { initialDelayMs: 50, maxDelayMs: 200 });
    const states: TransportStatus[] = [];
    t.on('state', (s) => states.push(s));
    try {
      await t.start();
      expect(t.state).toBe('open');
      for (let round = 0; round < 8; round++) {
        const far = await openPort(b);
        const flow = setInterval(() => far.isOpen && far.write(Buffer.alloc(64, round)), 1);
        await sleep(30 + round * 7);
        await pair.close();
        clearInterval(flow);
        if (far.isOpen) await new Promise<void>((resolve) => far.close(() => resolve()));
        await waitUntil(() => t.state !== 'open' || undefined, { timeoutMs: 3000, what: `round ${round}: transport sees the hang-up` });
        pair = await ptyPair(a, b);
        await waitUntil(() => t.state === 'open' || undefined, { timeoutMs: 5000, what: `round ${round}: transport open again` });
      }
      expect(t.status().reconnects).toBe(8);
      // Each loss says what happened: a hang-up, or (while reopening) that the path is gone.
      const waiting = states.filter((s) => s.state === 'waiting');
      const reasons = waiting.map((s) => s.lastError ?? '');
      expect(reasons.length).toBeGreaterThanOrEqual(8);
      expect(reasons.filter((r) => /hung up/.test(r)).length, reasons.join('\n')).toBeGreaterThanOrEqual(6);
      expect(reasons.filter((r) => !/hung up|cannot open|the port closed|the other end closed/.test(r))).toEqual([]);
      expect(states.filter((s) => s.state === 'waiting').length).toBeGreaterThanOrEqual(8);
    } finally {
      // Also when an assertion failed: no socat left running.
      await t.close();
      await pair.close();
    }
  });

  it('a device that comes back is opened at once, not after a backoff grown by earlier flaps', async () => {
    const a = join(dir, 'a3');
    const b = join(dir, 'b3');
    let pair = await ptyPair(a, b);
    // A long backoff: without watching for the device, the reopen would wait 5 s and more.
    const t = new Transport(`serial://${a}`, serialOpener(a, 38400), { initialDelayMs: 5000, maxDelayMs: 20_000 });
    await t.start();
    try {
      for (let round = 0; round < 3; round++) {
        await pair.close();
        await waitUntil(() => t.state === 'waiting' || undefined, { timeoutMs: 3000, what: `round ${round}: unplugged` });
        expect(t.status().retryAt! - Date.now()).toBeGreaterThan(3000);
        await sleep(300);
        const back = Date.now();
        pair = await ptyPair(a, b);
        await waitUntil(() => t.state === 'open' || undefined, { timeoutMs: 3000, what: `round ${round}: open again` });
        expect(Date.now() - back).toBeLessThan(2500);
      }
    } finally {
      await t.close();
      await pair.close();
    }
  });
});
