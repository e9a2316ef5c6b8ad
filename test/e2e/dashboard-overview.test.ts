/**
 * The dashboard's overview in Chromium, against `npm start`'s set-up: `flowbus serve --simulator`
 * (three simulated instruments, the embedded SQLite log) as a process of its own.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_CHROMIUM, inkedPixels, launchBrowser, openPage, screenshot } from '../helpers/browser.js';
import { BUILD_TIMEOUT_MS, buildOnce } from '../helpers/cli.js';
import { startServe, untilReady, type ServeProcess } from '../helpers/serve.js';
import { waitUntil } from '../helpers/wait.js';

const TOKEN = 'dashboard-test-token';

describe.skipIf(!HAVE_CHROMIUM)('the dashboard overview in a browser', () => {
  let gw: ServeProcess;
  let browser: Browser;
  let serials: string[];
  beforeAll(async () => {
    buildOnce();
    gw = await startServe({ env: { FLOWBUS_API_TOKEN: TOKEN } });
    await untilReady(gw, 3);
    const list = (await (await fetch(`${gw.url}/api/v1/instruments`)).json()) as { instruments: { identity: { serial?: string } }[] };
    serials = list.instruments.map((i) => i.identity.serial ?? '').sort();
    browser = await launchBrowser();
  }, BUILD_TIMEOUT_MS);
  afterAll(async () => {
    await browser?.close();
    expect(await gw?.stop()).toBe(0);
  });

  it('lists the three instruments with their serial numbers, live, at 1920 px', async () => {
    const { page, errors } = await openPage(browser, `${gw.url}/`, { width: 1920 });
    const cards = page.getByRole('article');
    await expect.poll(() => cards.count(), { timeout: 15_000 }).toBe(3);
    const shown = (await page.locator('[data-field="serial"]').allTextContents()).sort();
    expect(serials).toHaveLength(3);
    expect(shown).toEqual(serials);
    await expect.poll(() => page.locator('[data-store]').getAttribute('data-store'), { timeout: 10_000 }).toBe('healthy');
    await expect.poll(() => page.getByText('open', { exact: true }).count()).toBeGreaterThan(0);
    // Writes need the token: without it the page says it is read-only.
    expect(await page.locator('[data-writes]').getAttribute('data-writes')).toBe('none');
    // The header and the tab name the gateway (gateway.name, by default the host name), as GET /bus does.
    const { gateway } = (await (await fetch(`${gw.url}/api/v1/bus`)).json()) as { gateway: string };
    expect(gateway).toBeTruthy();
    await expect.poll(() => page.locator('[data-gateway]').getAttribute('data-gateway')).toBe(gateway);
    expect(await page.title()).toBe(`flowbus · ${gateway}`);
    await expect.poll(() => inkedPixels(page, 'canvas.spark'), { timeout: 15_000 }).toBeGreaterThan(0);
    await screenshot(page, 'overview-1920');
    expect(errors).toEqual([]);
  }, 60_000);

  it('values change without a reload when a setpoint is written elsewhere', async () => {
    const { page, errors } = await openPage(browser, `${gw.url}/`, { width: 1280 });
    const card = page.locator('[data-instrument="main:5"]');
    await expect.poll(() => card.count(), { timeout: 15_000 }).toBe(1);
    // A marker on the window: a reload would lose it.
    await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
    const put = await fetch(`${gw.url}/api/v1/instruments/main:5/parameters/fSetpoint`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ value: 3000 }),
    });
    expect(put.status, await put.clone().text()).toBe(200);
    const setpoint = card.locator('[data-field="setpoint"]');
    await expect.poll(async () => (await setpoint.textContent())?.replace(/[^\d.]/g, ''), { timeout: 15_000 }).toBe('3000');
    // The simulated flow follows the setpoint: the measure rises past half of it.
    await waitUntil(async () => Number((await card.locator('[data-field="measure"]').textContent())?.replace(/[^\d.-]/g, '')) > 1500 || undefined, {
      timeoutMs: 20_000,
      what: 'the measure on the card following the setpoint',
    });
    expect(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(errors).toEqual([]);
  }, 60_000);

  it('asks for the instrument list once while it is slow, whatever the stream brings meanwhile', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    let asked = 0;
    // The list answers after 2 s; values events of the three instruments arrive meanwhile.
    await page.route('**/api/v1/instruments', async (route) => {
      asked++;
      await new Promise((r) => setTimeout(r, 2000));
      await route.continue();
    });
    await page.goto(`${gw.url}/`);
    await expect.poll(() => page.getByRole('article').count(), { timeout: 15_000 }).toBe(3);
    // Long enough for events to arrive after the list too (polled every 500 ms).
    await page.waitForTimeout(1500);
    expect(asked).toBe(1);
    await context.close();
  }, 60_000);

  it('fills the sparklines from the history at load: one fMeasure and one fSetpoint request per instrument', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const history: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/history?')) history.push(r.url());
    });
    await page.goto(`${gw.url}/`);
    await expect.poll(() => page.getByRole('article').count(), { timeout: 15_000 }).toBe(3);
    await expect.poll(() => history.length, { timeout: 15_000 }).toBe(6);
    for (const id of ['main:3', 'main:5', 'main:7']) {
      for (const param of ['fMeasure', 'fSetpoint']) {
        expect(history.filter((u) => u.includes(`/instruments/${encodeURIComponent(id)}/parameters/${param}/history?`) && u.includes('bucket=5s') && u.includes('since='))).toHaveLength(1);
      }
    }
    // Renders with new values (polled every 500 ms) ask nothing more.
    await page.waitForTimeout(1500);
    expect(history).toHaveLength(6);
    await context.close();
  }, 60_000);

  it('fits a 375 px phone without sideways scrolling', async () => {
    const { page, errors } = await openPage(browser, `${gw.url}/`, { width: 375, height: 800 });
    await expect.poll(() => page.getByRole('article').count(), { timeout: 15_000 }).toBe(3);
    expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await expect.poll(() => page.getByLabel('API token').count()).toBe(1);
    await screenshot(page, 'overview-375');
    expect(errors).toEqual([]);
  }, 60_000);
});
