/**
 * Logs as versions before migration 0003 wrote them, for the conversion tests and bench/convert.ts:
 * the old tables filled through the old row layout (legacyToRows -> insertStatements), rows
 * without a gateway written before migration 0002 existed.
 */
import { crc32 } from 'node:zlib';
import { sql } from 'kysely';
import { connect, type Connection } from '../../src/store/db.js';
import { legacyToRows, PV_COLUMNS, TX_COLUMNS } from '../../src/store/legacy.js';
import { migrate } from '../../src/store/migrations.js';
import { fromSingle } from '../../src/store/compact.js';
import { insertStatements, type RowTuple } from '../../src/store/db.js';
import { parseStoreUrl } from '../../src/store/url.js';
import type { LoggedTransaction } from '../../src/gateway/index.js';
import type { ObservedParam } from '../../src/observe/index.js';
import { silentLogger } from '../../src/shared/index.js';

export function openConn(url: string): Connection {
  return connect(parseStoreUrl(url), { connectTimeoutMs: 5000, poolSize: 2 });
}

/** Inserts transactions into the old tables with the old writer's statements, `chunk` per database transaction. */
export async function insertOld(conn: Connection, txs: readonly { t: LoggedTransaction; gateway: string | null }[], chunk = 2000): Promise<void> {
  for (let i = 0; i < txs.length; i += chunk) {
    const tx: RowTuple[] = [];
    const pv: RowTuple[] = [];
    for (const { t, gateway } of txs.slice(i, i + chunk)) {
      const r = legacyToRows(t, gateway);
      tx.push(r.tx);
      pv.push(...r.pv);
    }
    await conn.runInTransaction([...insertStatements(conn.dialect, 'transactions', TX_COLUMNS, tx), ...insertStatements(conn.dialect, 'parameter_values', PV_COLUMNS, pv)]);
  }
}

/**
 * An old log: the rows without a gateway go in under the schema of migration 0001, the rest
 * after 0002; 0003 is not applied (the conversion does that).
 */
export async function buildOldLog(url: string, txs: readonly { t: LoggedTransaction; gateway: string | null }[]): Promise<void> {
  const conn = openConn(url);
  try {
    await migrate(conn.db as never, conn.dialect, silentLogger, '0001_transaction_log');
    await insertOld(conn, txs.filter((x) => x.gateway === null));
    await migrate(conn.db as never, conn.dialect, silentLogger, '0002_gateway');
    await insertOld(conn, txs.filter((x) => x.gateway !== null));
  } finally {
    await conn.destroy();
  }
}

const f32 = (v: number) => Buffer.from(new Float32Array([v]).buffer).reverse().toString('hex');
const u16 = (v: number) => v.toString(16).padStart(4, '0');
const i32 = (v: number) => (v >>> 0).toString(16).padStart(8, '0');

/** UUID-shaped ids, the same for the same (i, salt) (the old log's ids were UUIDs; keyset order sorts ties by them). */
function uuid(i: number, salt: number): string {
  const h = ((i * 2654435761) >>> 0).toString(16).padStart(8, '0');
  return `${h}-${(salt & 0xffff).toString(16).padStart(4, '0')}-7000-8000-${i.toString(16).padStart(12, '0')}`;
}

/**
 * `n` varied transactions from `startUs` on: reads, chained reads, writes, status replies,
 * error frames, timeouts, strings, index-only parameters, bridge rows, texts without a code,
 * numbers outside the compact columns' ranges, starts and ends in the same µs; on two buses,
 * from gateways alpha, beta and none (NULL, from before migration 0002).
 */
