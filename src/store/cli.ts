/** `flowbus db migrate`, `flowbus db convert` and `flowbus export transactions|history`. */
import type { Command } from 'commander';
import { applyOverrides, defaultConfig, isGatewayName, loadConfig } from '../config/index.js';
import { resolveParam } from '../params/index.js';
import { parseInstrumentRef } from '../gateway/index.js';
import { GatewayError, type Logger } from '../shared/index.js';
import { convertStore, DEFAULT_BATCH, MAX_BATCH, MIN_BATCH, type ConvertProgress, type ConvertResult } from './convert.js';
import { TRANSACTION_CSV_HEADER, historyCsv, transactionCsvLine } from './csv.js';
import { MAX_PAGE, isoFromMicros, parseBucket, parseTime, checkTimeRange, type GatewayFilter, type TransactionQuery } from './query.js';
import { migrateStore, openStoreReader } from './store.js';
import { redactStoreUrl } from './url.js';

interface StoreFlags {
  readonly store?: string;
  readonly config?: string;
}

/** The store URL: --store, else FLOWBUS_STORE_URL, else the config file's, else the default. */
async function storeUrl(flags: StoreFlags): Promise<string> {
  const base = flags.config ? await loadConfig(flags.config) : defaultConfig();
  const config = applyOverrides(base, { env: process.env, flags: flags.store ? { storeUrl: flags.store } : {} });
  return config.store.url;
}

const stderrLogger: Logger = {
  error: (o, m) => process.stderr.write(`error: ${m ?? (typeof o === 'string' ? o : JSON.stringify(o))}\n`),
  warn: (o, m) => process.stderr.write(`warning: ${m ?? (typeof o === 'string' ? o : JSON.stringify(o))}\n`),
  info: (o, m) => process.stderr.write(`${m ?? (typeof o === 'string' ? o : JSON.stringify(o))}\n`),
  debug: () => {},
  child: () => stderrLogger,
};


