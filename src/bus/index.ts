export * from './priority.js';
export * from './options.js';
export * from './failure.js';
export * from './matcher.js';
export * from './bus.js';
export * from './params.js';
