/*
 * The listening side of the web client (www/listening.js) in Debian's
 * chromium: make a playlist with the form, open the one the test made,
 * move an item down, Play all and see the player go on to the next item
 * when one ends; leave a media part-way (pause sends the position), come
 * back to it and be offered to resume there; the history and the stats
 * chart.  Prints what it saw as one JSON object for
 * t/listening_browser.t to judge:
 *
 *   EMAIL=... PASSWORD=... node t/browser/listening.js BASE_URL PLAYLIST_ID
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { driver } = require('./driver');

const [base, playlist] = process.argv.slice(2);
const DEADLINE_MS = 120000;

const seen = { steps: [], console: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

const titles = (page, list) => page.evaluate((id) =>
  [...document.querySelectorAll(`#${id} li .item-title`)]
    .map((e) => e.textContent), list);

const player = (page) => page.evaluate(() => ({
  title: document.getElementById('player-title').textContent,
  t: document.getElementById('player').currentTime,
  d: document.getElementById('player').duration,
  paused: document.getElementById('player').paused,
  queue: document.getElementById('listen-queue').textContent,
}));

d.go(async () => {
  step('launch');
  browser = await d.launch();
  const page = await (await browser.newContext()).newPage();
  d.watch(page);
  passed();

  step('log in');
  await page.goto(base);
  await page.waitForSelector('#auth:not([hidden])', { timeout: 10000 });
  await page.fill('#email', process.env.EMAIL);
  await page.fill('#password', process.env.PASSWORD);
  await page.click('#login');
  await page.waitForSelector('#app:not([hidden])', { timeout: 10000 });
  passed();

  step('make a playlist');
  await page.click('#nav-playlists');
  await page.waitForSelector('#playlists:not([hidden])', { timeout: 10000 });
  await page.fill('#playlist-title', 'Made in the page');
  await page.click('#playlist-create');
  await page.waitForSelector('#playlists-items a:text("Made in the page")',
                             { timeout: 10000 });
  seen.playlists = await page.evaluate(() =>
    [...document.querySelectorAll('#playlists-items a')]
      .map((a) => a.textContent));
  passed();

  step('open and reorder');
  await page.click(`#playlists-items a[href="#playlist/${playlist}"]`);
  await page.waitForSelector('#playlist-items li', { timeout: 10000 });
  seen.before = await titles(page, 'playlist-items');
  const moved = page.waitForResponse((r) => r.request().method() === 'PUT'
    && r.url().endsWith('/order'), { timeout: 10000 });
  await page.locator('#playlist-items li').first()
    .locator('button:text("Down")').click();
  seen.order_status = (await moved).status();
  await page.waitForFunction((first) => {
    const t = document.querySelector('#playlist-items li .item-title');
    return t && t.textContent !== first;
  }, seen.before[0], { timeout: 10000 });
  seen.after = await titles(page, 'playlist-items');
  passed();

  step('play through');
  await page.click('#playlist-play');
  await page.waitForFunction(() => {
    const v = document.getElementById('player');
    return state.playing && v.currentTime > 0.2;
  }, null, { timeout: 30000 });
  seen.first = await player(page);
  /* near the end of the first: it ends, and the next one starts */
  await page.evaluate(() => {
    const v = document.getElementById('player');
    v.currentTime = Math.max(0, v.duration - 0.5);
  });
  await page.waitForFunction((t) => {
    const v = document.getElementById('player');
    return document.getElementById('player-title').textContent !== t
      && v.currentTime > 0.2 && !v.paused;
  }, seen.first.title, { timeout: 30000 });
  seen.second = await player(page);
  passed();

  step('leave part-way');
  await page.evaluate(() => {
    document.getElementById('player').currentTime = 4.2;
  });
  await page.waitForFunction(() =>
    document.getElementById('player').currentTime >= 4.3, null,
  { timeout: 10000 });
  const saved = page.waitForResponse((r) => r.request().method() === 'PUT'
    && r.url().endsWith('/progress'), { timeout: 10000 });
  await page.evaluate(() => document.getElementById('player').pause());
  const res = await saved;
  seen.saved = { status: res.status(), body: await res.json() };
  passed();

  step('come back and resume');
  /* another media first, then this one again from the library */
  await page.locator('#items li.item', { hasText: seen.first.title })
    .locator('.item-play').click();
  await page.waitForFunction((t) =>
    document.getElementById('player-title').textContent === t
    && document.getElementById('player').currentTime > 0.1,
  seen.first.title, { timeout: 30000 });
  await page.locator('#items li.item', { hasText: seen.second.title })
    .locator('.item-play').click();
  await page.waitForSelector('#listen-resume:not([hidden])',
                             { timeout: 30000 });
  seen.offer = await page.textContent('#listen-resume');
  seen.queue_after = await page.textContent('#listen-queue');
  await page.click('#listen-resume');
  await page.waitForFunction(() =>
    document.getElementById('player').currentTime >= 4, null,
  { timeout: 10000 });
  seen.resumed = await player(page);
  passed();

  step('history and stats');
  await page.evaluate(() => document.getElementById('player').pause());
  await page.click('#nav-history');
  await page.waitForSelector('#history-items li', { timeout: 10000 });
  seen.history = await titles(page, 'history-items');
  seen.history_text = await page.textContent('#history-items li p');
  await page.click('#nav-stats');
  await page.waitForSelector('#stats-chart svg rect', { timeout: 10000 });
  seen.totals = await page.textContent('#stats-totals');
  seen.bars = await page.evaluate(() =>
    document.querySelectorAll('#stats-chart rect.bar-plays').length);
  passed();

});
