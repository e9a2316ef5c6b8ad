/* eslint-disable @typescript-eslint/no-explicit-any -- the bodies are JSON from the API under test */
/**
 * What the broker and the gateway do to each other when one of them goes away: the last will of
 * a gateway killed with SIGKILL (`flowbus serve` as a process), and a broker that is down at the
 * start and restarted in the middle of a run (a Mosquitto of the test's own, never the shared one).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../src/main.js';
import { BUILD_TIMEOUT_MS, buildOnce } from '../helpers/cli.js';
import { freePort, startServe, type ServeProcess } from '../helpers/serve.js';
import { waitUntil } from '../helpers/wait.js';
import { MQTT_URL, mqttRuns, ownBroker, recorder, removeStoreDirs, simConfig, simGateway, uniqueTopics, type OwnBroker, type Recorder } from './helpers.js';

const runs = await mqttRuns();

afterAll(() => removeStoreDirs());

describe.runIf(runs)('the last will', () => {
  let serve: ServeProcess | undefined;
  let rec: Recorder | undefined;
  let cwd: string | undefined;
  beforeAll(() => buildOnce(), BUILD_TIMEOUT_MS);
  afterAll(async () => {
    await serve?.stop();
    await rec?.cleanup();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('marks the gateway offline on the broker when its process is killed with SIGKILL', async () => {
    const t = uniqueTopics();
    rec = await recorder([`${t.base}/#`]);
    cwd = mkdtempSync(join(tmpdir(), 'flowbus-mqtt-will-'));
    // A config file of its own: the simulator, and the broker.
    const file = join(cwd, 'flowbus.yaml');
    writeFileSync(
      file,
      [
        'buses:',
        '  - port: "sim://?nodes=3"',
        'poll: { intervalMs: 200 }',
        `store: { url: "sqlite:${join(cwd, 'log.db')}" }`,
        'mqtt:',
        `  url: ${MQTT_URL}`,
        `  baseTopic: ${t.base}`,
        '',
      ].join('\n'),
    );
    serve = await startServe({ args: ['--config', file], cwd });
    const bridge = `${t.base}/bridge/state`;
    await waitUntil(() => rec?.on(bridge).at(-1)?.text === 'online', { what: 'the gateway online on the broker', timeoutMs: 20_000 });
    await waitUntil(() => (rec?.on(`${t.base}/main-3`).length ?? 0) > 0, { what: 'a state message from the process' });
    serve.child.kill('SIGKILL');
    await serve.exited;
    await waitUntil(() => rec?.on(bridge).at(-1)?.text === 'offline', { what: 'the last will', timeoutMs: 10_000 });
    expect(rec.on(bridge).at(-1)?.retain).toBe(false);
    // The will is retained: a subscriber that comes later sees the gateway offline too.
    const late = await recorder([bridge]);
    await waitUntil(() => late.on(bridge).at(-1), { what: 'the retained state' });
    expect(late.on(bridge).at(-1)).toMatchObject({ text: 'offline', retain: true });
    await late.cleanup();
  }, 60_000);
});

describe.runIf(runs)('a broker that goes away', () => {
  let broker: OwnBroker;
  let gw: RunningGateway | undefined;
  let rec: Recorder | undefined;
  afterAll(async () => {
    await gw?.close();
    await rec?.cleanup().catch(() => undefined);
    await broker?.kill();
  });

  it('never stops the gateway: down at the start, restarted mid-run, the link comes back and publishes again', async () => {
    const port = await freePort();
    broker = ownBroker(port);
    const t = uniqueTopics();
    // The broker is down: the gateway starts anyway and polls.
    gw = await simGateway(simConfig({ url: broker.url, baseTopic: t.base }, { nodes: '3' }), { mqtt: { reconnectInitialMs: 100, reconnectMaxMs: 400 } });
    const mqttState = () => gw!.lifecycle.states().find((s) => s.name === 'mqtt');
    expect(mqttState()).toMatchObject({ state: 'retrying', optional: true });
    expect(gw.lifecycle.states().filter((s) => s.name !== 'mqtt').every((s) => s.state === 'running')).toBe(true);
    let polls = 0;
    gw.events.on('values', (e) => {
      if (e.source === 'poll') polls++;
    });
    await waitUntil(() => polls >= 3, { what: 'polls while the broker is down' });
    const bus = async () => ((await (await fetch(`${gw!.url}/api/v1/bus`)).json()) as any).mqtt;
    expect(await bus()).toMatchObject({ state: 'connecting', lastError: expect.stringContaining('ECONNREFUSED') });

    await broker.start();
    await waitUntil(() => mqttState()?.state === 'running', { what: 'the MQTT link started once the broker is up', timeoutMs: 15_000 });
    rec = await recorder([`${t.base}/#`], broker.url);
    await waitUntil(() => (rec?.on(`${t.base}/h2_line`).length ?? 0) > 0, { what: 'state messages' });

    // The broker dies mid-run: polling goes on, state waits in the outbox (one message per topic).
    await broker.kill();
    await waitUntil(async () => (await bus()).state === 'reconnecting', { what: 'the link reconnecting' });
    const pollsAtLoss = polls;
    await waitUntil(() => polls >= pollsAtLoss + 5, { what: 'polls while the broker is away' });
    const away = await bus();
    expect(away.queued).toBeGreaterThan(0);
    expect(away.queued).toBeLessThan(10);
    expect(away.dropped).toBeGreaterThan(0);

    // It comes back: the link reconnects by itself and publishes again.
    await broker.start();
    await waitUntil(async () => (await bus()).state === 'connected', { what: 'the link connected again', timeoutMs: 15_000 });
    const seen = rec.on(`${t.base}/h2_line`).length;
    await waitUntil(() => rec!.client.connected && rec!.on(`${t.base}/h2_line`).length > seen + 2, { what: 'state messages after the restart', timeoutMs: 15_000 });
    const back = await bus();
    expect(back.reconnects).toBeGreaterThan(0);
    expect(gw.lifecycle.states().every((s) => s.state === 'running')).toBe(true);
  }, 60_000);
});
