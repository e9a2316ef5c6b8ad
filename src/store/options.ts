/** Tuning of the transaction log's writer: each option with its default and range, resolved once. */
import type { Config } from '../config/index.js';

/** Tuning of the writer; tests shrink the times. Absent fields take their defaults (`resolveStoreOptions`). */
export interface StoreOptions {
  /** Most transactions held in memory; beyond it batches go straight to the spool. Default 20,000 (1,000..1,000,000). */
  readonly maxRowsInMemory?: number;
  /** Most transactions in one insert when a backlog waits. Default 4 x batchRows, at least 2,000 (batchRows..100,000). */
  readonly maxBatchRows?: number;
  /** A batch insert (or a replayed one) that takes longer counts as a failure: the batch is spooled. Default 5,000 ms (100..600,000). */
  readonly writeTimeoutMs?: number;
  /** API and CLI queries give up after this long with STORE_UNAVAILABLE. Default 10,000 ms (100..600,000). */
  readonly queryTimeoutMs?: number;
  /** MySQL connect timeout. Default 3,000 ms (100..60,000). */
  readonly connectTimeoutMs?: number;
  /** First wait before checking an unreachable database again; doubles each failure. Default 250 ms (10..60,000). */
  readonly retryMinMs?: number;
  /** Longest wait between checks. Default 5,000 ms (retryMinMs..600,000). */
  readonly retryMaxMs?: number;
  /** How often retention runs when an age limit is set. Default 600,000 ms (1,000..86,400,000). */
  readonly retentionIntervalMs?: number;
  /** Rows deleted per retention statement. Default 2,000 (100..100,000). */
  readonly retentionBatchRows?: number;
  /** MySQL pool size. Default 4 (1..64). */
  readonly poolSize?: number;
  /**
   * MySQL: batches written at once, each on its own pool connection; they commit in order.
   * Default 2 (1..8): on a 2-core machine two writers gave 1.4 to 1.6 times one. SQLite: always 1.
   */
  readonly writers?: number;
  /**
   * MySQL: write each batch with LOAD DATA LOCAL INFILE (no SQL for the server to parse) where
   * the server allows it; a server with local_infile=OFF gets INSERT statements instead, the
   * same rows. Default true; false: INSERT statements always. SQLite: INSERT statements.
   */
  readonly loadData?: boolean;
  /**
   * A clean stop (SIGTERM, `systemctl stop`) that finds rows in the spool while the database is
   * reachable (a burst the database did not keep up with) writes them for up to this long before
   * it closes, so that the log is whole after the stop; what is left then waits in the spool for
   * the next start. A database that is away is not waited for. Default 10,000 ms (0..600,000).
   */
  readonly drainOnCloseMs?: number;
}


export type ResolvedStoreOptions = { readonly [K in keyof StoreOptions]-?: NonNullable<StoreOptions[K]> };

function within(name: string, v: number, min: number, max: number): number {
  if (!Number.isFinite(v) || v < min || v > max) throw new RangeError(`store option ${name} must be ${min}..${max}, got ${v}`);
  return v;
}

/** Every store option with its default, checked against its range; `config` gives batchRows for maxBatchRows. */
export function resolveStoreOptions(o: StoreOptions = {}, config?: Pick<Config['store'], 'batchRows'>): ResolvedStoreOptions {
  const batchRows = config?.batchRows ?? 500;
  const retryMinMs = within('retryMinMs', o.retryMinMs ?? 250, 10, 60_000);
  return {
    maxRowsInMemory: within('maxRowsInMemory', o.maxRowsInMemory ?? 20_000, 1_000, 1_000_000),
    maxBatchRows: within('maxBatchRows', o.maxBatchRows ?? Math.max(2_000, 4 * batchRows), batchRows, 100_000),
    writeTimeoutMs: within('writeTimeoutMs', o.writeTimeoutMs ?? 5_000, 100, 600_000),
    queryTimeoutMs: within('queryTimeoutMs', o.queryTimeoutMs ?? 10_000, 100, 600_000),
    connectTimeoutMs: within('connectTimeoutMs', o.connectTimeoutMs ?? 3_000, 100, 60_000),
    retryMinMs,
    retryMaxMs: within('retryMaxMs', o.retryMaxMs ?? 5_000, retryMinMs, 600_000),
    retentionIntervalMs: within('retentionIntervalMs', o.retentionIntervalMs ?? 600_000, 1_000, 86_400_000),
    retentionBatchRows: within('retentionBatchRows', o.retentionBatchRows ?? 2_000, 100, 100_000),
    poolSize: within('poolSize', o.poolSize ?? 4, 1, 64),
    writers: within('writers', o.writers ?? 2, 1, 8),
    loadData: o.loadData ?? true,
    drainOnCloseMs: within('drainOnCloseMs', o.drainOnCloseMs ?? 10_000, 0, 600_000),
  };
}
