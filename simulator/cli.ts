/**
 * The simulator as a tool for people: `flowbus simulate` serves the simulated bus over
 * TCP (each connection gets its own line onto the same instruments) and/or over a
 * pseudo-terminal made by socat, which a master opens exactly like /dev/ttyUSB0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { lstat, readlink, stat } from 'node:fs/promises';
import net from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Command } from 'commander';
import { SerialPort } from 'serialport';
import { GatewayError, toHex } from '../src/shared/index.js';
import { createSimulator, type Simulator, type TransactionRecord } from './index.js';
import { defaultChannels, parseChannelSpec, type FaultOptions, type InstrumentConfig, type SimulatorOptions } from './options.js';

function isSimulator(x: Simulator | SimulatorOptions): x is Simulator {
  return typeof (x as Simulator).connect === 'function';
}

/** A running server; `close()` stops it and, when it created the simulator, the simulator too. */
export interface SimServer {
  readonly simulator: Simulator;
  close(): Promise<void>;
}

export interface TcpServer extends SimServer {
  readonly host: string;
  readonly port: number;
}

/** Serves the simulated bus on TCP. Port 0 picks a free port (see `.port`). */
export async function serveTcp(sim: Simulator | SimulatorOptions, host: string, port: number): Promise<TcpServer> {
  const owned = !isSimulator(sim);
  const simulator = isSimulator(sim) ? sim : createSimulator(sim);
  const sockets = new Set<net.Socket>();
  // Half-open: a client that sends its requests and then shuts down its side (`socat -`) still gets the replies.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    let line: Duplex;
    try {
      line = simulator.connect();
    } catch {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.on('data', (chunk) => line.write(chunk));
    line.on('data', (chunk: Buffer) => {
      if (!socket.destroyed) socket.write(chunk);
    });
    const end = (): void => {
      sockets.delete(socket);
      line.destroy();
      socket.destroy();
    };
    socket.on('end', () => {
      setTimeout(() => socket.end(), 500).unref();
    });
    socket.on('close', end);
    socket.on('error', end);
    line.on('close', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, host, port)));
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  return {
    simulator,
    host: addr.address,
    port: addr.port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (owned) await simulator.close();
    },
  };
}

/** What a failed listen means for the person starting the simulator, by errno. */
const LISTEN_PROBLEMS: Record<string, (where: string) => string> = {
  EADDRINUSE: (where) => `${where} is in use by another program (another simulator?): choose another port with --tcp HOST:PORT`,
  EADDRNOTAVAIL: (where) => `cannot listen on ${where}: this machine has no such address`,
  EACCES: (where) => `cannot listen on ${where}: permission denied (ports below 1024 need privileges)`,
};

function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const why = LISTEN_PROBLEMS[err.code ?? ''];
  return new GatewayError('SIM_LISTEN_FAILED', why ? why(`${host}:${port}`) : `cannot listen on ${host}:${port}: ${err.message}`, { host, port }, { cause: err });
}

export interface PtyServer extends SimServer {
  /** The path a master opens (a symlink to a /dev/pts/N). */
  readonly path: string;
  /** The simulator's own end. */
  readonly simPath: string;
}

/** Thrown by `servePty` when socat cannot be started. */
export class SocatMissingError extends GatewayError {
  constructor(message: string) {
    super('SIM_SOCAT_MISSING', message);
    this.name = 'SocatMissingError';
  }
}

/** What socat puts at a `link=` path: a symbolic link to the pty's slave side. */
const PTY_LINK = /^\/dev\/pts\/\d+$/;

/**
 * Checks that socat may put its links at `path` and `path.sim`: socat replaces whatever is there
 * and deletes it on exit. Only a missing path, or a link to a /dev/pts/N (left by a simulator that
 * was killed), may go; anything else (a file, a folder, a link elsewhere) is refused untouched.
 */
