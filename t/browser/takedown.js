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
const { driver, AUTOPLAY } = require('./driver');

const [base] = process.argv.slice(2);
const out = process.env.OUT_DIR;
const DEADLINE_MS = 150000;

const seen = { steps: [], console: [], offsite: [], refusals: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

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

d.go(async () => {
  step('launch');
  browser = await d.launch(AUTOPLAY);
  const page = await browser.newPage();
  const origin = new URL(base).origin;

  d.watch(page, { warnings: true, origin });
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
  await d.logIn(page, process.env.EMAIL, 'a good long password');
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

});
