/**
 * The dashboard's live state against lists that come late, in Chromium: an in-process gateway
 * (which serves the built dashboard) on the simulator over TCP, whose node 5 the test can make
 * stop answering, so that it goes offline when the test says. The browser reaches the gateway
 * through a TCP proxy that the test can cut, for an outage as the page sees it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator } from '../../simulator/index.js';
import { serveTcp, type TcpServer } from '../../simulator/cli.js';
import { configFrom } from '../../src/config/index.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { silentLogger } from '../../src/shared/index.js';
import { HAVE_CHROMIUM, launchBrowser, openPage } from '../helpers/browser.js';
import { BUILD_TIMEOUT_MS, buildOnce } from '../helpers/cli.js';
import { waitUntil } from '../helpers/wait.js';

/** A TCP proxy to 127.0.0.1:`target`: `cut()` ends every connection and refuses new ones until `restore()`. */
async function cuttableProxy(target: number): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let down = false;
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe.skipIf(!HAVE_CHROMIUM)('the dashboard when a list comes after the events', () => {
  const sim = createSimulator({ nodes: [3, 5, 7] });
  const mute = { node5: false };
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-dashboard-live-'));
  let tcp: TcpServer | undefined;
  let gw: RunningGateway | undefined;
  let proxy: Awaited<ReturnType<typeof cuttableProxy>> | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    buildOnce(); // dist/dashboard/, which the in-process gateway serves
    sim.instruments.get(5)!.defineBehavior({ name: 'mute', onMessage: () => (mute.node5 ? { silent: true } : undefined) });
    tcp = await serveTcp(sim, '127.0.0.1', 0);
    gw = await startGateway(
      configFrom({
        buses: [{ port: `tcp://127.0.0.1:${tcp.port}`, replyTimeoutMs: 100, retries: 0 }],
        poll: { intervalMs: 200 },
        http: { host: '127.0.0.1', port: 0 },
        store: { url: `sqlite:${join(dir, 'log.db')}`, spoolDir: join(dir, 'spool') },
        log: { level: 'silent' },
      }),
      silentLogger,
    );
    await waitUntil(() => gw!.service.instruments().length === 3 && gw!.service.instruments().every((i) => i.online && i.identity.serial), {
      what: 'three instruments online and identified',
      timeoutMs: 15_000,
    });
    proxy = await cuttableProxy(Number(new URL(gw.url).port));
    browser = await launchBrowser();
  }, BUILD_TIMEOUT_MS);
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await gw?.close();
    await tcp?.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps an instrument offline whose event came while the page was fetching the list of instruments again', async () => {
    const { page } = await openPage(browser!, `${proxy!.url}/`);
    const online = (node: number) => page.locator(`[data-instrument="main:${node}"] [data-field="online"]`).textContent();
    const strip = page.getByRole('region', { name: 'Gateway status' });
    await expect.poll(() => page.locator('article [data-field="online"]').allTextContents(), { timeout: 15_000 }).toEqual(['online', 'online', 'online']);
    // From now on the page's GET /instruments is answered by the gateway at once (with node 5
    // still online) and that answer is held back until node 5's `offline` event has been shown.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let asked!: () => void;
    const wasAsked = new Promise<void>((r) => (asked = r));
    await page.route(/\/api\/v1\/instruments$/, async (route) => {
      const response = await route.fetch();
      asked();
      await released;
      await route.fulfill({ response });
    });
    // The page fetches the list again, with the instruments known, when the gateway is back after
    // an outage: the connections are cut until the page says the gateway is unreachable.
    proxy!.cut();
    await expect.poll(() => strip.getAttribute('data-reachable'), { timeout: 20_000 }).toBe('no');
    proxy!.restore();
    await wasAsked;
    mute.node5 = true;
    try {
      await expect.poll(() => online(5), { timeout: 15_000 }).toBe('offline');
      const answered = page.waitForResponse(/\/api\/v1\/instruments$/);
      release();
      await answered;
      // Two frames for the answer to be applied and drawn.
      await page.evaluate(() => {
        const raf = (globalThis as unknown as { requestAnimationFrame: (f: () => void) => void }).requestAnimationFrame;
        return new Promise<void>((r) => raf(() => raf(r)));
      });
      expect(await online(5)).toBe('offline');
    } finally {
      mute.node5 = false;
    }
  }, 90_000);
});
