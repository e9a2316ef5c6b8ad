export * from './address.js';
export * from './links.js';
export * from './transport.js';
export * from './serial-port.js';
export * from './direct.js';
