/**
 * `flowbus program run FILE.yaml`: runs a setpoint program with progress lines. Directly on the bus
 * (`--port`, as `flowbus set` does, through the same runner and validated write path as the
 * gateway), or on a running gateway (`--url`), which owns the port then.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { MasterGateway, Programs, type ProgramView } from '../gateway/index.js';
import { GatewayError } from '../shared/index.js';
import type { SimulatorFactory } from '../transport/index.js';

interface RunOptions {
  port?: string;
  baud?: string;
  protocol?: string;
  timeout?: string;
  url?: string;
  token?: string;
}

async function loadProgram(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new GatewayError('CLI_BAD_OPTION', `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return parse(text) as unknown;
  } catch (err) {
    throw new GatewayError('CLI_BAD_OPTION', `${file} is not valid YAML: ${(err as Error).message}`);
  }
}

/** One progress line: state, the step, the time left, each instrument's target. */
export function progressLine(v: ProgramView): string {
  const step = v.step ? `step ${v.step.index + 1}/${v.steps} ${v.step.type}${v.step.ramp ? ` (${v.step.ramp})` : ''}${v.step.timeLeftMs !== null ? `, ${(v.step.timeLeftMs / 1000).toFixed(1)} s left` : ''}` : `${v.steps} steps`;
  const targets = v.instruments.map((i) => `${i.id}=${i.target ?? '?'}${i.unit ? ` ${i.unit}` : ''}`).join(' ');
  const reason = v.reason ? ` — ${v.reason.code}: ${v.reason.message}` : '';
  const safe = v.safe ? (v.safe.applied ? ' (safe state applied)' : ` (safe state FAILED for ${v.safe.errors.map((e) => e.instrument).join(', ')})`) : '';
  return `${new Date().toISOString()} ${v.state} ${step} ${targets}${reason}${safe}`;
}

const ENDED = new Set(['completed', 'failed', 'aborted']);

async function runOnBus(spec: unknown, opts: RunOptions & { port: string }, simulator: SimulatorFactory | undefined): Promise<boolean> {
  const protocol = opts.protocol ?? 'binary';
  if (protocol !== 'binary' && protocol !== 'ascii') throw new GatewayError('CLI_BAD_OPTION', `--protocol must be binary or ascii, got ${protocol}`);
  const gw = new MasterGateway(
    {
      buses: [{ name: 'main', port: opts.port, protocol, ...(opts.baud ? { baud: Number(opts.baud) } : {}), ...(opts.timeout ? { bus: { replyTimeoutMs: Number(opts.timeout) } } : {}) }],
      poll: { parameters: ['fMeasure', 'fSetpoint'], intervalMs: 500 },
    },
    simulator ? { simulator } : {},
  );
  const programs = new Programs(gw);
  try {
    await gw.start();
    await gw.discover();
    const started = await programs.start(spec, 'cli');
    return await follow(started, async () => programs.get(started.id), async () => void (await programs.abort(started.id, 'cli (interrupted)')), gw);
  } finally {
    await programs.close();
    await gw.close();
  }
}

async function runOnGateway(spec: unknown, opts: RunOptions & { url: string }): Promise<boolean> {
  const base = opts.url.replace(/\/+$/, '');
  const token = opts.token ?? process.env.FLOWBUS_API_TOKEN;
  const call = async (method: string, path: string, body?: unknown): Promise<ProgramView> => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as ProgramView & { code?: string; message?: string };
    if (!res.ok) throw new GatewayError('CLI_BAD_OPTION', `${method} ${path}: ${res.status} ${json.code ?? ''}: ${json.message ?? ''}`);
    return json;
  };
  const started = await call('POST', '/programs', spec);
  return follow(started, () => call('GET', `/programs/${started.id}`), async () => void (await call('POST', `/programs/${started.id}/abort`, {})));
}

/** Prints a line on each change and once a second; Ctrl-C aborts (the safe state). True when completed. */
async function follow(first: ProgramView, get: () => Promise<ProgramView>, abort: () => Promise<void>, gw?: MasterGateway): Promise<boolean> {
  console.log(`program ${first.id} (${first.name}): ${first.steps} steps on ${first.instruments.map((i) => i.id).join(', ')}`);
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) return;
    interrupted = true;
    console.log('interrupted: aborting, every instrument to its safe state');
    void abort().catch((err: unknown) => console.error(`abort failed: ${String(err)}`));
  };
  process.on('SIGINT', onSigint);
  const off = gw?.events.on('program', (e) => {
    if (e.id === first.id) console.log(progressLine(e));
  });
  try {
    for (;;) {
      const v = await get();
      if (ENDED.has(v.state) && (v.state === 'completed' || v.safe)) {
        // On the bus, the program event has said it already.
        if (!gw) console.log(progressLine(v));
        return v.state === 'completed';
      }
      if (v.state === 'running' || !gw) console.log(progressLine(v));
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    off?.();
    process.off('SIGINT', onSigint);
  }
}

export function registerProgramCommand(program: Command, simulator: SimulatorFactory | undefined): void {
  const cmd = program.command('program').description('setpoint programs: hold, ramp and wait steps (README "Setpoint programs")');
  cmd
    .command('run')
    .description('run a program from a YAML (or JSON) file with progress lines; Ctrl-C aborts it into the safe state')
    .argument('<file>', 'the program: instruments, steps (hold, ramp, wait), onRestart, ramp, rate')
    .option('-p, --port <address>', 'run it directly on this bus: /dev/ttyUSB0, tcp://host:port or sim://?nodes=3,5')
    .option('--baud <n>', 'baud rate of a serial port (default 38400)')
    .option('--protocol <p>', 'binary or ascii (default binary)')
    .option('--timeout <ms>', 'reply timeout, ms')
    .option('--url <url>', 'run it on a running gateway instead (http://host:8080), which owns the port')
    .option('--token <token>', 'with --url: the API token; prefer env FLOWBUS_API_TOKEN')
    .action(async (file: string, opts: RunOptions) => {
      try {
        if (!opts.port === !opts.url) throw new GatewayError('CLI_BAD_OPTION', 'give either --port (run on the bus) or --url (run on a gateway)');
        const spec = await loadProgram(file);
        const ok = opts.url ? await runOnGateway(spec, { ...opts, url: opts.url }) : await runOnBus(spec, { ...opts, port: opts.port as string }, simulator);
        process.exitCode = ok ? 0 : 1;
      } catch (err) {
        const e = err instanceof GatewayError ? err : undefined;
        console.error(e ? `error ${e.code}: ${e.message}` : String(err));
        process.exitCode = 2;
      }
    });
}
