/**
 * Bridge mode, a file per job: `forwarder` (bytes from one side to the other, counters, the
 * latency histogram), `tap` (bursts, deframing, pairing, apart from forwarding), `link-health`
 * (each side's state, reopen, master silence, the link events), `observed-state` (what was seen
 * per node), `instrument-watch` (found/online/offline/identity and values events), `traffic`
 * (outcome counts), `capture` (the socat file), `observed` (an observed transaction as logged,
 * shared with replay), `injector` (the API's requests in the gaps of the master's, `bridge.inject`), `options` (every tunable) and `service` (BridgeGateway).
 */
export { BridgeGateway } from './service.js';
export type { InjectView } from '../service.js';
export { resolveBridgeOptions, type BridgeDeps, type BridgeOptions, type BridgeOptionsInput } from './options.js';
export { deterministicId, loggedFromObserved } from './observed.js';
