/**
 * A snapshot: every readable parameter of one instrument, read in chained requests one after the
 * other, at the lowest priority (polling and people's reads go first). Used by the master's
 * `GET /instruments/{node}/snapshot` and by `flowbus backup` / `flowbus restore`.
 */
import { BusError, packReads, Priority, type ParamClient, type ParamResult } from '../bus/index.js';
import { allParams, type ParamDef } from '../params/index.js';
import { toHex } from '../shared/index.js';
import type { Snapshot, SnapshotValue } from './service.js';
import { IDENTITY_FIELD_BY_DDE, jsonValue, setIdentityField, unitFor, type InstrumentIdentity } from './views.js';

/** The parameters a snapshot reads: those the database marks readable. */
export function snapshotParams(): ParamDef[] {
  return allParams().filter((p) => p.read);
}

/**
 * Reads `params` chunk by chunk (one chained request waiting at a time), at scan priority. `each`
 * runs each chunk's read (the bridge's injection queues them one by one behind the API's other
 * operations, and gives each its own signal).
 */
export async function readAll(
  client: ParamClient,
  node: number,
  params: readonly ParamDef[],
  opts: { signal?: AbortSignal; each?: (read: (signal?: AbortSignal) => Promise<ParamResult[]>) => Promise<ParamResult[]> } = {},
): Promise<ParamResult[]> {
  const out: ParamResult[] = [];
  const each = opts.each ?? ((read) => read(opts.signal));
  for (const chunk of packReads(params, client.bus.options.maxRequestBytes, client.bus.options.maxAnswerBytes)) {
    out.push(...(await each((signal) => client.read(node, chunk, { priority: Priority.Scan, purpose: 'snapshot', ...(signal ? { signal } : {}) }))));
  }
  return out;
}

/** The identity fields a snapshot's readings carry. */
export function identityFrom(results: readonly ParamResult[]): InstrumentIdentity {
  const identity: InstrumentIdentity = {};
  for (const r of results) {
    if (!r.ok) continue;
    const field = IDENTITY_FIELD_BY_DDE.get(r.reading.param.dde);
    const v = r.reading.value;
    if (field && (typeof v === 'number' || typeof v === 'string')) setIdentityField(identity, field, typeof v === 'string' && field !== 'idString' ? v.trim() : v);
  }
  return identity;
}

/**
 * The snapshot of the results: values by key; the parameters the instrument refused (a status
 * answer: it has no such parameter) as `unsupported`; other failures (timeouts, bad answers) as
 * `failed`, with their reason.
 */
export function buildSnapshot(instrument: string, identity: InstrumentIdentity, results: readonly ParamResult[], time = Date.now()): Snapshot {
  const parameters: Record<string, SnapshotValue> = {};
  const unsupported: string[] = [];
  const failed: { key: string; code: string; message: string }[] = [];
  for (const r of results) {
    if (r.ok) {
      const p = r.reading.param;
      const unit = unitFor(p, identity);
      parameters[p.key] = { dde: p.dde, value: jsonValue(r.reading.value), raw: toHex(r.reading.raw, ''), ...(unit ? { unit } : {}) };
    } else if (r.error instanceof BusError && r.error.failure.kind === 'status') {
      unsupported.push(r.param.key);
    } else {
      failed.push({ key: r.param.key, code: r.error.code, message: r.error.message });
    }
  }
  return { instrument, identity, time: new Date(time).toISOString(), parameters, unsupported, ...(failed.length > 0 ? { failed } : {}) };
}

/**
 * Writable parameters a restore leaves alone, by key, with the reason: values that change by
 * themselves or move the process (restoring one would start a flow or reset a total), commands,
 * the bus's own addressing, and index-addressed windows (their value belongs to whatever index
 * was selected when the backup was read).
 */
/** Why a restore leaves measure, setpoints, counters and the like alone. */
export const RESTORE_LIVE = 'a live value or setpoint';

export const RESTORE_SKIPPED: ReadonlyMap<string, string> = new Map(
  (
    [
      [RESTORE_LIVE, ['measure', 'setpoint', 'fSetpoint', 'valveOutput', 'counterValue', 'temperature', 'pressure', 'time', 'totalizerValue', 'deltaP']],
      ['a command, not a setting', ['identificationString', 'initReset', 'modify', 'globalModify', 'claimNode']],
      ['bus addressing', ['nextNodeAddress', 'lastNodeAddress', 'temporaryBaudrate', 'fieldbus1Address', 'fieldbus1Baudrate', 'fieldbus2Address', 'fieldbus2Baudrate', 'fieldbus1IpAddress', 'fieldbus1GatewayAddress']],
      [
        'an index-addressed window',
        [
          'specialParameterIndex', 'specialParameterILong', 'specialParameterIFloat', 'specialParameterIName', 'specialParameterL1Long', 'specialParameterL2Long',
          'specialParameterL3Long', 'specialParameterL4Long', 'specialParameterL5Long', 'specialParameterF1Float', 'specialParameterF2Float', 'specialParameterF3Float',
          'specialParameterF4Float', 'specialParameterF5Float', 'pioChannelSelection', 'pioParameter', 'pioInputOutputFilter', 'pioParameterCapacity0',
          'pioParameterCapacity100', 'pioConfigurationSelection', 'pioHardwareCapacityMax', 'pioCapacitysetSelection', 'pioHardwareCapacity0',
          'pioHardwareCapacity100', 'pioAnalogZeroAdjust', 'pioAnalogSpanAdjust', 'selftestBlockIndex', 'selftestTestIndex', 'diagnosticEventIndex',
          'operationalHistoryParameterIndex', 'mixtureComponentIndex', 'pcbSerialNumberIndex', 'lookupTableIndex', 'lookupTableTemperatureIndex',
          'scanChannel', 'scanParameter', 'dspRegisterAddress', 'ifiData', 'featureUnlockCode',
        ],
      ],
    ] as const
  ).flatMap(([why, keys]) => keys.map((k): [string, string] => [k, why])),
);