export function variedLog(n: number, startUs = 1_767_225_600_000_000, salt = 1): { t: LoggedTransaction; gateway: string | null }[] {
  const out: { t: LoggedTransaction; gateway: string | null }[] = [];
  let us = startUs;
  for (let i = 0; i < n; i++) {
    const kind = i % 10;
    const gateway = i % 7 === 0 ? null : i % 3 === 0 ? 'beta' : 'alpha';
    const bus = i % 5 === 1 ? 'line2' : 'main';
    // Every 13th starts in the same µs as the one before; every 17th ends where the one before ended.
    if (i % 13 !== 0) us += 1250 + (i % 4);
    const durUs = i % 17 === 0 && out.length > 0 ? Math.max(1, Math.round(out[out.length - 1]!.t.endedAt * 1000) - us) : 700 + (i % 9) * 11;
    const measure = 10 + (i % 100) + 0.5;
    const base = {
      id: uuid(i, salt),
      bus,
      mode: 'master' as const,
      node: 3 + (i % 2),
      seq: i & 0xff,
      command: 4,
      commandName: 'read',
      purpose: 'poll',
      outcome: 'ok',
      status: undefined,
      errorCode: undefined,
      requestBytes: Uint8Array.of(0x10, 0x02, 0x03, i & 0xff, 0x04, 0x10, 0x03),
      replyBytes: Uint8Array.of(0x10, 0x02, 0x80, i & 0xff, 0x02, (i >> 8) & 0xff, 0x10, 0x03),
      startedAt: us / 1000,
      endedAt: (us + durUs) / 1000,
      latencyMs: durUs / 1000,
      attempts: 1,
      params: [] as ObservedParam[],
      error: undefined,
    };
    let t: LoggedTransaction;
    switch (kind) {
      case 0:
      case 1:
        t = {
          ...base,
          params: [
            { process: 33, fbnr: 0, wireType: 0x40, dde: 205, key: 'fMeasure', raw: f32(measure), value: measure },
            { process: 1, fbnr: 1, wireType: 0x20, dde: 9, key: 'setpoint', raw: u16(16000 + i), value: 16000 + i },
            { process: 1, fbnr: 0, wireType: 0x20, dde: 8, key: 'measure', raw: u16(32000), value: 32000 },
            { process: 1, fbnr: 17, wireType: 0x60, dde: 25, key: 'fluidName', raw: Buffer.from(`N2 'dry' ${i % 3}`).toString('hex'), value: `N2 'dry' ${i % 3}` },
          ],
        };
        break;
      case 2: // a chained read of 8, with an int32, a byte and a long string
        t = {
          ...base,
          purpose: 'read',
          params: [
            { process: 33, fbnr: 0, wireType: 0x40, dde: 205, raw: f32(measure), value: measure },
            { process: 33, fbnr: 3, wireType: 0x40, dde: 206, raw: f32(-1.25), value: -1.25 },
            { process: 104, fbnr: 1, wireType: 0x40, dde: 213, raw: i32(-5 - i), value: -5 - i },
            { process: 1, fbnr: 4, wireType: 0x00, dde: 12, raw: '03', value: 3 },
            { process: 113, fbnr: 3, wireType: 0x60, dde: 91, raw: Buffer.from('M12345678A').toString('hex'), value: 'M12345678A' },
            { process: 113, fbnr: 1, wireType: 0x60, dde: 115, raw: Buffer.from('Ø ünïcode "q" \\ b').toString('hex'), value: 'Ø ünïcode "q" \\ b' },
            { process: 1, fbnr: 2, wireType: 0x20, dde: 10, raw: u16(100), value: 100 },
            { process: 0, fbnr: 0, wireType: 0x00, dde: 0, raw: '00', value: 0 },
          ],
        };
        break;
      case 3: // a write, acknowledged
        t = { ...base, command: 1, commandName: 'write', purpose: 'write', status: 0, params: [{ process: 1, fbnr: 1, wireType: 0x20, dde: 9, raw: u16(i % 32000), value: i % 32000 }] };
        break;
      case 4: // a status reply
        t = { ...base, command: 1, commandName: 'write', purpose: 'write', outcome: 'status', status: 5, error: `status 5: process claimed (#${i})`, params: [{ process: 1, fbnr: 1, wireType: 0x20, dde: 9, raw: u16(7), value: 7 }] };
        break;
      case 5: // an error frame
        t = { ...base, command: undefined, commandName: 'error', outcome: 'error-frame', errorCode: 3, error: 'error frame 3', params: [{ process: 1, fbnr: 0, wireType: 0x20, dde: 8 }] };
        break;
      case 6: // a timeout: no reply, no latency, three attempts, addresses only
        t = { ...base, outcome: 'timeout', replyBytes: undefined, latencyMs: undefined, attempts: 3, error: 'no reply after 3 attempts', params: [{ process: 33, fbnr: 0, wireType: 0x40, dde: 205 }, { process: 1, fbnr: 0, wireType: 0x20, dde: 8 }] };
        break;
      case 7: // bridge: an answer without its request (index-only) and an unanswered request
        t =
          i % 20 === 7
            ? { ...base, mode: 'bridge', purpose: 'observed', outcome: 'orphan', requestBytes: undefined, latencyMs: undefined, params: [{ process: 1, fbnr: 0, wireType: 0x20, indexOnly: true, raw: u16(1234), value: 1234 }, { process: 2, fbnr: 5, wireType: 0x40, indexOnly: true, raw: f32(2.5), value: 2.5 }] }
            : { ...base, mode: 'bridge', purpose: 'observed', outcome: 'unanswered', replyBytes: undefined, latencyMs: undefined, params: [{ process: 1, fbnr: 0, wireType: 0x20, dde: 8 }] };
        break;
      case 8: // texts that have no code and numbers outside the compact columns
        t = { ...base, purpose: 'custom-probe', outcome: 'cmd-9', commandName: 'cmd-9', command: 9, node: 300, seq: 513, attempts: 300, status: 1000, latencyMs: 3_000_000, endedAt: base.startedAt + 3_000_000, params: [{ process: 1, fbnr: 0, wireType: 0x20, dde: 40000, raw: u16(1), value: 1 }] };
        break;
      default: // a broadcast without a node; a parameter with raw bytes of the wrong size
        t = { ...base, node: undefined, command: 6, commandName: 'broadcast', purpose: 'request', replyBytes: undefined, params: [{ process: 1, fbnr: 1, wireType: 0x20, dde: 9, raw: '01', value: 1 }] };
    }
    out.push({ t, gateway });
  }
  return out;
}

