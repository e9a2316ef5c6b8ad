/**
 * The dashboard against a bridge gateway with injection on (startGateway in bridge mode,
 * bridge.inject true, an API token): the simulator on one socat pty pair, our own master (Bus +
 * ParamClient) polling through another. The page offers the token box instead of the read-only
 * text, and a setpoint entered on an observed instrument's page reaches the simulator in the
 * gaps of the master's traffic, while the master keeps all its replies.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../simulator/index.js';
import type { Bus, ParamClient } from '../../src/bus/index.js';
import type { RunningGateway } from '../../src/main.js';
import { resolveParam } from '../../src/params/index.js';
import { startBridgeRig, type BridgeRig } from '../bridge/helpers.js';
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
  let rig: BridgeRig | undefined;
  let sim: Simulator;
  let gw: RunningGateway | undefined;
  let bus: Bus | undefined;
  let client: ParamClient;
  let browser: Browser | undefined;
  let poll: { stop(): Promise<void> } | undefined;

  beforeAll(async () => {
    buildOnce(); // dist/dashboard/, which the in-process gateway serves
    rig = await startBridgeRig({
      sim: { nodes: [3, 5] },
      gateway: {
        bridge: {
          inject: true,
          // Generous, so that a loaded machine does not pause injection for the rest of the test.
          injectWaitMs: 5000,
          injectMaxMasterLatencyMs: 1000,
          injectBackoffMs: 200,
          // A reply kept from the master would still never come; a stall of this shared, loaded process (Chromium, the gateway, the simulator and the master in one) is no timeout.
          replyTimeoutMs: 3000,
        },
        http: { token: TOKEN },
      },
      master: { replyTimeoutMs: 3000, retries: 0, pipelineDepth: 1 },
    });
    ({ sim, gw, bus, client } = rig);
    for (const node of [3, 5]) await client.read(node, IDENTITY);
    // The master polls for the whole test, as a Bright would.
    poll = rig.poll({ params: POLL, intervalMs: 150 });
    browser = await launchBrowser();
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await poll?.stop();
    await browser?.close();
    await rig?.close();
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
