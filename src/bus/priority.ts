/**
 * Scheduling priorities on a bus. p-queue runs the larger number first; these
 * names hide that. Equal priorities run in arrival order.
 */
export const Priority = {
  /** Discovery walks of the bus: only when nothing else waits. */
  Scan: 0,
  /** Periodic polling by the gateway. */
  Poll: 1,
  /** A person or client asked for a value and is waiting for it. */
  Interactive: 2,
  /** Writes: a setpoint change must not wait behind a poll cycle. */
  Write: 3,
} as const;
export type Priority = (typeof Priority)[keyof typeof Priority];

export function priorityName(p: number): string {
  return (Object.keys(Priority) as (keyof typeof Priority)[]).find((k) => Priority[k] === p) ?? String(p);
}
