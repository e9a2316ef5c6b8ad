/**
 * The small integer codes the compact log (migration 0003) stores for its enumerations. The
 * lists are append-only: a code, once released, means its text for ever (rows hold the number).
 * Code 0 is "another text": the row then keeps the text itself in its `extra` column, so a value
 * that is not in a list (a new purpose, `cmd-9`) still comes back exactly.
 */

/** `LoggedTransaction.purpose`. */
export const PURPOSES = ['', 'poll', 'read', 'write', 'scan', 'observed', 'injected', 'read-back', 'fluids', 'snapshot', 'request'] as const;

/** `LoggedTransaction.outcome`. */
export const OUTCOMES = [
  '',
  'ok',
  'status',
  'error-frame',
  'timeout',
  'bus-unavailable',
  'queue-deadline',
  'node-backoff',
  'aborted',
  'unanswered',
  'orphan',
  'undecodable',
  'bus-closed',
] as const;

/** `LoggedTransaction.commandName`. */
export const COMMAND_NAMES = ['', 'read', 'write', 'send', 'broadcast', 'status', 'error'] as const;

export interface CodeTable {
  /** Text -> code; 0 (not in the list) means the text goes in `extra`. */
  code(text: string): number;
  /** Code -> text; undefined for 0 and for codes this version does not know. */
  text(code: number): string | undefined;
}

function table(list: readonly string[]): CodeTable {
  const byText = new Map(list.map((t, i) => [t, i]));
  byText.delete('');
  return {
    code: (t) => byText.get(t) ?? 0,
    text: (c) => (c > 0 ? list[c] : undefined),
  };
}

export const purposeCodes = table(PURPOSES);
export const outcomeCodes = table(OUTCOMES);
export const commandNameCodes = table(COMMAND_NAMES);
