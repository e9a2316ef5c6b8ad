/** Public surface of the Prometheus metrics (other folders import only this file). */
export { GatewayMetrics, REPLY_LATENCY_BUCKETS, STORE_STATES, TRANSPORT_STATES, type MetricsOptions, type StoreStatusSource } from './metrics.js';
