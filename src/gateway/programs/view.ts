/** A program's state as kept in the state file and shown by the API and the `program` events. */
import type { ErrorCode } from '../../shared/index.js';
import type { ProgramSpec, SafeState, StepSpec } from './spec.js';

export type ProgramState = 'running' | 'paused' | 'held' | 'completed' | 'failed' | 'aborted';

/** How the safe state went: applied to every instrument, or what failed. */
export interface SafeOutcome {
  applied: boolean;
  errors: { instrument: string; code: string; message: string }[];
}

/** What the state file keeps of a program. */
export interface ProgramRecord {
  readonly id: string;
  readonly spec: ProgramSpec;
  state: ProgramState;
  readonly createdAt: string;
  endedAt?: string;
  stepIndex: number;
  /** Time the current step has run (pauses not counted), ms. */
  stepElapsedMs: number;
  /** Each instrument's current target, by instrument id. */
  targets: Record<string, number | null>;
  reason?: { code: ErrorCode; message: string };
  safe?: SafeOutcome;
}

export interface ProgramView {
  readonly id: string;
  readonly name: string;
  readonly state: ProgramState;
  readonly createdAt: string;
  readonly endedAt?: string;
  readonly onRestart: ProgramSpec['onRestart'];
  readonly steps: number;
  readonly step: { readonly index: number; readonly type: StepSpec['type']; readonly elapsedMs: number; readonly timeLeftMs: number | null; readonly ramp?: 'stepped' | 'slope' } | null;
  readonly instruments: { readonly id: string; readonly target: number | null; readonly unit: string | null; readonly safe: SafeState; readonly follow?: { readonly of: string; readonly ratio: number } }[];
  readonly reason?: { readonly code: string; readonly message: string };
  readonly safe?: SafeOutcome;
}

/** What a `program` event says changed. */
export type ProgramChange = 'started' | 'step' | 'paused' | 'resumed' | 'completed' | 'failed' | 'aborted' | 'restored';

/** The `program` gateway event: the program as it is now, and what changed. */
export type ProgramEvent = ProgramView & { readonly change: ProgramChange };
