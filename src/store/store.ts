/**
 * The transaction log: a batched writer in front of the database with a spool behind it.
 *
 *   write() -> memory queue --(every batchMs or batchRows)--> multi-row INSERT IGNORE ──> database
 *                     \                                          | fails / times out
 *                      \--(over maxRowsInMemory)--> spool file <-+   (append, fsync per batch)
 *                                                      | database back: replay oldest first
 *
 * `write` never throws and never waits: it converts the transaction to rows and queues them.
 * One worker loop moves batches. On MySQL it keeps two batches in flight, each in its own
 * database transaction on its own connection, so the server parses and inserts one while it
 * commits the other; a batch commits only after the one before it has, so rows still become
 * visible in order, and a batch behind a failed one is rolled back and spooled after it.
 * While the spool holds anything, new batches go behind it, so rows reach the database in
 * the order they were written. Every row has its primary key
 * from the gateway (UUIDv7 id; (transaction_id, position) for parameters), and every insert
 * skips keys already there, so a batch written twice (a commit whose answer was lost, a
 * crash before the spool was emptied) is not duplicated.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { safeGatewayName, type Config } from '../config/index.js';
import type { LoggedTransaction, TransactionSink } from '../gateway/index.js';
import { dropped, GatewayError, type Logger } from '../shared/index.js';
import { compactStatements, LogIds } from './compact.js';
import { unconvertedCount } from './convert.js';
import { connect, type Connection, type Dialect } from './db.js';
import { PV_COLUMNS, TX_COLUMNS, type LegacyRows, type ParameterValuesTable, type TransactionsTable } from './legacy.js';
import { migrate } from './migrations.js';
import { resolveStoreOptions, type ResolvedStoreOptions, type StoreOptions } from './options.js';
import { storeConfigProblem } from './problems.js';
import { getTransaction, listTransactions, parameterHistory, type HistoryQuery, type HistoryResult, type TransactionPage, type TransactionQuery } from './query.js';
import { RowMaker, type Rows } from './rows.js';
import { Spool, SPOOL_FILE } from './spool.js';
import { defaultSpoolDir, LEGACY_SPOOL_DIR, parseStoreUrl, redactStoreUrl, type StoreTarget } from './url.js';

export type StoreConfig = Config['store'];

export type { StoreOptions } from './options.js';

export type StoreState = 'healthy' | 'spooling' | 'recovering' | 'closed';

export interface StoreStatus {
  readonly state: StoreState;
  /** The gateway name recorded with every transaction this store writes. */
  readonly gateway: string;
  readonly dialect: Dialect;
  /** The store URL without its password. */
  readonly url: string;
  /** Transactions not yet in the database: in memory plus in the spool. */
  readonly rowsWaiting: number;
  /** Transactions queued in memory. */
  readonly inMemory: number;
  /** Batches in the spool file waiting to be written. */
  readonly spooledBatches: number;
  readonly spoolFile: string;
  /** Transactions committed to the database since start (replays included). */
  readonly written: number;
  /** Transactions that went through the spool since start. */
  readonly spooled: number;
  /** Spool lines that did not parse and were skipped. */
  readonly badSpoolLines: number;
  readonly lastError?: string;
  readonly lastErrorAt?: string;
  readonly retention: { readonly transactionsDeleted: number; readonly parameterValuesDeleted: number };
  /** Transactions in the tables of a version before the compact log, not yet converted (`flowbus db convert`); absent when none or not yet counted. */
  readonly unconverted?: number;
}

/** The transaction log as the gateway, the API and the CLI use it. */
export interface Store extends TransactionSink {
  readonly dialect: Dialect;
  /** The gateway name recorded with every transaction written here (`gateway.name`). */
  readonly gateway: string;
  /** Queues a transaction; never throws, never waits. */
  write(t: LoggedTransaction): void;
  /** Resolves when everything written so far is in the database or in the spool. */
  flush(): Promise<void>;
  status(): StoreStatus;
  listTransactions(q: TransactionQuery): Promise<TransactionPage>;
  /** One transaction by the id the listing gave it; undefined when there is none. */
  getTransaction(id: string): Promise<LoggedTransaction | undefined>;
  parameterHistory(q: HistoryQuery): Promise<HistoryResult>;
  /** Deletes rows older than the configured ages, in small batches; returns the counts. */
  runRetention(nowMs?: number): Promise<{ transactions: number; parameterValues: number }>;
  /** Calls `listener` on every change of state (healthy, spooling, recovering, closed); returns the unsubscribe. */
  onState(listener: (change: StoreStateChange) => void): () => void;
  /** Flushes, stops the worker, closes the spool and the database. */
  close(): Promise<void>;
}

