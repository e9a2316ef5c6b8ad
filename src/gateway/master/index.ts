/** Master mode, in parts of one job each (see service.ts); what the rest of the gateway uses of it. */
export { MasterGateway } from './service.js';
export { DEFAULT_MASTER_OPTIONS, resolveMasterOptions, type MasterBusOptions, type MasterDeps, type MasterOptions, type MasterOptionsInput } from './options.js';
