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
  };
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
