import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../simulator/index.js';
import { Bus, ParamClient, type BusOptions, type ReadOptions, type TransactionRecord } from '../../src/bus/index.js';
import { configFrom } from '../../src/config/index.js';
import { BridgeGateway, type BridgeDeps, type BridgeOptions, type LoggedTransaction, type MemorySink } from '../../src/gateway/index.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { resolveParam, type ParamDef } from '../../src/params/index.js';
import { silentLogger, type Logger } from '../../src/shared/index.js';
import { createSerialPort, serialOpener, Transport } from '../../src/transport/index.js';
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
  // Each answered transaction by its bytes, not a count: the bridge may log more with a reply than
  // the master got (a reply the master had given up on), and a count met by those returned early.
  const key = (t: { readonly requestBytes?: Uint8Array | undefined; readonly replyBytes?: Uint8Array | undefined }) => `${hexOf(t.requestBytes)}|${hexOf(t.replyBytes)}`;
  const answered = masterLog.filter((r) => r.replyBytes).map(key);
  await waitUntil(
    () => {
      const logged = new Set(sink.list({ limit: 100_000 }).map(key));
      return answered.every((k) => logged.has(k)) || undefined;
    },
    { timeoutMs: 5000, what: 'every transaction logged' },
  );
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

/** What `startBridgeRig` builds: the simulator on one pty pair, our master on another, a bridge between. */
export interface BridgeRigOptions {
  /** The simulator ("the instrument"), these options or by default nodes 3 and 5 paced at 38400 baud with a 2 ms turnaround. */
  readonly sim?: SimulatorOptions;
  /** A BridgeGateway of its own with these options (the ports are filled in); a function gets the rig's folder (for a capture file). */
  readonly bridge?: Partial<BridgeOptions> | ((dir: string) => Partial<BridgeOptions>);
  readonly deps?: BridgeDeps;
  /**
   * Instead of a BridgeGateway: a whole gateway (startGateway) in bridge mode, with these config
   * sections; its `bridge` section gets the ports, `http` listens on 127.0.0.1 at a free port, and
   * the log store is a SQLite file in the rig's folder.
   */
  readonly gateway?: { readonly bridge?: Record<string, unknown>; readonly http?: Record<string, unknown> } & Record<string, unknown>;
  /** Our master, "the Bright". Default: replyTimeoutMs 300, retries 1, pipeline depth 2. */
  readonly master?: Partial<BusOptions>;
}

export interface BridgeRig {
  readonly dir: string;
  readonly sim: Simulator;
  /** The simulator's pty end, with everything it received and sent (a new one after `replug('instrument')`). */
  readonly inst: SimOnPty;
  readonly simRecord: { readonly received: Buffer[]; readonly sent: Buffer[] };
  /** The pty paths: the bridge's instrument side, our master's end, and the bridge's master side. */
  readonly instPath: string;
  readonly masterPath: string;
  readonly bridgeMasterPath: string;
  /** Takes a side's pty pair away (the bridge sees its port go), and brings it back at the same paths. */
  unplug(side: 'instrument' | 'master'): Promise<void>;
  replug(side: 'instrument' | 'master'): Promise<void>;
  /** The BridgeGateway (its own, or the whole gateway's service). */
  readonly bridge: BridgeGateway;
  /** With `gateway`: the running gateway (its `url`). */
  readonly gw: RunningGateway | undefined;
  readonly transport: RecordingTransport;
  readonly bus: Bus;
  readonly client: ParamClient;
  /** Every transaction of our master. */
  readonly masterLog: TransactionRecord[];
  /**
   * Polls as a Bright does until `stop()`: `params` of each node, the nodes' reads at once (up to the
   * pipeline depth), then `intervalMs` of quiet. Default 4 values of nodes 3 and 5 every 158 ms.
   */
  poll(opts?: { nodes?: readonly number[]; params?: readonly ParamDef[]; intervalMs?: number; read?: ReadOptions }): { stop(): Promise<void> };
  close(): Promise<void>;
}

/** The Bright's poll: 4 values of 2 instruments, 8 in all. */
export const BRIGHT_POLL: readonly ParamDef[] = ['measure', 'setpoint', 'valveOutput', 'temperature'].map((k) => resolveParam(k));