/** What must be the same before and after a conversion, computed apart from the converter's own checks. */
export interface LogDigest {
  readonly transactions: number;
  /** Per `node/dde` (node -1: none): how many values and the sum of value_num. */
  readonly perSeries: Record<string, { n: number; sum: number }>;
  /** Order-independent checksums of the request and reply bytes: sums of CRC-32 mod 2^32, and their XOR. */
  readonly requestCrc: string;
  readonly replyCrc: string;
}

function crcAcc() {
  let sum = 0;
  let xor = 0;
  let nulls = 0;
  return {
    add(b: unknown) {
      if (b === null || b === undefined) {
        nulls++;
        return;
      }
      const c = crc32(b as Uint8Array);
      sum = (sum + c) % 4294967296;
      xor = (xor ^ c) >>> 0;
    },
    text: () => `${sum.toString(16)}/${xor.toString(16)}/${nulls}`,
  };
}

/** The digest of the old tables (`old`) or of the compact ones, read in pages of `page`. */
export async function logDigest(conn: Connection, which: 'old' | 'new', page = 20_000): Promise<LogDigest> {
  const perSeries: Record<string, { n: number; sum: number }> = {};
  const [req, rep] = [crcAcc(), crcAcc()];
  let transactions = 0;
  if (which === 'old') {
    const groups = await sql<{ node: number; dde: number; n: number; s: number | null }>`SELECT COALESCE(node, -1) AS node, dde, COUNT(*) AS n, SUM(value_num) AS s FROM parameter_values WHERE dde BETWEEN 0 AND 32767 GROUP BY COALESCE(node, -1), dde`.execute(conn.db);
    for (const g of groups.rows) perSeries[`${Number(g.node)}/${Number(g.dde)}`] = { n: Number(g.n), sum: Number(g.s ?? 0) };
    let last: { s: number; id: string } | undefined;
    for (;;) {
      let q = conn.db.selectFrom('transactions').select(['started_us', 'id', 'request', 'reply']);
      if (last) {
        const l = last;
        q = q.where((eb) => eb.or([eb('started_us', '>', l.s), eb.and([eb('started_us', '=', l.s), eb('id', '>', l.id)])]));
      }
      const rows = await q.orderBy('started_us').orderBy('id').limit(page).execute();
      for (const r of rows) {
        req.add(r.request);
        rep.add(r.reply);
      }
      transactions += rows.length;
      if (rows.length < page) break;
      const z = rows[rows.length - 1]!;
      last = { s: Number(z.started_us), id: String(z.id) };
    }
  } else {
    // A value in the 4-byte value_f means the double it was read back as (fromSingle), not the
    // float the database widens it to: summed here per distinct value_f.
    const groups = await sql<{ node: number; dde: number; f: number | null; n: number; s: number | null }>`SELECT s.node AS node, s.dde AS dde, v.value_f AS f, COUNT(*) AS n, SUM(v.value_num) AS s FROM log_values v JOIN log_series s ON s.id = v.series GROUP BY s.node, s.dde, v.value_f`.execute(conn.db);
    for (const g of groups.rows) {
      const key = `${Number(g.node)}/${Number(g.dde)}`;
      const e = perSeries[key] ?? { n: 0, sum: 0 };
      const single = g.f === null ? 0 : fromSingle(Number(g.f)) * Number(g.n);
      perSeries[key] = { n: e.n + Number(g.n), sum: e.sum + Number(g.s ?? 0) + single };
    }
    // A read request's bytes live in log_templates (the same bytes every poll).
    const templates = new Map<number, Buffer | null>();
    for (const t of await conn.db.selectFrom('log_templates').select(['id', 'request']).execute()) templates.set(Number(t.id), t.request);
    let last: { src: number; s: number; k: number } | undefined;
    for (;;) {
      let q = conn.db.selectFrom('log_transactions').select(['source', 'started_us', 'k', 'request', 'reply', 'template']);
      if (last) {
        const l = last;
        q = q.where((eb) =>
          eb.or([eb('source', '>', l.src), eb.and([eb('source', '=', l.src), eb.or([eb('started_us', '>', l.s), eb.and([eb('started_us', '=', l.s), eb('k', '>', l.k)])])])]),
        );
      }
      const rows = await q.orderBy('source').orderBy('started_us').orderBy('k').limit(page).execute();
      for (const r of rows) {
        req.add(r.template === null ? r.request : (templates.get(Number(r.template)) ?? null));
        rep.add(r.reply);
      }
      transactions += rows.length;
      if (rows.length < page) break;
      const z = rows[rows.length - 1]!;
      last = { src: Number(z.source), s: Number(z.started_us), k: Number(z.k) };
    }
  }
  return { transactions, perSeries, requestCrc: req.text(), replyCrc: rep.text() };
}

