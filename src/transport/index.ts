export * from './address.js';
export * from './links.js';
export * from './transport.js';