export interface StoreStateChange {
  readonly state: StoreState;
  readonly previous: StoreState;
  readonly reason?: string;
  readonly rowsWaiting: number;
}

interface Batch {
  /** Sequence number of the first transaction. */
  readonly from: number;
  readonly rows: Rows[];
  /** An append to the spool has been queued for it. */
  spoolQueued: boolean;
}

/** A batch being inserted in direct mode. */
interface Write {
  readonly batch: Batch;
  /** Resolves true once committed, false when it was not (the loop then spools it, in order). */
  committed: Promise<boolean>;
  done: boolean;
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message || String(code ?? err.name);
  }
  return String(err);
}

/** `p`, or STORE_TIMEOUT after `ms`; exported for its test. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string, log: Logger): Promise<T> {
  let timedOut = false;
  // A failure before the timeout reaches the caller through the race; one after it (the loser)
  // must not become an unhandled rejection, and is said at debug level: the timeout was reported.
  p.catch((err: unknown) => {
    if (timedOut) dropped(log, `${what} failed after its ${ms} ms timeout`)(err);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new GatewayError('STORE_TIMEOUT', `${what} took longer than ${ms} ms`, { ms }));
    }, ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const DAY_MS = 86_400_000;

class SqlStore implements Store {
  private conn: Connection | undefined;
  private migrated = false;
  private readonly ids = new LogIds();
  private readonly maker: RowMaker;
  private readonly pending: Rows[] = [];
  /** Sequence number of pending[0]. */
  private head = 0;
  /** Sequence number the next write gets. */
  private seq = 0;
  private firstPendingAt = 0;
  private readonly unsettled = new Set<Batch>();
  private flushWaiters: { upTo: number; resolve: () => void }[] = [];
  private flushWanted = false;
  private mode: 'direct' | 'spool' = 'direct';
  private state: StoreState = 'healthy';
  /** Batches being inserted, oldest first; at most `writers`. */
  private readonly writing: Write[] = [];
  private spilling = false;
  private stopping = false;
  /** While stopping: until when the spool is still written to a reachable database (drainOnCloseMs). */
  private drainUntil = 0;
  /** The last check or write found the database away (goDown); a burst that spilled to the spool leaves it false. */
  private unreachable = false;
  private drainLogged = false;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  private nextProbeAt = 0;
  private backoff: number;
  private lastError: string | undefined;
  private lastErrorAt: number | undefined;
  private lastWarnAt = 0;
  private written = 0;
  private spooledRows = 0;
  private retentionTimer: NodeJS.Timeout | undefined;
  private retentionRunning: Promise<{ transactions: number; parameterValues: number }> | undefined;
  private readonly deleted = { transactions: 0, parameterValues: 0 };
  /** Old rows not yet converted, counted once after the first migration; undefined until then, or when there are none. */
  private unconverted: number | undefined;
  private unconvertedCounted = false;

  private readonly maxRows: number;
  private readonly maxBatch: number;
  private readonly writeTimeoutMs: number;
  private readonly queryTimeoutMs: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly writers: number;
  private readonly options: ResolvedStoreOptions;
  private readonly stateListeners = new Set<(change: StoreStateChange) => void>();

  constructor(
    private readonly config: StoreConfig,
    private readonly target: StoreTarget,
    private readonly spool: Spool,
    private readonly log: Logger,
    options: StoreOptions,
    readonly gateway: string,
  ) {
    this.options = resolveStoreOptions(options, config);
    this.maxRows = this.options.maxRowsInMemory;
    this.maxBatch = this.options.maxBatchRows;
    this.writeTimeoutMs = this.options.writeTimeoutMs;
    this.queryTimeoutMs = this.options.queryTimeoutMs;
    this.retryMinMs = this.options.retryMinMs;
    this.retryMaxMs = this.options.retryMaxMs;
    this.backoff = this.retryMinMs;
    this.writers = target.dialect === 'sqlite' ? 1 : this.options.writers;
    this.maker = new RowMaker(gateway);
  }

  onState(listener: (change: StoreStateChange) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Every change of state goes through here, so that whoever listens hears of each one. */
  private setState(next: StoreState, reason?: string): void {
    const previous = this.state;
    if (next === previous) return;
    this.state = next;
    const change: StoreStateChange = { state: next, previous, ...(reason === undefined ? {} : { reason }), rowsWaiting: this.rowsWaiting() };
    for (const l of this.stateListeners) {
      try {
        l(change);
      } catch (err) {
        this.log.error({ err }, 'a store state listener failed');
      }
    }
  }

  get dialect(): Dialect {
    return this.target.dialect;
  }

  // ---------------------------------------------------------------- start

  async start(): Promise<void> {
    try {
      await withTimeout(this.ensureReady(), this.writeTimeoutMs + this.options.connectTimeoutMs, 'connecting to the store', this.log);
    } catch (err) {
      // SQLite that cannot open is a configuration problem; an unreachable server is an outage.
      if (this.target.dialect === 'sqlite') {
        await this.spool.close();
        const conn = this.conn;
        this.conn = undefined;
        await conn?.destroy().catch(dropped(this.log, 'closing the SQLite connection that did not open'));
        throw new GatewayError('STORE_UNAVAILABLE', `cannot open the store ${redactStoreUrl(this.config.url)}: ${errorText(err)}`, {}, { cause: err });
      }
      this.goDown(err, 'the database is unreachable at start');
    }
    if (this.spool.hasBacklog && this.mode === 'direct') {
      this.mode = 'spool';
      this.setState('recovering', 'the spool holds rows from before');
      this.nextProbeAt = 0;
    }
    this.loopDone = this.loop().catch((err: unknown) => {
      this.log.error({ err }, 'store writer stopped unexpectedly');
    });
    const { transactionsDays, parameterValuesDays } = this.config.retention;
    if (transactionsDays !== null || parameterValuesDays !== null) {
      this.retentionTimer = setInterval(() => {
        if (this.state === 'healthy' && !this.retentionRunning) {
          this.runRetention().catch((err: unknown) => this.log.warn({ err: errorText(err) }, 'retention run failed; it runs again later'));
        }
      }, this.options.retentionIntervalMs);
      this.retentionTimer.unref();
    }
  }

  private async ensureReady(): Promise<Connection> {
    this.conn ??= connect(this.target, { connectTimeoutMs: this.options.connectTimeoutMs, poolSize: this.options.poolSize, log: this.log, loadData: this.options.loadData });
    if (!this.migrated) {
      await migrate(this.conn.db as never, this.target.dialect, this.log);
      this.migrated = true;
      if (!this.unconvertedCounted) {
        this.unconvertedCounted = true;
        // In the background: counting a large old log takes a while, and nothing waits for it.
        void this.countUnconverted(this.conn);
      }
    }
    return this.conn;
  }

  /** One warning at start when the tables of an earlier version hold rows not yet converted. */
  private async countUnconverted(conn: Connection): Promise<void> {
    try {
      const n = await unconvertedCount(conn);
      if (n === undefined || n === 0) return;
      this.unconverted = n;
      this.log.warn(
        { unconverted: n },
        `store: ${n} transactions logged by an earlier version are not converted to the compact log, and the API and exports do not show them: run flowbus db convert --store ${redactStoreUrl(this.config.url)} (safe while the gateway runs; new transactions are logged meanwhile)`,
      );
    } catch (err) {
      this.log.debug({ err: errorText(err) }, 'could not count the old rows not yet converted');
    }
  }

  // ---------------------------------------------------------------- write side

  write(t: LoggedTransaction): void {
    if (this.state === 'closed' || this.stopping) {
      this.warnThrottled({ id: t.id }, 'transaction written to a closed store: not logged');
      return;
    }
    let rows: Rows;
    try {
      rows = this.maker.toRows(t);
    } catch (err) {
      this.log.error({ err, id: t.id }, 'transaction could not be turned into rows: not logged');
      return;
    }
    if (this.pending.length === 0) this.firstPendingAt = Date.now();
    this.pending.push(rows);
    this.seq++;
    if (this.pending.length > this.maxRows) this.spill();
    if (this.pending.length >= this.config.batchRows) this.wake?.();
  }

  flush(): Promise<void> {
    const upTo = this.seq;
    if (this.lowestUnsettled() >= upTo) return Promise.resolve();
    this.flushWanted = true;
    this.wake?.();
    return new Promise((resolve) => this.flushWaiters.push({ upTo, resolve }));
  }

  private lowestUnsettled(): number {
    let low = this.pending.length > 0 ? this.head : this.seq;
    for (const b of this.unsettled) low = Math.min(low, b.from);
    return low;
  }

  private settle(batch: Batch): void {
    if (!this.unsettled.delete(batch)) return;
    if (this.flushWaiters.length === 0) return;
    const low = this.lowestUnsettled();
    const still: typeof this.flushWaiters = [];
    for (const w of this.flushWaiters) (low >= w.upTo ? w.resolve : () => still.push(w))();
    this.flushWaiters = still;
    if (still.length === 0) this.flushWanted = false;
  }

  private take(): Batch {
    const rows = this.pending.splice(0, Math.min(this.pending.length, this.maxBatch));
    const batch: Batch = { from: this.head, rows, spoolQueued: false };
    this.head += rows.length;
    if (this.pending.length > 0) this.firstPendingAt = Date.now();
    this.unsettled.add(batch);
    return batch;
  }

  /**
   * Puts a batch back where it was in the sequence (its spool append failed): nothing is
   * dropped. Batches put back one after another, oldest first, end up in order.
   */
  private untake(batch: Batch): void {
    const at = batch.from - this.head;
    if (at <= 0) {
      this.pending.unshift(...batch.rows);
      this.head = batch.from;
    } else {
      this.pending.splice(Math.min(at, this.pending.length), 0, ...batch.rows);
    }
    this.unsettled.delete(batch);
  }

  private batchDue(now: number): boolean {
    if (this.pending.length === 0) return false;
    return this.pending.length >= this.config.batchRows || now - this.firstPendingAt >= this.config.batchMs || this.flushWanted || this.stopping;
  }

  private msToDue(now: number): number {
    if (this.pending.length === 0) return this.config.batchMs;
    return Math.max(0, this.firstPendingAt + this.config.batchMs - now);
  }

  private async sleepUpTo(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(1, ms));
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  private async loop(): Promise<void> {
    for (;;) {
      const now = Date.now();
      if (this.mode === 'direct') {
        if (await this.finishWrites(false)) continue;
        const due = this.batchDue(now);
        if (due && this.writing.length < this.writers) {
          this.startWrite(this.take());
          continue;
        }
        const oldest = this.writing[0];
        if (oldest && (due || this.stopping)) {
          await oldest.committed;
          continue;
        }
        if (this.stopping) return;
        await this.sleepUpTo(this.msToDue(now));
        continue;
      }
      // Spooling: batches still being inserted go first (to the spool when they failed), then
      // new batches go behind what the spool holds, so the order is kept.
      if (this.writing.length > 0) {
        await this.finishWrites(true);
        continue;
      }
      if (this.batchDue(now)) {
        await this.spoolBatch(this.take());
        continue;
      }
      if (this.stopping) {
        // A clean stop writes what the spool holds while the database takes it, for a while: after
        // a burst that spilled, the log is whole once the gateway has stopped. A database that is
        // away is not waited for; what is left waits in the spool for the next start.
        if (this.unreachable || now >= this.drainUntil) return;
        if (!this.drainLogged) {
          this.drainLogged = true;
          this.log.info({ rowsWaiting: this.rowsWaiting(), forMs: this.options.drainOnCloseMs }, 'store: writing the spool before stopping');
        }
        if (!(await this.recoverStep())) return;
        continue;
      }
      if (now >= this.nextProbeAt) {
        if (await this.recoverStep()) continue;
      }
      await this.sleepUpTo(Math.min(this.msToDue(now), Math.max(5, this.nextProbeAt - Date.now())));
    }
  }

  /**
   * Rows a version before the compact log spooled (old column orders) as compact rows. Rows
   * spooled by a version that did not record the gateway are this gateway's: the spool is its own.
   */
  private fromLegacy(rows: readonly LegacyRows[]): Rows[] {
    return rows.map((r) => {
      const t = r.tx;
      const tx = Object.fromEntries(TX_COLUMNS.map((c, i) => [c.name, t[i] ?? null])) as unknown as TransactionsTable;
      if (t.length < TX_COLUMNS.length) tx.gateway = this.gateway;
      const params = r.pv.map((p) => Object.fromEntries(PV_COLUMNS.map((c, i) => [c.name, p[i] ?? null])) as unknown as ParameterValuesTable);
      return this.maker.fromLegacy(tx, params);
    });
  }

  /** Inserts the rows in one database transaction, which commits only once `after` (the batch before) has. */
  private async insert(rows: readonly Rows[], after?: Promise<boolean>): Promise<void> {
    const conn = this.conn;
    if (!conn) throw new GatewayError('STORE_UNAVAILABLE', 'no database connection');
    const gate =
      after &&
      (async () => {
        if (!(await after)) throw new GatewayError('STORE_UNAVAILABLE', 'the batch before this one was not written');
      });
    // The lookups of new sources, series and templates talk to the database too: inside the timeout.
    const write = async () => conn.runInTransaction(await compactStatements(conn, this.ids, rows), gate);
    await withTimeout(write(), this.writeTimeoutMs, `writing ${rows.length} transactions`, this.log);
  }

  /** Starts inserting a batch behind those already being inserted; `finishWrites` takes it off. */
  private startWrite(batch: Batch): void {
    const before = this.writing[this.writing.length - 1]?.committed;
    const write: Write = { batch, done: false, committed: Promise.resolve(false) };
    write.committed = this.insertInOrder(write, before);
    this.writing.push(write);
  }

  private async insertInOrder(write: Write, before: Promise<boolean> | undefined): Promise<boolean> {
    const { batch } = write;
    try {
      await this.insert(batch.rows, before);
      if (!batch.spoolQueued) this.written += batch.rows.length;
      this.settle(batch);
      return true;
    } catch (err) {
      // Only the first failure counts as an outage: the batches behind it fail because of it.
      if (before === undefined || (await before)) this.goDown(err, 'cannot write to the database');
      return false;
    } finally {
      write.done = true;
      this.wake?.();
    }
  }

  /**
   * Takes finished writes off the front, oldest first (`all`: waits for every one); a batch
   * that was not committed goes to the spool, in order. Once one cannot be spooled (the disk
   * refuses), it and every batch behind it go back to memory, in order. True when it did work.
   */
  private async finishWrites(all: boolean): Promise<boolean> {
    let did = false;
    let putBack = false;
    for (let w = this.writing[0]; w && (w.done || all); w = this.writing[0]) {
      const committed = await w.committed;
      this.writing.shift();
      did = true;
      if (committed || w.batch.spoolQueued) continue;
      if (putBack) this.untake(w.batch);
      else putBack = !(await this.spoolBatch(w.batch));
    }
    return did;
  }

  /** Appends a batch to the spool; false when the disk refused it (the rows are back in memory). */
  private async spoolBatch(batch: Batch): Promise<boolean> {
    batch.spoolQueued = true;
    try {
      await this.spool.append(batch.rows);
      this.spooledRows += batch.rows.length;
      this.settle(batch);
      return true;
    } catch (err) {
      // The disk refuses too: keep the rows in memory and try again shortly. Never drop.
      this.log.error({ err: errorText(err), path: this.spool.path }, 'cannot append to the spool: rows stay in memory');
      if (this.unsettled.has(batch)) this.untake(batch);
      await sleep(this.retryMinMs);
      return false;
    }
  }

  /** Memory is full while the database is slow or away: move the queue to the spool. */
  private spill(): void {
    if (this.spilling) return;
    this.spilling = true;
    setImmediate(() => {
      void (async () => {
        try {
          if (this.mode === 'direct') {
            this.mode = 'spool';
            this.setState('spooling', 'the database is not keeping up');
            this.nextProbeAt = Date.now() + this.retryMinMs;
            this.log.warn({ inMemory: this.pending.length }, `store: ${this.pending.length} transactions waiting in memory, the database is not keeping up: spooling`);
            // The batches being inserted go first, oldest first, so the spool keeps the order; if
            // their inserts commit after all, the replay of them is a no-op.
            for (const w of this.writing) if (!w.batch.spoolQueued) void this.spoolBatch(w.batch);
          }
          while (this.pending.length > this.maxRows / 2 && this.mode === 'spool') await this.spoolBatch(this.take());
        } finally {
          this.spilling = false;
        }
      })();
    });
  }

  private goDown(err: unknown, what: string): void {
    // A missing database or a wrong password says what to do about it, also in the gateway's log.
    const problem = storeConfigProblem(err, this.target);
    const text = problem ? `${problem.code}: ${problem.message}` : errorText(err);
    this.lastError = text;
    this.lastErrorAt = Date.now();
    this.unreachable = true;
    if (this.mode === 'direct' || this.state === 'recovering') {
      this.log.warn({ err: text, rowsWaiting: this.rowsWaiting() }, `store: ${what} (${text}); spooling to ${this.spool.path}`);
      this.backoff = this.retryMinMs;
    } else {
      this.warnThrottled({ err: text, rowsWaiting: this.rowsWaiting() }, `store: still spooling, the database is unreachable (${text})`);
      this.backoff = Math.min(this.retryMaxMs, this.backoff * 2);
    }
    this.mode = 'spool';
    this.setState('spooling', text);
    this.nextProbeAt = Date.now() + this.backoff;
    // A MySQL pool whose connections hang (a cut TCP path) is abandoned; the next check opens a new one.
    if (this.target.dialect === 'mysql' && this.conn) {
      const old = this.conn;
      this.conn = undefined;
      old.destroy().catch(dropped(this.log, 'closing the abandoned MySQL pool'));
    }
  }

  private warnThrottled(obj: object, msg: string): void {
    const now = Date.now();
    if (now - this.lastWarnAt < 10_000) return;
    this.lastWarnAt = now;
    this.log.warn(obj, msg);
  }

  /** One step of recovery: check the database, then write the oldest spooled batch. True when it did work. */
  private async recoverStep(): Promise<boolean> {
    try {
      if (this.state === 'spooling') {
        const conn = await withTimeout(this.ensureReady(), this.writeTimeoutMs, 'connecting to the database', this.log);
        await withTimeout(conn.db.selectFrom('log_sources').select('id').limit(1).execute(), this.writeTimeoutMs, 'checking the database', this.log);
        this.unreachable = false;
        this.setState('recovering', 'the database is reachable again');
        this.log.info({ rowsWaiting: this.rowsWaiting(), spooledBatches: this.spool.batches }, 'store: the database is reachable again; writing the spool');
      }
      const next = await this.spool.next();
      if (!next) {
        if (await this.spool.truncateIfDone()) {
          this.mode = 'direct';
          this.setState('healthy', 'the spool is written');
          this.backoff = this.retryMinMs;
          this.log.info({ written: this.written }, 'store: spool written; writing directly again');
          return true;
        }
        return false;
      }
      await this.insert(next.v === 2 ? next.rows : this.fromLegacy(next.rows));
      await this.spool.consumed(next);
      this.written += next.rows.length;
      return true;
    } catch (err) {
      this.goDown(err, 'cannot write the spool to the database');
      return false;
    }
  }

  // ---------------------------------------------------------------- status

  private rowsWaiting(): number {
    let inflight = 0;
    for (const b of this.unsettled) if (!b.spoolQueued) inflight += b.rows.length;
    return this.pending.length + inflight + this.spool.rows;
  }

  status(): StoreStatus {
    return {
      state: this.state,
      gateway: this.gateway,
      dialect: this.target.dialect,
      url: redactStoreUrl(this.config.url),
      rowsWaiting: this.rowsWaiting(),
      inMemory: this.pending.length,
      spooledBatches: this.spool.batches,
      spoolFile: this.spool.path,
      written: this.written,
      spooled: this.spooledRows,
      badSpoolLines: this.spool.badLines,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      ...(this.lastErrorAt === undefined ? {} : { lastErrorAt: new Date(this.lastErrorAt).toISOString() }),
      retention: { transactionsDeleted: this.deleted.transactions, parameterValuesDeleted: this.deleted.parameterValues },
      ...(this.unconverted === undefined ? {} : { unconverted: this.unconverted }),
    };
  }

  // ---------------------------------------------------------------- read side

  private async query<T>(what: string, run: (conn: Connection) => Promise<T>): Promise<T> {
    if (this.state === 'closed') throw new GatewayError('STORE_UNAVAILABLE', 'the store is closed');
    let conn: Connection;
    try {
      conn = this.conn ?? (await withTimeout(this.ensureReady(), this.queryTimeoutMs, 'connecting to the database', this.log));
    } catch (err) {
      throw storeConfigProblem(err, this.target) ?? new GatewayError('STORE_UNAVAILABLE', `the database is unreachable: ${errorText(err)}`, {}, { cause: err });
    }
    try {
      return await withTimeout(run(conn), this.queryTimeoutMs, what, this.log);
    } catch (err) {
      if (err instanceof GatewayError && err.code !== 'STORE_TIMEOUT') throw err;
      throw new GatewayError('STORE_UNAVAILABLE', `${what} failed: ${errorText(err)}`, {}, { cause: err });
    }
  }

  listTransactions(q: TransactionQuery): Promise<TransactionPage> {
    return this.query('listing transactions', (c) => listTransactions(c.db, q));
  }

  getTransaction(id: string): Promise<LoggedTransaction | undefined> {
    return this.query('reading a transaction', (c) => getTransaction(c.db, id));
  }

  parameterHistory(q: HistoryQuery): Promise<HistoryResult> {
    return this.query('reading parameter history', (c) => parameterHistory(c.db, this.target.dialect, q));
  }

  // ---------------------------------------------------------------- retention

  runRetention(nowMs = Date.now()): Promise<{ transactions: number; parameterValues: number }> {
    this.retentionRunning ??= this.retention(nowMs).finally(() => {
      this.retentionRunning = undefined;
    });
    return this.retentionRunning;
  }

  private async retention(nowMs: number): Promise<{ transactions: number; parameterValues: number }> {
    const { transactionsDays, parameterValuesDays } = this.config.retention;
    const out = { transactions: 0, parameterValues: 0 };
    if (parameterValuesDays !== null) out.parameterValues = await this.deleteOlder('log_values', 'series', 'time_us', (nowMs - parameterValuesDays * DAY_MS) * 1000);
    if (transactionsDays !== null) out.transactions = await this.deleteOlder('log_transactions', 'source', 'started_us', (nowMs - transactionsDays * DAY_MS) * 1000);
    this.deleted.transactions += out.transactions;
    this.deleted.parameterValues += out.parameterValues;
    if (out.transactions + out.parameterValues > 0) this.log.info(out, 'store retention: old rows deleted');
    return out;
  }

  /**
   * Deletes rows older than the cut-off (µs), per source or series a key range of at most
   * `retentionBatchRows` at a time, so no statement holds locks for long.
   */
  private async deleteOlder(table: 'log_values' | 'log_transactions', group: 'series' | 'source', time: 'time_us' | 'started_us', cutoffUs: number): Promise<number> {
    const batch = this.options.retentionBatchRows;
    const groups = await this.query('retention', async (c) => {
      const db = c.db as unknown as Kysely<Record<string, Record<string, number>>>;
      const from = group === 'series' ? 'log_series' : 'log_sources';
      return (await db.selectFrom(from).select('id').execute()).map((r) => Number(r.id));
    });
    let total = 0;
    for (const g of groups) {
      for (;;) {
        if (this.stopping || this.state === 'closed') return total;
        const n = await this.query('retention', async (c) => {
          const db = c.db as unknown as Kysely<Record<string, Record<string, number>>>;
          const edge = await db.selectFrom(table).select(time).where(group, '=', g).where(time, '<', cutoffUs).orderBy(time).limit(1).offset(batch - 1).executeTakeFirst();
          const upTo = edge?.[time];
          const res = await db
            .deleteFrom(table)
            .where(group, '=', g)
            .where(time, upTo === undefined ? '<' : '<=', upTo ?? cutoffUs)
            .executeTakeFirst();
          return { deleted: Number(res.numDeletedRows), more: upTo !== undefined };
        });
        total += n.deleted;
        if (!n.more) break;
        await sleep(20);
      }
    }
    return total;
  }

  // ---------------------------------------------------------------- close

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await this.flush();
    this.drainUntil = Date.now() + this.options.drainOnCloseMs;
    this.stopping = true;
    this.wake?.();
    await this.loopDone;
    await this.retentionRunning?.catch(dropped(this.log, 'a retention run that failed while the store closed'));
    await this.spool.close();
    this.setState('closed');
    const conn = this.conn;
    this.conn = undefined;
    if (conn) await withTimeout(conn.destroy(), 2_000, 'closing the database', this.log).catch(dropped(this.log, 'closing the database'));
    this.log.info({ written: this.written, spooledBatches: this.spool.batches }, 'store closed');
  }
}

