/** Shared by the MQTT tests: the broker (skip without one, fail under CI=true), a recording subscriber, unique topics, a gateway on the simulator. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { configFrom, type Config } from '../../src/config/index.js';
import { startGateway, type RunningGateway, type StartOptions } from '../../src/main.js';
import { silentLogger, type Logger } from '../../src/shared/index.js';
import { waitUntil } from '../helpers/wait.js';

export const MQTT_URL = process.env.FLOWBUS_TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const CI = process.env.CI === 'true';

let available: Promise<boolean> | undefined;

/** Whether the broker answers. Without one the MQTT suites skip, with a message; under CI=true that is an error. */
export function mqttRuns(): Promise<boolean> {
  available ??= (async () => {
    try {
      const c = await connectAsync(MQTT_URL, { connectTimeout: 2000, reconnectPeriod: 0 }, false);
      await c.endAsync();
      return true;
    } catch (err) {
      const why = `MQTT tests skipped: no broker at ${MQTT_URL} (${err instanceof Error ? err.message : String(err)}); set FLOWBUS_TEST_MQTT_URL`;
      if (CI) throw new Error(`${why}. Under CI=true the MQTT tests must run.`);
      console.warn(why);
      return false;
    }
  })();
  return available;
}

/** A base topic and a discovery prefix of their own, so that tests never see each other's retained messages. */
export function uniqueTopics(): { base: string; prefix: string } {
  const tag = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  return { base: `flowbus_test_${tag}`, prefix: `ha_test_${tag}` };
}

export interface Received {
  readonly topic: string;
  readonly text: string;
  readonly retain: boolean;
  readonly correlation?: string;
  readonly at: number;
}

export interface Recorder {
  readonly client: MqttClient;
  readonly messages: Received[];
  /** Messages on one topic (or matching a predicate). */
  on(topic: string | ((t: string) => boolean)): Received[];
  /** The newest message on a topic, parsed as JSON. */
  json(topic: string): Record<string, unknown> | undefined;
  publish(topic: string, payload: string, opts?: Parameters<MqttClient['publishAsync']>[2]): Promise<void>;
  /** Empties every retained topic seen, then disconnects. */
  cleanup(): Promise<void>;
}

/** A client that subscribes to `filters` and records everything it receives. */
export async function recorder(filters: string[], url = MQTT_URL, options: IClientOptions = {}): Promise<Recorder> {
  const client = await connectAsync(url, { protocolVersion: 5, reconnectPeriod: 200, ...options });
  const messages: Received[] = [];
  client.on('message', (topic, payload, packet) => {
    const corr = packet.properties?.correlationData;
    messages.push({ topic, text: payload.toString('utf8'), retain: packet.retain, ...(corr ? { correlation: corr.toString('utf8') } : {}), at: performance.now() });
  });
  await client.subscribeAsync(filters, { qos: 1 });
  const on = (t: string | ((x: string) => boolean)) => messages.filter((m) => (typeof t === 'string' ? m.topic === t : t(m.topic)));
  return {
    client,
    messages,
    on,
    json(topic) {
      const last = on(topic).at(-1);
      return last && last.text ? (JSON.parse(last.text) as Record<string, unknown>) : undefined;
    },
    async publish(topic, payload, opts) {
      await client.publishAsync(topic, payload, opts);
    },
    async cleanup() {
      const retained = new Set(messages.filter((m) => m.text !== '').map((m) => m.topic));
      for (const t of retained) await client.publishAsync(t, '', { retain: true, qos: 1 });
      await client.endAsync();
    },
  };
}

const dirs: string[] = [];

/** Removes the gateways' store directories. */
export function removeStoreDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A master-mode config on the built-in simulator, with the given mqtt section; SQLite log in a directory of its own. */
export function simConfig(mqtt: Record<string, unknown>, more: { nodes?: string; intervalMs?: number; instruments?: unknown[] } = {}): Config {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-mqtt-'));
  dirs.push(dir);
  return configFrom({
    buses: [{ port: `sim://?nodes=${more.nodes ?? '3,5'}` }],
    instruments: more.instruments ?? [{ node: 3, name: 'H2 line' }],
    poll: { intervalMs: more.intervalMs ?? 200 },
    http: { host: '127.0.0.1', port: 0 },
    store: { url: `sqlite:${join(dir, 'log.db')}`, spoolDir: join(dir, 'spool') },
    log: { level: 'silent' },
    mqtt: { url: MQTT_URL, ...mqtt },
  });
}

export async function simGateway(config: Config, opts: StartOptions = {}, logger: Logger = silentLogger): Promise<RunningGateway> {
  return startGateway(config, logger, opts);
}

/** A Mosquitto of the test's own on `port` (the shared one on 1883 is never stopped). */
export interface OwnBroker {
  readonly url: string;
  start(): Promise<void>;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

export function ownBroker(port: number): OwnBroker {
  let child: ChildProcess | undefined;
  const url = `mqtt://127.0.0.1:${port}`;
  return {
    url,
    async start() {
      const c = spawn('mosquitto', ['-p', String(port)], { stdio: 'ignore' });
      child = c;
      await waitUntil(
        async () => {
          if (c.exitCode !== null) throw new Error(`mosquitto -p ${port} exited with ${c.exitCode}`);
          try {
            const probe = await connectAsync(url, { connectTimeout: 500, reconnectPeriod: 0 }, false);
            await probe.endAsync();
            return true;
          } catch {
            return false;
          }
        },
        { what: `mosquitto on port ${port}`, timeoutMs: 10_000 },
      );
    },
    async kill() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
  };
}
