/** Public surface of the HTTP API (other folders import only this file). */
export { API_PREFIX, HOME_PAGE, buildApp, type AppDeps } from './app.js';
export { DASHBOARD_CSP, findDashboardDir, loadDashboard, type Dashboard } from './dashboard.js';
export { EVENT_STREAM_DEFAULTS, STREAMED_TYPES, eventStreamStats, type EventStreamOptions, type EventStreamStats } from './events.js';
export { LOOPBACK_HOSTS, isLoopbackHost } from './origin.js';
export { ApiError, HTTP_ERRORS, mapGatewayError, type ErrorMapping, type HttpError } from './errors.js';
export { clientAddress, tokenMatches } from './auth.js';
export { openApiDocument, renderOpenApi, stableJson } from './openapi.js';
export { ErrorBody } from './schemas.js';
export type { TransactionLog } from './log.js';
export type { MetricsEndpoint } from './metrics.js';
