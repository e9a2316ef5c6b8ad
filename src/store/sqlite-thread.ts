/**
 * SQLite for Kysely, run in a worker thread (`sqlite-worker.js`), so that no query or commit
 * blocks the event loop that carries the bus, the bridge and the API.
 *
 * One worker, one connection: Kysely's connections are handed out one at a time (a waiting
 * caller queues), which is what SQLite's single writer wants anyway. A worker that dies (out
 * of memory, a native crash) fails what was waiting on it; the next call starts a new one.
 */
import { Worker } from 'node:worker_threads';
import { dropped, silentLogger, type Logger } from '../shared/index.js';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';

type Op = { op: 'open'; path: string } | { op: 'query'; sql: string; params: readonly unknown[] } | { op: 'batch'; statements: readonly string[] } | { op: 'close' };

interface Reply {
  readonly id: number;
  /** Leading rows of a large result; the final reply carries the rest. */
  readonly part?: unknown[];
  readonly ok?: boolean;
  readonly result?: unknown;
  readonly error?: { readonly message: string; readonly code?: string };
}

/** Bytes come back from the worker as Uint8Array; the rest of the store expects Buffers. */
function toBuffers(row: Record<string, unknown>): Record<string, unknown> {
  for (const k in row) {
    const v = row[k];
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  return row;
}

/** The worker and the requests waiting on it. */
export class SqliteThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; parts?: unknown[][] }>();
  private closed = false;
  /** The one connection, held by one user at a time (a Kysely connection, or a batch). */
  private held: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly log: Logger = silentLogger,
  ) {}

  /** Waits for the connection; call the returned function to hand it on. */
  async acquire(): Promise<() => void> {
    const previous = this.held;
    let release!: () => void;
    this.held = new Promise<void>((r) => (release = r));
    await previous;
    return release;
  }

  /** Runs SQL texts as one transaction (all or none), between the users of the connection. */
  async batch(statements: readonly string[]): Promise<void> {
    const release = await this.acquire();
    try {
      await this.call({ op: 'batch', statements });
    } finally {
      release();
    }
  }

  private start(): Worker {
    const worker = new Worker(new URL('./sqlite-worker.js', import.meta.url));
    worker.on('message', (r: Reply) => {
      const w = this.waiting.get(r.id);
      if (!w) return;
      if (r.part) {
        (w.parts ??= []).push(r.part);
        return;
      }
      this.waiting.delete(r.id);
      if (r.ok) {
        const result = r.result as { rows?: unknown[] } | null;
        if (w.parts && result?.rows) result.rows = w.parts.flat().concat(result.rows);
        w.resolve(result);
      }
      else w.reject(Object.assign(new Error(r.error?.message ?? 'SQLite error'), r.error?.code ? { code: r.error.code } : {}));
    });
    const fail = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const err = new Error(`the SQLite worker ${why}`);
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', (err) => fail(`failed: ${err.message}`));
    worker.on('exit', (code) => fail(`exited (code ${code})`));
    this.worker = worker;
    // Open first: messages are handled in order, so everything after finds the connection (or
    // fails with why the open failed: the worker keeps the reason for every later call).
    this.post(worker, { op: 'open', path: this.path }).catch(dropped(this.log, 'opening the SQLite file (every later call fails with the reason)'));
    return worker;
  }

  private post(worker: Worker, op: Op): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, ...op });
    });
  }

  call(op: Op): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the SQLite connection is closed'));
    return this.post(this.worker ?? this.start(), op);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    await this.post(worker, { op: 'close' }).catch(dropped(this.log, 'closing the SQLite connection (the worker is terminated anyway)'));
    this.worker = undefined;
    await worker.terminate();
  }
}

class ThreadConnection implements DatabaseConnection {
  constructor(private readonly thread: SqliteThread) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const r = (await this.thread.call({ op: 'query', sql: compiled.sql, params: compiled.parameters })) as {
      rows: Record<string, unknown>[];
      changes?: bigint;
      lastInsertRowid?: bigint;
    };
    return {
      rows: r.rows.map(toBuffers) as R[],
      ...(r.changes !== undefined ? { numAffectedRows: r.changes } : {}),
      ...(r.lastInsertRowid !== undefined ? { insertId: r.lastInsertRowid } : {}),
    };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on SQLite here');
  }
}

class ThreadDriver implements Driver {
  private readonly connection: ThreadConnection;
  private release: (() => void) | undefined;

  constructor(private readonly thread: SqliteThread) {
    this.connection = new ThreadConnection(thread);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    this.release = await this.thread.acquire();
    return this.connection;
  }

  async beginTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(): Promise<void> {
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  async destroy(): Promise<void> {
    await this.thread.close();
  }
}

/** A Kysely dialect for SQLite whose queries run on `thread`. */
export function sqliteThreadDialect(thread: SqliteThread): Dialect {
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new ThreadDriver(thread),
    createIntrospector: (db: Kysely<unknown>) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}
