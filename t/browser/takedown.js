/*
 * A takedown seen from the player, in Debian's chromium: sign in as the
 * uploader, play a long audio media from the library, and (handshaking
 * with t/takedown_browser.t through files in OUT_DIR, which does the
 * takedown and the restore) see the player stop with the moderator's
 * reason once a segment is refused, then play again after the restore.
 * Prints what it saw as one JSON object:
 *
 *   OUT_DIR=... EMAIL=... TITLE=... node t/browser/takedown.js BASE_URL
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [base] = process.argv.slice(2);
const out = process.env.OUT_DIR;
const DEADLINE_MS = 150000;

const seen = { steps: [], console: [], offsite: [], refusals: [] };
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

function step(name) { seen.at = name; }
function passed() { seen.steps.push(seen.at); }

/* tells the test a step is reached, then waits for its answer */
async function handshake(page, mine, theirs, timeout) {
  fs.writeFileSync(path.join(out, mine), String(Date.now()));
  const until = Date.now() + timeout;
  while (Date.now() < until) {
    if (fs.existsSync(path.join(out, theirs))) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`no ${theirs} from the test within ${timeout} ms`);
}

/* the player's state, sampled in the page */
function player() {
  const v = document.getElementById('player');
  return { t: v.currentTime, paused: v.paused,
           error: document.getElementById('player-error').textContent };
}

/* samples the player every 100 ms until pred() or timeout */
async function until(page, pred, timeout) {
  const end = Date.now() + timeout;
  let last = null;
  while (Date.now() < end) {
    last = await page.evaluate(player);
    if (pred(last)) return { ok: true, last };
    await page.waitForTimeout(100);
  }
  return { ok: false, last };
}

(async () => {
  step('launch');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic',
           '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync',
           '--autoplay-policy=no-user-gesture-required'],
  });
  const page = await browser.newPage();
  const origin = new URL(base).origin;

  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      seen.console.push(`${m.type()}: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => seen.console.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith('blob:')
        && !u.startsWith('data:')) {
      seen.offsite.push(u);
    }
  });
  page.on('response', (r) => {
    const u = new URL(r.url()).pathname;
    if (/^\/hls\//.test(u) && r.status() !== 200) {
      seen.refusals.push({ path: u.replace(/^\/hls\/[^/]+/, '/hls/<token>'),
                           status: r.status() });
    }
  });
  passed();

  step('sign in');
  await page.goto(base);
  await page.waitForSelector('#auth:not([hidden])', { timeout: 10000 });
  await page.fill('#email', process.env.EMAIL);
  await page.fill('#password', 'a good long password');
  await page.click('#login');
  await page.waitForSelector('#app:not([hidden])', { timeout: 20000 });
  seen.console_signed_out = seen.console.splice(0);
  passed();

  const playButton = `#items .item[data-id="${process.env.MEDIA}"] .item-play`;

  step('play');
  await page.waitForSelector(playButton, { timeout: 20000 });
  await page.click(playButton);
  const playing = await until(page, (p) => p.t > 1 && !p.paused, 30000);
  seen.playing = playing;
  if (!playing.ok) throw new Error('the media did not start playing');
  passed();

  step('taken down while playing');
  await handshake(page, 'playing', 'blocked', 30000);
  const from = Date.now();
  const stopped = await until(page, (p) => /removed by a moderator/.test(p.error),
                              60000);
  seen.stopped = stopped;
  seen.stopped_after_ms = Date.now() - from;
  /* stopped for good: time does not move on */
  await page.waitForTimeout(1500);
  seen.stopped_later = await page.evaluate(player);
  seen.shown = await page.textContent('#player-error');
  if (!stopped.ok) throw new Error('the player did not stop with the message');
  passed();

  step('restored: plays again');
  await handshake(page, 'stopped', 'restored', 30000);
  /* the library as it is now: the item is ready again */
  await page.reload();
  await page.waitForSelector(playButton, { timeout: 20000 });
  await page.click(playButton);
  const again = await until(page, (p) => p.t > 1 && !p.paused && !p.error,
                            30000);
  seen.again = again;
  if (!again.ok) throw new Error('the media did not play again');
  passed();

  done(0);
})().catch((e) => {
  seen.error = String(e && e.stack || e);
  done(1);
});
