import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import type { Simulator } from '../../simulator/index.js';
import type { TransactionRecord } from '../../src/bus/index.js';
import type { LoggedTransaction, MemorySink } from '../../src/gateway/index.js';
import type { Logger } from '../../src/shared/index.js';
import { createSerialPort, Transport } from '../../src/transport/index.js';
import { waitUntil } from '../helpers/wait.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function sha256(chunks: readonly Uint8Array[]): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

export function total(chunks: readonly Uint8Array[]): number {
  return chunks.reduce((n, c) => n + c.length, 0);
}

/** A socat pseudo-terminal pair: what is written to one link is read on the other. Re-creatable at the same paths. */
export interface PtyPair {
  close(): Promise<void>;
}

export async function ptyPair(a: string, b: string): Promise<PtyPair> {
  const child: ChildProcess = spawn('socat', ['-d', '-d', `pty,rawer,echo=0,link=${a}`, `pty,rawer,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitUntil(() => existsSync(a) && existsSync(b), { timeoutMs: 5000, what: `socat links ${a} and ${b}` });
  return {
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A serial port on a pty, hang-up aware like the gateway's, so that a test's own end never spins when socat goes. */
export async function openPort(path: string): Promise<ReturnType<typeof createSerialPort>> {
  const port = createSerialPort(path, 38400);
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  port.on('error', () => undefined);
  return port;
}

/** The simulator on a pty pair (`path` for whoever plays master, `path.sim` for the simulator), recording both directions. */
export interface SimOnPty {
  /** Bytes the simulator received. */
  readonly received: Buffer[];
  /** Bytes the simulator side sent (replies and injected junk). */
  readonly sent: Buffer[];
  inject(bytes: Uint8Array): void;
  close(): Promise<void>;
}

export async function simOnPty(sim: Simulator, path: string, record: { received: Buffer[]; sent: Buffer[] } = { received: [], sent: [] }): Promise<SimOnPty> {
  const pair = await ptyPair(path, `${path}.sim`);
  const port = await openPort(`${path}.sim`);
  const line = sim.connect();
  port.on('data', (chunk: Buffer) => {
    record.received.push(chunk);
    line.write(chunk);
  });
  line.on('data', (chunk: Buffer) => {
    if (!port.isOpen) return;
    record.sent.push(chunk);
    port.write(chunk);
  });
  return {
    received: record.received,
    sent: record.sent,
    inject(bytes) {
      record.sent.push(Buffer.from(bytes));
      port.write(Buffer.from(bytes));
    },
    async close() {
      line.destroy();
      if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
      await pair.close();
    },
  };
}

/** A Transport that records every byte written (what the master sends) and read (what it receives). */
export class RecordingTransport extends Transport {
  readonly sent: Buffer[] = [];
  readonly received: Buffer[] = [];
  constructor(...args: ConstructorParameters<typeof Transport>) {
    super(...args);
    this.on('data', (chunk) => this.received.push(Buffer.from(chunk)));
  }
  override write(bytes: Uint8Array): Promise<void> {
    if (this.state === 'open') this.sent.push(Buffer.from(bytes));
    return super.write(bytes);
  }
}

export interface LogLine {
  readonly level: string;
  readonly obj: unknown;
  readonly msg: string | undefined;
}

/** A Logger that keeps every line. */
export function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const make = (): Logger & { lines: LogLine[] } => ({
    lines,
    error: (obj, msg) => void lines.push({ level: 'error', obj, msg }),
    warn: (obj, msg) => void lines.push({ level: 'warn', obj, msg }),
    info: (obj, msg) => void lines.push({ level: 'info', obj, msg }),
    debug: (obj, msg) => void lines.push({ level: 'debug', obj, msg }),
    child: () => make(),
  });
  return make();
}

const hexOf = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString('hex') : '-');

/** Waits until each side has received all the other sent, then compares SHA-256 of both streams. */
export async function expectStreamsIdentical(
  sim: { readonly received: readonly Uint8Array[]; readonly sent: readonly Uint8Array[] },
  master: { readonly received: readonly Uint8Array[]; readonly sent: readonly Uint8Array[] },
): Promise<void> {
  await waitUntil(() => total(sim.received) === total(master.sent) && total(master.received) === total(sim.sent), { timeoutMs: 5000, what: 'every byte delivered' });
  expect(sha256(sim.received)).toBe(sha256(master.sent));
  expect(sha256(master.received)).toBe(sha256(sim.sent));
}

/** Waits until the bridge has logged a transaction for every master transaction that got a reply; the log, oldest first. */
export async function loggedAll(masterLog: readonly TransactionRecord[], sink: MemorySink): Promise<LoggedTransaction[]> {
  const answered = masterLog.filter((r) => r.replyBytes);
  await waitUntil(() => sink.list({ limit: 100_000 }).filter((t) => t.replyBytes).length >= answered.length || undefined, { timeoutMs: 5000, what: 'every transaction logged' });
  return sink.list({ limit: 100_000 }).reverse();
}

/** Every transaction our master got an answer to (from `from` on) is in the bridge's log with the same bytes, outcome, node and SEQ. */
export function expectPairedLikeTheMaster(masterLog: readonly TransactionRecord[], rows: readonly LoggedTransaction[], from = 0): void {
  const byRequest = new Map(rows.map((t) => [`${hexOf(t.requestBytes)}|${hexOf(t.replyBytes)}`, t]));
  for (const r of masterLog.slice(from).filter((x) => x.replyBytes)) {
    const seen = byRequest.get(`${hexOf(r.requestBytes)}|${hexOf(r.replyBytes)}`);
    expect(seen, `request ${hexOf(r.requestBytes)}`).toBeDefined();
    expect(seen?.outcome).toBe(r.outcome);
    expect([seen?.node, seen?.seq]).toEqual([r.node, r.seq]);
  }
}
