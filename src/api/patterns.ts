/**
 * The string patterns of the API's parameters, each with the words a validation error says
 * instead of the regular expression itself (`schemas.ts` uses the patterns, `errors.ts` the words).
 */
export const PATTERNS = {
  /** An instrument in a query: `3`, `main:3`, `main:3/2`. */
  node: '^(?:[A-Za-z0-9_-]+:)?[0-9]{1,3}(?:/[0-9]{1,3})?$',
  /** A gateway's name, or `*` for all. */
  gateway: '^(?:\\*|[A-Za-z0-9._-]{1,64})$',
  /** An event id. */
  eventId: '^[0-9]{1,16}$',
} as const;

const HINTS: Readonly<Record<string, string>> = {
  [PATTERNS.node]: 'must be a node (3), bus:node (main:3) or bus:node/channel (main:3/2), node and channel 0 to 999',
  [PATTERNS.gateway]: "must be a gateway's name (1 to 64 letters, digits, '.', '_' or '-') or *",
  [PATTERNS.eventId]: 'must be an event id (1 to 16 digits)',
};

/** What a value failing `pattern` must be, in words; undefined for a pattern not listed here. */
export function patternHint(pattern: unknown): string | undefined {
  return typeof pattern === 'string' ? HINTS[pattern] : undefined;
}
