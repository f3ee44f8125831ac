/*
 * The search box and the catalogue in Debian's chromium, signed out:
 * type "beyon" a key at a time and count the search requests the box
 * sends (debounced: one for the word, not one per key), read the
 * suggestions, press Enter for the results view, then open the
 * catalogue and filter it by kind.  Prints what it saw as one JSON object
 * for t/search_browser.t:
 *
 *   node t/browser/search.js BASE_URL
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { driver } = require('./driver');

const [base] = process.argv.slice(2);
const DEADLINE_MS = 60000;

const seen = { steps: [], console: [], offsite: [], searches: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

const texts = (page, sel) => page.$$eval(sel, (els) =>
  els.map((e) => e.textContent));

d.go(async () => {
  step('launch');
  browser = await d.launch();
  const page = await browser.newPage();
  const origin = new URL(base).origin;

  d.watch(page, { warnings: true, origin, ignore: /status of 401/ });
  page.on('request', (r) => {
    const u = r.url();
    if (new URL(u).pathname === '/api/v1/search') {
      seen.searches.push(new URL(u).search);
    }
  });
  /* what the catalogue answered, in order, for a failure to show */
  seen.catalog_answers = [];
  page.on('response', async (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/api/v1/catalog') {
      const body = await r.json().catch(() => null);
      seen.catalog_answers.push(u.search + ' ' + r.status() + ': '
        + (body && body.items ? body.items.map((i) => i.title).join(' | ')
          : ''));
    }
  });
  passed();

  step('type');
  await page.goto(base);
  await page.waitForSelector('#search-q', { timeout: 10000 });
  /* a key every 40 ms: faster than the box's 250 ms pause.  The page's
   * own clock at each input says where it saw a pause anyway (a page
   * starved of CPU by other suites sees the keys late) */
  await page.evaluate(() => {
    window.__inputs = [];
    document.getElementById('search-q').addEventListener('input',
      () => window.__inputs.push(performance.now()));
  });
  /* the whole word's request: a prefix's (a pause the page saw) may be
   * answered, and shown, before it is sent */
  const whole = page.waitForRequest((q) => /[?&]q=beyon(&|$)/.test(q.url()),
                                    { timeout: 10000 });
  await page.type('#search-q', 'beyon', { delay: 40 });
  await whole;
  await page.waitForSelector('#search-suggest:not([hidden]) li',
                             { timeout: 10000 });
  seen.suggestions = await texts(page, '#search-suggest li a');
  seen.inputs = await page.evaluate(() => window.__inputs);
  passed();

  step('enter');
  await page.press('#search-q', 'Enter');
  await page.waitForSelector('#results:not([hidden]) #results-items li',
                             { timeout: 10000 });
  seen.results = await texts(page, '#results-items li a');
  seen.results_title = await page.textContent('#results-title');
  seen.suggest_hidden = await page.$eval('#search-suggest', (e) => e.hidden);
  passed();

  step('catalog');
  await page.click('#nav-catalog');
  /* the search's results stay on screen until the catalogue's answer */
  await page.waitForFunction(() => document.querySelectorAll(
    '#results-items[data-path="/catalog"] li').length >= 2, null,
  { timeout: 10000 });
  seen.catalog = await texts(page, '#results-items li a');
  await page.selectOption('#catalog-kind', 'video');
  await page.click('#catalog-filters button[type=submit]');
  await page.waitForFunction(() => location.hash.includes('kind=video')
    && document.querySelectorAll('#results-items[data-path="/catalog"] li')
      .length === 1, null,
    { timeout: 10000 });
  seen.catalog_video = await texts(page, '#results-items li a');
  passed();

});
