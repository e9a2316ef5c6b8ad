/**
 * The dashboard against a bridge gateway with injection on (startGateway in bridge mode,
 * bridge.inject true, an API token): the simulator on one socat pty pair, our own master (Bus +
 * ParamClient) polling through another. The page offers the token box instead of the read-only
 * text, and a setpoint entered on an observed instrument's page reaches the simulator in the
 * gaps of the master's traffic, while the master keeps all its replies.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../simulator/index.js';
import { Bus, ParamClient } from '../../src/bus/index.js';
import { configFrom } from '../../src/config/index.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { resolveParam } from '../../src/params/index.js';
import { silentLogger } from '../../src/shared/index.js';
import { serialOpener, Transport } from '../../src/transport/index.js';
import { ptyPair, simOnPty, sleep, type PtyPair, type SimOnPty } from '../bridge/helpers.js';
import { HAVE_CHROMIUM, launchBrowser, openPage, screenshot } from '../helpers/browser.js';
import { BUILD_TIMEOUT_MS, buildOnce } from '../helpers/cli.js';
import { SOCAT } from '../helpers/socat.js';
import { waitUntil } from '../helpers/wait.js';

const TOKEN = 'dashboard-inject-test-token';
const IDENTITY = ['serialNumber', 'fluidName', 'capacity', 'capacityUnit', 'bhtModelNumber', 'userTag'].map((k) => resolveParam(k));
const POLL = ['measure', 'setpoint', 'fMeasure', 'valveOutput'].map((k) => resolveParam(k));

interface BusView {
  buses: { bridge: { inject?: { masterTimeouts: number; answered: number } } }[];
}

describe.skipIf(!HAVE_CHROMIUM || !SOCAT)('the dashboard in bridge mode with injection on, in a browser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-dash-inject-'));
  let sim: Simulator;
  let inst: SimOnPty | undefined;
  let masterPair: PtyPair | undefined;
  let gw: RunningGateway | undefined;
  let transport: Transport | undefined;
  let bus: Bus | undefined;
  let client: ParamClient;
  let browser: Browser | undefined;
  let polling = true;
  let poller: Promise<void> | undefined;

  beforeAll(async () => {
    buildOnce(); // dist/dashboard/, which the in-process gateway serves
    sim = createSimulator({ nodes: [3, 5] });
    inst = await simOnPty(sim, join(dir, 'inst'));
    masterPair = await ptyPair(join(dir, 'master'), join(dir, 'master.bridge'));
    gw = await startGateway(
      configFrom({
        mode: 'bridge',
        bridge: {
          instrumentPort: join(dir, 'inst'),
          masterPort: join(dir, 'master.bridge'),
          inject: true,
          // Generous, so that a loaded machine does not pause injection for the rest of the test.
          injectWaitMs: 5000,
          injectMaxMasterLatencyMs: 1000,
          injectBackoffMs: 200,
        },
        http: { host: '127.0.0.1', port: 0, token: TOKEN },
        store: { url: `sqlite:${join(dir, 'log.db')}`, spoolDir: join(dir, 'spool'), batchMs: 20 },
        log: { level: 'silent' },
      }),
      silentLogger,
    );
    transport = new Transport(join(dir, 'master'), serialOpener(join(dir, 'master'), 38400), { initialDelayMs: 50, maxDelayMs: 200 });
    bus = new Bus(transport, { replyTimeoutMs: 1000, retries: 0 });
    await transport.start();
    client = new ParamClient(bus);
    for (const node of [3, 5]) await client.read(node, IDENTITY);
    // The master polls for the whole test, as a Bright would.
    poller = (async () => {
      while (polling) {
        for (const node of [3, 5]) await client.read(node, POLL, { purpose: 'poll' });
        await sleep(150);
      }
    })();
    browser = await launchBrowser();
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    polling = false;
    await poller;
    await browser?.close();
    await bus?.close();
    await transport?.close();
    await gw?.close();
    await inst?.close();
    await masterPair?.close();
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('offers the token box, not the read-only text', async () => {
    const { page, errors } = await openPage(browser!, `${gw!.url}/#/bridge`, { width: 1280 });
    await expect.poll(() => page.getByRole('article').count(), { timeout: 15_000 }).toBe(2);
    await expect.poll(() => page.getByLabel('API token').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator('header [data-writes="bridge"]').count()).toBe(0);
    expect(await page.locator('header.top').textContent()).not.toContain('another master owns the bus');
    expect(errors).toEqual([]);
  }, 60_000);

  it("a setpoint entered on an observed instrument's page reaches the simulator; the master keeps every reply", async () => {
    const list = (await (await fetch(`${gw!.url}/api/v1/instruments`)).json()) as { instruments: { id: string; node: number }[] };
    const id = list.instruments.find((i) => i.node === 5)?.id;
    expect(id).toBeDefined();
    const timeoutsBefore = bus!.stats().outcomes.timeout;
    expect(sim.instruments.get(5)!.get('fSetpoint')).not.toBe(2500);
    const { page, errors } = await openPage(browser!, `${gw!.url}/#/instrument/${encodeURIComponent(id!)}`, { width: 1280 });
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    const form = page.getByRole('form', { name: 'Setpoint entry' });
    const field = form.getByLabel('Setpoint', { exact: true });
    await expect.poll(() => field.isEnabled(), { timeout: 15_000 }).toBe(true);
    expect(await form.textContent()).not.toContain('another master owns the bus');
    await field.fill('2500');
    await form.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => form.getByRole('status').textContent(), { timeout: 15_000 }).toMatch(/OK; read back 2,?500/);
    expect(sim.instruments.get(5)!.get('fSetpoint')).toBe(2500);
    // The write went in the gaps: the master kept polling without a timeout.
    const view = (await (await fetch(`${gw!.url}/api/v1/bus`)).json()) as BusView;
    const inject = view.buses[0]!.bridge.inject!;
    expect(inject.answered).toBeGreaterThan(0);
    expect(inject.masterTimeouts).toBe(0);
    const polled = bus!.stats().outcomes.ok;
    await waitUntil(() => bus!.stats().outcomes.ok > polled + 4 || undefined, { timeoutMs: 10_000, what: 'the master polling after the write' });
    expect(bus!.stats().outcomes.timeout).toBe(timeoutsBefore);
    expect(timeoutsBefore).toBe(0);
    await screenshot(page, 'bridge-inject-1280');
    expect(errors).toEqual([]);
  }, 90_000);
});