async function run(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    process.stderr.write(err instanceof GatewayError ? `error ${err.code}: ${err.message}\n` : `error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
}

/** `--gateway NAME`: that gateway's rows; absent or `*`: every gateway's (the database has no gateway of its own). */
function gatewayOption(name: string | undefined): { gateway?: GatewayFilter } {
  if (name === undefined || name === '*') return {};
  if (!isGatewayName(name)) {
    throw new GatewayError('CLI_BAD_OPTION', `--gateway ${JSON.stringify(name.slice(0, 80))} is not a gateway name (1..64 letters, digits, '.', '_' or '-') nor *`, { option: '--gateway', value: name });
  }
  return { gateway: { name } };
}

interface ExportFlags extends StoreFlags {
  readonly gateway?: string;
  readonly node?: string;
  readonly param?: string;
  readonly outcome?: string;
  readonly since?: string;
  readonly until?: string;
  readonly limit?: string;
  readonly bucket?: string;
  readonly format: 'csv' | 'json';
}

function addStoreOptions(cmd: Command): Command {
  return cmd
    .option('--store <url>', 'sqlite:PATH or mysql://user:pass@host:3306/db (default from --config, else sqlite:./data/flowbus.db); a password here shows in ps: prefer env FLOWBUS_STORE_URL')
    .option('-c, --config <file>', 'YAML config file whose store.url to use');
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const [h, m] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60)];
  return `${h > 0 ? `${h}:${String(m).padStart(2, '0')}` : m}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Progress on stderr: one line redrawn on a terminal; a plain line every 5 s otherwise; with
 * --json a JSON line per chunk for machines.
 */
function progressReporter(json: boolean): { report: (p: ConvertProgress) => void; end: () => void } {
  const tty = process.stderr.isTTY === true && !json;
  let lastAt = 0;
  let drawn = false;
  return {
    report(p) {
      const rate = p.elapsedMs > 0 ? (p.done * 1000) / p.elapsedMs : 0;
      const pct = p.total > 0 ? (100 * p.done) / p.total : 100;
      const eta = rate > 0 ? ((p.total - p.done) / rate) * 1000 : 0;
      if (json) {
        process.stderr.write(`${JSON.stringify({ phase: p.phase, done: p.done, total: p.total, percent: Math.round(pct * 10) / 10, perSecond: Math.round(rate), etaS: Math.round(eta / 1000) })}\n`);
        return;
      }
      const now = Date.now();
      if (!tty && now - lastAt < 5000 && p.done < p.total) return;
      lastAt = now;
      const width = 24;
      const bar = tty ? `[${'#'.repeat(Math.round((pct / 100) * width)).padEnd(width, '.')}] ` : '';
      const line = `${p.phase === 'convert' ? 'converting' : 'verifying '} ${bar}${pct.toFixed(1)}% ${p.done.toLocaleString('en')}/${p.total.toLocaleString('en')} transactions, ${Math.round(rate).toLocaleString('en')}/s, ETA ${clock(eta)}`;
      process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      drawn = tty;
    },
    end() {
      if (drawn) process.stderr.write('\n');
      drawn = false;
    },
  };
}

/** What `flowbus db convert` says at the end. */
function convertSummary(url: string, r: ConvertResult, dropOld: boolean): string {
  const lines: string[] = [];
  const where = redactStoreUrl(url);
  const when = (us: number | undefined) => (us === undefined ? '' : new Date(us / 1000).toISOString());
  if (r.noOldTables) {
    lines.push(
      r.checkpoint?.droppedUs !== undefined
        ? `${where}: nothing to convert: the old tables were dropped on ${when(r.checkpoint.droppedUs)} after ${r.checkpoint.transactions.toLocaleString('en')} transactions were converted and verified`
        : `${where}: nothing to convert: there are no old tables (transactions, parameter_values)`,
    );
    return lines.join('\n');
  }
  if (r.converted === 0) {
    lines.push(
      r.before > 0
        ? `${where}: nothing to convert: all ${r.before.toLocaleString('en')} transactions were converted before${r.checkpoint?.verifiedUs === undefined ? '' : ` (verified ${when(r.checkpoint.verifiedUs)})`}`
        : `${where}: nothing to convert: the old tables are empty`,
    );
  } else {
    const s = r.elapsedMs / 1000;
    lines.push(`${where}: converted ${r.converted.toLocaleString('en')} transactions (${r.convertedValues.toLocaleString('en')} parameter values)${r.before > 0 ? `, after ${r.before.toLocaleString('en')} converted before` : ''}, in ${s.toFixed(1)} s`);
  }
  if (r.verified) {
    lines.push(`verified: ${r.verified.transactions.toLocaleString('en')} transactions and ${r.verified.parameterValues.toLocaleString('en')} parameter values equal old vs new (${r.verified.historyValues.toLocaleString('en')} history values)`);
  }
  if (r.dropped) lines.push(`dropped the old tables${r.oldBytes === undefined ? '' : `, ${mb(r.oldBytes)}`}${r.oldBytes !== undefined && !url.startsWith('mysql:') ? ' (SQLite reuses the pages for new rows; the file shrinks only with VACUUM)' : ''}`);
  else if (r.oldBytes !== undefined && !dropOld) lines.push(`the old tables stay: ${mb(r.oldBytes)}; flowbus db convert --drop-old drops them (after verifying again)`);
  if (r.newBytes !== undefined) lines.push(`the compact tables: ${mb(r.newBytes)}`);
  return lines.join('\n');
}

function parseBatch(text: string | undefined): number {
  if (text === undefined) return DEFAULT_BATCH;
  const n = Number(text);
  if (!/^\d{1,6}$/.test(text.trim()) || n < MIN_BATCH || n > MAX_BATCH) {
    throw new GatewayError('CLI_BAD_OPTION', `--batch must be a whole number ${MIN_BATCH}..${MAX_BATCH}, got ${JSON.stringify(text.slice(0, 40))}`, { option: '--batch', value: text, min: MIN_BATCH, max: MAX_BATCH });
  }
  return n;
}

interface ConvertFlags extends StoreFlags {
  readonly url?: string;
  readonly batch?: string;
  readonly dropOld?: boolean;
  readonly verify?: boolean;
  readonly json?: boolean;
}

/** Adds `flowbus db migrate`, `flowbus db convert` and `flowbus export`. */
export function registerStoreCommands(program: Command): void {
  const db = program.command('db').description('the transaction log database');
  addStoreOptions(db.command('migrate').description('create or update the transaction log tables (the gateway also does this at start)')).action((flags: StoreFlags) =>
    run(async () => {
      const url = await storeUrl(flags);
      const applied = await migrateStore(url, stderrLogger);
      process.stdout.write(`${redactStoreUrl(url)}: ${applied.length === 0 ? 'schema up to date' : `applied ${applied.join(', ')}`}\n`);
    }),
  );

  addStoreOptions(
    db
      .command('convert')
      .description('copy the rows of a log from before the compact schema (transactions, parameter_values) into the compact tables, verify, and optionally drop the old tables; resumable')
      .option('--url <url>', 'the same as --store')
      .option('--batch <n>', `old transactions per chunk, each one database transaction with its checkpoint (${MIN_BATCH}..${MAX_BATCH})`, String(DEFAULT_BATCH))
      .option('--drop-old', 'drop the old tables once every converted row is verified equal')
      .option('--verify', 'verify the converted rows even when there is nothing left to convert')
      .option('--json', 'progress as JSON lines on stderr, the result as JSON on stdout'),
  ).action((flags: ConvertFlags) =>
    run(async () => {
      const batch = parseBatch(flags.batch);
      const url = await storeUrl(flags.url ? { ...flags, store: flags.url } : flags);
      const progress = progressReporter(flags.json === true);
      let result: ConvertResult;
      try {
        result = await convertStore(url, stderrLogger, { batch, dropOld: flags.dropOld === true, verify: flags.verify === true, onProgress: progress.report });
      } finally {
        progress.end();
      }
      process.stdout.write(flags.json ? `${JSON.stringify({ url: redactStoreUrl(url), ...result })}\n` : `${convertSummary(url, result, flags.dropOld === true)}\n`);
    }),
  );

  const exp = program.command('export').description('write logged transactions or a parameter history as CSV or JSON lines to stdout');
  addStoreOptions(
    exp
      .command('transactions')
      .description('transactions, newest first, with their decoded parameters')
      .option('--gateway <name>', "only the rows this gateway logged (gateway.name); default: every gateway's")
      .option('--node <node>', 'only this instrument: 3 or bus:3')
      .option('--param <param>', 'only transactions carrying this parameter (key, name or DDE number)')
      .option('--outcome <outcome>', 'only this outcome: ok, timeout, status, ...')
      .option('--since <time>', 'started at or after: ISO 8601 or ms since the epoch')
      .option('--until <time>', 'started before: ISO 8601 or ms since the epoch')
      .option('--limit <n>', 'at most this many (default: all)')
      .option('--format <format>', 'csv or json (one object per line)', 'csv'),
  ).action((flags: ExportFlags) =>
    run(async () => {
      const reader = openStoreReader(await storeUrl(flags));
      try {
        // Transactions are per node: a channel (`main:3/2`) means its node.
        const { channel: _channel, ...ref } = flags.node === undefined ? {} : parseInstrumentRef(flags.node);
        const base: TransactionQuery = {
          ...gatewayOption(flags.gateway),
          ...ref,
          ...(flags.param === undefined ? {} : { dde: resolveParam(flags.param).dde }),
          ...(flags.outcome === undefined ? {} : { outcome: flags.outcome }),
          ...(flags.since === undefined ? {} : { sinceUs: parseTime(flags.since, '--since') }),
          ...(flags.until === undefined ? {} : { untilUs: parseTime(flags.until, '--until') }),
        };
        checkTimeRange(base.sinceUs, base.untilUs, { since: '--since', until: '--until' });
        let left = flags.limit === undefined ? Infinity : Math.max(0, Number(flags.limit));
        let cursor: string | undefined;
        // The CSV header goes out with the first page, so a store that cannot be reached leaves nothing behind.
        let header = flags.format === 'csv' ? TRANSACTION_CSV_HEADER : '';
        while (left > 0) {
          const page = await reader.listTransactions({ ...base, limit: Math.min(left, MAX_PAGE / 10), ...(cursor ? { cursor } : {}) });
          let text = header;
          header = '';
          for (const t of page.transactions) {
            text += flags.format === 'csv' ? transactionCsvLine(t) : JSON.stringify({ ...t, requestBytes: undefined, replyBytes: undefined, time: isoFromMicros(Math.round(t.startedAt * 1000)), request: t.requestBytes ? Buffer.from(t.requestBytes).toString('hex') : null, reply: t.replyBytes ? Buffer.from(t.replyBytes).toString('hex') : null }) + '\n';
          }
          if (!process.stdout.write(text)) await new Promise((r) => process.stdout.once('drain', r));
          left -= page.transactions.length;
          if (!page.nextCursor) break;
          cursor = page.nextCursor;
        }
      } finally {
        await reader.close();
      }
    }),
  );

  addStoreOptions(
    exp
      .command('history')
      .description('values of one parameter of one instrument over time: raw, or min/mean/max per bucket')
      .argument('<node>', 'instrument: 3 or bus:3')
      .argument('<param>', 'parameter: key, name or DDE number')
      .option('--since <time>', 'from: ISO 8601 or ms since the epoch (default: one hour before --until)')
      .option('--until <time>', 'to (exclusive): ISO 8601 or ms since the epoch (default: now)')
      .option('--bucket <width>', 'min, mean and max per bucket: 100ms, 1s, 1m, 1h, 1d')
      .option('--gateway <name>', 'the instrument of this gateway (gateway.name), when several gateways log into the database')
      .option('--format <format>', 'csv or json', 'csv'),
  ).action((node: string, param: string, flags: ExportFlags) =>
    run(async () => {
      const reader = openStoreReader(await storeUrl(flags));
      try {
        const untilUs = flags.until === undefined ? Date.now() * 1000 : parseTime(flags.until, '--until');
        const sinceUs = flags.since === undefined ? untilUs - 3_600_000_000 : parseTime(flags.since, '--since');
        checkTimeRange(sinceUs, untilUs, { since: '--since', until: flags.until === undefined ? '--until (now)' : '--until' });
        const { channel, ...ref } = parseInstrumentRef(node);
        if (channel !== undefined) throw new GatewayError('API_BAD_REQUEST', `history is kept per parameter of channel 1 only; channel ${channel} values are in the transactions of node ${ref.node}`, { node, channel });
        const h = await reader.parameterHistory({
          ...gatewayOption(flags.gateway),
          ...ref,
          dde: resolveParam(param).dde,
          sinceUs,
          untilUs,
          ...(flags.bucket === undefined ? {} : { bucketUs: parseBucket(flags.bucket) }),
        });
        process.stdout.write(flags.format === 'csv' ? historyCsv(h) : JSON.stringify(h) + '\n');
      } finally {
        await reader.close();
      }
    }),
  );
}
