import type { Command } from 'commander';
import { Bus, ParamClient, Priority, type ParamResult } from '../bus/index.js';
import type { Protocol } from '../codec/index.js';
import { capacityRange, fromUnit, isCapacityBound, isScaled, parseValueWithUnit, rawFlowRange, refuseUnwritable, scaledValues, unitFor, writeValidation } from '../gateway/index.js';
import { enumLabel, forChannel, MAX_CHANNELS, resolveParam, validateValue, type InstrumentRange, type ParamDef } from '../params/index.js';
import { GatewayError, toHex } from '../shared/index.js';
import { openerFor, parseAddress, Transport, type SimulatorFactory } from '../transport/index.js';

export interface PortOptions {
  port: string;
  baud?: string;
  protocol?: string;
  timeout?: string;
  json?: boolean;
}

/** Opens a bus for one command: transport, bus, parameter client; `close()` undoes it. */
export async function openPort(opts: PortOptions, simulator: SimulatorFactory | undefined) {
  const protocol = (opts.protocol ?? 'binary') as Protocol;
  if (protocol !== 'binary' && protocol !== 'ascii') throw new GatewayError('CLI_BAD_OPTION', `--protocol must be binary or ascii, got ${opts.protocol}`);
  const addr = parseAddress(opts.port, opts.baud ? Number(opts.baud) : undefined);
  const transport = new Transport(opts.port, openerFor(addr, simulator), { initialDelayMs: 100, maxDelayMs: 1000 });
  await transport.start();
  if (transport.state !== 'open') {
    await transport.close();
    throw new GatewayError('TRANSPORT_UNAVAILABLE', transport.status().lastError ?? `cannot open ${opts.port}`);
  }
  const bus = new Bus(transport, {
    protocol,
    ...(opts.timeout ? { replyTimeoutMs: Number(opts.timeout) } : {}),
    ...(addr.kind === 'serial' ? { baudRate: addr.baudRate } : {}),
  });
  const client = new ParamClient(bus);
  return {
    bus,
    client,
    async close() {
      await bus.close();
      await transport.close();
    },
  };
}

export function parseNode(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new GatewayError('CLI_BAD_NODE', `node must be 0..255 (128 = the instrument on this port), got ${JSON.stringify(text)}`);
  return n;
}

/** `3` or `3/2` (channel 2 of a multi-channel instrument at node 3; channel 1 is `3`). */
export function parseNodeChannel(text: string): { node: number; channel: number } {
  const m = /^([^/]*)\/(.*)$/.exec(text.trim());
  if (!m) return { node: parseNode(text), channel: 1 };
  const channel = Number(m[2]);
  if (!Number.isInteger(channel) || channel < 1 || channel > MAX_CHANNELS) {
    throw new GatewayError('CLI_BAD_NODE', `channel must be 1..${MAX_CHANNELS} (node/channel, e.g. 5/2), got ${JSON.stringify(text)}`);
  }
  return { node: parseNode(m[1] as string), channel };
}

