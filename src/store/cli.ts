/** `flowbus db migrate` and `flowbus export transactions|history`. */
import type { Command } from 'commander';
import { applyOverrides, defaultConfig, isGatewayName, loadConfig } from '../config/index.js';
import { resolveParam } from '../params/index.js';
import { parseInstrumentRef } from '../gateway/index.js';
import { GatewayError, type Logger } from '../shared/index.js';
import { TRANSACTION_CSV_HEADER, historyCsv, transactionCsvLine } from './csv.js';
import { MAX_PAGE, isoFromMicros, parseBucket, parseTime, type GatewayFilter, type TransactionQuery } from './query.js';
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

/** Adds `flowbus db migrate` and `flowbus export`. */
export function registerStoreCommands(program: Command): void {
  const db = program.command('db').description('the transaction log database');
  addStoreOptions(db.command('migrate').description('create or update the transaction log tables (the gateway also does this at start)')).action((flags: StoreFlags) =>
    run(async () => {
      const url = await storeUrl(flags);
      const applied = await migrateStore(url, stderrLogger);
      process.stdout.write(`${redactStoreUrl(url)}: ${applied.length === 0 ? 'schema up to date' : `applied ${applied.join(', ')}`}\n`);
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
