/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core (no browser
 * download). Browser tests skip with a message where Chromium is missing, except under CI=true,
 * where they fail (.ci/run installs it). Screenshots go to test-results/screenshots/ (git-ignored).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { BUILD_TIMEOUT_MS, ROOT, buildOnce } from './cli.js';
import { startServe, untilReady, type ServeProcess } from './serve.js';

export const CHROMIUM = process.env.FLOWBUS_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** As the workplace's probe starts it: headless, no sandbox (root), and none of its own network traffic. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  if (process.env.CI === 'true') throw new Error(`Chromium is required under CI=true (apt-get install -y chromium; looked for ${CHROMIUM}): the browser tests cannot be skipped`);
  console.warn(`Chromium is not installed (${CHROMIUM}): skipping the browser tests (apt-get install -y chromium)`);
}

export const SCREENSHOTS = join(ROOT, 'test-results', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  // playwright gives each launch a new, empty profile directory of its own.
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

export interface WatchedPage {
  readonly page: Page;
  /** Console errors and uncaught exceptions of the page, as text. */
  readonly errors: string[];
}

/** A page in a new context (its own session storage) at `width` px, whose console errors are collected. */
export async function openPage(browser: Browser, url: string, { width = 1280, height = 900 }: { width?: number; height?: number } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  await page.goto(url);
  return { page, errors };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * How many pixels of the canvases matching `selector` differ from the colour of their first
 * pixel (the background): 0 for a canvas nothing was drawn on.
 */
export async function inkedPixels(page: Page, selector: string): Promise<number> {
  return page.$$eval(selector, (canvases) => {
    let n = 0;
    // The test project has no DOM types: the little of a canvas this needs.
    type Canvas = { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null };
    for (const c of canvases as unknown as Canvas[]) {
      const g = c.getContext('2d');
      if (!g || c.width === 0 || c.height === 0) continue;
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const [r, gr, b, a] = [d[0], d[1], d[2], d[3]];
      for (let i = 0; i < d.length; i += 4) if (d[i] !== r || d[i + 1] !== gr || d[i + 2] !== b || d[i + 3] !== a) n++;
    }
    return n;
  });
}

export interface DashboardRig {
  /** Set in beforeAll. */
  gw: ServeProcess;
  browser: Browser;
}

/**
 * The set-up of most browser tests, registered as this describe block's beforeAll and afterAll:
 * `flowbus serve --simulator` as `npm start` runs it (three instruments online and identified)
 * and a browser; at the end both are closed and the gateway must exit 0.
 */
export function dashboardRig(env: Readonly<Record<string, string>> = {}): DashboardRig {
  const rig = {} as DashboardRig;
  beforeAll(async () => {
    buildOnce();
    rig.gw = await startServe({ env });
    await untilReady(rig.gw, 3);
    rig.browser = await launchBrowser();
  }, BUILD_TIMEOUT_MS);
  afterAll(async () => {
    await rig.browser?.close();
    expect(await rig.gw?.stop()).toBe(0);
  });
  return rig;
}
