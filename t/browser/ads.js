/*
 * Ads in the web client, in Debian's chromium: a free viewer plays their
 * video; the pre-roll plays first in its own player, its Skip button
 * counts down and opens after 5 s, skipping it starts the content.
 * Prints what it saw as one JSON object for t/ads_browser.t to judge:
 *
 *   EMAIL=... PASSWORD=... node t/browser/ads.js BASE_URL TITLE
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { driver, AUTOPLAY } = require('./driver');

const [base, title] = process.argv.slice(2);
const DEADLINE_MS = 90000;

const seen = { steps: [], console: [], hls: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

function adState(page) {
  return page.evaluate(() => {
    const skip = document.getElementById('ad-skip');
    return {
      shown: !document.getElementById('ad-box').hidden,
      skip_disabled: skip.disabled,
      skip_text: skip.textContent.trim(),
      ad_time: document.getElementById('ad-player').currentTime,
      content_time: document.getElementById('player').currentTime,
      content_paused: document.getElementById('player').paused,
    };
  });
}

d.go(async () => {
  step('launch');
  browser = await d.launch(AUTOPLAY);
  const page = await (await browser.newContext()).newPage();
  d.watch(page);
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/hls/') || u.pathname.startsWith('/api/v1/ads/')) {
      seen.hls.push({ path: u.pathname, status: r.status() });
    }
  });
  passed();

  step('log in');
  await page.goto(base);
  await d.logIn(page, process.env.EMAIL, process.env.PASSWORD);
  passed();

  step('play: the pre-roll first');
  /* the page notes when the ad box opens and when Skip opens, on its own
   * clock: the driver may look later than that on a busy machine */
  await page.evaluate(() => {
    const box = document.getElementById('ad-box');
    const skip = document.getElementById('ad-skip');
    window.adTimes = {};
    new MutationObserver(() => {
      if (!box.hidden && window.adTimes.shown === undefined) {
        window.adTimes.shown = performance.now();
      }
      if (window.adTimes.shown !== undefined && !skip.disabled
          && window.adTimes.skippable === undefined) {
        window.adTimes.skippable = performance.now();
      }
    }).observe(box, { attributes: true, subtree: true });
  });
  const item = page.locator('#items li.item', { hasText: title });
  await item.locator('.item-play').click();
  await page.waitForSelector('#ad-box:not([hidden])', { timeout: 10000 });
  seen.ad_first = await adState(page);
  await page.waitForFunction(() =>
    document.getElementById('ad-player').currentTime > 0.5, null,
  { timeout: 15000 });
  seen.ad_playing = await adState(page);
  passed();

  step('skip opens after 5 s');
  await page.waitForFunction(() => !document.getElementById('ad-skip').disabled,
    null, { timeout: 15000, polling: 50 });
  seen.skip_after_ms = await page.evaluate(() =>
    window.adTimes.skippable - window.adTimes.shown);
  seen.ad_skippable = await adState(page);
  passed();

  step('skip: the content plays');
  await page.click('#ad-skip');
  await page.waitForSelector('#ad-box', { state: 'hidden', timeout: 10000 });
  await page.waitForFunction(() =>
    document.getElementById('player').currentTime > 1.5, null,
  { timeout: 20000 });
  seen.content = await adState(page);
  passed();

});
