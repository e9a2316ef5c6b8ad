/**
 * The dashboard's transaction log in Chromium, against `flowbus serve --simulator` (three
 * simulated instruments polled, the embedded SQLite log): rows of the simulator's traffic,
 * filters that reach the API, cursor paging, the CSV download and a row opened to its bytes.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { HAVE_CHROMIUM, dashboardRig, openPage, screenshot } from '../helpers/browser.js';
import { waitUntil } from '../helpers/wait.js';

/** A datetime-local value: local time, to the second. */
function localTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

interface Tx {
  readonly id: string;
  readonly bus: string;
  readonly node: number | null;
  readonly outcome: string;
  readonly request: string | null;
  readonly reply: string | null;
  readonly params: readonly { key?: string }[];
}

describe.skipIf(!HAVE_CHROMIUM)('the dashboard transactions page in a browser', () => {
  const rig = dashboardRig();
  const api = async (query: string): Promise<Tx[]> => ((await (await fetch(`${rig.gw.url}/api/v1/transactions?${query}`)).json()) as { transactions: Tx[] }).transactions;
  const cells = (page: Page, field: string) => page.locator(`tr.tx [data-field="${field}"]`).allTextContents();
  const ids = (page: Page) => page.locator('tr.tx').evaluateAll((rows) => rows.map((r) => (r as unknown as { dataset: { tx: string } }).dataset.tx));


  it('shows the simulator\'s traffic, and filters by instrument and by outcome through the API', async () => {
    const { page, errors } = await openPage(rig.browser, `${rig.gw.url}/#/transactions`, { width: 1920 });
    await expect.poll(async () => (await cells(page, 'instrument')).length, { timeout: 15_000 }).toBeGreaterThan(20);
    // All three instruments are polled; their polls are in the table with their values.
    for (const id of ['main:3', 'main:5', 'main:7']) expect(await cells(page, 'instrument')).toContain(id);
    expect((await cells(page, 'params')).some((p) => p.includes('fMeasure='))).toBe(true);

    await page.getByLabel('Instrument').fill('main:5');
    await page.getByLabel('Instrument').press('Enter');
    await expect.poll(async () => new Set(await cells(page, 'instrument')), { timeout: 10_000 }).toEqual(new Set(['main:5']));
    expect(page.url()).toContain('node=main%3A5');
    await screenshot(page, 'transactions-1920');

    // The scan at start asked nodes 1 and 2, which are not there: error frames.
    await page.getByLabel('Instrument').fill('');
    await page.getByLabel('Instrument').press('Enter');
    await page.getByLabel('Outcome').selectOption('error-frame');
    await expect.poll(async () => new Set(await cells(page, 'outcome')), { timeout: 10_000 }).toEqual(new Set(['error-frame']));
    const expected = await api('outcome=error-frame&limit=100');
    expect(expected.length).toBeGreaterThan(0);
    expect(await ids(page)).toEqual(expected.map((t) => t.id));
    expect(errors).toEqual([]);
  }, 60_000);

  it('pages on with the cursor and back, and downloads the whole filter as CSV', async () => {
    // A fixed end ("To", in the browser's time zone as datetime-local gives it) keeps the first page still while the log grows.
    await waitUntil(async () => ((await api('limit=200')).length >= 150 && (await api('node=main:3&limit=100')).length >= 80) || undefined, {
      timeoutMs: 60_000,
      what: '150 transactions logged, 80 of main:3',
    });
    const to = localTime(new Date(Date.now() - 2000));
    const { page, errors } = await openPage(rig.browser, `${rig.gw.url}/#/transactions?limit=50&to=${to}`, { width: 1280 });
    // datetime-local leaves out seconds that are 0 (17:09, not 17:09:00).
    const minute = (t: string) => t.replace(/(T\d\d:\d\d):00$/, '$1');
    expect(minute(await page.getByLabel('To', { exact: true }).inputValue())).toBe(minute(to));
    await expect.poll(async () => (await ids(page)).length, { timeout: 15_000 }).toBe(50);
    const first = await ids(page);
    await page.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(async () => (await ids(page))[0], { timeout: 10_000 }).not.toBe(first[0]);
    const second = await ids(page);
    expect(second).toHaveLength(50);
    expect(second.filter((id) => first.includes(id))).toEqual([]);
    // The second page is the API's page after the first one.
    const all = await api(`limit=100&until=${new Date(to).toISOString()}`);
    expect(all.findIndex((t) => t.id === second[0])).toBeGreaterThan(all.findIndex((t) => t.id === first[first.length - 1]));
    await page.getByRole('button', { name: 'Previous page' }).click();
    await expect.poll(() => ids(page), { timeout: 10_000 }).toEqual(first);

    await page.getByLabel('Instrument').fill('main:3');
    await page.getByLabel('Instrument').press('Enter');
    await expect.poll(async () => new Set(await cells(page, 'instrument')), { timeout: 10_000 }).toEqual(new Set(['main:3']));
    const shown = await ids(page);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
    const lines = readFileSync((await download.path())!, 'utf8').trim().split('\n');
    expect(lines[0]?.split(',').slice(0, 7)).toEqual(['id', 'time', 'started_us', 'ended_us', 'bus', 'mode', 'node']);
    const rows = lines.slice(1).map((l) => l.split(','));
    // The whole filter, not the 50 rows on screen: the page first, then the older ones.
    expect(shown).toHaveLength(50);
    expect(rows.length).toBeGreaterThan(shown.length);
    expect(rows.slice(0, shown.length).map((r) => r[0])).toEqual(shown);
    expect(new Set(rows.map((r) => `${r[4]}:${r[6]}`))).toEqual(new Set(['main:3']));
    expect(errors).toEqual([]);
  }, 60_000);

  it('opens a row to its request and reply bytes and decoded parameters, by click and by keyboard', async () => {
    const { page, errors } = await openPage(rig.browser, `${rig.gw.url}/#/transactions?param=fMeasure&limit=50`, { width: 375 });
    await expect.poll(async () => (await ids(page)).length, { timeout: 15_000 }).toBe(50);
    const [id] = await ids(page);
    const tx = (await api('param=fMeasure&limit=50')).find((t) => t.id === id)!;
    expect(tx.params.map((p) => p.key)).toContain('fMeasure');
    const button = page.locator(`tr[data-tx="${id}"] button`);
    expect(await button.getAttribute('aria-expanded')).toBe('false');
    // On a phone: time, instrument, outcome and latency on the row's first line, inside the screen; parameters on one line.
    const row = page.locator(`tr[data-tx="${id}"]`);
    const box = async (sel: string) => (await row.locator(sel).boundingBox())!;
    const time = await box('[data-field="time"]');
    for (const sel of ['[data-field="instrument"]', '[data-field="outcome"]', '[data-field="latency"]']) {
      const b = await box(sel);
      expect(Math.abs(b.y - time.y), sel).toBeLessThan(time.height);
      expect(b.x + b.width, sel).toBeLessThanOrEqual(375);
    }
    const params = await box('[data-field="params"]');
    expect(params.height).toBeLessThan(2 * time.height);
    expect(params.x + params.width).toBeLessThanOrEqual(375);
    await button.click();
    expect(await button.getAttribute('aria-expanded')).toBe('true');
    const details = page.locator(`[data-details="${id}"]`);
    expect(await details.locator('[data-field="request"]').textContent()).toBe(tx.request);
    expect(await details.locator('[data-field="reply"]').textContent()).toBe(tx.reply);
    // The bytes wrap inside the screen.
    const request = details.locator('[data-field="request"]');
    const fits = await request.evaluate((e) => {
      const el = e as unknown as { scrollWidth: number; clientWidth: number; getBoundingClientRect(): { right: number } };
      return el.scrollWidth <= el.clientWidth && el.getBoundingClientRect().right <= 375;
    });
    expect(fits).toBe(true);
    expect(await details.getByRole('cell', { name: 'fMeasure', exact: true }).count()).toBe(1);
    await screenshot(page, 'transactions-open-375');
    await button.focus();
    await page.keyboard.press('Enter');
    expect(await button.getAttribute('aria-expanded')).toBe('false');
    expect(await details.count()).toBe(0);
    expect(errors).toEqual([]);
  }, 60_000);

  it('shows the API\'s error for a query it refuses', async () => {
    const { page, errors } = await openPage(rig.browser, `${rig.gw.url}/#/transactions?node=not-a-node`, { width: 1280 });
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.textContent(), { timeout: 15_000 }).toContain('API_BAD_REQUEST');
    expect(await page.locator('tr.tx').count()).toBe(0);
    // The browser reports the 400 itself; nothing else went wrong.
    expect(errors.filter((e) => !e.includes('400 (Bad Request)'))).toEqual([]);
  }, 60_000);
});
