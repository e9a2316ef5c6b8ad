export * from './sink.js';
export * from './views.js';
export * from './service.js';
export * from './master/index.js';
export { TransactionOutlet } from './outlet.js';
export * from './bridge/index.js';
export * from './replay.js';
export * from './events.js';
export * from './write-checks.js';
