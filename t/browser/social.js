/*
 * The player's social panel in Debian's chromium: log in, play a media
 * that already has a comment at 0:03, see its mark on the timeline at 3 s
 * of the duration, pause at 0:01 and comment there (a second mark at 1 s),
 * like it (the count from the server).  Prints what it saw as one JSON
 * object for t/social_browser.t to judge:
 *
 *   EMAIL=... PASSWORD=... node t/browser/social.js BASE_URL TITLE
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { driver, AUTOPLAY } = require('./driver');

const [base, title] = process.argv.slice(2);
const DEADLINE_MS = 100000;

const seen = { steps: [], console: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

/* every mark: its at_ms, its left in %, and where it is drawn in the
 * timeline, as a fraction of the timeline's width */
function marks() {
  const line = document.getElementById('social-timeline')
    .getBoundingClientRect();
  return [...document.querySelectorAll('#social-marks .social-mark')]
    .map((m) => {
      const b = m.getBoundingClientRect();
      return { at_ms: Number(m.dataset.atMs), left: m.style.left,
               drawn: (b.left + b.width / 2 - line.left) / line.width,
               title: m.title };
    });
}

d.go(async () => {
  step('launch');
  browser = await d.launch(AUTOPLAY);
  const page = await (await browser.newContext()).newPage();
  d.watch(page);
  passed();

  step('log in');
  await page.goto(base);
  await d.logIn(page, process.env.EMAIL, process.env.PASSWORD);
  passed();

  step('the mark at 0:03');
  const item = page.locator('#items li.item', { hasText: title });
  await item.locator('.item-play:not([hidden])').click({ timeout: 20000 });
  await page.waitForSelector('#social-marks .social-mark',
                             { state: 'attached', timeout: 20000 });
  seen.before = await page.evaluate(marks);
  seen.likes = await page.textContent('#social-likes');
  seen.follow_hidden = await page.evaluate(() =>
    document.getElementById('social-follow').hidden);
  passed();

  step('comment at 0:01');
  await page.waitForFunction(() =>
    document.getElementById('player').readyState >= 1, null,
    { timeout: 20000 });
  await page.evaluate(() => new Promise((resolve) => {
    const v = document.getElementById('player');
    v.pause();
    v.addEventListener('seeked', resolve, { once: true });
    v.currentTime = 1;
  }));
  await page.click('#social-body');
  seen.button = await page.textContent('#social-post');
  await page.fill('#social-body', 'from the page');
  await page.click('#social-post');
  await page.waitForFunction(() =>
    document.querySelectorAll('#social-marks .social-mark').length === 2,
    null, { timeout: 10000 });
  seen.after = await page.evaluate(marks);
  seen.listed = await page.$$eval('#social-comments li', (l) =>
    l.map((x) => x.textContent));
  passed();

  step('like');
  await page.click('#social-like');
  await page.waitForFunction(() =>
    document.getElementById('social-like').getAttribute('aria-pressed')
    === 'true', null, { timeout: 10000 });
  seen.liked = await page.textContent('#social-likes');
  passed();

});
