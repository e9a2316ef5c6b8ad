/** Public surface of the transaction log (other folders import only this file). */
export { openStore, openStoreReader, migrateStore, type StoreReader, type Store, type StoreConfig, type StoreOptions, type StoreState, type StoreStatus, type StoreStateChange } from './store.js';
export { resolveStoreOptions, type ResolvedStoreOptions } from './options.js';
export {
  type BucketPoint,
  type GatewayFilter,
  type HistoryQuery,
  type HistoryResult,
  type RawPoint,
  type TransactionPage,
  type TransactionQuery,
  MAX_PAGE,
  listTransactions,
  getTransaction,
  transactionId,
  parseTransactionId,
  parameterHistory,
  MAX_POINTS,
  decodeCursor,
  encodeCursor,
  isoFromMicros,
  parseBucket,
  parseTime,
  checkTimeRange,
  MAX_BUCKET_US,
  MAX_TIME_US,
  MIN_BUCKET_US,
  MIN_TIME_US,
} from './query.js';
export { historyCsv, transactionCsvLine, transactionsCsv, TRANSACTION_CSV_HEADER } from './csv.js';
export { defaultSpoolDir, parseStoreUrl, redactStoreUrl, type StoreTarget } from './url.js';
export { SPOOL_FILE } from './spool.js';
export { registerStoreCommands } from './cli.js';
