import { chromium } from 'playwright-core';
const [url, out, width, wait, click] = process.argv.slice(2);
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
const p = await (await b.newContext({ viewport: { width: Number(width), height: 800 } })).newPage();
p.on('console', (m) => m.type() === 'error' && console.log('console error:', m.text()));
await p.goto(url);
await p.waitForTimeout(Number(wait));
if (click) { await p.locator(click).first().click(); await p.waitForTimeout(500); }
await p.screenshot({ path: out });
await b.close();
