/**
 * The dashboard while the gateway is down and after it is back: the strip says unreachable, the
 * badges turn "unknown" (never green), /bus is not polled meanwhile, and a new gateway on the
 * same port brings it all back without a reload. Also the card titles and the error rate.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_CHROMIUM, launchBrowser, openPage, screenshot } from '../helpers/browser.js';
import { BUILD_TIMEOUT_MS, buildOnce } from '../helpers/cli.js';
import { startServe, untilReady, type ServeProcess } from '../helpers/serve.js';

describe.skipIf(!HAVE_CHROMIUM)('the dashboard when the gateway goes away', () => {
  let gw: ServeProcess;
  let again: ServeProcess | undefined;
  let browser: Browser;
  beforeAll(async () => {
    buildOnce();
    gw = await startServe();
    await untilReady(gw, 3);
    browser = await launchBrowser();
  }, BUILD_TIMEOUT_MS);
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    if (again) expect(await again.stop()).toBe(0);
  });

  it('shows unreachable and unknown while it is down, stops polling /bus, and recovers on the same port', async () => {
    const { page } = await openPage(browser, `${gw.url}/`, { width: 1280 });
    const strip = page.getByRole('region', { name: 'Gateway status' });
    const online = page.locator('article [data-field="online"]');
    await expect.poll(() => online.allTextContents(), { timeout: 15_000 }).toEqual(['online', 'online', 'online']);
    await expect.poll(() => page.getByText('live', { exact: true }).locator('xpath=..').locator('.badge').textContent(), { timeout: 15_000 }).toBe('live');
    // Cards carry the address beside the (repeated) user tag; errors are a rate with the total as a tooltip.
    expect(await page.locator('article h2').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('· main:3'), expect.stringContaining('· main:7')]));
    expect(await strip.locator('[data-field="errors"]').first().textContent()).toContain('errors/min');
    expect(await strip.locator('[data-field="errors"]').first().getAttribute('title')).toMatch(/^\d+ errors since the gateway started$/);

    const asked: string[] = [];
    page.on('request', (r) => asked.push(new URL(r.url()).pathname));
    expect(await gw.stop()).toBe(0);

    await expect.poll(() => strip.getAttribute('data-reachable'), { timeout: 20_000 }).toBe('no');
    expect(await strip.textContent()).toContain('gateway unreachable');
    await expect.poll(() => online.allTextContents()).toEqual(['unknown', 'unknown', 'unknown']);
    expect(await page.locator('[data-bus="main"] .badge').textContent()).toBe('unknown');
    expect(await page.locator('[data-store]').getAttribute('data-store')).toBe('unknown');
    expect(await page.locator('.badge.ok').count()).toBe(0);
    await screenshot(page, 'overview-unreachable');
    // While down, only the stream's own reconnects go out: no /bus poll between two of them.
    const busBefore = asked.filter((p) => p === '/api/v1/bus').length;
    const eventsBefore = asked.filter((p) => p === '/api/v1/events').length;
    await expect.poll(() => asked.filter((p) => p === '/api/v1/events').length, { timeout: 30_000 }).toBeGreaterThanOrEqual(eventsBefore + 2);
    expect(asked.filter((p) => p === '/api/v1/bus').length).toBe(busBefore);

    again = await startServe({ port: gw.port });
    await untilReady(again, 3);
    await expect.poll(() => strip.getAttribute('data-reachable'), { timeout: 30_000 }).toBe('yes');
    await expect.poll(() => online.allTextContents(), { timeout: 15_000 }).toEqual(['online', 'online', 'online']);
    await expect.poll(() => page.locator('[data-bus="main"] .badge').textContent(), { timeout: 15_000 }).toBe('open');
  }, 120_000);
});
