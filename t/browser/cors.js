/*
 * Plays a stream from another origin in Debian's chromium: the page at
 * PAGE_URL (served by a second server, so a second origin) loads a player
 * from its own origin and plays SRC, a playback URL of the server under
 * test, with hls.js and then with shaka-player.  Prints what it saw as one
 * JSON object for t/cors_browser.t to judge:
 *
 *   node t/browser/cors.js PAGE_URL SRC_HLSJS SRC_SHAKA
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { chromium } = require('playwright-core');

const [pageUrl, srcHls, srcShaka] = process.argv.slice(2);
const DEADLINE_MS = 90000;

const seen = { steps: [], console: [], failed: [], players: {} };

let browser;

function done(code) {
  process.stdout.write(JSON.stringify(seen) + '\n');
  const close = browser ? browser.close().catch(() => {}) : Promise.resolve();
  close.finally(() => process.exit(code));
}

setTimeout(() => {
  seen.error = `deadline of ${DEADLINE_MS} ms passed during "${seen.at}"`;
  done(1);
}, DEADLINE_MS).unref();

/* opens the page with ?player=name&src=..., waits for 1.5 s played */
async function play(context, name, src) {
  seen.at = name;
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') seen.console.push(`${name}: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.console.push(`${name}: ${e.message}`));

  await page.goto(`${pageUrl}?player=${name}&src=${encodeURIComponent(src)}`);
  const p = { origin: await page.evaluate(() => location.origin) };
  try {
    await page.waitForFunction(() => {
      const v = document.getElementById('player');
      return (v && v.currentTime > 1.5) || window.playerError;
    }, null, { timeout: 30000, polling: 200 });
  } catch (e) {
    p.wait = e.message.split('\n')[0];
  }
  p.time = await page.evaluate(() => document.getElementById('player')
                                             .currentTime);
  p.error = await page.evaluate(() => window.playerError || null);
  p.events = await page.evaluate(() => window.playerEvents || []);
  seen.players[name] = p;
  await page.close();
  seen.steps.push(name);
}

(async () => {
  seen.at = 'launch';
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic',
           '--autoplay-policy=no-user-gesture-required'],
  });
  const context = await browser.newContext();
  context.on('response', (r) => {
    if (r.status() >= 400) {
      seen.failed.push(`${r.status()} ${new URL(r.url()).pathname}`);
    }
  });
  context.on('requestfailed', (r) => {
    seen.failed.push(`failed ${new URL(r.url()).pathname}: `
                     + `${r.failure() ? r.failure().errorText : ''}`);
  });
  seen.steps.push('launch');

  await play(context, 'hlsjs', srcHls);
  await play(context, 'shaka', srcShaka);

  done(0);
})().catch((e) => {
  seen.error = `${seen.at}: ${e.message}`;
  done(1);
});