/** The simulator on a pty pair, our own master on another, the bridge between them; everything closed by `close()`. */
export async function startBridgeRig(options: BridgeRigOptions = {}): Promise<BridgeRig> {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-rig-'));
  const instPath = join(dir, 'inst');
  const masterPath = join(dir, 'master');
  const bridgeMasterPath = join(dir, 'master.bridge');
  const simRecord = { received: [] as Buffer[], sent: [] as Buffer[] };
  const sim = createSimulator(options.sim ?? { nodes: [3, 5], baud: 38400, turnaroundMs: 2 });
  const closers: (() => Promise<void>)[] = [];
  const pollers: Promise<void>[] = [];
  let polling = false;
  const close = async (): Promise<void> => {
    polling = false;
    await Promise.all(pollers);
    for (const c of closers.reverse()) await c();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let inst: SimOnPty | undefined = await simOnPty(sim, instPath, simRecord);
    let masterPair: PtyPair | undefined = await ptyPair(masterPath, bridgeMasterPath);
    closers.push(async () => {
      await inst?.close();
      await masterPair?.close();
    });
    let bridge: BridgeGateway;
    let gw: RunningGateway | undefined;
    if (options.gateway) {
      const { bridge: section, ...rest } = options.gateway;
      gw = await startGateway(
        configFrom({
          mode: 'bridge',
          bridge: { instrumentPort: instPath, masterPort: bridgeMasterPath, ...section },
          store: { url: `sqlite:${join(dir, 'log.db')}`, spoolDir: join(dir, 'spool'), batchMs: 20 },
          log: { level: 'silent' },
          ...rest,
          http: { host: '127.0.0.1', port: 0, ...rest.http },
        }),
        silentLogger,
      );
      const running = gw;
      closers.push(() => running.close());
      bridge = gw.service as BridgeGateway;
    } else {
      const extra = typeof options.bridge === 'function' ? options.bridge(dir) : options.bridge;
      bridge = new BridgeGateway({ instrumentPort: instPath, masterPort: bridgeMasterPath, name: 'tap', reconnectInitialMs: 50, reconnectMaxMs: 200, ...extra }, options.deps);
      const own = bridge;
      closers.push(() => own.close());
      await bridge.start();
    }
    const transport = new RecordingTransport(masterPath, serialOpener(masterPath, 38400), { initialDelayMs: 50, maxDelayMs: 200 });
    closers.push(() => transport.close());
    const bus = new Bus(transport, { replyTimeoutMs: 300, retries: 1, pipelineDepth: 2, ...options.master });
    closers.push(() => bus.close());
    const masterLog: TransactionRecord[] = [];
    bus.on('transaction', (r) => masterLog.push(r));
    const client = new ParamClient(bus);
    await transport.start();
    await waitUntil(() => bridge.ready(), { timeoutMs: 5000, what: 'both bridge sides open' });
    return {
      dir,
      sim,
      get inst() {
        if (!inst) throw new Error('the instrument side is unplugged');
        return inst;
      },
      simRecord,
      instPath,
      masterPath,
      bridgeMasterPath,
      async unplug(side) {
        if (side === 'instrument') {
          await inst?.close();
          inst = undefined;
        } else {
          await masterPair?.close();
          masterPair = undefined;
        }
      },
      async replug(side) {
        if (side === 'instrument') inst ??= await simOnPty(sim, instPath, { received: [], sent: [] });
        else masterPair ??= await ptyPair(masterPath, bridgeMasterPath);
      },
      bridge,
      gw,
      transport,
      bus,
      client,
      masterLog,
      poll(opts = {}) {
        const nodes = opts.nodes ?? [3, 5];
        const params = opts.params ?? BRIGHT_POLL;
        polling = true;
        let stopped = false;
        const loop = (async () => {
          while (polling && !stopped) {
            await Promise.all(nodes.map((n) => client.read(n, params, { purpose: 'poll', ...opts.read })));
            await sleep(opts.intervalMs ?? 158);
          }
        })();
        pollers.push(loop);
        return {
          async stop() {
            stopped = true;
            await loop;
          },
        };
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
