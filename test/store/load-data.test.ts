/**
 * MySQL batches go as LOAD DATA LOCAL INFILE (load-data.ts): the rows that arrive are the same,
 * byte for byte, as those the INSERT statements write, odd bytes, texts and numbers included;
 * and a server that does not allow it (local_infile=OFF) gets the INSERT statements instead,
 * in the same transaction, with nothing spooled or lost.
 */
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoggedTransaction } from '../../src/gateway/index.js';
import { compactStatements, LogIds } from '../../src/store/compact.js';
import { connect, type Connection } from '../../src/store/db.js';
import { openStore } from '../../src/store/index.js';
import { migrate } from '../../src/store/migrations.js';
import { listTransactions, parameterHistory } from '../../src/store/query.js';
import { RowMaker } from '../../src/store/rows.js';
import { parseStoreUrl } from '../../src/store/url.js';
import { silentLogger } from '../../src/shared/index.js';
import { workloadTx } from '../../bench/store-workload.js';
import { freshTarget, makeTx, MYSQL_URL, mysqlRuns, recordingLogger, type TestTarget } from './helpers.js';

const RUNS = await mysqlRuns();

const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
const ODD_TEXT = "tab\there\nnew line\r\\back\\slash 'quote' \"dq\" \u0000nul \u001a ^Z ä µ 😀 \\N";

/** The transactions whose bytes, texts and numbers a file format could get wrong. */
function odd(): LoggedTransaction[] {
  const t0 = Date.now() - 600_000;
  const out: LoggedTransaction[] = [];
  for (let i = 0; i < 200; i++) out.push(workloadTx(i, t0));
  const at = t0 + 300_000;
  const base = makeTx({ startedAt: at, endedAt: at + 2 });
  const values: unknown[] = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e308, -Number.MAX_VALUE, Number.MIN_VALUE, -5e-324, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 60, -0, 0.1, 1 / 3, 16_777_217, Math.fround(3.14159), 1e-300];
  out.push(
    // Every byte value in the request (a write: inline) and the reply; a read whose request has them (a template).
    { ...base, command: 1, commandName: 'write', purpose: 'write', requestBytes: ALL_BYTES, replyBytes: ALL_BYTES.slice().reverse(), error: ODD_TEXT },
    { ...base, startedAt: at + 10, endedAt: at + 11, requestBytes: ALL_BYTES.slice(0, 200), replyBytes: Uint8Array.of(0x5c, 0x09, 0x0a, 0x00, 0x27, 0x22, 0x0d) },
    // Texts no code table has, in `extra`; numbers no column holds; no bytes at all; empty bytes.
    { ...base, startedAt: at + 20, endedAt: at + 20 + 86_400_000, purpose: ODD_TEXT, commandName: 'cmd\t9', outcome: 'odd\\outcome\n', node: 300, seq: -1, attempts: 300, latencyMs: 1e12 },
    { ...base, startedAt: at + 30, endedAt: at + 30, requestBytes: undefined, replyBytes: new Uint8Array(0), latencyMs: undefined, node: undefined, params: [] },
    // Values: every awkward number, texts with the escapes, one cut at 1024 characters in the middle of an emoji.
    {
      ...base,
      startedAt: at + 40,
      endedAt: at + 41,
      params: [
        ...values.map((value, i) => ({ process: 40, fbnr: i, wireType: 0x40 as const, dde: 1000 + i, key: `v${i}`, value: value as number })),
        { process: 1, fbnr: 17, wireType: 0x60 as const, dde: 25, key: 'fluidName', raw: Buffer.from(ODD_TEXT).toString('hex'), value: ODD_TEXT },
        { process: 1, fbnr: 18, wireType: 0x60 as const, dde: 26, key: 'long', value: `${'x'.repeat(1023)}😀 tail` },
        { process: 1, fbnr: 19, wireType: 0x20 as const, dde: 27, key: 'raw', raw: '005c090a0d1a2722ff', value: 7 },
        { process: 1, fbnr: 20, wireType: 0x60 as const, dde: 28, key: 'empty', raw: '', value: '' },
      ],
    },
  );
  return out;
}

/** Everything the compact tables hold, bytes as hex, floats as their doubles, in key order. */
async function dump(url: string): Promise<unknown> {
  const u = new URL(url);
  const c = await createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), database: u.pathname.slice(1), supportBigNumbers: true, bigNumberStrings: true });
  try {
    const q = async (sql: string) => (await c.query(sql))[0];
    return {
      sources: await q('SELECT id, HEX(gateway) g, HEX(bus) b, HEX(mode) m FROM log_sources ORDER BY id'),
      series: await q('SELECT id, source, node, dde FROM log_series ORDER BY id'),
      templates: await q('SELECT id, HEX(hash) h, HEX(request) r, HEX(shape) s FROM log_templates ORDER BY id'),
      transactions: await q(
        'SELECT source, started_us, k, node, seq, command, command_name, purpose, outcome, status, error_code, template, HEX(request) request, HEX(reply) reply, ended_d, latency_us, attempts, HEX(error) error, HEX(shape) shape, HEX(data) data, HEX(extra) extra, request IS NULL rn, reply IS NULL pn, error IS NULL en, extra IS NULL xn FROM log_transactions ORDER BY source, started_us, k',
      ),
      values: await q('SELECT series, time_us, k, position, CAST(value_f AS DOUBLE) f, value_f IS NULL fn, value_num, value_num IS NULL nn, HEX(value_text) t, value_text IS NULL tn FROM log_values ORDER BY series, time_us, k, position'),
    };
  } finally {
    await c.end();
  }
}

