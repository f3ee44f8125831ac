/*
 * A resumable upload in Debian's chromium: sign up, upload a file larger
 * than the web client's 8 MB chunk, hold the second chunk's PATCH (so the
 * first is on the server and the second never arrives), reload the page
 * mid-upload, choose the same file again: the web client finds the
 * upload it started (tus-js-client's fingerprint in localStorage), asks
 * HEAD where it is and sends the rest from there, without a new POST.
 * Prints what it saw as one JSON object for t/tus_browser.t:
 *
 *   node t/browser/tus.js BASE_URL FILE
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { driver } = require('./driver');

const [base, file] = process.argv.slice(2);
const DEADLINE_MS = 90000;

const seen = { steps: [], console: [], offsite: [], before: [], after: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

/* what the page asks of /api/v1/uploads, with the offsets it sends */
function record(page, into) {
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/v1/uploads')) {
      into.push(`${r.method()} ${r.headers()['upload-offset'] || ''}`.trim());
    }
  });
}

async function until(cond, what) {
  for (let i = 0; i < 300; i++) {
    if (cond()) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`waited 30 s for ${what}`);
}

d.go(async () => {
  step('launch');
  browser = await d.launch();
  const context = await browser.newContext();
  let page = await context.newPage();
  const origin = new URL(base).origin;

  d.watch(page, { origin, ignore: /status of 401/ });
  passed();

  step('sign up');
  await page.goto(base);
  await page.waitForSelector('#auth:not([hidden])', { timeout: 10000 });
  await page.fill('#email', 'resumer@example.com');
  await page.fill('#password', 'a good long password');
  await page.click('#signup');
  await page.waitForSelector('#app:not([hidden])', { timeout: 20000 });
  passed();

  step('upload, held at the second chunk');
  let patches = 0;
  let held = false;
  await page.route('**/api/v1/uploads/*', async (route) => {
    if (route.request().method() === 'PATCH' && ++patches === 2) {
      held = true;         /* never answered: the reload ends it */
      return;
    }
    await route.continue();
  });
  record(page, seen.before);
  await page.setInputFiles('#file', file);
  await page.fill('#title', 'Resumed');
  await page.click('#upload-go');
  await until(() => held, 'the second PATCH');
  seen.bar_before = await page.$eval('#upload-bar', (b) => b.value);
  passed();

  step('reload');
  await page.close();
  page = await context.newPage();
  d.watch(page, { origin, ignore: /status of 401/ });
  record(page, seen.after);
  await page.goto(base);
  await page.waitForSelector('#app:not([hidden])', { timeout: 20000 });
  passed();

  step('the same file again: resumed');
  await page.setInputFiles('#file', file);
  await page.fill('#title', 'Resumed');
  const answered = d.uploaded(page, 30000);
  await page.click('#upload-go');
  seen.media = await answered;
  await page.waitForSelector(`#items .item[data-id="${seen.media}"]`,
                             { timeout: 10000 });
  seen.text = await page.$eval('#upload-text', (e) => e.textContent);
  seen.error = await page.$eval('#upload-error', (e) => e.textContent);
  seen.title = await page.$eval(`#items .item[data-id="${seen.media}"]`,
                                (e) => e.textContent);
  seen.stored = await page.evaluate(() => Object.keys(localStorage)
    .filter((k) => k.startsWith('tus::')).length);
  passed();
});
