/**
 * Who each instrument is, confirmed: identity fields are read until two reads agree (ProPar has no
 * checksum), a polled or read value that differs from the confirmed one is read again before it is
 * adopted, and a capacity-bound write gets the capacity read first when it is missing. What is
 * confirmed goes through `Registry.setIdentity`.
 */
import { Priority, type ParamReading, type ParamResult } from '../../bus/index.js';
import { forChannel, paramByDde, type ParamDef } from '../../params/index.js';
import type { Logger } from '../../shared/index.js';
import { FLUID_FIELDS, IDENTITY_FIELD_BY_DDE, IDENTITY_PARAMS, jsonValue, setIdentityField, type InstrumentIdentity } from '../views.js';
import { readAgreed, type PlainValue } from './agree.js';
import type { MasterOptions } from './options.js';
import type { IdentityField, Instrument, Registry } from './registry.js';

export class IdentityReader {
  constructor(
    private readonly registry: Registry,
    private readonly options: MasterOptions,
    private readonly log: Logger,
  ) {}

  /**
   * Reads identity fields (by default every one) until two reads agree on each, and applies what
   * they agreed on. A field without agreement keeps what was confirmed before, or stays absent and
   * is read again from the poll loop. `seed`: answers already in hand, each counting as one read.
   */
  async read(inst: Instrument, fields: readonly IdentityField[] = IDENTITY_PARAMS.map(([f]) => f), seed?: ReadonlyMap<number, readonly PlainValue[]>): Promise<IdentityField[]> {
    inst.identityTriedAt = Date.now();
    const wanted = IDENTITY_PARAMS.filter(([field]) => fields.includes(field));
    const defs = wanted.map(([, dde]) => forChannel(paramByDde(dde) as ParamDef, inst.channel));
    const got = await readAgreed(inst.handle.client, inst.node, defs, {
      priority: Priority.Scan,
      purpose: 'scan',
      attempts: this.options.agreeAttempts,
      ...(seed ? { seed } : {}),
    });
    const next: InstrumentIdentity = {};
    for (const [field, dde] of wanted) {
      const v = got.values.get(dde);
      if (v !== undefined) setIdentityField(next, field, field === 'capacity' || field === 'channels' ? Number(v) : String(v));
      if (got.lacking.has(dde)) inst.lacks.add(field);
      if (v !== undefined) inst.unread.delete(field);
      else inst.unread.set(field, lastFailure(got.reads, dde) ?? `no two of ${got.reads.length} reads agreed`);
    }
    const last = got.reads.at(-1);
    if (last) this.note(inst, last, false);
    return this.registry.setIdentity(inst, next);
  }

  /**
   * What a read's results say (online or offline, `Registry.note`); an identity value among them
   * that differs from the confirmed one is checked by reading it again (`watchIdentity`), never
   * taken as is. Returns the readings that answered.
   */
  note(inst: Instrument, results: readonly ParamResult[], watchIdentity = true): ParamReading[] {
    const ok = this.registry.note(inst, results);
    if (watchIdentity && ok.length > 0) this.suspect(inst, ok);
    return ok;
  }

  /**
   * A read (a poll, a client's read) gave an identity value other than the confirmed one: a change
   * at the instrument, or a garbled reply. It counts as one read; the field is read again, and
   * adopted only when another read agrees with it (the fluid's name, capacity and unit together).
   */
  private suspect(inst: Instrument, ok: readonly ParamReading[]): void {
    for (const r of ok) {
      const field = IDENTITY_FIELD_BY_DDE.get(r.param.dde);
      if (!field || r.cached) continue;
      const v = jsonValue(r.value);
      // Compared as the identity keeps it (the ID string without its device type byte).
      const asKept: InstrumentIdentity = {};
      setIdentityField(asKept, field, v);
      if (inst.identity[field] !== asKept[field]) inst.suspect.set(field, v);
    }
    if (inst.suspect.size === 0 || inst.confirming) return;
    inst.confirming = this.confirm(inst)
      .catch((err: unknown) => this.log.debug({ err, instrument: inst.id }, 'identity check dropped; the next differing read starts another'))
      .finally(() => {
        inst.confirming = undefined;
      });
  }

  private async confirm(inst: Instrument): Promise<void> {
    // One pass over what is suspect now; a value that turns up later starts another pass.
    const suspect = new Map(inst.suspect);
    inst.suspect.clear();
    const fields = new Set(suspect.keys());
    if ([...fields].some((f) => FLUID_FIELDS.includes(f))) for (const f of FLUID_FIELDS) fields.add(f);
    const seed = new Map<number, PlainValue[]>();
    for (const [field, dde] of IDENTITY_PARAMS) {
      const known = [suspect.get(field), inst.identity[field]].filter((v): v is PlainValue => v !== undefined);
      if (known.length > 0) seed.set(dde, known);
    }
    await this.read(inst, [...fields], seed);
  }

  /**
   * The identity with the capacity for a capacity-bound write: as discovery (or the polls) confirmed
   * it, or read now (twice alike) when it is missing: a reply lost during discovery, a fluid set
   * changed since. The caller refuses with PARAM_CAPACITY_UNKNOWN when it is still unknown: such a
   * write is never sent unchecked.
   */
  async knownCapacity(inst: Instrument): Promise<{ identity: InstrumentIdentity; why?: string }> {
    if (inst.identity.capacity !== undefined && inst.identity.capacity > 0) return { identity: inst.identity };
    let why: string | undefined;
    await this.read(inst, ['capacity', 'capacityUnit']).catch((err: unknown) => {
      why = err instanceof Error ? err.message : String(err);
    });
    if (inst.identity.capacity !== undefined && inst.identity.capacity > 0) return { identity: inst.identity };
    return { identity: inst.identity, why: `reading it failed: ${why ?? inst.unread.get('capacity') ?? 'no answer'}` };
  }
}

/** The error of the last read of `dde` that failed, if any. */
function lastFailure(reads: readonly (readonly ParamResult[])[], dde: number): string | undefined {
  for (let i = reads.length - 1; i >= 0; i--) {
    const r = reads[i]?.find((x) => (x.ok ? x.reading.param.dde : x.param.dde) === dde);
    if (r && !r.ok) return r.error.message;
  }
  return undefined;
}