export async function checkPtyPath(path: string): Promise<void> {
  const dir = dirname(path);
  const folder = await stat(dir).catch(() => undefined);
  if (!folder?.isDirectory()) throw new GatewayError('SIM_PTY_PATH', `cannot create the pty link ${path}: the folder ${dir} does not exist`, { path });
  for (const p of [path, `${path}.sim`]) {
    const st = await lstat(p).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw new GatewayError('SIM_PTY_PATH', `cannot check ${p}: ${err.message}`, { path: p }, { cause: err });
    });
    if (!st) continue;
    if (st.isSymbolicLink() && PTY_LINK.test(await readlink(p))) continue;
    const what = st.isSymbolicLink() ? `a link to ${await readlink(p)}` : st.isDirectory() ? 'a folder' : 'a file';
    throw new GatewayError(
      'SIM_PTY_PATH_EXISTS',
      `${p} exists and is ${what}, not a pty link left by an earlier simulator: not replaced; give --pty a new path`,
      { path: p },
    );
  }
}

/** True when `socat` can be run. */
export async function socatAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('socat', ['-V'], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

/**
 * Creates a pseudo-terminal pair with socat (`PATH` for the master, `PATH.sim` for the
 * simulator), opens the simulator's end with serialport and bridges it to the bus.
 * A pty has no baud rate: give `baud` in the options to pace the line like a real one.
 */
export async function servePty(sim: Simulator | SimulatorOptions, path: string): Promise<PtyServer> {
  const simPath = `${path}.sim`;
  await checkPtyPath(path);
  const socat = await startSocat(path, simPath);
  const owned = !isSimulator(sim);
  const simulator = isSimulator(sim) ? sim : createSimulator(sim);
  let port: SerialPort;
  try {
    port = new SerialPort({ path: simPath, baudRate: 38400, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  } catch (err) {
    await stopChild(socat);
    if (owned) await simulator.close();
    throw err;
  }
  const line = simulator.connect();
  port.on('data', (chunk: Buffer) => line.write(chunk));
  port.on('error', () => undefined);
  line.on('data', (chunk: Buffer) => {
    if (port.isOpen) port.write(chunk);
  });
  let closed = false;
  // If socat goes (killed, crashed), the simulator's end is hung up: stop reading it rather than
  // leave serialport spinning on a tty that only ever returns end of file.
  socat.once('exit', () => {
    if (closed || !port.isOpen) return;
    line.destroy();
    port.close(() => undefined);
  });
  return {
    simulator,
    path,
    simPath,
    async close() {
      if (closed) return;
      closed = true;
      line.destroy();
      if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
      await stopChild(socat);
      if (owned) await simulator.close();
    },
  };
}

function startSocat(path: string, simPath: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('socat', ['-d', '-d', `pty,rawer,echo=0,link=${path}`, `pty,rawer,echo=0,link=${simPath}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    let done = false;
    const timer = setTimeout(() => finish(new Error(`socat did not start within 5 s: ${err.trim()}`)), 5000);
    const finish = (e?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (e) {
        if (child.exitCode === null && child.pid !== undefined) child.kill('SIGTERM');
        reject(e);
      } else resolve(child);
    };
    child.once('error', (e: NodeJS.ErrnoException) =>
      finish(e.code === 'ENOENT' ? new SocatMissingError('socat is not installed (needed for --pty)') : e),
    );
    child.once('exit', (code) => finish(new Error(`socat exited with ${code}: ${err.trim()}`)));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      if (done) return;
      err += text;
      if (err.includes('starting data transfer loop')) finish();
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, 2000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// ------------------------------------------------------------------ option parsing

const FAULT_NAMES: Record<string, keyof FaultOptions> = {
  drop: 'dropReply',
  dropreply: 'dropReply',
  delay: 'delay',
  delayms: 'delayMs',
  garble: 'garble',
  split: 'split',
  splitgapms: 'splitGapMs',
  status: 'statusError',
  statuserror: 'statusError',
  statuserrorcode: 'statusErrorCode',
  seed: 'seed',
};

function badOption(message: string, option: string): GatewayError {
  return new GatewayError('SIM_BAD_OPTION', message, { option });
}

const PROBABILITIES = new Set<keyof FaultOptions>(['dropReply', 'delay', 'garble', 'split', 'statusError']);

/** Parses `drop=0.05,delay=0.02,delay-ms=600,garble=0.01,split=0.3,status=0.01`. */
export function parseFaults(spec: string): FaultOptions {
  const out: Record<string, number> = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z-]+)\s*=\s*([0-9.e+-]+|0x[0-9a-f]+)$/i.exec(part);
    const key = m ? FAULT_NAMES[(m[1] as string).toLowerCase().replace(/-/g, '')] : undefined;
    if (!m || !key) throw badOption(`bad fault "${part}": use drop, delay, delay-ms, garble, split, split-gap-ms, status, status-error-code, seed`, '--faults');
    const value = Number(m[2]);
    if (!Number.isFinite(value)) throw badOption(`bad fault value in "${part}"`, '--faults');
    if (PROBABILITIES.has(key) && (value < 0 || value > 1)) throw badOption(`bad fault "${part}": a probability is 0..1`, '--faults');
    out[key] = value;
  }
  return out as FaultOptions;
}

/** Parses `HOST:PORT`, `:PORT` or `PORT` (host defaults to 127.0.0.1). */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:(.*):)?(\d+)$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw badOption(`bad --tcp "${text}": use HOST:PORT with a port 0..65535`, '--tcp');
  return { host: m[1] || '127.0.0.1', port };
}

function parseNodes(text: string): number[] {
  return text.split(',').map((s) => {
    const n = s.trim() === '' ? NaN : Number(s.trim());
    if (!Number.isInteger(n) || n < 1 || n > 127) throw badOption(`bad node "${s}" in --nodes: each is 1..127, e.g. 3,5,7`, '--nodes');
    return n;
  });
}

/** `--nodes` with `--channels`: the instruments, node 5 of `5:3` with channels 2 and 3 of their own. */
function withChannels(nodes: number[], spec: string | undefined): Pick<SimulatorOptions, 'nodes' | 'instruments'> {
  if (spec === undefined) return { nodes };
  const { channels, bad } = parseChannelSpec(spec);
  const stray = [...channels.keys()].filter((n) => !nodes.includes(n));
  if (bad.length > 0 || stray.length > 0) {
    throw badOption(`bad --channels "${spec}": each item is node:channels (1..16) of a node in --nodes, e.g. 5:3`, '--channels');
  }
  return { instruments: nodes.map((node) => ({ node, ...(channels.has(node) ? { channels: defaultChannels(channels.get(node) as number) } : {}) })) };
}

function loadInstruments(file: string): InstrumentConfig[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw badOption(`cannot read --instruments ${file}: ${why}`, '--instruments');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw badOption(`--instruments ${file} is not JSON: ${(err as Error).message}`, '--instruments');
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { instruments?: unknown } | null)?.instruments;
  if (!Array.isArray(list)) throw badOption(`${file}: expected a JSON array of instruments or { "instruments": [...] }`, '--instruments');
  return list as InstrumentConfig[];
}

function intOption(name: string) {
  return (v: string): number => {
    const n = v.trim() === '' ? NaN : Number(v);
    if (!Number.isFinite(n) || n < 0) throw badOption(`bad ${name} "${v}": a number >= 0`, name);
    return n;
  };
}

/** One line per transaction: `> 10 02 ... < 10 02 ... [faults]`. */
export function formatTransaction(t: TransactionRecord): string {
  const req = t.request.kind === 'data' ? `seq=${t.request.seq} node=${t.request.node} > ${toHex(t.request.data)}` : `> error frame`;
  let rep: string;
  if (!t.reply) rep = '(no reply)';
  else if (t.reply.kind === 'error') rep = `< error frame ${t.reply.code}`;
  else rep = `< ${toHex(t.reply.data)}`;
  const faults = t.faults.length > 0 ? ` [${t.faults.join(',')}]` : '';
  return `${new Date().toISOString().slice(11, 23)} #${t.link} ${req}  ${rep}${faults}`;
}

interface SimulateFlags {
  tcp?: string;
  pty?: string;
  nodes?: string;
  channels?: string;
  instruments?: string;
  protocol: string;
  baud?: number;
  turnaroundMs?: number;
  faults?: string;
  seed?: number;
  verbose?: boolean;
}

/** Adds `flowbus simulate`. */
export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('simulate Bronkhorst instruments on a TCP port and/or a pseudo-terminal')
    .option('--tcp <host:port>', 'serve the bus on TCP (default 127.0.0.1:4001 when --pty is not given)')
    .option('--pty <path>', 'create a pseudo-terminal with socat; a master opens PATH like a serial port')
    .option('--nodes <list>', 'instrument addresses, e.g. 3,5,7 (the first answers node 128)', '3')
    .option('--channels <list>', 'multi-channel instruments among --nodes, node:channels, e.g. 5:3 (each channel its own fluid and capacity)')
    .option('--instruments <file>', 'JSON file: an array of instrument configs (node, model, serial, fluid, capacity, unit, values ...)')
    .option('--protocol <binary|ascii>', 'framing', 'binary')
    .option('--baud <n>', 'pace the line at this speed (10 bits per byte)', intOption('--baud'))
    .option('--turnaround-ms <n>', 'delay from request to reply', intOption('--turnaround-ms'))
    .option('--faults <spec>', 'fault probabilities, e.g. drop=0.05,delay=0.02,garble=0.01,split=0.3,status=0.01')
    .option('--seed <n>', 'PRNG seed for noise and faults', intOption('--seed'))
    .option('--verbose', 'log one line per transaction')
    .action(async (flags: SimulateFlags) => {
      if (flags.protocol !== 'binary' && flags.protocol !== 'ascii') throw badOption(`--protocol must be binary or ascii, got "${flags.protocol}"`, '--protocol');
      // Every option is checked before anything starts, so a mistake leaves nothing behind.
      const tcpAt = flags.tcp || !flags.pty ? parseHostPort(flags.tcp ?? '127.0.0.1:4001') : undefined;
      if (flags.pty) await checkPtyPath(flags.pty);
      const options: SimulatorOptions = {
        protocol: flags.protocol,
        ...(flags.instruments ? { instruments: loadInstruments(flags.instruments) } : withChannels(parseNodes(flags.nodes ?? '3'), flags.channels)),
        ...(flags.baud !== undefined ? { baud: flags.baud } : {}),
        ...(flags.turnaroundMs !== undefined ? { turnaroundMs: flags.turnaroundMs } : {}),
        ...(flags.faults ? { faults: parseFaults(flags.faults) } : {}),
        ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
      };
      let sim: Simulator;
      try {
        sim = createSimulator(options);
      } catch (err) {
        // The simulator's own checks (an instrument file's node twice, a baud of 0).
        throw err instanceof GatewayError ? err : new GatewayError('SIM_BAD_OPTION', err instanceof Error ? err.message : String(err));
      }
      if (flags.verbose) sim.on('transaction', (t) => console.log(formatTransaction(t)));
      const servers: SimServer[] = [];
      const shutdown = async (): Promise<void> => {
        for (const s of servers) await s.close();
        await sim.close();
      };
      try {
        if (flags.pty) {
          const pty = await servePty(sim, flags.pty);
          servers.push(pty);
          console.log(`pty: a master opens ${pty.path}`);
        }
        if (tcpAt) {
          const tcp = await serveTcp(sim, tcpAt.host, tcpAt.port);
          servers.push(tcp);
          console.log(`tcp: listening on ${tcp.host}:${tcp.port}`);
        }
      } catch (err) {
        await shutdown();
        throw err;
      }
      const nodes = [...sim.instruments.keys()].join(', ');
      // The signals are handled before the line that says the simulator is ready: whoever waits for
      // that line (a test, a script) may stop it at once, and must not kill it instead.
      const stopped = new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      console.log(`simulating ${sim.instruments.size} instrument(s) at node(s) ${nodes} (128 = node ${[...sim.instruments.keys()][0]}), ${sim.protocol}; Ctrl-C to stop`);
      await stopped;
      await shutdown();
      console.log('simulator stopped');
    });
}
