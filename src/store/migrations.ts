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
  };
}

class InlineProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

/** Applies every pending migration; returns the names applied now. Throws STORE_MIGRATION. */
export async function migrate(db: Kysely<unknown>, dialect: Dialect, logger: Logger): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new InlineProvider(dialect), migrationTableName: 'flowbus_migrations', migrationLockTableName: 'flowbus_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  for (const r of results ?? []) if (r.status === 'Error') logger.error({ migration: r.migrationName }, 'store migration failed');
  if (error) {
    throw new GatewayError('STORE_MIGRATION', `store migration failed: ${error instanceof Error ? error.message : String(error)}`, { applied }, { cause: error });
  }
  if (applied.length > 0) logger.info({ applied }, `store schema migrated (${applied.join(', ')})`);
  return applied;
}