/**
 * The spool directory: `store.spoolDir` when set, else beside the store (`defaultSpoolDir`). A
 * gateway upgraded in place may find rows in the spool every store used before (`./data/spool`):
 * it keeps using that one, with a warning, until those rows are written; the next start after
 * that spools beside the store. Nothing waiting there is lost or written twice.
 */
export async function spoolDirFor(config: StoreConfig, log: Logger): Promise<string> {
  // Absolute, so that the status and the lock's messages say where it is whatever the folder.
  if (config.spoolDir !== undefined) return resolve(config.spoolDir);
  const dir = defaultSpoolDir(config.url);
  const legacyRows = await stat(join(LEGACY_SPOOL_DIR, SPOOL_FILE)).then((s) => s.size > 0, () => false);
  if (!legacyRows || resolve(dir) === resolve(LEGACY_SPOOL_DIR)) return resolve(dir);
  log.warn(
    { spoolDir: resolve(LEGACY_SPOOL_DIR), default: resolve(dir) },
    `the spool of an earlier version in ${LEGACY_SPOOL_DIR} holds rows: spooling there until they are written; the next start after that spools in ${dir} (set store.spoolDir to choose)`,
  );
  return resolve(LEGACY_SPOOL_DIR);
}

/**
 * Opens the transaction log: parses the URL, opens the spool, connects and migrates, and
 * starts the writer; `gateway` is the name recorded with every row (default: the host name
 * made safe). An unreachable MySQL server does not fail the start: the store begins
 * in `spooling` and writes when the server answers. A SQLite file that cannot be opened does.
 */
