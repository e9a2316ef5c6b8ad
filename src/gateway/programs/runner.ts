/**
 * Setpoint programs: hold, ramp and wait steps on one or several instruments in lock-step, each
 * write through the gateway's one validated write path (`writeParam`, fSetpoint in the capacity
 * unit). Abort, a failed step or an instrument going offline puts every instrument of the program
 * into its safe state at once. The state is kept in a file so that a restart resumes, holds or
 * ends each program in the safe state, as it asks; each state change is a `program` event.
 */
import { errorLine, GatewayError, newId, silentLogger, type ErrorCode, type Logger } from '../../shared/index.js';
import type { ProgramChange, ProgramRecord, ProgramState, ProgramView } from './view.js';
import type { GatewayService } from '../service.js';
import { noProgramFile, type ProgramFile } from './file.js';
import { DEFAULT_PROGRAM_DEFAULTS, DEFAULT_PROGRAM_LIMITS, parseProgram, type ProgramDefaults, type ProgramLimits, type ProgramSpec, type SafeState, type StepSpec } from './spec.js';

const ACTIVE: ReadonlySet<ProgramState> = new Set(['running', 'paused', 'held']);
/** A setpoint may go to 102.4 % of the capacity (32767 of 32000), as write-checks.ts allows. */
const SETPOINT_MAX_FRACTION = 32767 / 32000;
/** Setpoint slope (DDE 10): 0.1 s units for 0..100 %, at most 30000. */
const SLOPE_MAX = 30000;
/** A slope is used only when its rounding changes the ramp's duration by at most this fraction. */
const SLOPE_ROUNDING = 0.01;
const CONTROL_MODE_VALVE_CLOSED = 3;
/** How often a wait step reads the measure, ms. */
const WAIT_READ_MS = 200;
/** How often a running step's progress is saved (besides each step change), ms. */
const SAVE_EVERY_MS = 1000;

export interface ProgramsOptions {
  readonly limits?: Partial<ProgramLimits>;
  readonly defaults?: Partial<ProgramDefaults>;
  readonly file?: ProgramFile;
  readonly logger?: Logger;
  /** How long a restored program waits for its instruments to come online, ms. */
  readonly restoreWaitMs?: number;
  /** Ended programs kept for GET /programs. */
  readonly keepEnded?: number;
}

interface Member {
  readonly ref: string;
  readonly id: string;
  readonly safe: SafeState;
  readonly capacity: number;
  readonly unit: string | null;
  readonly follow?: { readonly of: string; readonly ratio: number };
  /** The setpoint slope may be non-zero (set by a ramp, or found so): cleared before a hold and the safe state. */
  slopeSet: boolean;
  /** The instrument answers its setpoint slope (DDE 10). */
  hasSlope: boolean;
}

class Stop extends Error {}

export class Programs {
  private readonly runs = new Map<string, ProgramRun>();
  /** Instruments of programs being checked and started (their setpoints being read). */
  private readonly starting = new Set<string>();
  readonly limits: ProgramLimits;
  readonly defaults: ProgramDefaults;
  private readonly file: ProgramFile;
  readonly log: Logger;
  private readonly offEvents: () => void;
  private closed = false;

  constructor(
    readonly service: GatewayService,
    private readonly options: ProgramsOptions = {},
  ) {
    this.limits = { ...DEFAULT_PROGRAM_LIMITS, ...options.limits };
    this.defaults = { ...DEFAULT_PROGRAM_DEFAULTS, ...options.defaults };
    this.file = options.file ?? noProgramFile;
    this.log = (options.logger ?? silentLogger).child({ programs: true });
    this.offEvents = service.events.on(
      'instrument',
      (e) => {
        if (e.kind !== 'offline') return;
        for (const run of this.runs.values()) run.instrumentLost(e.instrument, e.reason?.message ?? 'offline');
      },
      { name: 'programs' },
    );
  }

