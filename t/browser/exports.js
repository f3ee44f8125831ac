/*
 * The export dialog in Debian's chromium: log in, open Export on a ready
 * video, see the formats offered (the picture's only for a video) and the
 * presets (the picture's turned off for sound only), export to mp4 with
 * both picture presets while the page notes every value its progress bar
 * takes (on the page's own clock, so a busy driver misses none), then the
 * export listed and deleted.  Prints what it saw as one JSON object for
 * t/exports_browser.t to judge:
 *
 *   EMAIL=... PASSWORD=... node t/browser/exports.js BASE_URL TITLE
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { driver } = require('./driver');

const [base, title] = process.argv.slice(2);
const DEADLINE_MS = 150000;

const seen = { steps: [], console: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

d.go(async () => {
  step('launch');
  browser = await d.launch();
  const page = await (await browser.newContext()).newPage();
  d.watch(page);
  passed();

  step('log in');
  await page.goto(base);
  await d.logIn(page, process.env.EMAIL, process.env.PASSWORD);
  passed();

  step('open the dialog');
  const item = page.locator('#items li.item', { hasText: title });
  await item.locator('.item-export:not([hidden])').click({ timeout: 20000 });
  await page.waitForSelector('#export-dialog[open] #export-format option',
                             { state: 'attached', timeout: 10000 });
  seen.formats = await page.$$eval('#export-format option', (o) =>
    o.map((x) => x.value));
  await page.selectOption('#export-format', 'mp3');
  seen.mp3 = await page.evaluate(() => ({
    bitrates: [...document.querySelectorAll('#export-bitrate option')]
      .map((x) => Number(x.value)),
    bitrate: Number(document.getElementById('export-bitrate').value),
    sharpen_disabled: document.querySelector(
      '#export-presets input[value="sharpen"]').disabled,
    audio_only_shown: !document.getElementById('export-audio-only-label')
      .hidden,
  }));
  passed();

  step('export with progress');
  await page.selectOption('#export-format', 'mp4');
  await page.check('#export-presets input[value="sharpen"]');
  await page.check('#export-presets input[value="video_denoise"]');
  await page.evaluate(() => {
    const bar = document.getElementById('export-progress');
    window.barValues = [];
    new MutationObserver(() => {
      const v = Number(bar.value);
      if (window.barValues[window.barValues.length - 1] !== v) {
        window.barValues.push(v);
      }
    }).observe(document.getElementById('export-percent'),
               { childList: true, characterData: true, subtree: true });
  });
  await page.click('#export-start');
  await page.waitForFunction(() => /^Ready: mp4/.test(
    document.getElementById('export-status').textContent), null,
    { timeout: 90000 });
  seen.bar = await page.evaluate(() => window.barValues);
  seen.status = await page.textContent('#export-status');
  passed();

  step('listed, then deleted');
  await page.waitForSelector('#export-list li.export', { timeout: 10000 });
  seen.listed = await page.$$eval('#export-list li.export', (l) =>
    l.map((x) => x.textContent));
  await page.click('#export-list li.export button');
  await page.waitForFunction(() =>
    document.querySelectorAll('#export-list li.export').length === 0, null,
    { timeout: 10000 });
  passed();

});
