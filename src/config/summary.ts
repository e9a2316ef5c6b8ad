import { redactUrl } from '../shared/index.js';
import { type Config } from './schema.js';

/** A store URL with any password replaced, safe to print and log. */
export { redactUrl };

function plural(n: number, word: string, words = `${word}s`): string {
  return `${n} ${n === 1 ? word : words}`;
}

/** One paragraph on what a config will do: buses, instruments, polling, HTTP bind, writes. */
export function summariseConfig(config: Config): string {
  const buses = config.buses.map((b) => {
    const how = [b.protocol, `${b.baud} baud`];
    if (b.pipelineDepth > 1) how.push(`${b.pipelineDepth} in flight`);
    const nodes = b.nodes && b.nodes.length > 0 ? `nodes ${b.nodes.join(', ')}` : '';
    const find = b.discover ? (nodes ? `discovery plus ${nodes}` : 'discovery') : nodes || 'no nodes (discover is off)';
    return `${b.name} on ${b.port} (${how.join(', ')}; ${find})`;
  });
  const instruments = config.instruments.map((i) => `node ${i.node}${i.name ? ` "${i.name}"` : ''}${config.buses.length > 1 ? ` on ${i.bus}` : ''}`);
  const poll =
    config.poll.parameters.length > 0
      ? `polls ${config.poll.parameters.join(', ')} every ${config.poll.intervalMs} ms`
      : 'does not poll by default';
  const local = config.http.host === '127.0.0.1' || config.http.host === 'localhost' || config.http.host === '::1';
  const writes =
    config.http.token === null
      ? 'writes are refused (no http.token)'
      : `writes are enabled with a bearer token${config.secured ? ', secured parameters included' : ''}`;
  const http = `HTTP API on ${config.http.host}:${config.http.port}${local ? ' (this machine only)' : ' (reachable from the network)'}`;
  const r = config.store.retention;
  const keeps =
    r.transactionsDays === null && r.parameterValuesDays === null
      ? 'keeping everything (no retention)'
      : `keeping transactions ${r.transactionsDays === null ? 'for ever' : `${r.transactionsDays} days`} and parameter values ${r.parameterValuesDays === null ? 'for ever' : `${r.parameterValuesDays} days`}`;
  const store = `Store ${redactUrl(config.store.url)}, ${keeps}; log level ${config.log.level}.`;
  const m = config.mqtt;
  const mqtt = m?.url
    ? [
        `MQTT to ${redactUrl(m.url)} under ${m.baseTopic}/ (${m.publish === 'poll' ? 'a state message per poll' : `on change beyond ${m.deadband}`}; ` +
          `Home Assistant discovery ${m.homeAssistant.enabled ? `under ${m.homeAssistant.prefix}/` : 'off'}; commands ${m.writes ? 'accepted' : 'refused'}).`,
      ]
    : [];
  if (config.mode === 'bridge' && config.bridge) {
    const b = config.bridge;
    return [
      `Mode bridge "${b.name}": every byte between the master on ${b.masterPort} and the instruments on ${b.instrumentPort} is forwarded unchanged (${b.protocol}, ${b.baud} baud), decoded and logged.`,
      b.capture ? `The traffic is also written to ${b.capture} in socat -x -v format.` : 'No capture file is written.',
      `A request unanswered after ${b.replyTimeoutMs} ms is logged as unanswered; a master silent for ${b.masterSilenceMs} ms is reported.`,
      `${http}; the bridge never writes to instruments.`,
      store,
      ...mqtt,
    ].join(' ');
  }
  return [
    `Mode ${config.mode}, ${plural(config.buses.length, 'bus', 'buses')}: ${buses.join('; ')}.`,
    config.instruments.length > 0
      ? `${plural(config.instruments.length, 'instrument')} configured: ${instruments.join(', ')}.`
      : 'No instruments configured individually.',
    `The gateway ${poll}.`,
    `${http}; ${writes}.`,
    store,
    ...mqtt,
  ].join(' ');
}
