/** Public surface of the MQTT layer (the composition root imports only this file). */
export { MAX_COMMAND_BYTES, MAX_PENDING_COMMANDS, MqttLink, type MqttLinkOptions, type MqttStatus } from './link.js';
export { HA_REQUIRED_KEYS, controlModeOptions, deviceId, discoveryConfigs, type DiscoveryConfig, type DiscoveryContext, type HaComponent } from './discovery.js';
export { Outbox, type OutMessage } from './outbox.js';
export { changedBeyond, instrumentTopic, stateMessage, topicSafe, topicsFor, type StateMessage, type Topics } from './topics.js';
