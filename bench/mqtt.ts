/**
 * MQTT (issue 11): how many messages per second the gateway publishes, and how long a poll's
 * values take to reach a subscriber on the same broker.
 *
 * - Throughput: the MQTT link driven directly, as the gateway drives it: 32 instruments, their
 *   `values` events emitted as fast as the event loop allows for PHASE_S seconds; messages that
 *   reach a subscriber per second, at QoS 0 and QoS 1, and how many the outbox replaced by newer
 *   ones of their topic (the latest state per topic is kept) while the broker kept up.
 * - Latency: the whole gateway on the simulator paced like a real line (38400 baud, 2 ms
 *   turnaround, four instruments, polled every 100 ms), a state message per poll; from the read
 *   time of the poll's newest value (the `time` of the state message, the end of its transaction)
 *   to its arrival at a subscriber in this process: p50 and p99.
 *
 * Needs a broker: FLOWBUS_TEST_MQTT_URL, default mqtt://127.0.0.1:1883. PHASE_S=3 shortens it.
 *
 *   npx tsx bench/mqtt.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { configFrom } from '../src/config/index.js';
import { GatewayEvents, type GatewayService, type InstrumentView, type ValueView } from '../src/gateway/index.js';
import { startGateway } from '../src/main.js';
import { MqttLink } from '../src/mqtt/index.js';
import { silentLogger } from '../src/shared/index.js';

const URL_ = process.env.FLOWBUS_TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const PHASE_S = Number(process.env.PHASE_S ?? 8);
const INSTRUMENTS = 32;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

function fakeService(events: GatewayEvents): GatewayService {
  const views: InstrumentView[] = Array.from({ length: INSTRUMENTS }, (_, i) => ({
    id: `main:${i + 1}`,
    bus: 'main',
    node: i + 1,
    online: true,
    identity: { serial: `BENCH${i + 1}` },
    values: {},
    polling: { parameters: ['fMeasure', 'fSetpoint', 'valveOutput', 'alarmInfo'], intervalMs: 100 },
  }));
  const unused = () => Promise.reject(new Error('not in the benchmark'));
  return {
    mode: 'master',
    events,
    instruments: () => views,
    instrument: (ref) => views.find((v) => v.id === ref) ?? (views[0] as InstrumentView),
    readParams: unused,
    writeParam: unused,
    buses: () => [],
    discover: unused,
    recentTransactions: () => [],
    ready: () => true,
    close: () => Promise.resolve(),
  };
}

async function throughput(qos: 0 | 1): Promise<{ perSecond: number; replaced: number; emitted: number }> {
  const base = `flowbus_bench_${process.pid}_${qos}`;
  const sub = await connectAsync(URL_, { protocolVersion: 5 });
  let received = 0;
  sub.on('message', () => void received++);
  await sub.subscribeAsync(`${base}/+`, { qos });
  const events = new GatewayEvents(silentLogger);
  const link = new MqttLink({
    config: { url: URL_, baseTopic: base, qos, retain: false, publish: 'poll', deadband: 0, writes: false, maxQueued: 10_000, homeAssistant: { enabled: false, prefix: 'homeassistant' } },
    events,
    logger: silentLogger,
    version: 'bench',
    dashboardUrl: () => 'http://127.0.0.1:8080/',
  });
  await link.start(fakeService(events), new AbortController().signal);
  const start = performance.now();
  const end = start + PHASE_S * 1000;
  let emitted = 0;
  const receivedAtStart = received;
  while (performance.now() < end) {
    const time = new Date().toISOString();
    for (let i = 1; i <= INSTRUMENTS; i++) {
      const values: ValueView[] = [
        { dde: 205, key: 'fMeasure', name: 'Fmeasure', unit: 'ln/min', raw: '', value: Math.random() * 10, time, cached: false },
        { dde: 206, key: 'fSetpoint', name: 'Fsetpoint', unit: 'ln/min', raw: '', value: 5, time, cached: false },
        { dde: 55, key: 'valveOutput', name: 'Valve Output', raw: '', value: 123456, time, cached: false },
        { dde: 28, key: 'alarmInfo', name: 'Alarm Info', raw: '', value: 0, time, cached: false },
      ];
      events.emit('values', { instrument: `main:${i}`, bus: 'main', node: i, source: 'poll', values });
      emitted++;
    }
    // Let the link and the client run, as the bus's own pauses would.
    await new Promise((r) => setImmediate(r));
  }
  const seconds = (performance.now() - start) / 1000;
  const got = received - receivedAtStart;
  const replaced = link.status().dropped;
  await link.close();
  await sub.endAsync();
  return { perSecond: got / seconds, replaced, emitted };
}

async function latency(): Promise<{ count: number; p50: number; p99: number; max: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-bench-mqtt-'));
  const base = `flowbus_bench_${process.pid}_lat`;
  const config = configFrom({
    buses: [{ port: 'sim://?nodes=3,5,7,9&baud=38400&turnaround=2' }],
    poll: { intervalMs: 100 },
    http: { host: '127.0.0.1', port: 0 },
    store: { url: `sqlite:${join(dir, 'log.db')}`, spoolDir: join(dir, 'spool') },
    log: { level: 'silent' },
    mqtt: { url: URL_, baseTopic: base },
  });
  const sub = await connectAsync(URL_, { protocolVersion: 5 });
  const samples: number[] = [];
  let measuring = false;
  sub.on('message', (topic, payload) => {
    if (!measuring || topic.includes('/', base.length + 1)) return;
    const t = Date.parse((JSON.parse(payload.toString('utf8')) as { time: string }).time);
    samples.push(Date.now() - t);
  });
  await sub.subscribeAsync(`${base}/+`, { qos: 0 });
  const gw = await startGateway(config, silentLogger);
  await new Promise((r) => setTimeout(r, 2000));
  measuring = true;
  await new Promise((r) => setTimeout(r, PHASE_S * 1000));
  measuring = false;
  await gw.close();
  await sub.endAsync();
  rmSync(dir, { recursive: true, force: true });
  const sorted = samples.sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
}

const q0 = await throughput(0);
const q1 = await throughput(1);
const lat = await latency();
console.log(`MQTT publishing, ${INSTRUMENTS} instruments, ${PHASE_S} s per phase, broker ${URL_}`);
for (const [name, r] of [['QoS 0', q0], ['QoS 1', q1]] as const) {
  console.log(`  ${name}: ${Math.round(r.perSecond).toLocaleString('en')} messages/s reached the subscriber; ${r.emitted.toLocaleString('en')} values events, ${r.replaced.toLocaleString('en')} replaced in the outbox by a newer state of their topic`);
}
console.log(`  latency poll end -> subscriber (4 simulated instruments, 100 ms polls, ${lat.count} messages): p50 ${lat.p50} ms, p99 ${lat.p99} ms, max ${lat.max} ms`);
process.exit(0);
