/**
 * Writes of one parameter: checked (who may write what, the instrument's range), sent, read back,
 * and the identity they change read again before the answer. Each write is a `write` event,
 * accepted or refused; refusals are logged rate-limited (the event is not, the hub bounds it).
 */
import { BusError, Priority, type ParamReading, type TransactionRecord } from '../../bus/index.js';
import { statusInfo } from '../../codec/index.js';
import { forChannel, resolveParam, type ParamDef } from '../../params/index.js';
import { clip, GatewayError, RefusalLimiter, type Logger } from '../../shared/index.js';
import type { GatewayEvents } from '../events.js';
import type { MultiWriteResult, WriteContext, WriteInput, WriteResult } from '../service.js';
import { isScaled } from '../units.js';
import { IDENTITY_FIELD_BY_DDE, identityAfterWrite, jsonValue } from '../views.js';
import { checkedValue, isCapacityBound, refuseUnwritable } from '../write-checks.js';
import { CAPACITY_SOURCES, planWrites, sendChunks, type PreparedWrite, type WriteProblem } from '../write-plan.js';
import type { PlainValue } from './agree.js';
import type { IdentityReader } from './identity.js';
import type { MasterOptions } from './options.js';
import type { Instrument, Registry } from './registry.js';

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

  /**
   * Checks one value to write: who may write it, its unit (percent or the capacity unit, turned
   * into the parameter's own scale), and the instrument's range. Sets `seen.param` as soon as the
   * parameter is known, for the refusal's event.
   */
  private async prepare(inst: Instrument, name: string, value: unknown, unit: string | undefined, seen: { param?: ParamDef }): Promise<PreparedWrite> {
    // A channel's own parameters are at its process numbers; the instrument's (process 0, 113...) are shared.
    const param = forChannel(resolveParam(name), inst.channel);
    seen.param = param;
    refuseUnwritable(param, this.options.secured, 'set "secured: true" in the config');
    let identity = inst.identity;
    let why: string | undefined;
    if (isCapacityBound(param) || (unit !== undefined && isScaled(param))) {
      const known = await this.identity.knownCapacity(inst);
      identity = known.identity;
      why = known.why;
    }
    const v = checkedValue(param, value, unit, identity, inst.handle.client, why);
    return { param, value: v, written: v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v };
  }

  async write(ref: string, name: string, value: unknown, ctx: WriteContext): Promise<WriteResult> {
    const log = this.log.child({ write: true, source: ctx.source });
    const seen: { param?: ParamDef } = {};
    let param: ParamDef | undefined;
    let inst: Instrument | undefined;
    try {
      inst = this.registry.find(ref);
      refuseWhileBusy(inst);
      const prepared = await this.prepare(inst, name, value, ctx.unit, seen);
      param = prepared.param;
      const v = prepared.value;
      const written = prepared.written;
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
      param ??= seen.param;
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

  /**
   * Writes several parameters of one instrument: every value is checked first, and any refusal
   * refuses them all (PARAM_WRITE_REFUSED listing each problem; nothing is written). The values
   * go out as chained writes, as few as `maxRequestBytes` allows, in the order given; a request
   * holding a secured parameter is wrapped in Init Reset 64 ... 82. Then one chained read back.
   */
  async writeMany(ref: string, inputs: Readonly<Record<string, WriteInput>>, ctx: { source: string }): Promise<MultiWriteResult> {
    const log = this.log.child({ write: true, source: ctx.source });
    const inst = this.registry.find(ref);
    refuseWhileBusy(inst);
    let prepared: PreparedWrite[];
    try {
      prepared = await planWrites(inputs, (name, value, unit, seen) => this.prepare(inst, name, value, unit, seen));
    } catch (err) {
      const problems = err instanceof GatewayError ? ((err.details.problems as WriteProblem[] | undefined) ?? []) : [];
      if (err instanceof GatewayError && problems.length > 0) {
        this.refusals.refused(ctx.source, err.code, () => log.warn({ instrument: inst.id, problems: problems.map((p) => ({ param: p.param, code: p.code })) }, `write refused: ${clip(err.message, 500)} (from ${ctx.source})`));
        if (this.events.listened('write')) {
          for (const p of problems) {
            this.events.emit('write', { instrument: inst.id, param: p.param, value: loggedValue(inputs[p.param]), source: clip(ctx.source), result: 'refused', code: p.code as GatewayError['code'], message: clip(p.message, 500) });
          }
        }
      }
      throw err;
    }
    const chunks = inst.handle.client.packWrites(prepared.map((p) => ({ param: p.param, value: p.value })));
    let sent: Awaited<ReturnType<typeof sendChunks>>;
    try {
      sent = await sendChunks(inst.node, prepared, chunks, (chunk) => inst.handle.client.write(inst.node, chunk.values, { unlock: chunk.unlock }));
    } catch (err) {
      const e = err as GatewayError;
      log.warn({ instrument: inst.id, written: e.details.written, failed: e.details.failed, notSent: e.details.notSent, code: e.code }, e.message);
      throw err;
    }
    const { transactionIds, txOf } = sent;
    for (const p of prepared) if (CAPACITY_SOURCES.has(p.param.dde)) this.registry.forget(inst, ['capacity']);
    const readable = prepared.filter((p) => p.param.read).map((p) => p.param);
    const readBack = new Map<number, ParamReading>();
    if (readable.length > 0) {
      const results = await inst.handle.client.read(inst.node, readable, { priority: Priority.Write, purpose: 'read-back' });
      for (const r of results) if (r.ok) readBack.set(r.reading.param.dde, r.reading);
      this.registry.emitValues(inst, 'read-back', [...readBack.values()]);
    }
    const affected = [...new Set(prepared.flatMap((p) => identityAfterWrite(p.param.dde)))];
    if (affected.length > 0) {
      const seed = new Map<number, PlainValue[]>([...readBack.values()].filter((r) => IDENTITY_FIELD_BY_DDE.has(r.param.dde)).map((r) => [r.param.dde, [jsonValue(r.value)]]));
      const changed = await this.identity.read(inst, affected, seed).catch((err: unknown) => {
        log.debug({ err, instrument: inst.id, affected }, 'identity re-read after the write failed; the poll loop reads it again');
        return [];
      });
      if (changed.length > 0) log.info({ instrument: inst.id, changed, identity: inst.identity }, `identity of ${inst.id} changed: ${changed.join(', ')}`);
    }
    const parameters: MultiWriteResult['parameters'] = {};
    for (const p of prepared) {
      const r = readBack.get(p.param.dde);
      const view = r ? this.registry.valueView(inst, r) : undefined;
      const transactionId = txOf.get(p.param.dde) as string;
      parameters[p.param.key] = {
        param: { dde: p.param.dde, key: p.param.key, name: p.param.name },
        written: p.written,
        status: { code: 0, name: statusInfo(0).key },
        ...(view ? { readBack: view } : {}),
        transactionId,
      };
      if (this.events.listened('write')) {
        this.events.emit('write', { instrument: inst.id, param: p.param.key, dde: p.param.dde, value: p.written, source: ctx.source, result: 'accepted', transactionId, ...(view ? { readBack: view.value } : {}) });
      }
    }
    log.info(
      { instrument: inst.id, values: Object.fromEntries(prepared.map((p) => [p.param.key, p.written])), transactions: transactionIds },
      `write ${inst.id} ${prepared.map((p) => `${p.param.key}=${String(p.written)}`).join(' ')} from ${ctx.source} (${transactionIds.length} request${transactionIds.length === 1 ? '' : 's'})`,
    );
    return { instrument: inst.id, parameters, transactionIds };
  }

  close(): void {
    this.refusals.close();
  }
}

/** A write while the gateway lists the instrument's fluid sets (each selected in turn) would meet another fluid: refused. */
function refuseWhileBusy(inst: Instrument): void {
  if (inst.busy) throw new GatewayError('GATEWAY_FLUID_BUSY', `${inst.id} is busy ${inst.busy}; write again when it is done`, { instrument: inst.id });
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
