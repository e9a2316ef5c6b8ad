/** Public surface of the configuration layer (other folders import only this file). */
export {
  type BridgeConfig,
  type BusConfig,
  type Config,
  type GatewayConfig,
  type InstrumentConfig,
  type LogLevel,
  type Mode,
  type MqttConfig,
  type PollConfig,
  BridgeSchema,
  ConfigSchema,
  DEFAULT_BUS_NAME,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_POLL_PARAMETERS,
  GATEWAY_NAME_PATTERN,
  LOG_LEVELS,
  MODES,
  MQTT_PUBLISH,
  MqttSchema,
  PROTOCOLS,
} from './schema.js';
export { type ConfigProblem, formatProblems, validateConfig } from './validate.js';
export {
  type ConfigFlags,
  type ConfigOverrides,
  type YamlSyntaxProblem,
  CONFIG_OVERRIDES,
  EXAMPLE_CONFIG_URL,
  applyOverrides,
  configFrom,
  defaultConfig,
  loadConfig,
  parseConfig,
  readExampleConfig,
  simulatorConfig,
} from './load.js';
export { gatewayName, isGatewayName, safeGatewayName } from './gateway-name.js';
export { redactUrl, summariseConfig } from './summary.js';
export { registerConfigCommand, runConfigCheck } from './cli.js';
