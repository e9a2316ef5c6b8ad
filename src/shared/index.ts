export * from './errors.js';
export * from './hex.js';
export * from './logger.js';
export * from './abort.js';
export * from './id.js';
export * from './refusals.js';
