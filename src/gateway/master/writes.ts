/**
 * Writes of one parameter: checked (who may write what, the instrument's range), sent, read back,
 * and the identity they change read again before the answer. Each write is a `write` event,
 * accepted or refused; refusals are logged rate-limited (the event is not, the hub bounds it).
 */
import { BusError, Priority, type ParamReading, type TransactionRecord } from '../../bus/index.js';
import { statusInfo } from '../../codec/index.js';
import { resolveParam, validateValue, type InstrumentRange, type ParamDef } from '../../params/index.js';
import { clip, GatewayError, RefusalLimiter, type Logger } from '../../shared/index.js';
import type { GatewayEvents } from '../events.js';
import type { WriteResult } from '../service.js';
import { IDENTITY_FIELD_BY_DDE, identityAfterWrite, jsonValue } from '../views.js';
import { capacityRange, isCapacityBound, refuseUnwritable, writeValidation } from '../write-checks.js';
import type { PlainValue } from './agree.js';
import type { IdentityReader } from './identity.js';
import type { MasterOptions } from './options.js';
import type { Instrument, Registry } from './registry.js';

/** Writes after which the capacity may differ: fluidset index, capacity, capacity unit. */
const CAPACITY_SOURCES: ReadonlySet<number> = new Set([24, 21, 129]);

export class Writer {
  /** Refused writes: each client host and code in full once a minute, the rest counted. Accepted writes are logged one by one. */
  private readonly refusals: RefusalLimiter;

  constructor(
    private readonly options: MasterOptions,
    private readonly registry: Registry,
    private readonly identity: IdentityReader,
    private readonly events: GatewayEvents,
    private readonly log: Logger,
  ) {
    this.refusals = new RefusalLimiter(log.child({ write: true }));
  }

  async write(ref: string, name: string, value: unknown, ctx: { source: string }): Promise<WriteResult> {
    const log = this.log.child({ write: true, source: ctx.source });
    let param: ParamDef | undefined;
    let inst: Instrument | undefined;
    try {
      inst = this.registry.find(ref);
      param = resolveParam(name);
      refuseUnwritable(param, this.options.secured, 'set "secured: true" in the config');
      let range: InstrumentRange | undefined;
      if (isCapacityBound(param)) {
        const known = await this.identity.knownCapacity(inst);
        range = capacityRange(param, known.identity, known.why);
      }
      const v = validateValue(param, value, writeValidation(param, inst.handle.client, range));
      const written = v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v;
      let record: TransactionRecord;
      try {
        record = await inst.handle.client.write(inst.node, [{ param, value: v }], { unlock: param.secured });
      } catch (err) {
        // Name what was refused: a status INDEX ("at index 7") means nothing to the person writing.
        if (err instanceof BusError && err.failure.kind === 'status') {
          const st = statusInfo(err.failure.status);
          throw new GatewayError(
            'BUS_STATUS',
            `node ${inst.node} refused ${param.key} = ${String(written)}: status ${err.failure.status} ${st.key} (${st.message})`,
            { ...err.details, param: param.key, dde: param.dde, value: written },
          );
        }
        throw err;
      }
      // A new fluid set or calibration changes the capacity: the old one is forgotten before it is read
      // again (below), so that should the new one not be confirmed, the next setpoint reads it first
      // instead of being checked against the old one.
      if (CAPACITY_SOURCES.has(param.dde)) this.registry.forget(inst, ['capacity']);
      let readBack: ParamReading | undefined;
      if (param.read) {
        const [r] = await inst.handle.client.read(inst.node, [param], { priority: Priority.Write, purpose: 'read-back' });
        if (r?.ok) readBack = r.reading;
      }
      if (readBack) this.registry.emitValues(inst, 'read-back', [readBack]);
      // A write of an identity parameter (user tag, capacity, the fluidset: fluid, capacity and unit) changes
      // the identity: read what it affects again, confirmed, before answering. The read-back counts as one read.
      const affected = identityAfterWrite(param.dde);
      if (affected.length > 0) {
        const seed = new Map<number, PlainValue[]>(readBack && IDENTITY_FIELD_BY_DDE.has(param.dde) ? [[param.dde, [jsonValue(readBack.value)]]] : []);
        const target = inst;
        const changed = await this.identity.read(inst, affected, seed).catch((err: unknown) => {
          log.debug({ err, instrument: target.id, affected }, 'identity re-read after the write failed; the poll loop reads it again');
          return [];
        });
        if (changed.length > 0) log.info({ instrument: inst.id, changed, identity: inst.identity }, `identity of ${inst.id} changed: ${changed.join(', ')}`);
      }
      const readBackView = readBack ? this.registry.valueView(inst, readBack) : undefined;
      log.info({ instrument: inst.id, param: param.key, dde: param.dde, value: written, readBack: readBackView?.value, transaction: record.id }, `write ${inst.id} ${param.key}=${String(written)} from ${ctx.source}`);
      if (this.events.listened('write')) {
        this.events.emit('write', {
          instrument: inst.id,
          param: param.key,
          dde: param.dde,
          value: written,
          source: ctx.source,
          result: 'accepted',
          transactionId: record.id,
          ...(readBackView ? { readBack: readBackView.value } : {}),
        });
      }
      return {
        instrument: inst.id,
        param: { dde: param.dde, key: param.key, name: param.name },
        written,
        status: { code: 0, name: statusInfo(0).key },
        ...(readBackView ? { readBack: readBackView } : {}),
        transactionId: record.id,
      };
    } catch (err) {
      const e = err instanceof GatewayError ? err : new GatewayError('GATEWAY_INTERNAL', String(err));
      const shown = { param: param?.key ?? clip(name), value: loggedValue(value) };
      this.refusals.refused(ctx.source, e.code, () => log.warn({ instrument: clip(ref), ...shown, code: e.code }, `write refused: ${clip(e.message, 500)} (from ${ctx.source})`));
      if (this.events.listened('write')) {
        this.events.emit('write', {
          instrument: inst?.id ?? clip(ref),
          ...shown,
          ...(param ? { dde: param.dde } : {}),
          source: clip(ctx.source),
          result: 'refused',
          code: e.code,
          message: clip(e.message, 500),
        });
      }
      throw e;
    }
  }

  close(): void {
    this.refusals.close();
  }
}

/** A written value as the log shows it: numbers as they are, anything else as bounded text. */
function loggedValue(v: unknown): unknown {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
  if (typeof v === 'string') return clip(v);
  try {
    return clip(JSON.stringify(v) ?? String(v));
  } catch {
    return clip(String(v));
  }
}