export async function openStore(config: StoreConfig, deps: { logger: Logger; options?: StoreOptions; gateway?: string }): Promise<Store> {
  const target = parseStoreUrl(config.url);
  const log = deps.logger.child({ component: 'store' });
  const spool = await Spool.open(await spoolDirFor(config, log), log);
  const store = new SqlStore(config, target, spool, log, deps.options ?? {}, deps.gateway ?? safeGatewayName(hostname()));
  await store.start();
  return store;
}

/** `flowbus db migrate`: applies the migrations and closes. Returns the names applied. */
export async function migrateStore(url: string, logger: Logger, options: StoreOptions = {}): Promise<string[]> {
  const target = parseStoreUrl(url);
  const conn = connect(target, { connectTimeoutMs: resolveStoreOptions(options).connectTimeoutMs, poolSize: 1, log: logger });
  try {
    return await migrate(conn.db as never, target.dialect, logger);
  } catch (err) {
    const problem = storeConfigProblem(err, target);
    if (problem) throw problem;
    if (err instanceof GatewayError) throw err;
    throw new GatewayError('STORE_UNAVAILABLE', `cannot migrate ${redactStoreUrl(url)}: ${errorText(err)}`, {}, { cause: err });
  } finally {
    await conn.destroy();
  }
}

/** Read-only access for `flowbus export`: no writer, no spool, no migration. */
export interface StoreReader {
  readonly dialect: Dialect;
  listTransactions(q: TransactionQuery): Promise<TransactionPage>;
  getTransaction(id: string): Promise<LoggedTransaction | undefined>;
  parameterHistory(q: HistoryQuery): Promise<HistoryResult>;
  close(): Promise<void>;
}

