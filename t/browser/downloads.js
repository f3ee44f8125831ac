/*
 * Download buttons in Debian's chromium: sign up, upload two files titled
 * in Japanese and with an emoji, click each item's Download button, and
 * record the name the browser saves the file under (from the server's
 * Content-Disposition) and the saved bytes' size; then a second click on
 * a link already used shows no error (each click makes a new link).
 * Prints what it saw as one JSON object for t/downloads_browser.t:
 *
 *   OUT_DIR=... node t/browser/downloads.js BASE_URL FILE
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const fs = require('fs');
const path = require('path');
const { driver } = require('./driver');

const [base, file] = process.argv.slice(2);
const DEADLINE_MS = 90000;
const TITLES = ['\u591c\u660e\u3051\u306e\u6b4c', '\u{1f3b8} riff'];

const seen = { steps: [], console: [], offsite: [], saved: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

async function upload(page, title) {
  await page.setInputFiles('#file', file);
  await page.fill('#title', title);
  const answered = d.uploaded(page, 30000);
  await page.click('#upload-go');
  const id = await answered;
  /* the title is set by a PATCH after the upload: wait for the item */
  await page.waitForSelector(`#items .item[data-id="${id}"]`,
                             { timeout: 10000 });
  return id;
}

/* a click on the item's Download button, and what the browser saved */
async function download(page, id) {
  const button = `#items .item[data-id="${id}"] .item-download`;
  await page.waitForSelector(button, { timeout: 10000 });
  const started = page.waitForEvent('download', { timeout: 20000 });
  await page.click(button);
  const d = await started;
  const to = path.join(process.env.OUT_DIR, `saved-${seen.saved.length}`);
  await d.saveAs(to);
  return { name: d.suggestedFilename(), size: fs.statSync(to).size,
           failure: await d.failure(), url: new URL(d.url()).pathname };
}

d.go(async () => {
  step('launch');
  browser = await d.launch();
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const origin = new URL(base).origin;

  d.watch(page, { warnings: true, origin });
  passed();

  step('sign up');
  await page.goto(base);
  await page.waitForSelector('#auth:not([hidden])', { timeout: 10000 });
  await page.fill('#email', 'saver@example.com');
  await page.fill('#password', 'a good long password');
  await page.click('#signup');
  await page.waitForSelector('#app:not([hidden])', { timeout: 20000 });
  /* signed out, the page's first calls are 401s, which chromium logs */
  seen.console_signed_out = seen.console.splice(0);
  passed();

  step('upload');
  const ids = [];
  for (const t of TITLES) {
    ids.push(await upload(page, t));
  }
  passed();

  step('download');
  for (const id of ids) {
    seen.saved.push(await download(page, id));
  }
  passed();

  step('download again');
  seen.saved.push(await download(page, ids[0]));
  seen.item_error = await page.textContent(
    `#items .item[data-id="${ids[0]}"] .item-error`);
  passed();

});
