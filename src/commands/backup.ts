/**
 * `flowbus backup NODE` and `flowbus restore NODE FILE`: every readable parameter of one
 * instrument as JSON (the API's snapshot), and back: the differences first, then the writable
 * ones written and everything read again.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { ParamClient } from '../bus/index.js';
import type { Value } from '../codec/index.js';
import { buildSnapshot, identityFrom, readAll, refuseUnwritable, RESTORE_LIVE as LIVE, RESTORE_SKIPPED, snapshotParams, writeValidation, type InstrumentIdentity, type Snapshot } from '../gateway/index.js';
import { findParam, validateValue, type ParamDef } from '../params/index.js';
import { GatewayError } from '../shared/index.js';
import type { SimulatorFactory } from '../transport/index.js';
import { openPort, parseNode, portOptions, run, type PortOptions } from './oneshot.js';

/** Identity fields that must agree between a backup and the instrument it is restored to (unless --force). */
const SAME_INSTRUMENT: readonly (keyof InstrumentIdentity)[] = ['deviceType', 'model', 'serial'];

/** Fluidset index first, on its own: it loads another fluid, capacity and unit, which the other values may depend on. */
const FIRST = 'fluidsetIndex';

/** Reads a snapshot of one instrument through a one-shot port. */
export async function takeSnapshot(client: ParamClient, node: number, label: string): Promise<Snapshot> {
  const results = await readAll(client, node, snapshotParams());
  const first = results[0];
  // Nothing answered (wrong node, cable): that failure, not an empty backup.
  if (first && !first.ok && first.error.code !== 'BUS_STATUS' && results.every((r) => !r.ok && r.error.code === first.error.code)) throw first.error;
  return buildSnapshot(label, identityFrom(results), results);
}