/** Server-wide count of LOAD DATA statements run. */
async function loadsRun(): Promise<number> {
  const u = new URL(MYSQL_URL);
  const c = await createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) });
  try {
    const [rows] = await c.query("SHOW GLOBAL STATUS LIKE 'Com_load'");
    return Number((rows as { Value: string }[])[0]?.Value ?? 0);
  } finally {
    await c.end();
  }
}

async function setLocalInfile(on: boolean): Promise<void> {
  const u = new URL(MYSQL_URL);
  const c = await createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) });
  try {
    await c.query(`SET GLOBAL local_infile = ${on ? 1 : 0}`);
  } finally {
    await c.end();
  }
}

describe.skipIf(!RUNS)('MySQL batches as LOAD DATA LOCAL INFILE', () => {
  const txs = odd();
  let viaInsert: TestTarget;
  let viaLoad: TestTarget;

  beforeAll(async () => {
    viaInsert = await freshTarget('mysql');
    viaLoad = await freshTarget('mysql');
  });

  afterAll(async () => {
    await viaInsert?.cleanup();
    await viaLoad?.cleanup();
  });

  /** The transactions written through compactStatements on a connection with LOAD DATA on or off, in two batches. */
  async function write(url: string, loadData: boolean): Promise<Connection> {
    const conn = connect(parseStoreUrl(url), { connectTimeoutMs: 3000, poolSize: 2, loadData });
    await migrate(conn.db as never, 'mysql', silentLogger);
    const maker = new RowMaker('lab-1');
    const ids = new LogIds();
    const rows = txs.map((t) => maker.toRows(t));
    for (const part of [rows.slice(0, 150), rows.slice(150)]) await conn.runInTransaction(await compactStatements(conn, ids, part));
    return conn;
  }

  it('writes exactly the rows the INSERT statements write, odd bytes, texts and numbers included', async () => {
    const insertConn = await write(viaInsert.url, false);
    const before = await loadsRun();
    const loadConn = await write(viaLoad.url, true);
    try {
      // It did go as LOAD DATA: two per batch, and the connection did not fall back.
      expect(loadConn.loadData).toBe(true);
      expect((await loadsRun()) - before).toBeGreaterThanOrEqual(4);
      const a = await dump(viaInsert.url);
      const b = await dump(viaLoad.url);
      expect((b as { transactions: unknown[] }).transactions).toHaveLength(txs.length);
      expect(b).toEqual(a);
      // And the log gives the same transactions and history back from both.
      const page = async (c: Connection) => (await listTransactions(c.db, { limit: 1000 })).transactions;
      const listed = await page(loadConn);
      expect(listed).toHaveLength(txs.length);
      expect(listed).toEqual(await page(insertConn));
      for (const dde of [25, 1000, 1007, 1015, 26, 27]) {
        const history = async (c: Connection) => parameterHistory(c.db, 'mysql', { bus: 'main', node: 3, dde, sinceUs: 0, untilUs: (Date.now() + 1) * 1000 });
        const h = await history(loadConn);
        expect(h).toEqual(await history(insertConn));
      }
    } finally {
      await insertConn.destroy();
      await loadConn.destroy();
    }
  });

  it('a FLOAT value goes into the file as the float\'s shortest decimal and reads back as the value logged', async () => {
    const target = await freshTarget('mysql');
    const conn = connect(parseStoreUrl(target.url), { connectTimeoutMs: 3000, poolSize: 2 });
    try {
      await migrate(conn.db as never, 'mysql', silentLogger);
      const at = Date.now() - 60_000;
      const measure = Math.fround(10.1);
      // The gateway decodes a float32 to its shortest decimal (10.1), which value_f holds.
      const t = makeTx({ startedAt: at, endedAt: at + 1, params: [{ process: 33, fbnr: 0, wireType: 0x40, dde: 205, key: 'fMeasure', raw: '4121999a', value: 10.1 }] });
      const statements = await compactStatements(conn, new LogIds(), [new RowMaker('lab-1').toRows(t)]);
      const file = (statements[1] as { file: Buffer }).file.toString('latin1');
      expect(file).toContain('\t10.1\t\\N\t\\N\n');
      expect(file).not.toContain(String(measure));
      await conn.runInTransaction(statements);
      const h = await parameterHistory(conn.db, 'mysql', { bus: 'main', node: 3, dde: 205, sinceUs: 0, untilUs: (Date.now() + 1) * 1000 });
      expect(h).toMatchObject({ kind: 'raw', points: [{ value: 10.1 }] });
    } finally {
      await conn.destroy();
      await target.cleanup();
    }
  });

  it('a server with local_infile=OFF gets INSERT statements in the same transaction: every row written, nothing spooled', async () => {
    const target = await freshTarget('mysql');
    const log = recordingLogger();
    await setLocalInfile(false);
    try {
      const store = await openStore({ url: target.url, spoolDir: `${target.dir}/spool`, batchRows: 100, batchMs: 20, retention: { transactionsDays: null, parameterValuesDays: null } }, { logger: log, gateway: 'lab-1', options: { writers: 1 } });
      for (const t of txs) store.write(t);
      await store.flush();
      const status = store.status();
      await store.close();
      expect(status.written).toBe(txs.length);
      expect(status.spooled).toBe(0);
      expect(status.state).toBe('healthy');
      expect(log.lines.some((l) => l.level === 'warn' && l.msg.includes('LOAD DATA LOCAL INFILE'))).toBe(true);
      // The same rows as the INSERT path wrote (the store's batches differ, the rows do not).
      const got = (await dump(target.url)) as { transactions: unknown[]; values: unknown[] };
      const want = (await dump(viaInsert.url)) as { transactions: unknown[]; values: unknown[] };
      expect(got.transactions).toEqual(want.transactions);
      expect(got.values).toEqual(want.values);
    } finally {
      await setLocalInfile(true);
      await target.cleanup();
    }
  });
});
