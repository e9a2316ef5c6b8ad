/**
 * The dashboard's bridge page in Chromium against a real bridge gateway (startGateway in bridge
 * mode): the simulator on one socat pty pair, our own master (Bus + ParamClient) reading through
 * another, the bridge between them. The page shows both links, the counters, master silence with
 * its link events, and the instruments observed on the wire, read-only.
 */
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../simulator/index.js';
import type { ParamClient } from '../../src/bus/index.js';
import type { RunningGateway } from '../../src/main.js';
import { resolveParam } from '../../src/params/index.js';
import { startBridgeRig, type BridgeRig } from '../bridge/helpers.js';
import { HAVE_CHROMIUM, launchBrowser, openPage, screenshot } from '../helpers/browser.js';
import { BUILD_TIMEOUT_MS, buildOnce } from '../helpers/cli.js';
import { SOCAT } from '../helpers/socat.js';
import { waitUntil } from '../helpers/wait.js';

const IDENTITY = ['serialNumber', 'fluidName', 'capacity', 'capacityUnit', 'bhtModelNumber', 'userTag'].map((k) => resolveParam(k));
const POLL = ['measure', 'setpoint', 'fMeasure', 'valveOutput'].map((k) => resolveParam(k));

describe.skipIf(!HAVE_CHROMIUM || !SOCAT)('the dashboard bridge page in a browser', () => {
  let rig: BridgeRig | undefined;
  let dir: string;
  let sim: Simulator;
  let gw: RunningGateway | undefined;
  let client: ParamClient;
  let browser: Browser | undefined;

  beforeAll(async () => {
    buildOnce(); // dist/dashboard/, which the in-process gateway serves
    rig = await startBridgeRig({ sim: { nodes: [3, 5] }, gateway: { bridge: { masterSilenceMs: 1000 } }, master: { replyTimeoutMs: 500, retries: 0, pipelineDepth: 1 } });
    ({ dir, sim, gw, client } = rig);
    for (const node of [3, 5]) await client.read(node, IDENTITY);
    browser = await launchBrowser();
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await rig?.close();
  });

  it('shows both links, the counters, master silence and the observed instruments, read-only', async () => {
    const { page, errors } = await openPage(browser!, `${gw!.url}/#/bridge`, { width: 1920 });
    // The master polls while the page watches.
    for (let i = 0; i < 5; i++) for (const node of [3, 5]) await client.read(node, POLL);
    await expect.poll(() => page.getByRole('link', { name: 'Bridge', exact: true }).count(), { timeout: 15_000 }).toBe(1);
    for (const side of ['instrument', 'master']) {
      await expect.poll(() => page.locator(`[data-side="${side}"]`).getAttribute('data-state'), { timeout: 10_000 }).toBe('open');
      expect(await page.locator(`[data-side="${side}"] .mono`).textContent()).toBe(join(dir, side === 'master' ? 'master.bridge' : 'inst'));
    }
    // Frames counted per direction as the gateway counts them: at least the 12 exchanges so far.
    const frames = page.locator('[data-counter="frames"] td');
    await expect.poll(async () => (await frames.allTextContents()).map((t) => Number(t.replace(/\D/g, ''))).every((n) => n >= 12), { timeout: 10_000 }).toBe(true);
    const view = (await (await fetch(`${gw!.url}/api/v1/bus`)).json()) as { buses: { bridge: { directions: Record<string, { frames: number }> } }[] };
    expect(view.buses[0]!.bridge.directions['>']!.frames).toBeGreaterThanOrEqual(12);
    // The instruments seen on the wire, with the serial numbers the master read.
    const cards = page.getByRole('article');
    await expect.poll(() => cards.count(), { timeout: 10_000 }).toBe(2);
    const serials = [3, 5].map((n) => String(sim.instruments.get(n)!.get('serialNumber')));
    expect((await page.locator('[data-field="serial"]').allTextContents()).sort()).toEqual(serials.sort());
    expect(await page.locator('[data-event="open"]').count()).toBeGreaterThanOrEqual(2);
    // Writes: no token box, the reason instead.
    expect(await page.getByLabel('API token').count()).toBe(0);
    expect(await page.locator('header [data-writes]').getAttribute('data-writes')).toBe('bridge');
    await expect.poll(() => page.locator('header [data-writes]').textContent()).toContain('another master owns the bus');

    // The master stops: after masterSilenceMs the page says it is silent, with the link event.
    await expect.poll(() => page.locator('[data-master-silent]').getAttribute('data-master-silent'), { timeout: 15_000 }).toBe('true');
    await expect.poll(() => page.locator('[data-event="master-silent"]').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await client.read(3, POLL);
    await expect.poll(() => page.locator('[data-event="master-resumed"]').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await waitUntil(async () => (await page.locator('[data-master-silent]').getAttribute('data-master-silent')) === 'false' || undefined, { timeoutMs: 10_000, what: 'the master speaking again' });
    await screenshot(page, 'bridge-1920');
    expect(errors).toEqual([]);
  }, 90_000);

  it("an observed instrument's page has its write controls disabled, saying why", async () => {
    const list = (await (await fetch(`${gw!.url}/api/v1/instruments`)).json()) as { instruments: { id: string; node: number }[] };
    const id = list.instruments.find((i) => i.node === 3)?.id;
    expect(id).toBeDefined();
    const { page, errors } = await openPage(browser!, `${gw!.url}/#/instrument/${encodeURIComponent(id!)}`, { width: 1280 });
    const entry = page.getByRole('form', { name: 'Setpoint entry' });
    await expect.poll(() => entry.getByLabel('Setpoint', { exact: true }).count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => entry.getByLabel('Setpoint', { exact: true }).isDisabled(), { timeout: 10_000 }).toBe(true);
    expect(await entry.getByRole('button', { name: /Apply/ }).isDisabled()).toBe(true);
    expect(await page.getByRole('form', { name: 'Control mode entry' }).getByRole('button', { name: /Apply/ }).isDisabled()).toBe(true);
    await expect.poll(() => entry.textContent()).toContain('another master owns the bus');
    expect(errors).toEqual([]);
  }, 60_000);

  it('fits a 375 px phone without sideways scrolling', async () => {
    const { page, errors } = await openPage(browser!, `${gw!.url}/#/bridge`, { width: 375, height: 800 });
    await expect.poll(() => page.getByRole('article').count(), { timeout: 15_000 }).toBe(2);
    expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await screenshot(page, 'bridge-375');
    expect(errors).toEqual([]);
  }, 60_000);
});
