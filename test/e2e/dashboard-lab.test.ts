/**
 * Issue 12's features on the dashboard, in Chromium against `flowbus serve --simulator`: a
 * program started through the API shows in the instrument's Program panel and is aborted from
 * there; an alarm raised on the simulator shows by name on the overview card.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { HAVE_CHROMIUM, dashboardRig, openPage } from '../helpers/browser.js';

const TOKEN = 'dashboard-lab-test-token';

describe.skipIf(!HAVE_CHROMIUM)('programs, alarms and counters on the dashboard', () => {
  const rig = dashboardRig({ FLOWBUS_API_TOKEN: TOKEN });
  const api = async (method: string, path: string, body?: unknown): Promise<{ id: string; state: string; identity: { capacity: number } }> => {
    const res = await fetch(`${rig.gw.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    expect(res.ok, text).toBe(true);
    return JSON.parse(text) as { id: string; state: string; identity: { capacity: number } };
  };
  const useToken = async (page: Page) => {
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
  };

  it('shows a running program with its step and aborts it from the page', async () => {
    const cap = (await api('GET', '/instruments/main:3')).identity.capacity;
    const { page, errors } = await openPage(rig.browser, `${rig.gw.url}/#/instrument/main:3`);
    const panel = page.getByRole('region', { name: 'Program' });
    await expect.poll(() => panel.textContent(), { timeout: 15_000 }).toContain('Not in a setpoint program');
    const started = await api('POST', '/programs', { name: 'e2e ramp', instruments: ['main:3'], steps: [{ type: 'ramp', seconds: 600, values: { 'main:3': cap / 2 } }, { type: 'hold', seconds: 60 }] });
    // The `program` event brings it to the open page.
    await expect.poll(() => panel.locator('[data-field="program-state"]').textContent(), { timeout: 15_000 }).toBe('running');
    expect(await panel.locator('[data-field="program-step"]').textContent()).toBe('1 of 2 (ramp)');
    expect(await panel.textContent()).toContain('e2e ramp');
    // Without a token the buttons are off and say why.
    expect(await panel.getByRole('button', { name: 'Abort' }).isDisabled()).toBe(true);
    expect(await panel.textContent()).toContain('enter the API token');
    await useToken(page);
    await expect.poll(() => panel.getByRole('button', { name: 'Abort' }).isDisabled()).toBe(false);
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.dismiss();
    });
    await panel.getByRole('button', { name: 'Abort' }).click();
    await expect.poll(() => panel.getByRole('status').textContent()).toContain('cancelled');
    expect(asked).toContain('safe state');
    expect((await api('GET', `/programs/${started.id}`)).state).toBe('running');
    page.once('dialog', (d) => void d.accept());
    await panel.getByRole('button', { name: 'Abort' }).click();
    await expect.poll(() => panel.locator('[data-field="program-state"]').textContent(), { timeout: 15_000 }).toBe('aborted');
    expect((await api('GET', `/programs/${started.id}`)).state).toBe('aborted');
    // The counter panel reads the counter.
    await expect.poll(() => page.getByRole('region', { name: 'Counter' }).locator('[data-field="counter-value"]').textContent(), { timeout: 15_000 }).not.toBe('…');
    expect(errors).toEqual([]);
  }, 60_000);

  it('keeps a program whose event came while the page was still fetching the list of programs', async () => {
    const context = await rig.browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      // The page's GET /programs is answered by the gateway at once (before the program below
      // exists) and that answer is held back until the program's event has been shown.
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let asked!: () => void;
      const wasAsked = new Promise<void>((r) => (asked = r));
      await page.route(/\/api\/v1\/programs$/, async (route) => {
        const response = await route.fetch();
        asked();
        await released;
        await route.fulfill({ response });
      });
      await page.goto(`${rig.gw.url}/#/instrument/main:5`);
      const panel = page.getByRole('region', { name: 'Program' });
      await wasAsked;
      const started = await api('POST', '/programs', { name: 'e2e late list', instruments: ['main:5'], steps: [{ type: 'hold', seconds: 600 }] });
      try {
        await expect.poll(() => panel.locator('[data-field="program-state"]').textContent(), { timeout: 15_000 }).toBe('running');
        const answered = page.waitForResponse(/\/api\/v1\/programs$/);
        release();
        await answered;
        // Two frames for the answer to be applied and drawn.
        await page.evaluate(() => {
          const raf = (globalThis as unknown as { requestAnimationFrame: (f: () => void) => void }).requestAnimationFrame;
          return new Promise<void>((r) => raf(() => raf(r)));
        });
        expect(await panel.textContent()).not.toContain('Not in a setpoint program');
        expect(await panel.locator('[data-field="program-step"]').textContent({ timeout: 2_000 })).toBe('1 of 1 (hold)');
      } finally {
        await api('POST', `/programs/${started.id}/abort`, {});
      }
    } finally {
      await context.close();
    }
  }, 60_000);

  it('shows an alarm raised on the simulator by name on the card, in red', async () => {
    const { page, errors } = await openPage(rig.browser, `${rig.gw.url}/`);
    const alarm = page.locator('[data-instrument="main:7"] [data-field="alarms"]');
    await expect.poll(() => alarm.textContent(), { timeout: 15_000 }).toBe('alarm: none');
    // Above the max limit: a setpoint of 75 %, the limit at 50 % (README "Fluids, counters and alarms").
    await api('PUT', '/instruments/main:7/alarm-settings', { alarmMode: 1, alarmLimitMaximum: 16000, alarmLimitMinimum: 0 });
    await api('PUT', '/instruments/main:7/parameters/setpoint', { value: 24000 });
    await expect.poll(() => alarm.textContent(), { timeout: 15_000 }).toBe('alarm: max');
    expect(await alarm.getAttribute('class')).toContain('bad');
    // Back below the limit: the alarm goes (the simulator clears it once a reset comes after).
    await api('PUT', '/instruments/main:7/parameters/setpoint', { value: 0 });
    await api('POST', '/instruments/main:7/alarms/reset', {});
    await expect.poll(() => alarm.textContent(), { timeout: 15_000 }).toBe('alarm: none');
    expect(errors).toEqual([]);
  }, 60_000);
});