/** The snapshot of one instrument from a running gateway's API (GET /instruments/{node}/snapshot). */
async function snapshotFrom(url: string, node: string): Promise<Snapshot> {
  const path = `/api/v1/instruments/${encodeURIComponent(node)}/snapshot`;
  let res: Response;
  try {
    res = await fetch(`${url.replace(/\/+$/, '')}${path}`);
  } catch (err) {
    throw new GatewayError('CLI_BAD_OPTION', `cannot reach the gateway at ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const body = (await res.json()) as Snapshot & { code?: string; message?: string };
  if (!res.ok) throw new GatewayError('CLI_BAD_OPTION', `GET ${path}: ${res.status} ${body.code ?? ''}: ${body.message ?? ''}`);
  return body;
}

/** One line of the restore's plan. */
export interface RestoreLine {
  readonly key: string;
  readonly current: unknown;
  readonly backup: unknown;
  /** Written when `write`; otherwise why not. */
  readonly action: 'write' | string;
  readonly param?: ParamDef;
  readonly value?: Value;
}

function same(a: unknown, b: unknown): boolean {
  return typeof a === 'string' && typeof b === 'string' ? a.trimEnd() === b.trimEnd() : a === b;
}

/** The differences between a backup and the instrument now, each with what restore does about it. */
export function planRestore(backup: Snapshot, current: Snapshot, client: ParamClient, opts: { secured: boolean }): RestoreLine[] {
  const lines: RestoreLine[] = [];
  for (const [key, saved] of Object.entries(backup.parameters)) {
    const now = current.parameters[key];
    if (now && same(now.value, saved.value)) continue;
    const param = findParam(key);
    const line = { key, current: now?.value, backup: saved.value };
    if (!param || param.dde !== saved.dde) {
      lines.push({ ...line, action: 'not restored: not in the parameter database' });
      continue;
    }
    if (!param.write) {
      lines.push({ ...line, action: 'not restored: read-only' });
      continue;
    }
    if (param.highlySecured) {
      lines.push({ ...line, action: 'not restored: factory parameter' });
      continue;
    }
    const skipped = RESTORE_SKIPPED.get(param.key);
    if (skipped) {
      lines.push({ ...line, action: `not restored: ${skipped}` });
      continue;
    }
    if (!now) {
      lines.push({ ...line, action: 'not restored: the instrument does not answer it now' });
      continue;
    }
    try {
      refuseUnwritable(param, opts.secured, 'add --secured');
      const value = validateValue(param, saved.value, writeValidation(param, client, undefined));
      lines.push({ ...line, action: 'write', param, value });
    } catch (err) {
      const e = err instanceof GatewayError ? err : new GatewayError('CLI_BAD_BACKUP', String(err));
      lines.push({ ...line, action: `not restored: ${e.code === 'PARAM_SECURED' ? 'secured (add --secured)' : e.message}` });
    }
  }
  return lines;
}

/** The backup's identity against the instrument's: the fields that differ. */
export function identityMismatch(backup: InstrumentIdentity, current: InstrumentIdentity): string[] {
  return SAME_INSTRUMENT.filter((f) => backup[f] !== undefined && current[f] !== undefined && backup[f] !== current[f]).map((f) => `${f} ${JSON.stringify(backup[f])} in the backup, ${JSON.stringify(current[f])} here`);
}

function show(v: unknown): string {
  return v === undefined ? '-' : typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function printLines(lines: readonly RestoreLine[]): void {
  const width = Math.max(9, ...lines.map((l) => l.key.length));
  console.log(`${'parameter'.padEnd(width)}  ${'current'.padEnd(20)}  ${'backup'.padEnd(20)}  action`);
  for (const l of lines) console.log(`${l.key.padEnd(width)}  ${show(l.current).padEnd(20)}  ${show(l.backup).padEnd(20)}  ${l.action}`);
}

function loadBackup(file: string): Snapshot {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new GatewayError('CLI_BAD_BACKUP', `cannot read the backup ${file}: ${err instanceof Error ? err.message : String(err)}`, { file });
  }
  const d = data as Partial<Snapshot> | null;
  if (!d || typeof d !== 'object' || typeof d.parameters !== 'object' || d.parameters === null || typeof d.identity !== 'object' || d.identity === null) {
    throw new GatewayError('CLI_BAD_BACKUP', `${file} is not a backup: it has no "parameters" and "identity" (make one with flowbus backup, or GET /api/v1/instruments/{node}/snapshot)`, { file });
  }
  return d as Snapshot;
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new GatewayError('CLI_NOT_CONFIRMED', 'restore writes to the instrument: add --yes to confirm (stdin is not a terminal to ask on), or --dry-run to see the differences only');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

export interface RestoreOptions extends PortOptions {
  dryRun?: boolean;
  yes?: boolean;
  force?: boolean;
  secured?: boolean;
}

/** `flowbus backup` and `flowbus restore`. */
export function registerBackupCommands(program: Command, simulator: SimulatorFactory | undefined): void {
  portOptions(
    program
      .command('backup')
      .description('read every readable parameter of one instrument and print it as JSON (redirect it to a file)')
      .argument('<node>', 'node address (128 = the instrument on this port; with --url, as the gateway names it: 3 or bus:3)'),
    { portRequired: false },
  )
    .option('--url <url>', "read it from a running gateway instead (http://host:8080): master mode, or bridge mode with injection on, where the Bright stays attached")
    .action((nodeText: string, opts: PortOptions & { url?: string }) =>
    run(async () => {
      if (!opts.port === !opts.url) throw new GatewayError('CLI_BAD_OPTION', 'give either --port (read on the bus) or --url (read through a running gateway)');
      if (opts.url) {
        const snap = await snapshotFrom(opts.url, nodeText);
        console.log(JSON.stringify(snap, null, 2));
        console.error(`${snap.instrument}: ${Object.keys(snap.parameters).length} parameters, ${snap.unsupported.length} unsupported${snap.failed ? `, ${snap.failed.length} failed` : ''}`);
        return snap.failed === undefined;
      }
      const node = parseNode(nodeText);
      const port = await openPort(opts as PortOptions, simulator);
      try {
        const snap = await takeSnapshot(port.client, node, String(node));
        console.log(JSON.stringify(snap, null, 2));
        console.error(`node ${node}: ${Object.keys(snap.parameters).length} parameters, ${snap.unsupported.length} unsupported${snap.failed ? `, ${snap.failed.length} failed` : ''}`);
        return snap.failed === undefined;
      } finally {
        await port.close();
      }
    }),
  );

  portOptions(
    program
      .command('restore')
      .description('write a backup back: shows the differences (parameter, current, backup) first, writes the writable ones, reads everything back')
      .argument('<node>', 'node address (128 = the instrument on this port)')
      .argument('<file>', 'a backup from flowbus backup (or the API snapshot)'),
  )
    .option('--dry-run', 'show the differences only; write nothing')
    .option('--yes', 'do not ask before writing')
    .option('--force', 'restore a backup of another instrument (device type, model or serial number differ)')
    .option('--secured', 'restore secured parameters too (each write inside Init Reset 64 ... 82)')
    .action((nodeText: string, file: string, opts: RestoreOptions) =>
      run(async () => {
        const node = parseNode(nodeText);
        const backup = loadBackup(file);
        const port = await openPort(opts, simulator);
        try {
          const current = await takeSnapshot(port.client, node, String(node));
          const mismatch = identityMismatch(backup.identity, current.identity);
          if (mismatch.length > 0 && !opts.force) {
            throw new GatewayError('CLI_BACKUP_MISMATCH', `the backup is of another instrument: ${mismatch.join('; ')}; add --force to restore it anyway`, { mismatch });
          }
          const plan = planRestore(backup, current, port.client, { secured: opts.secured === true });
          // Values that change by themselves differ in every backup: counted, not listed.
          const quiet = (l: RestoreLine) => l.action === 'not restored: read-only' || l.action === `not restored: ${LIVE}`;
          const lines = plan.filter((l) => !quiet(l));
          const quietCount = plan.length - lines.length;
          if (quietCount > 0) console.error(`${quietCount} live or read-only values differ too (not restored, not listed)`);
          const writes = lines.filter((l) => l.action === 'write');
          if (lines.length === 0) {
            console.log(`node ${node} already matches the backup`);
            return true;
          }
          printLines(lines);
          if (opts.dryRun) {
            console.log(`dry run: ${writes.length} of ${lines.length} differences would be written`);
            return true;
          }
          if (writes.length === 0) {
            console.log('nothing to write');
            return true;
          }
          if (!opts.yes && !(await confirm(`write ${writes.length} parameters to node ${node}?`))) {
            console.log('not written');
            return false;
          }
          const ordered = [...writes.filter((l) => l.key === FIRST), ...writes.filter((l) => l.key !== FIRST)].map((l) => ({ param: l.param as ParamDef, value: l.value as Value }));
          const first = ordered[0]?.param.key === FIRST ? [ordered.slice(0, 1)] : [];
          const chunks = [...first.map((v) => port.client.packWrites(v)), port.client.packWrites(ordered.slice(first.length))].flat();
          for (const chunk of chunks) await port.client.write(node, chunk.values, { unlock: chunk.unlock });
          console.log(`wrote ${writes.length} parameters in ${chunks.length} requests`);
          const after = await takeSnapshot(port.client, node, String(node));
          const still = writes.filter((l) => !same(after.parameters[l.key]?.value, l.backup));
          if (still.length === 0) {
            console.log('read back: every written parameter matches the backup');
            return true;
          }
          console.log(`read back: ${still.length} still differ`);
          printLines(still.map((l) => ({ ...l, current: after.parameters[l.key]?.value, action: 'still differs' })));
          return false;
        } finally {
          await port.close();
        }
      }),
    );
}
