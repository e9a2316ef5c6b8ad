/**
 * The dashboard's instrument page (#/instrument/main:N) in Chromium against `flowbus serve
 * --simulator`: the chart draws, a setpoint entered on the page reaches the simulated instrument
 * and its flow follows, errors of the API are shown in words, the control modes and the
 * parameter browser.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { HAVE_CHROMIUM, dashboardRig, inkedPixels, openPage, screenshot } from '../helpers/browser.js';

const TOKEN = 'dashboard-instrument-test-token';

interface Value {
  value: number | string;
  label?: string;
}

describe.skipIf(!HAVE_CHROMIUM)('the dashboard instrument page in a browser', () => {
  const rig = dashboardRig({ FLOWBUS_API_TOKEN: TOKEN });
  const read = async (id: string, param: string): Promise<Value> => (await (await fetch(`${rig.gw.url}/api/v1/instruments/${id}/parameters/${param}`)).json()) as Value;
  const write = async (id: string, param: string, value: number): Promise<void> => {
    const res = await fetch(`${rig.gw.url}/api/v1/instruments/${id}/parameters/${param}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ value }),
    });
    expect(res.status, await res.text()).toBe(200);
  };
  const useToken = async (page: Page, token: string) => {
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Use token' }).click();
  };
  const open = (id: string, width = 1280) => openPage(rig.browser, `${rig.gw.url}/#/instrument/${id}`, { width });


  it('shows the facts and draws the chart; the window buttons are radio-like', async () => {
    const { page, errors } = await open('main:3', 1920);
    const serial = ((await (await fetch(`${rig.gw.url}/api/v1/instruments/main:3`)).json()) as { identity: { serial: string } }).identity.serial;
    await expect.poll(() => page.locator('[data-field="serial"]').textContent(), { timeout: 15_000 }).toBe(serial);
    await expect.poll(() => inkedPixels(page, '.chart canvas'), { timeout: 15_000 }).toBeGreaterThan(500);
    const one = page.getByRole('button', { name: '1 minute' });
    const ten = page.getByRole('button', { name: '10 minutes' });
    expect(await ten.getAttribute('aria-pressed')).toBe('true');
    await one.click();
    expect(await one.getAttribute('aria-pressed')).toBe('true');
    expect(await ten.getAttribute('aria-pressed')).toBe('false');
    await expect.poll(() => inkedPixels(page, '.chart canvas'), { timeout: 15_000 }).toBeGreaterThan(500);
    // Without a token the writes are off, and the page says why.
    await expect.poll(() => page.getByLabel('Setpoint', { exact: true }).isDisabled()).toBe(true);
    expect(await page.getByRole('form', { name: 'Setpoint entry' }).textContent()).toContain('enter the API token');
    await screenshot(page, 'instrument-1920');
    expect(errors).toEqual([]);
  }, 60_000);

  it('appends live readings without a reload; a chosen range comes from the log', async () => {
    const { page, errors } = await open('main:3');
    const chart = page.locator('.chart');
    await page.getByRole('button', { name: '1 minute' }).click();
    await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 15_000 }).toBeGreaterThan(0);
    await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
    const first = Number(await chart.getAttribute('data-last'));
    // The instruments are polled every 500 ms: the stream brings newer readings.
    await expect.poll(async () => Number(await chart.getAttribute('data-last')), { timeout: 15_000 }).toBeGreaterThan(first + 2);
    expect(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded)).toBe(true);
    // The last ten minutes as a fixed range: points from the history API, "Show" pressed.
    const pad = (n: number) => String(n).padStart(2, '0');
    const local = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    const now = Date.now();
    await page.getByLabel('From', { exact: true }).fill(local(new Date(now - 10 * 60_000)));
    await page.getByLabel('To', { exact: true }).fill(local(new Date(now + 60_000)));
    const asked = page.waitForRequest((r) => r.url().includes('/parameters/fMeasure/history') && /bucket=\d+s/.test(r.url()));
    await page.getByRole('button', { name: 'Show' }).click();
    await asked;
    expect(await page.getByRole('button', { name: 'Show' }).getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByRole('button', { name: '1 minute' }).getAttribute('aria-pressed')).toBe('false');
    await expect.poll(() => page.locator('.chart-state').textContent(), { timeout: 15_000 }).toContain('(fixed)');
    expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  }, 60_000);

  it('a setpoint entered with the token reaches the instrument, and the flow follows', async () => {
    const { page, errors } = await open('main:5');
    await useToken(page, TOKEN);
    const form = page.getByRole('form', { name: 'Setpoint entry' });
    await form.getByLabel('Setpoint', { exact: true }).fill('2500');
    await form.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => form.getByRole('status').textContent(), { timeout: 15_000 }).toMatch(/OK; read back 2,?500 mg\/min/);
    expect((await read('main:5', 'fSetpoint')).value).toBe(2500);
    await expect.poll(async () => Number((await read('main:5', 'fMeasure')).value), { timeout: 20_000 }).toBeGreaterThan(2300);
    // The page's own reading follows too, without a reload.
    await expect.poll(async () => Number((await page.locator('[data-field="measure"]').textContent())?.replace(/[^\d.-]/g, '')), { timeout: 20_000 }).toBeGreaterThan(2300);
    // In percent: 10 % of the capacity (6817 mg/min).
    await form.getByLabel('Unit').selectOption('%');
    await form.getByLabel('Setpoint', { exact: true }).fill('10');
    await form.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => form.getByRole('status').textContent(), { timeout: 15_000 }).toMatch(/read back 681\.7 mg\/min \(10\.0 % of capacity\)/);
    expect(Number((await read('main:5', 'fSetpoint')).value)).toBeCloseTo(681.7, 1);
    expect(errors).toEqual([]);
  }, 60_000);

  it("shows the API's error: a wrong token, a setpoint out of range", async () => {
    const { page, errors } = await open('main:3');
    const before = (await read('main:3', 'fSetpoint')).value;
    await useToken(page, 'not-the-token');
    const form = page.getByRole('form', { name: 'Setpoint entry' });
    await form.getByLabel('Setpoint', { exact: true }).fill('1234');
    await form.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => form.getByRole('status').textContent(), { timeout: 15_000 }).toContain('wrong API token');
    expect(await form.getByRole('status').textContent()).toContain('API_UNAUTHORIZED');
    expect((await read('main:3', 'fSetpoint')).value).toBe(before);
    // With the right token, out of range: the page warns, the API refuses and says the range.
    await page.getByRole('button', { name: 'Forget token' }).click();
    await useToken(page, TOKEN);
    await form.getByLabel('Setpoint', { exact: true }).fill('99999');
    await form.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => form.getByRole('status').textContent(), { timeout: 15_000 }).toMatch(/PARAM_INVALID_VALUE.*Allowed range: 0 \.\. 6,?980\.39 mg\/min/);
    // The page does not contradict the API with a range of its own.
    expect(await form.textContent()).not.toContain('sent anyway');
    // A new attempt clears the last answer: no stale error under "Enter a number."
    await form.getByLabel('Setpoint', { exact: true }).fill('');
    await form.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => form.textContent()).toContain('Enter a number.');
    expect(await form.getByRole('status').textContent()).toBe('');
    // Chromium reports the two refused requests; nothing else went wrong.
    expect(errors.filter((e) => !/status of (401|400)/.test(e))).toEqual([]);
    expect(errors).toHaveLength(2);
  }, 60_000);

  it('lists the control modes, asks before closing the valve, and writes the mode', async () => {
    const { page, errors } = await open('main:7');
    await useToken(page, TOKEN);
    const form = page.getByRole('form', { name: 'Control mode entry' });
    const select = form.getByLabel('Control mode');
    await expect.poll(() => select.locator('option').count(), { timeout: 15_000 }).toBeGreaterThan(20);
    const labels = await select.locator('option').allTextContents();
    expect(labels).toEqual(expect.arrayContaining(['setpoint = BUS setpoint', 'close valve', 'purge valve (fully open)']));
    await expect.poll(() => select.inputValue()).toBe('0');
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.dismiss();
    });
    await select.selectOption({ label: 'close valve' });
    await form.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => form.getByRole('status').textContent()).toContain('cancelled');
    expect(asked).toContain('Are you sure');
    expect((await read('main:7', 'controlMode')).value).toBe(0);
    page.once('dialog', (d) => void d.accept());
    await form.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => form.getByRole('status').textContent(), { timeout: 15_000 }).toContain('close valve');
    expect((await read('main:7', 'controlMode')).value).toBe(3);
    await write('main:7', 'controlMode', 0);
    // "setpoint = 0%" closes the valve too: asked as well.
    asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.dismiss();
    });
    await select.selectOption({ label: 'setpoint = 0%' });
    await form.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => asked).toContain('Are you sure');
    expect(errors).toEqual([]);
  }, 60_000);

  it('the parameter browser finds capacity and reads it', async () => {
    const { page, errors } = await open('main:3');
    await page.getByLabel('Search parameters').fill('capacity');
    const hit = page.getByRole('list', { name: 'Matching parameters' }).getByRole('button', { name: /^capacity \(/ });
    await hit.click();
    const detail = page.getByRole('region', { name: 'Parameter capacity' });
    expect(await detail.textContent()).toContain('DDE21');
    await detail.getByRole('button', { name: 'Read' }).click();
    await expect.poll(() => detail.getByRole('status').first().textContent(), { timeout: 15_000 }).toMatch(/6,?817 mg\/min/);
    // Factory parameters have no Write; writable ones have. Capacity is secured: `npm start` refuses it.
    expect(await detail.getByRole('button', { name: 'Write' }).count()).toBe(1);
    expect(await detail.locator('[data-field="writable"]').textContent()).toContain("written only when the gateway's config allows secured writes");
    expect(errors).toEqual([]);
  }, 60_000);

  it('the parameter browser ranks exact and word matches first, says the length allowed, and drops a read after a write', async () => {
    const { page, errors } = await open('main:3');
    await useToken(page, TOKEN);
    const hits = page.getByRole('list', { name: 'Matching parameters' }).getByRole('button');
    await page.getByLabel('Search parameters').fill('tag');
    await expect.poll(async () => (await hits.first().textContent())?.split(' ')[0], { timeout: 15_000 }).toBe('userTag');
    await hits.first().click();
    const detail = page.getByRole('region', { name: 'Parameter userTag' });
    await detail.getByRole('button', { name: 'Read' }).click();
    const readOut = detail.getByRole('status').first();
    await expect.poll(() => readOut.textContent(), { timeout: 15_000 }).toContain(' at ');
    const writeForm = detail.getByRole('form', { name: 'Write userTag' });
    await writeForm.getByLabel('Value').fill('x'.repeat(20));
    await writeForm.getByRole('button', { name: 'Write' }).click();
    await expect.poll(() => writeForm.getByRole('status').textContent(), { timeout: 15_000 }).toContain('Allowed: at most 16 characters');
    expect(await writeForm.textContent()).not.toContain('…');
    expect(await readOut.textContent()).toBe('');
    expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
  }, 60_000);

  it('without a store the chart shows the live samples with a note; fits 375 px', async () => {
    const context = await rig.browser.newContext({ viewport: { width: 375, height: 800 } });
    const page = await context.newPage();
    await page.route('**/history?*', (route) =>
      route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ code: 'API_NOT_READY', message: 'no transaction log', details: {} }) }),
    );
    await page.goto(`${rig.gw.url}/#/instrument/main:3`);
    await expect.poll(() => page.getByRole('note').textContent(), { timeout: 15_000 }).toContain('keeps no transaction log');
    await expect.poll(() => inkedPixels(page, '.chart canvas'), { timeout: 15_000 }).toBeGreaterThan(500);
    expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await screenshot(page, 'instrument-375');
    await context.close();
  }, 60_000);
});