/** The differences between two digests (sums compared to 1e-9 relative: they are added in different orders); empty when they agree. */
export function digestDifferences(a: LogDigest, b: LogDigest): string[] {
  const out: string[] = [];
  if (a.transactions !== b.transactions) out.push(`transactions ${a.transactions} vs ${b.transactions}`);
  if (a.requestCrc !== b.requestCrc) out.push(`request checksum ${a.requestCrc} vs ${b.requestCrc}`);
  if (a.replyCrc !== b.replyCrc) out.push(`reply checksum ${a.replyCrc} vs ${b.replyCrc}`);
  for (const key of new Set([...Object.keys(a.perSeries), ...Object.keys(b.perSeries)])) {
    const [x, y] = [a.perSeries[key], b.perSeries[key]];
    if (!x || !y || x.n !== y.n || Math.abs(x.sum - y.sum) > 1e-9 * Math.max(1, Math.abs(x.sum))) out.push(`series ${key}: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
  }
  return out;
}

/**
 * The transactions in groups of `size` that start in the same µs on the same source (gateway,
 * bus, mode), each ending `i` µs apart: ties that a chunk boundary splits unless the batch is a
 * multiple of `size`.
 */
export function inTieGroups(list: readonly { t: LoggedTransaction; gateway: string | null }[], size: number): { t: LoggedTransaction; gateway: string | null }[] {
  return list.map((x, i) => {
    const first = list[i - (i % size)]!;
    const durMs = x.t.endedAt - x.t.startedAt;
    return { gateway: first.gateway, t: { ...x.t, bus: first.t.bus, mode: first.t.mode, startedAt: first.t.startedAt, endedAt: first.t.startedAt + durMs } };
  });
}
