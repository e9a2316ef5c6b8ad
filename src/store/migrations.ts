/**
 * Schema migrations, applied by Kysely's migrator at start and by `flowbus db migrate`.
 * Rule: a migration never loses data. Only add tables, columns (nullable or with a default)
 * and indexes; never drop or narrow a column that holds rows.
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import { GatewayError, type Logger } from '../shared/index.js';
import type { Dialect } from './db.js';

/** Column types that differ between the dialects. */
function types(dialect: Dialect) {
  const mysql = dialect === 'mysql';
  return {
    id: mysql ? sql`char(36) character set ascii collate ascii_bin` : sql`text`,
    name: mysql ? sql`varchar(64)` : sql`text`,
    text: mysql ? sql`varchar(1024)` : sql`text`,
    bytes: mysql ? sql`varbinary(1024)` : sql`blob`,
    real: mysql ? sql`double` : sql`real`,
    // Compared byte for byte in both dialects (MySQL's default collation ignores case).
    gateway: mysql ? sql`varchar(64) character set ascii collate ascii_bin` : sql`text`,
  };
}

function migrations(dialect: Dialect): Record<string, Migration> {
  const t = types(dialect);
  return {
    '0001_transaction_log': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('transactions')
          .ifNotExists()
          .addColumn('id', t.id, (c) => c.primaryKey())
          .addColumn('bus', t.name, (c) => c.notNull())
          .addColumn('mode', t.name, (c) => c.notNull())
          .addColumn('node', 'integer')
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('command', 'integer')
          .addColumn('command_name', t.name, (c) => c.notNull())
          .addColumn('purpose', t.name, (c) => c.notNull())
          .addColumn('outcome', t.name, (c) => c.notNull())
          .addColumn('status', 'integer')
          .addColumn('error_code', 'integer')
          .addColumn('request', t.bytes)
          .addColumn('reply', t.bytes)
          .addColumn('started_us', 'bigint', (c) => c.notNull())
          .addColumn('ended_us', 'bigint', (c) => c.notNull())
          .addColumn('latency_us', 'bigint')
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('error', t.text)
          .execute();
        // Newest-first listing and keyset pagination; the same per node.
        await db.schema.createIndex('transactions_started').ifNotExists().on('transactions').columns(['started_us', 'id']).execute();
        await db.schema.createIndex('transactions_node_started').ifNotExists().on('transactions').columns(['node', 'started_us', 'id']).execute();

        await db.schema
          .createTable('parameter_values')
          .ifNotExists()
          .addColumn('transaction_id', t.id, (c) => c.notNull())
          .addColumn('position', 'integer', (c) => c.notNull())
          .addColumn('bus', t.name, (c) => c.notNull())
          .addColumn('node', 'integer')
          .addColumn('dde', 'integer')
          .addColumn('address', 'integer', (c) => c.notNull())
          .addColumn('value_num', t.real)
          .addColumn('value_text', t.text)
          .addColumn('raw', t.bytes)
          .addColumn('time_us', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('parameter_values_pk', ['transaction_id', 'position'])
          .execute();
        // "This parameter of this node between two times".
        await db.schema.createIndex('parameter_values_node_dde_time').ifNotExists().on('parameter_values').columns(['node', 'dde', 'time_us']).execute();
      },
      async down() {
        throw new GatewayError('STORE_MIGRATION', 'migrations are never undone: they would lose data');
      },
    },
    // Many gateways into one database: each row says which gateway logged it. Nullable, so that
    // adding it is instant and rows from before keep NULL ("not recorded"): nothing is guessed.
    '0002_gateway': {
      async up(db: Kysely<unknown>) {
        for (const table of ['transactions', 'parameter_values']) {
          if (!(await hasColumn(db, dialect, table, 'gateway'))) await db.schema.alterTable(table).addColumn('gateway', t.gateway).execute();
        }
        // Listing one gateway's rows newest first, and by bus and node; one gateway's history.
        await db.schema.createIndex('transactions_gateway_started').ifNotExists().on('transactions').columns(['gateway', 'started_us', 'id']).execute();
        await db.schema
          .createIndex('transactions_gateway_bus_node_started')
          .ifNotExists()
          .on('transactions')
          .columns(['gateway', 'bus', 'node', 'started_us', 'id'])
          .execute();
        await db.schema
          .createIndex('parameter_values_gateway_node_dde_time')
          .ifNotExists()
          .on('parameter_values')
          .columns(['gateway', 'node', 'dde', 'time_us'])
          .execute();
      },
      async down() {
        throw new GatewayError('STORE_MIGRATION', 'migrations are never undone: they would lose data');
      },
    },
    // The compact log: lookup tables for who logged on which bus and for each instrument's
    // parameter, transactions clustered by (source, started_us, k) and values by (series,
    // time_us, k, position), small integer codes, bytes as bytes. The old tables stay as they
    // are (`flowbus db convert` copies their rows over); from here on only these are written.
    '0003_compact_log': {
      async up(db: Kysely<unknown>) {
        for (const ddl of compactLogDdl(dialect)) await sql.raw(ddl).execute(db);
      },
      async down() {
        throw new GatewayError('STORE_MIGRATION', 'migrations are never undone: they would lose data');
      },
    },
  };
}