function show(value: unknown): string {
  if (value instanceof Uint8Array) return toHex(value, '');
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** The capacity unit a read brought along (see `withCapacityUnit`), for the 'capacity' unit placeholder. */
function capacityUnitOf(results: readonly ParamResult[]): string | undefined {
  const r = results.find((x) => x.ok && x.reading.param.key === 'capacityUnit');
  return r?.ok ? String(r.reading.value).trim() || undefined : undefined;
}

/**
 * The parameters to read: those asked for, plus the capacity unit when one of them is in the
 * instrument's capacity unit (fMeasure, fSetpoint), in the same chained request. Returns how many
 * of the results to show.
 */
function withCapacityUnit(defs: readonly ParamDef[], channel = 1): { read: ParamDef[]; shown: number } {
  const extra: ParamDef[] = [];
  if (defs.some((d) => d.unit === 'capacity' || isScaled(d)) && !defs.some((d) => d.key === 'capacityUnit')) extra.push(forChannel(resolveParam('capacityUnit'), channel));
  // The flow values are shown in percent and in the capacity unit too: that takes the capacity.
  if (defs.some((d) => isScaled(d)) && !defs.some((d) => d.key === 'capacity')) extra.push(forChannel(resolveParam('capacity'), channel));
  return { read: [...defs, ...extra], shown: defs.length };
}

/**
 * Prints readings: one line each, or with --json the API's value view (dde, key, name, unit, raw,
 * value, label, time) so that a script gets the same fields from the CLI as from the API.
 */
function printResults(all: ParamResult[], json: boolean, shown = all.length): boolean {
  const capacityUnit = capacityUnitOf(all);
  const capacityReading = all.find((x) => x.ok && x.reading.param.key === 'capacity');
  const capacity = capacityReading?.ok && typeof capacityReading.reading.value === 'number' ? capacityReading.reading.value : undefined;
  const identity = { ...(capacityUnit === undefined ? {} : { capacityUnit }), ...(capacity === undefined ? {} : { capacity }) };
  const results = all.slice(0, shown);
  const unitOf = (p: ParamDef) => unitFor(p, identity);
  const labelOf = (p: ParamDef, v: unknown) => (typeof v === 'number' && p.enumeration && !p.bits ? enumLabel(p, v) : undefined);
  let ok = true;
  if (json) {
    console.log(
      JSON.stringify(
        results.map((r) => {
          if (!r.ok) return { dde: r.param.dde, key: r.param.key, name: r.param.name, error: { code: r.error.code, message: r.error.message } };
          const p = r.reading.param;
          const unit = unitOf(p);
          const label = labelOf(p, r.reading.value);
          const scaled = scaledValues(p, r.reading.value, identity);
          return {
            dde: p.dde,
            key: p.key,
            name: p.name,
            ...(unit ? { unit } : {}),
            raw: toHex(r.reading.raw, ''),
            value: r.reading.value instanceof Uint8Array ? toHex(r.reading.value, '') : r.reading.value,
            ...(label ? { label } : {}),
            ...(scaled?.inUnit ? { inUnit: scaled.inUnit } : {}),
            ...(scaled?.percent !== undefined ? { percent: scaled.percent } : {}),
            time: new Date(r.reading.at).toISOString(),
          };
        }),
        null,
        2,
      ),
    );
    return results.every((r) => r.ok);
  }
  for (const r of results) {
    if (r.ok) {
      const p = r.reading.param;
      const label = labelOf(p, r.reading.value);
      const unit = unitOf(p);
      const scaled = scaledValues(p, r.reading.value, identity);
      const also = [scaled?.percent !== undefined ? `${scaled.percent} %` : '', scaled?.inUnit && p.unit !== 'capacity' ? `${scaled.inUnit.value} ${scaled.inUnit.unit}` : ''].filter((x) => x);
      console.log(`${p.key.padEnd(24)} ${show(r.reading.value)}${label ? ` (${label})` : ''}${unit ? ' ' + unit : ''}${also.length > 0 ? ` (${also.join(', ')})` : ''}`);
    } else {
      ok = false;
      console.log(`${r.param.key.padEnd(24)} error ${r.error.code}: ${r.error.message}`);
    }
  }
  return ok;
}

export function portOptions(cmd: Command, opts: { portRequired?: boolean } = {}): Command {
  const port = ['-p, --port <address>', 'bus address: /dev/ttyUSB0, serial:///dev/ttyUSB0?baud=38400, tcp://host:port or sim://?nodes=3,5'] as const;
  return (opts.portRequired === false ? cmd.option(...port) : cmd.requiredOption(...port))
    .option('--baud <n>', 'baud rate of a serial port (default 38400)')
    .option('--protocol <binary|ascii>', 'ProPar framing', 'binary')
    .option('--timeout <ms>', 'reply timeout, ms (default 500)')
    .option('--json', 'print JSON');
}

export async function run(fn: () => Promise<boolean | void>): Promise<void> {
  try {
    const ok = await fn();
    if (ok === false) process.exitCode = 1;
  } catch (err) {
    const e = err instanceof GatewayError ? err : undefined;
    console.error(e ? `error ${e.code}: ${e.message}` : String(err));
    process.exitCode = 2;
  }
}

/**
 * What `scan` says when nothing answers, the same with or without --full: the likely causes, in the
 * order a person at the bench checks them, and exit status 1 (`--json` prints `[]` too).
 */
function nothingFound(opts: PortOptions & { full?: boolean }, why?: string): false {
  const e = new GatewayError(
    'CLI_NO_INSTRUMENTS',
    `no instrument answered on ${opts.port} (${opts.protocol ?? 'binary'}${opts.baud ? `, ${opts.baud} baud` : ''}): ` +
      'check the cable and that the instrument is powered, the baud rate (--baud; 38400 by default), ' +
      'the framing (--protocol binary or ascii, as set on the instrument), and the node (128 is whichever instrument is at the port' +
      `${opts.full ? '' : '; --full probes 1..127'})${why ? `; at node 128: ${why}` : ''}`,
    { port: opts.port },
  );
  if (opts.json) console.log('[]');
  console.error(`error ${e.code}: ${e.message}`);
  return false;
}

/** `flowbus get`, `flowbus set`, `flowbus scan`: one-shot commands that open a port, do one thing, and close it. */
export function registerOneShotCommands(program: Command, simulator: SimulatorFactory | undefined): void {
  portOptions(
    program
      .command('get')
      .description('read parameters of one instrument in one chained request')
      .argument('<node>', 'node address (128 = the instrument on this port); node/channel for a channel of a multi-channel instrument, e.g. 5/2')
      .argument('<param...>', 'parameters by key, name or DDE number, e.g. fMeasure fluidName 21'),
  ).action((nodeText: string, names: string[], opts: PortOptions) =>
    run(async () => {
      const { node, channel } = parseNodeChannel(nodeText);
      const { read, shown } = withCapacityUnit(names.map((n) => forChannel(resolveParam(n), channel)), channel);
      const port = await openPort(opts, simulator);
      try {
        return printResults(await port.client.read(node, read, { priority: Priority.Interactive }), Boolean(opts.json), shown);
      } finally {
        await port.close();
      }
    }),
  );

  portOptions(
    program
      .command('set')
      .description('write one parameter (command 1, with status) and read it back')
      .argument('<node>', 'node address (128 = the instrument on this port); node/channel for a channel of a multi-channel instrument, e.g. 5/2')
      .argument('<param>', 'parameter by key, name or DDE number, e.g. fSetpoint or controlMode')
      .argument('<value>', 'the value; enumeration names work too, e.g. "valve closed"; setpoints also in % or the capacity unit: 50%, "3000 mg/min"'),
  )
    .option('--secured', 'allow a secured parameter (written inside Init Reset 64 ... 82)')
    .option('--unit <unit>', 'the unit of the value: % or the capacity unit (setpoint, fSetpoint)')
    .action((nodeText: string, name: string, valueText: string, opts: PortOptions & { secured?: boolean; unit?: string }) =>
      run(async () => {
        const { node, channel } = parseNodeChannel(nodeText);
        const param: ParamDef = forChannel(resolveParam(name), channel);
        refuseUnwritable(param, opts.secured === true, 'add --secured');
        // "50%" or "3000 mg/min" on a flow value: the number and its unit.
        const withUnit = opts.unit === undefined && isScaled(param) ? parseValueWithUnit(valueText) : undefined;
        const unit = opts.unit ?? withUnit?.unit;
        const text = withUnit ? String(withUnit.value) : valueText;
        const numeric = text.trim() !== '' && !Number.isNaN(Number(text)) && param.valueType !== 'string';
        const given = numeric ? Number(text) : text;
        const needsCapacity = isCapacityBound(param) || (unit !== undefined && isScaled(param));
        // What needs no bus is refused before the port opens (a wrong type, a label that does not exist).
        if (!needsCapacity) validateValue(param, unit === undefined ? given : fromUnit(param, given, unit, {}));
        const port = await openPort(opts, simulator);
        try {
          let range: InstrumentRange | undefined;
          let input: unknown = given;
          if (needsCapacity) {
            // Its database range is any float; the instrument's own follows from its capacity, read first,
            // so that a typo is refused here, as the API refuses it, and never reaches the valve.
            const [capacity, capUnit] = await port.client.read(node, [forChannel(resolveParam('capacity'), channel), forChannel(resolveParam('capacityUnit'), channel)]);
            const identity = {
              ...(capacity?.ok && typeof capacity.reading.value === 'number' ? { capacity: capacity.reading.value } : {}),
              ...(capUnit?.ok ? { capacityUnit: String(capUnit.reading.value).trim() } : {}),
            };
            if (unit !== undefined) input = fromUnit(param, given, unit, identity);
            range = isCapacityBound(param) ? capacityRange(param, identity, capacity && !capacity.ok ? `reading it failed: ${capacity.error.message}` : undefined) : rawFlowRange(param, identity);
          }
          const value = validateValue(param, input, writeValidation(param, port.client, range));
          await port.client.write(node, [{ param, value }], { unlock: param.secured });
          if (!param.read) {
            console.log(`${param.key} written (status 0)`);
            return true;
          }
          const { read, shown } = withCapacityUnit([param], channel);
          return printResults(await port.client.read(node, read), Boolean(opts.json), shown);
        } finally {
          await port.close();
        }
      }),
    );

  portOptions(
    program
      .command('scan')
      .description('find the instruments on a bus and read who they are')
      .option('--full', 'probe every node 1..127 instead of following the next-node chain'),
  ).action((opts: PortOptions & { full?: boolean }) =>
    run(async () => {
      const port = await openPort(opts, simulator);
      const pna = resolveParam('primaryNodeAddress');
      const nna = resolveParam('nextNodeAddress');
      const found: number[] = [];
      // Progress on a terminal only: \r lines would garble a log file or a pipe.
      const progress = (text: string) => {
        if (!opts.json && process.stderr.isTTY) process.stderr.write(text);
      };
      try {
        if (opts.full) {
          for (let n = 1; n <= 127; n++) {
            progress(`\rprobing node ${String(n).padStart(3)}/127, found ${found.length}`);
            const [r] = await port.client.read(n, [pna], { priority: Priority.Scan, retries: 0, replyTimeoutMs: 50 });
            if (r?.ok) found.push(n);
          }
          progress('\n');
        } else {
          const [local] = await port.client.read(128, [pna], { priority: Priority.Scan });
          if (!local?.ok) return nothingFound(opts, local && !local.ok ? `${local.error.code} ${local.error.message}` : undefined);
          let node = Number(local.reading.value);
          const seen = new Set<number>();
          while (node >= 1 && node <= 127 && !seen.has(node)) {
            seen.add(node);
            progress(`\rfollowing the chain: node ${node}, found ${found.length}   `);
            const [a, next] = await port.client.read(node, [pna, nna], { priority: Priority.Scan, retries: 1 });
            if (!a?.ok) break;
            found.push(node);
            if (!next?.ok) break;
            node = Number(next.reading.value);
          }
          progress('\n');
        }
        const identity = ['deviceType', 'bhtModelNumber', 'serialNumber', 'firmwareVersion', 'fluidName', 'capacity', 'capacityUnit', 'userTag'].map((k) => resolveParam(k));
        const rows: Record<string, unknown>[] = [];
        for (const node of found) {
          const results = await port.client.read(node, identity, { priority: Priority.Scan });
          const row: Record<string, unknown> = { node };
          for (const r of results) if (r.ok) row[r.reading.param.key] = r.reading.value instanceof Uint8Array ? toHex(r.reading.value, '') : r.reading.value;
          rows.push(row);
        }
        if (rows.length === 0) return nothingFound(opts);
        if (opts.json) console.log(JSON.stringify(rows, null, 2));
        else for (const r of rows) console.log(Object.entries(r).map(([k, v]) => `${k}=${show(v)}`).join('  '));
        return true;
      } finally {
        await port.close();
      }
    }),
  );
}
