/**
 * A fake GatewayService for unit tests of the API layer: the layer below the API, with
 * real parameter-database validation and real GatewayError / BusError instances, so the
 * error mapping is tested on the types the master throws.
 */
import { BusError, type BusFailure } from '../../src/bus/index.js';
import { GatewayEvents, parseInstrumentRef, type BusView, type GatewayService, type InstrumentView, type LoggedTransaction, type ParamErrorView, type ReadResult, type TransactionFilter, type ValueView, type WriteResult } from '../../src/gateway/index.js';
import { enumValue, resolveParam, validateValue } from '../../src/params/index.js';
import { GatewayError } from '../../src/shared/index.js';

export const TIME = '2026-01-02T03:04:05.000Z';

export function valueView(key: string, value: number | string, extra: Partial<ValueView> = {}): ValueView {
  const p = resolveParam(key);
  return { dde: p.dde, key: p.key, name: p.name, raw: '42200000', value, time: TIME, cached: false, ...extra };
}

export const INSTRUMENT: InstrumentView = {
  id: 'main:3',
  bus: 'main',
  node: 3,
  name: 'N2 line',
  online: true,
  lastSeen: TIME,
  identity: { idString: 'DMFC', deviceType: 'DMFC', serial: 'M21200001A', fluidName: 'N2', capacity: 100, capacityUnit: 'ln/min', channels: 1 },
  values: { fMeasure: valueView('fMeasure', 40, { unit: 'ln/min' }) },
  polling: { parameters: ['fMeasure', 'fSetpoint'], intervalMs: 1000 },
};

export const BUS: BusView = {
  name: 'main',
  address: 'sim://',
  transport: { state: 'open', since: TIME, reconnects: 0 },
  queue: { waiting: 0, inFlight: 1 },
  transactions: { ok: 120, timeout: 2 },
  retries: 3,
  lateReplies: 0,
  unsolicited: 0,
  discards: 1,
  latency: { count: 120, meanMs: 4.5, p99Ms: 12.25 },
  wireUtilisation: 0.31,
  nodesBackedOff: [],
  protocol: 'binary',
  pipelineDepth: 1,
};

export const TRANSACTION: LoggedTransaction = {
  id: 't-1',
  bus: 'main',
  mode: 'master',
  node: 3,
  seq: 7,
  command: 4,
  commandName: 'read',
  purpose: 'poll',
  outcome: 'ok',
  status: undefined,
  errorCode: undefined,
  requestBytes: Uint8Array.of(0x10, 0x02, 0x03, 0x07, 0x04),
  replyBytes: Uint8Array.of(0x10, 0x02, 0x80),
  startedAt: 1_767_323_045_000.25,
  endedAt: 1_767_323_045_004.75,
  latencyMs: 4.5,
  attempts: 1,
  params: [{ process: 33, fbnr: 0, wireType: 0x40, dde: 205, key: 'fMeasure', name: 'Fmeasure', valueType: 'float', value: 40, raw: '42200000' }],
  error: undefined,
};

export function busError(failure: BusFailure, node = 3): BusError {
  return new BusError(failure, node);
}

export interface WriteCall {
  readonly ref: string;
  readonly param: string;
  readonly value: unknown;
  readonly source: string;
}

export class FakeService implements GatewayService {
  readonly mode = 'master' as const;
  readonly events = new GatewayEvents();
  isReady = true;
  busState = 'open';
  /** Thrown by every read and write (after node and parameter lookup). */
  fail: GatewayError | undefined;
  /** Per-parameter failures, reported inline by readParams. */
  readonly paramErrors = new Map<string, GatewayError>();
  readonly writes: WriteCall[] = [];
  readonly reads: { ref: string; names: readonly string[]; maxAge: number | undefined }[] = [];
  readonly filters: TransactionFilter[] = [];
  discoveries = 0;

  private find(ref: string): InstrumentView {
    // The real parser: syntax and range are the gateway's, only the instruments are made up.
    const { bus, node } = parseInstrumentRef(ref);
    if (node === 5) throw new GatewayError('GATEWAY_NODE_AMBIGUOUS', 'node 5 exists on several buses; say which: a:5, b:5', { node: 5, candidates: ['a:5', 'b:5'] });
    if (node !== 3 || (bus !== undefined && bus !== 'main')) {
      throw new GatewayError('GATEWAY_NODE_UNKNOWN', `no instrument at node ${ref}; known: main:3`, { node: ref, known: ['main:3'] });
    }
    return INSTRUMENT;
  }

  instruments(): InstrumentView[] {
    return [INSTRUMENT];
  }

  instrument(ref: string): InstrumentView {
    return this.find(ref);
  }

  async readParams(ref: string, names: readonly string[], opts: { maxAge?: number }): Promise<ReadResult> {
    const inst = this.find(ref);
    this.reads.push({ ref, names, maxAge: opts.maxAge });
    if (names.length === 0) throw new GatewayError('PARAM_NONE', 'name at least one parameter to read', {});
    const defs = names.map((n) => resolveParam(n));
    if (this.fail) throw this.fail;
    return {
      instrument: inst.id,
      values: defs.map((p): ValueView | ParamErrorView => {
        const err = this.paramErrors.get(p.key);
        if (err) return { dde: p.dde, key: p.key, name: p.name, error: { code: err.code, message: err.message, details: err.details } };
        return valueView(p.key, p.valueType === 'string' ? 'N2' : 40, { cached: opts.maxAge !== undefined });
      }),
    };
  }

  async writeParam(ref: string, name: string, value: unknown, ctx: { source: string }): Promise<WriteResult> {
    this.writes.push({ ref, param: name, value, source: ctx.source });
    const inst = this.find(ref);
    const p = resolveParam(name);
    if (p.enumeration && !p.bits && typeof value === 'string' && !/^\s*[-+\d.]/.test(value)) enumValue(p, value);
    const v = validateValue(p, value);
    if (this.fail) throw this.fail;
    const written = v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v;
    return {
      instrument: inst.id,
      param: { dde: p.dde, key: p.key, name: p.name },
      written,
      status: { code: 0, name: 'OK' },
      readBack: valueView(p.key, written),
      transactionId: 't-42',
    };
  }

  buses(): BusView[] {
    return [{ ...BUS, transport: { ...BUS.transport, state: this.busState, ...(this.busState === 'open' ? {} : { lastError: 'ENOENT /dev/ttyUSB0' }) } }];
  }

  async discover(): Promise<InstrumentView[]> {
    this.discoveries++;
    await new Promise((r) => setTimeout(r, 5));
    return [INSTRUMENT];
  }

  recentTransactions(filter: TransactionFilter): LoggedTransaction[] {
    this.filters.push(filter);
    return [TRANSACTION];
  }

  ready(): boolean {
    return this.isReady;
  }

  async close(): Promise<void> {}
}