  /** Checks a program in full, then starts it. */
  async start(input: unknown, source: string): Promise<ProgramView> {
    if (this.service.mode === 'bridge') throw new GatewayError('BRIDGE_READ_ONLY', 'the gateway runs as a passive bridge: it runs no programs', {});
    const spec = parseProgram(input, this.limits, this.defaults);
    const members = this.checkInstruments(spec);
    const ids = members.map((m) => m.id);
    for (const id of ids) this.starting.add(id);
    // Where each instrument's setpoint is now: the start of a first ramp.
    const targets: Record<string, number | null> = {};
    try {
      for (const m of members) {
        const now = await this.readState(m.id);
        targets[m.id] = now.setpoint;
        m.hasSlope = now.slope !== undefined;
        // A slope left on the instrument would smooth every setpoint of the program: cleared by the first step.
        m.slopeSet = (now.slope ?? 0) > 0;
      }
    } finally {
      for (const id of ids) this.starting.delete(id);
    }
    if (spec.ramp === 'slope' && spec.steps.some((st) => st.type === 'ramp')) {
      const without = members.filter((m) => !m.hasSlope).map((m) => m.id);
      if (without.length > 0) throw new GatewayError('GATEWAY_PROGRAM_INVALID', `ramp: slope, but ${without.join(', ')} ${without.length > 1 ? 'have' : 'has'} no setpoint slope (DDE 10) to read`, { field: 'ramp', instruments: without });
    }
    const record: ProgramRecord = { id: newId(), spec, state: 'running', createdAt: new Date().toISOString(), stepIndex: 0, stepElapsedMs: 0, targets };
    const run = new ProgramRun(this, record, members);
    this.runs.set(record.id, run);
    this.log.info({ program: record.id, name: spec.name, source, instruments: members.map((m) => m.id), steps: spec.steps.length }, `program ${record.id} (${spec.name}) started by ${source}`);
    run.launch('started');
    return run.view();
  }