/** The tables of migration 0003, as DDL of the dialect (IF NOT EXISTS: MySQL's DDL is not transactional, a half-done run is run again). */
export function compactLogDdl(dialect: Dialect): string[] {
  if (dialect === 'mysql') {
    const end = 'ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';
    return [
      `CREATE TABLE IF NOT EXISTS log_sources (
        id smallint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
        gateway varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        bus varchar(64) NOT NULL,
        mode varchar(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        UNIQUE KEY log_sources_key (gateway, bus, mode)
      ) ${end}`,
      `CREATE TABLE IF NOT EXISTS log_series (
        id mediumint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
        source smallint unsigned NOT NULL,
        node smallint NOT NULL,
        dde smallint NOT NULL,
        UNIQUE KEY log_series_key (source, node, dde)
      ) ${end}`,
      `CREATE TABLE IF NOT EXISTS log_templates (
        id mediumint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
        hash binary(16) NOT NULL,
        request varbinary(1024) NULL,
        shape varbinary(2048) NULL,
        UNIQUE KEY log_templates_hash (hash)
      ) ${end}`,
      `CREATE TABLE IF NOT EXISTS log_transactions (
        source smallint unsigned NOT NULL,
        started_us bigint NOT NULL,
        k smallint unsigned NOT NULL,
        node tinyint unsigned NULL,
        seq tinyint unsigned NULL,
        command tinyint unsigned NULL,
        command_name tinyint unsigned NOT NULL,
        purpose tinyint unsigned NOT NULL,
        outcome tinyint unsigned NOT NULL,
        status tinyint unsigned NULL,
        error_code tinyint unsigned NULL,
        template mediumint unsigned NULL,
        request varbinary(1024) NULL,
        reply varbinary(1024) NULL,
        ended_d int NULL,
        latency_us int NULL,
        attempts tinyint unsigned NULL,
        error varchar(1024) NULL,
        shape varbinary(2048) NULL,
        data varbinary(4096) NULL,
        extra varchar(2048) NULL,
        PRIMARY KEY (source, started_us, k)
      ) ${end}`,
      `CREATE TABLE IF NOT EXISTS log_values (
        series mediumint unsigned NOT NULL,
        time_us bigint NOT NULL,
        k smallint unsigned NOT NULL,
        position tinyint unsigned NOT NULL,
        value_f float NULL,
        value_num double NULL,
        value_text varchar(1024) NULL,
        PRIMARY KEY (series, time_us, k, position)
      ) ${end}`,
    ];
  }
  return [
    `CREATE TABLE IF NOT EXISTS log_sources (id INTEGER PRIMARY KEY, gateway TEXT NOT NULL, bus TEXT NOT NULL, mode TEXT NOT NULL, UNIQUE (gateway, bus, mode))`,
    `CREATE TABLE IF NOT EXISTS log_series (id INTEGER PRIMARY KEY, source INTEGER NOT NULL, node INTEGER NOT NULL, dde INTEGER NOT NULL, UNIQUE (source, node, dde))`,
    `CREATE TABLE IF NOT EXISTS log_templates (id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, request BLOB, shape BLOB)`,
    `CREATE TABLE IF NOT EXISTS log_transactions (
      source INTEGER NOT NULL, started_us INTEGER NOT NULL, k INTEGER NOT NULL,
      node INTEGER, seq INTEGER, command INTEGER, command_name INTEGER NOT NULL, purpose INTEGER NOT NULL, outcome INTEGER NOT NULL,
      status INTEGER, error_code INTEGER, template INTEGER, request BLOB, reply BLOB, ended_d INTEGER, latency_us INTEGER, attempts INTEGER,
      error TEXT, shape BLOB, data BLOB, extra TEXT,
      PRIMARY KEY (source, started_us, k)
    ) WITHOUT ROWID`,
    `CREATE TABLE IF NOT EXISTS log_values (
      series INTEGER NOT NULL, time_us INTEGER NOT NULL, k INTEGER NOT NULL, position INTEGER NOT NULL, value_f REAL, value_num REAL, value_text TEXT,
      PRIMARY KEY (series, time_us, k, position)
    ) WITHOUT ROWID`,
  ];
}

/** Whether the table has the column: MySQL's DDL is not transactional, so a migration that stopped halfway is run again. */
async function hasColumn(db: Kysely<unknown>, dialect: Dialect, table: string, column: string): Promise<boolean> {
  const rows =
    dialect === 'mysql'
      ? await sql<{ n: number }>`SELECT COUNT(*) AS n FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ${table} AND column_name = ${column}`.execute(db)
      : await sql<{ n: number }>`SELECT COUNT(*) AS n FROM pragma_table_info(${table}) WHERE name = ${column}`.execute(db);
  return Number(rows.rows[0]?.n ?? 0) > 0;
}

class InlineProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

/** Applies every pending migration (or those up to `upTo`, for tests of an older schema); returns the names applied now. Throws STORE_MIGRATION. */
export async function migrate(db: Kysely<unknown>, dialect: Dialect, logger: Logger, upTo?: string): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new InlineProvider(dialect), migrationTableName: 'flowbus_migrations', migrationLockTableName: 'flowbus_migrations_lock' });
  const { error, results } = upTo === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(upTo);
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  for (const r of results ?? []) if (r.status === 'Error') logger.error({ migration: r.migrationName }, 'store migration failed');
  if (error) {
    throw new GatewayError('STORE_MIGRATION', `store migration failed: ${error instanceof Error ? error.message : String(error)}`, { applied }, { cause: error });
  }
  if (applied.length > 0) logger.info({ applied }, `store schema migrated (${applied.join(', ')})`);
  return applied;
}