export function openStoreReader(url: string, options: StoreOptions = {}): StoreReader {
  const target = parseStoreUrl(url);
  // Reading must not create an empty log where there was none (run from the wrong directory).
  if (target.dialect === 'sqlite' && target.path !== ':memory:' && !existsSync(target.path)) {
    throw new GatewayError(
      'STORE_NOT_FOUND',
      `no transaction log at ${resolve(target.path)}: pass --store or --config, or run from the gateway's working directory`,
      { path: resolve(target.path) },
    );
  }
  const conn = connect(target, { connectTimeoutMs: resolveStoreOptions(options).connectTimeoutMs, poolSize: 1 });
  // A server error is a GatewayError with its code, as in the gateway: STORE_AUTH, STORE_NO_DATABASE, STORE_UNAVAILABLE.
  const read = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      const problem = storeConfigProblem(err, target);
      if (problem) throw problem;
      if (err instanceof GatewayError) throw err;
      throw new GatewayError('STORE_UNAVAILABLE', `${what} in ${redactStoreUrl(url)} failed: ${errorText(err)}`, {}, { cause: err });
    }
  };
  return {
    dialect: target.dialect,
    listTransactions: (q) => read('listing transactions', () => listTransactions(conn.db, q)),
    getTransaction: (id) => read('reading a transaction', () => getTransaction(conn.db, id)),
    parameterHistory: (q) => read('reading the history', () => parameterHistory(conn.db, target.dialect, q)),
    close: () => conn.destroy(),
  };
}