  /** Validation against the instruments: known, online, capacity read, every setpoint within range, none in another active program. */
  private checkInstruments(spec: ProgramSpec): Member[] {
    const members = spec.instruments.map((i): Member => {
      const view = this.service.instrument(i.ref);
      if (!view.online) throw new GatewayError('GATEWAY_PROGRAM_OFFLINE', `${view.id} is offline${view.lastError ? ` (${view.lastError.message})` : ''}: a program starts only with every instrument online`, { instrument: view.id });
      const capacity = view.identity.capacity;
      if (capacity === undefined || !(capacity > 0)) {
        throw new GatewayError('PARAM_CAPACITY_UNKNOWN', `${view.id}: its capacity is not known, so its setpoints cannot be checked; try again when it answers`, { instrument: view.id });
      }
      return { ref: i.ref, id: view.id, safe: i.safe, capacity, unit: view.identity.capacityUnit?.trim() || null, slopeSet: false, hasSlope: false, ...(i.follow ? { follow: i.follow } : {}) };
    });
    const ids = members.map((m) => m.id);
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) throw new GatewayError('GATEWAY_PROGRAM_INVALID', `instruments[${i}]: ${id} is listed twice`, { field: `instruments[${i}]` });
    });
    const starting = ids.filter((id) => this.starting.has(id));
    if (starting.length > 0) throw new GatewayError('GATEWAY_PROGRAM_BUSY', `${starting.join(', ')} ${starting.length > 1 ? 'are' : 'is'} in a program being started`, { instruments: starting });
    for (const run of this.runs.values()) {
      if (!run.active) continue;
      const shared = run.instrumentIds().filter((id) => ids.includes(id));
      if (shared.length > 0) throw new GatewayError('GATEWAY_PROGRAM_BUSY', `${shared.join(', ')} ${shared.length > 1 ? 'are' : 'is'} in program ${run.record.id} (${run.record.spec.name}); abort it first`, { program: run.record.id, instruments: shared });
    }
    // Each step's setpoint of each instrument (a follower's is its leader's times the ratio) within 0..102.4 % of its capacity.
    const byRef = new Map(members.map((m) => [m.ref, m]));
    spec.steps.forEach((step, s) => {
      if (step.type === 'wait') return;
      for (const [ref, value] of Object.entries(step.values)) {
        const leader = byRef.get(ref) as Member;
        for (const m of [leader, ...members.filter((x) => x.follow?.of === ref)]) {
          const v = m === leader ? value : value * (m.follow?.ratio ?? 1);
          const max = Number((m.capacity * SETPOINT_MAX_FRACTION).toPrecision(6));
          if (v > max) {
            const what = m === leader ? `${v}` : `${v} (${value} of ${leader.id} times ${m.follow?.ratio})`;
            throw new GatewayError('PARAM_INVALID_VALUE', `steps[${s}].values.${ref}: ${m.id} cannot take ${what}: its capacity is ${m.capacity}${m.unit ? ` ${m.unit}` : ''}, a setpoint goes to ${max} at most`, {
              field: `steps[${s}].values.${ref}`,
              instrument: m.id,
              max,
            });
          }
        }
      }
    });
    return members;
  }

  /** The instrument's setpoint now, and its setpoint slope (undefined when it has none or it cannot be read). */
  async readState(id: string): Promise<{ setpoint: number | null; slope: number | undefined }> {
    const r = await this.service.readParams(id, ['fSetpoint', 'setpointSlope'], {});
    const [sp, slope] = r.values;
    if (sp && 'error' in sp) throw new GatewayError(sp.error.code, `${id}: the setpoint cannot be read: ${sp.error.message}`, sp.error.details);
    return { setpoint: sp && typeof sp.value === 'number' ? sp.value : null, slope: slope && 'value' in slope && typeof slope.value === 'number' ? slope.value : undefined };
  }

  list(): ProgramView[] {
    return [...this.runs.values()].map((r) => r.view());
  }

  get(id: string): ProgramView {
    return this.find(id).view();
  }

  private find(id: string): ProgramRun {
    const run = this.runs.get(id);
    if (!run) throw new GatewayError('GATEWAY_PROGRAM_UNKNOWN', `no program ${JSON.stringify(id.slice(0, 64))}`, { program: id.slice(0, 64) });
    return run;
  }

  pause(id: string, source: string): ProgramView {
    return this.find(id).pause(source);
  }

  resume(id: string, source: string): ProgramView {
    return this.find(id).resume(source);
  }

  /** Aborts and puts every instrument into its safe state; resolves when the safe writes are answered. */
  async abort(id: string, source: string): Promise<ProgramView> {
    return this.find(id).abort(source);
  }

  /** The records to keep in the file: every active program, and the latest ended ones. */
  records(): ProgramRecord[] {
    const all = [...this.runs.values()].map((r) => r.record);
    const ended = all.filter((r) => !ACTIVE.has(r.state));
    const keep = this.options.keepEnded ?? 20;
    const drop = new Set(ended.slice(0, Math.max(0, ended.length - keep)).map((r) => r.id));
    for (const id of drop) this.runs.delete(id);
    return all.filter((r) => !drop.has(r.id));
  }

  save(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.file.save(this.records()).catch((err: unknown) => this.log.warn({ err: errorLine(err) }, 'the programs state file cannot be written'));
  }

  emit(run: ProgramRun, change: ProgramChange): void {
    this.service.events.emit('program', { ...run.view(), change });
  }

  /**
   * Loads the state file and acts on each program that was active: resume, hold or safe as it asks.
   * Never silent: each gets a log line and a `program` event.
   */
  async restore(): Promise<void> {
    let records: ProgramRecord[];
    try {
      records = await this.file.load();
    } catch (err) {
      this.log.error({ err: errorLine(err) }, 'the programs state file cannot be read: programs of the last run are not restored');
      return;
    }
    const waits: Promise<void>[] = [];
    for (const rec of records) {
      const wasActive = ACTIVE.has(rec.state);
      const members = rec.spec.instruments.map((i): Member => {
        let id = i.ref;
        let capacity = 0;
        let unit: string | null = null;
        try {
          const v = this.service.instrument(i.ref);
          id = v.id;
          capacity = v.identity.capacity ?? 0;
          unit = v.identity.capacityUnit?.trim() || null;
        } catch {
          // Not discovered yet: the id as written in the program; the restore waits for it below.
          id = Object.keys(rec.targets)[rec.spec.instruments.indexOf(i)] ?? i.ref;
        }
        return { ref: i.ref, id, safe: i.safe, capacity, unit, slopeSet: false, hasSlope: false, ...(i.follow ? { follow: i.follow } : {}) };
      });
      const run = new ProgramRun(this, rec, members);
      this.runs.set(rec.id, run);
      if (!wasActive) continue;
      waits.push(run.restored(this.options.restoreWaitMs ?? 30_000));
    }
    await Promise.all(waits);
    await this.save();
  }

  /** Waits until every instrument of `ids` is online (true), or `ms` passed (false). */
  async online(ids: readonly string[], ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    for (;;) {
      const ok = ids.every((id) => {
        try {
          const v = this.service.instrument(id);
          return v.online && (v.identity.capacity ?? 0) > 0;
        } catch {
          return false;
        }
      });
      if (ok || this.closed) return ok;
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops the programs' loops without touching the instruments: a restart acts on them as each asks. */
  async close(): Promise<void> {
    for (const run of this.runs.values()) run.detach();
    await this.file.save(this.records()).catch((err: unknown) => this.log.warn({ err: errorLine(err) }, 'the programs state file cannot be written'));
    this.closed = true;
    this.offEvents();
  }
}

export class ProgramRun {
  private wakeUp: () => void = () => undefined;
  private wakeP: Promise<void>;
  /** Performance time the current step began running since the last pause (undefined while not running). */
  private runningSince: number | undefined;
  private detached = false;
  private safePromise: Promise<void> | undefined;
  private lastSave = 0;
  private stepRamp: 'stepped' | 'slope' | undefined;

  constructor(
    private readonly owner: Programs,
    readonly record: ProgramRecord,
    private readonly members: Member[],
  ) {
    this.wakeP = this.newWake();
  }

  get active(): boolean {
    return ACTIVE.has(this.record.state);
  }

  instrumentIds(): string[] {
    return this.members.map((m) => m.id);
  }

  private newWake(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wakeUp = resolve;
    });
  }

  private wake(): void {
    this.wakeUp();
    this.wakeP = this.newWake();
  }

  private get log(): Logger {
    return this.owner.log.child({ program: this.record.id });
  }

  elapsedMs(): number {
    return this.record.stepElapsedMs + (this.runningSince === undefined ? 0 : performance.now() - this.runningSince);
  }

  view(): ProgramView {
    const r = this.record;
    const step = r.spec.steps[r.stepIndex];
    const elapsed = this.elapsedMs();
    const length = step ? (step.type === 'wait' ? step.timeout : step.seconds) * 1000 : 0;
    return {
      id: r.id,
      name: r.spec.name,
      state: r.state,
      createdAt: r.createdAt,
      ...(r.endedAt ? { endedAt: r.endedAt } : {}),
      onRestart: r.spec.onRestart,
      steps: r.spec.steps.length,
      step:
        step && this.active
          ? { index: r.stepIndex, type: step.type, elapsedMs: Math.round(elapsed), timeLeftMs: Math.max(0, Math.round(length - elapsed)), ...(this.stepRamp && step.type === 'ramp' ? { ramp: this.stepRamp } : {}) }
          : null,
      instruments: this.members.map((m) => ({ id: m.id, target: r.targets[m.id] ?? null, unit: m.unit, safe: m.safe, ...(m.follow ? { follow: m.follow } : {}) })),
      ...(r.reason ? { reason: r.reason } : {}),
      ...(r.safe ? { safe: r.safe } : {}),
    };
  }

  launch(change: ProgramChange): void {
    if (this.record.state === 'running') this.runningSince = performance.now();
    this.owner.emit(this, change);
    void this.owner.save();
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      const steps = this.record.spec.steps;
      while (this.record.stepIndex < steps.length) {
        const step = steps[this.record.stepIndex] as StepSpec;
        await this.runStep(step);
        this.check();
        if (this.record.stepIndex + 1 >= steps.length) break;
        this.record.stepIndex++;
        this.record.stepElapsedMs = 0;
        this.stepRamp = undefined;
        if (this.runningSince !== undefined) this.runningSince = performance.now();
        this.owner.emit(this, 'step');
        await this.owner.save();
      }
      this.check();
      await this.clearSlopes();
      this.end('completed');
      this.log.info(`program ${this.record.id} (${this.record.spec.name}) completed`);
      this.owner.emit(this, 'completed');
      await this.owner.save();
    } catch (err) {
      if (err instanceof Stop || this.detached) return;
      const e = err instanceof GatewayError ? err : new GatewayError('GATEWAY_INTERNAL', String(err));
      await this.fail(e.code, e.message);
    }
  }

  /** Throws Stop once the program ended (abort, failure) or the runner closed. */
  private check(): void {
    if (this.detached || !this.active) throw new Stop();
  }

  /** Waits until running (not paused), then returns; throws Stop when it ended. */
  private async whileRunning(): Promise<void> {
    for (;;) {
      this.check();
      if (this.record.state === 'running') return;
      await this.wakeP;
    }
  }

  /** Sleeps `ms` of wall time, or until something changes (pause, abort). */
  private async sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.wakeP, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, ms))))]);
    clearTimeout(timer);
    this.check();
    if (performance.now() - this.lastSave > SAVE_EVERY_MS && this.record.state === 'running') {
      this.lastSave = performance.now();
      void this.owner.save();
    }
  }

  private member(ref: string): Member {
    return this.members.find((m) => m.ref === ref) as Member;
  }

  /** The targets a step's values give: named leaders, and their followers times the ratio. */
  private targetsFor(values: Readonly<Record<string, number>>): Map<Member, number> {
    const out = new Map<Member, number>();
    for (const [ref, v] of Object.entries(values)) {
      const leader = this.member(ref);
      out.set(leader, v);
      for (const m of this.members) if (m.follow?.of === ref) out.set(m, round(v * m.follow.ratio));
    }
    return out;
  }

  private async write(m: Member, param: string, value: number): Promise<void> {
    this.check();
    await this.owner.service.writeParam(m.id, param, value, { source: `program:${this.record.id}` });
    if (param === 'fSetpoint') this.record.targets[m.id] = value;
  }

  private async writeTargets(targets: Map<Member, number>): Promise<void> {
    await Promise.all([...targets].map(([m, v]) => this.write(m, 'fSetpoint', v)));
  }

  private async runStep(step: StepSpec): Promise<void> {
    await this.whileRunning();
    if (step.type === 'hold') {
      const targets = this.targetsFor(step.values);
      await this.clearSlopes([...targets.keys()]);
      await this.writeTargets(targets);
      await this.waitActive(step.seconds * 1000);
    } else if (step.type === 'ramp') {
      await this.ramp(step);
    } else {
      await this.waitStep(step);
    }
  }

  /** Waits until the step has run `ms` (pauses not counted). */
  private async waitActive(ms: number): Promise<void> {
    for (;;) {
      await this.whileRunning();
      const left = ms - this.elapsedMs();
      if (left <= 0) return;
      await this.sleep(Math.min(left, SAVE_EVERY_MS));
    }
  }

  private async ramp(step: Extract<StepSpec, { type: 'ramp' }>): Promise<void> {
    const total = step.seconds * 1000;
    const ends = this.targetsFor(step.values);
    for (;;) {
      await this.whileRunning();
      // The rest of the ramp, from where each target is now: after a pause or a restart it continues on from there.
      const e0 = this.elapsedMs();
      const left = total - e0;
      const from = new Map([...ends.keys()].map((m) => [m, this.record.targets[m.id] ?? 0]));
      const slopes = this.slopesFor(from, ends, left);
      if (slopes) {
        this.stepRamp = 'slope';
        await Promise.all([...slopes].map(([m, s]) => this.write(m, 'setpointSlope', s).then(() => (m.slopeSet = true))));
        // The targets shown follow the line the instrument ramps along.
        await Promise.all([...ends].map(([m, v]) => this.owner.service.writeParam(m.id, 'fSetpoint', v, { source: `program:${this.record.id}` })));
        while (this.elapsedMs() < total && this.record.state === 'running') {
          const frac = Math.min(1, (this.elapsedMs() - e0) / left);
          for (const [m, v] of ends) this.record.targets[m.id] = round((from.get(m) as number) + (v - (from.get(m) as number)) * frac);
          await this.sleep(Math.min(200, total - this.elapsedMs()));
        }
        if (this.record.state === 'paused') {
          // Freeze where the line is: slope off, that value held.
          await this.clearSlopes([...ends.keys()]);
          await Promise.all([...ends.keys()].map((m) => this.write(m, 'fSetpoint', this.record.targets[m.id] ?? 0)));
          continue;
        }
        for (const [m, v] of ends) this.record.targets[m.id] = v;
        return;
      }
      this.stepRamp = 'stepped';
      await this.clearSlopes([...ends.keys()]);
      const period = 1000 / this.record.spec.rate;
      let next = performance.now();
      for (;;) {
        if (this.record.state !== 'running') break;
        const e = this.elapsedMs();
        const frac = left <= 0 ? 1 : Math.min(1, (e - e0) / left);
        const values = new Map([...ends].map(([m, v]) => [m, round((from.get(m) as number) + (v - (from.get(m) as number)) * frac)] as const));
        await this.writeTargets(values);
        if (frac >= 1) return;
        // The next write at the next tick; a write that took longer than a tick is not caught up, the line is.
        next += period;
        const now = performance.now();
        if (next < now) next = now;
        await this.sleep(next - now);
      }
    }
  }

  /** Slope values that give the ramp (each instrument's own DDE 10), or undefined when stepped writes must do it. */
  private slopesFor(from: Map<Member, number>, ends: Map<Member, number>, leftMs: number): Map<Member, number> | undefined {
    const mode = this.record.spec.ramp;
    if (mode === 'stepped') return undefined;
    const out = new Map<Member, number>();
    for (const [m, to] of ends) {
      if (!m.hasSlope) return undefined;
      const delta = Math.abs(to - (from.get(m) as number));
      if (delta === 0) continue;
      // 0.1 s units for 0 -> 100 % of capacity.
      const exact = (leftMs / 100) * (m.capacity / delta);
      const s = Math.round(exact);
      const fits = s >= 1 && s <= SLOPE_MAX && Math.abs(s - exact) / exact <= SLOPE_ROUNDING;
      if (!fits) {
        if (mode === 'slope') throw new GatewayError('GATEWAY_PROGRAM_INVALID', `${m.id}: its setpoint slope cannot give this ramp (${round(exact)} x 0.1 s for 0..100 %; it takes 1..${SLOPE_MAX} in whole steps)`, { instrument: m.id });
        return undefined;
      }
      out.set(m, s);
    }
    return out.size > 0 ? out : undefined;
  }

  /** Setpoint slope back to 0 where a ramp set it, so that holds and the safe state take effect at once. */
  private async clearSlopes(of: readonly Member[] = this.members): Promise<void> {
    await Promise.all(
      of.filter((m) => m.slopeSet).map((m) =>
        this.write(m, 'setpointSlope', 0).then(() => {
          m.slopeSet = false;
        }),
      ),
    );
  }

  private async waitStep(step: Extract<StepSpec, { type: 'wait' }>): Promise<void> {
    let withinSince: number | undefined;
    for (;;) {
      await this.whileRunning();
      const e = this.elapsedMs();
      const reads = await Promise.all(
        this.members.map(async (m) => {
          const r = await this.owner.service.readParams(m.id, ['fMeasure'], { maxAge: WAIT_READ_MS });
          const v = r.values[0];
          if (v && 'error' in v) throw new GatewayError(v.error.code, `${m.id}: the measure cannot be read: ${v.error.message}`, v.error.details);
          return { m, value: v && typeof v.value === 'number' ? v.value : NaN };
        }),
      );
      this.check();
      const within = reads.every(({ m, value }) => {
        const target = this.record.targets[m.id];
        return target === null || target === undefined || Math.abs(value - target) <= step.tolerance;
      });
      if (within) withinSince ??= e;
      else withinSince = undefined;
      if (withinSince !== undefined && e - withinSince >= step.seconds * 1000) return;
      if (e >= step.timeout * 1000) {
        const off = reads.filter(({ m, value }) => !(Math.abs(value - (this.record.targets[m.id] ?? value)) <= step.tolerance)).map(({ m, value }) => `${m.id} measures ${round(value)}, target ${this.record.targets[m.id]}`);
        throw new GatewayError('GATEWAY_PROGRAM_WAIT_TIMEOUT', `step ${this.record.stepIndex} (wait): not within ${step.tolerance} of the setpoint for ${step.seconds} s within ${step.timeout} s${off.length > 0 ? `: ${off.join('; ')}` : ''}`, {
          step: this.record.stepIndex,
        });
      }
      await this.sleep(WAIT_READ_MS);
    }
  }

  private stopClock(): void {
    if (this.runningSince !== undefined) this.record.stepElapsedMs += performance.now() - this.runningSince;
    this.runningSince = undefined;
  }

  private end(state: 'completed' | 'failed' | 'aborted', reason?: { code: ErrorCode; message: string }): void {
    this.stopClock();
    this.record.state = state;
    this.record.endedAt = new Date().toISOString();
    if (reason) this.record.reason = reason;
    this.wake();
  }

  pause(source: string): ProgramView {
    if (this.record.state !== 'running') throw this.stateError('pause', ['running']);
    this.stopClock();
    this.record.state = 'paused';
    this.log.info({ source }, `program ${this.record.id} paused by ${source}`);
    this.wake();
    this.owner.emit(this, 'paused');
    void this.owner.save();
    return this.view();
  }

  resume(source: string): ProgramView {
    if (this.record.state !== 'paused' && this.record.state !== 'held') throw this.stateError('resume', ['paused', 'held']);
    const wasHeld = this.record.state === 'held';
    this.record.state = 'running';
    this.runningSince = performance.now();
    this.log.info({ source }, `program ${this.record.id} resumed by ${source}`);
    this.owner.emit(this, 'resumed');
    void this.owner.save();
    if (wasHeld) void this.loop();
    else this.wake();
    return this.view();
  }

  async abort(source: string): Promise<ProgramView> {
    if (!this.active) throw this.stateError('abort', ['running', 'paused', 'held']);
    this.log.warn({ source }, `program ${this.record.id} aborted by ${source}: every instrument to its safe state`);
    this.end('aborted', { code: 'GATEWAY_PROGRAM_ABORTED', message: `aborted by ${source}` });
    await this.toSafe();
    this.owner.emit(this, 'aborted');
    await this.owner.save();
    return this.view();
  }

  instrumentLost(id: string, why: string): void {
    if (!this.active || !this.members.some((m) => m.id === id)) return;
    void this.fail('GATEWAY_PROGRAM_OFFLINE', `${id} went offline (${why})`);
  }

  private async fail(code: ErrorCode, message: string): Promise<void> {
    if (!this.active) return;
    this.log.warn({ code }, `program ${this.record.id} (${this.record.spec.name}) failed at step ${this.record.stepIndex}: ${message}; every instrument to its safe state`);
    this.end('failed', { code, message });
    await this.toSafe();
    this.owner.emit(this, 'failed');
    await this.owner.save();
  }

  /** Every instrument to its safe state, all at once; failures are recorded, none stops the others. */
  private toSafe(): Promise<void> {
    this.safePromise ??= (async () => {
      const errors: { instrument: string; code: string; message: string }[] = [];
      const source = `program:${this.record.id}`;
      const svc = this.owner.service;
      await Promise.all(
        this.members.map(async (m) => {
          try {
            if (m.safe === 'valve-closed') {
              await svc.writeParam(m.id, 'controlMode', CONTROL_MODE_VALVE_CLOSED, { source });
            } else {
              // A slope left set would ramp down slowly: off first (both queued at once, in this order).
              const slope = m.slopeSet
                ? svc.writeParam(m.id, 'setpointSlope', 0, { source }).catch((err: unknown) => this.log.warn({ instrument: m.id, err: errorLine(err) }, `program ${this.record.id}: setpoint slope of ${m.id} not set back to 0; the setpoint 0 may ramp`))
                : undefined;
              const zero = svc.writeParam(m.id, 'fSetpoint', 0, { source });
              await Promise.all([slope, zero]);
              m.slopeSet = false;
              this.record.targets[m.id] = 0;
            }
          } catch (err) {
            const e = err instanceof GatewayError ? err : new GatewayError('GATEWAY_INTERNAL', String(err));
            errors.push({ instrument: m.id, code: e.code, message: e.message });
            this.log.error({ instrument: m.id, code: e.code }, `program ${this.record.id}: ${m.id} could not be put into its safe state (${m.safe}): ${e.message}`);
          }
        }),
      );
      this.record.safe = { applied: errors.length === 0, errors };
    })();
    return this.safePromise;
  }

  private stateError(what: string, allowed: readonly ProgramState[]): GatewayError {
    return new GatewayError('GATEWAY_PROGRAM_STATE', `program ${this.record.id} is ${this.record.state}; only a program that is ${allowed.join(' or ')} can ${what}`, { program: this.record.id, state: this.record.state });
  }

  /** The runner closes: the loop stops writing; the state stays as it is for the next start. */
  detach(): void {
    this.stopClock();
    this.detached = true;
    this.wake();
  }

  /** After a restart: acts as the program asks (resume, hold, safe), once its instruments are online. */
  async restored(waitMs: number): Promise<void> {
    const rec = this.record;
    const how = rec.spec.onRestart;
    const step = `step ${rec.stepIndex + 1} of ${rec.spec.steps.length}`;
    const online = await this.owner.online(this.instrumentIds(), waitMs);
    // Aborted by hand meanwhile: done.
    if (!this.active) return;
    if (online) {
      // The capacity, now that the instrument is known.
      for (const [i, m] of this.members.entries()) {
        const v = this.owner.service.instrument(m.ref);
        this.members[i] = { ...m, id: v.id, capacity: v.identity.capacity ?? m.capacity, unit: v.identity.capacityUnit?.trim() || m.unit };
      }
      // Each target as the instrument has it now (a ramp continues on from there).
      for (const m of this.members) {
        try {
          const now = await this.owner.readState(m.id);
          rec.targets[m.id] = now.setpoint;
          m.hasSlope = now.slope !== undefined;
          m.slopeSet = (now.slope ?? 0) > 0;
        } catch (err) {
          this.log.warn({ instrument: m.id, err: errorLine(err) }, 'setpoint not read after the restart; the last target written is used');
        }
      }
    } else {
      // Not known whether a ramp left a slope set: the safe state tries to clear it.
      for (const m of this.members) m.slopeSet = true;
    }
    if (how === 'safe' || !online) {
      const why = how === 'safe' ? 'the gateway restarted (onRestart: safe)' : `the gateway restarted and ${this.instrumentIds().join(', ')} did not come online within ${waitMs} ms`;
      this.log.warn(`program ${rec.id} (${rec.spec.name}) was ${rec.state} at ${step} when the gateway stopped: ${why}; every instrument to its safe state`);
      this.end('failed', { code: 'GATEWAY_PROGRAM_RESTARTED', message: why });
      await this.toSafe();
      this.owner.emit(this, 'restored');
      return;
    }
    if (how === 'hold' || rec.state !== 'running') {
      const was = rec.state;
      rec.state = 'held';
      this.log.warn(`program ${rec.id} (${rec.spec.name}) was ${was} at ${step} when the gateway stopped: held (onRestart: hold); the instruments keep their setpoints; resume or abort it`);
      this.owner.emit(this, 'restored');
      return;
    }
    this.log.warn(`program ${rec.id} (${rec.spec.name}) was running at ${step} when the gateway stopped: resumed (onRestart: resume) with ${Math.round(rec.stepElapsedMs)} ms of the step done`);
    this.launch('restored');
  }
}

function round(v: number): number {
  return Number(v.toPrecision(7));
}

