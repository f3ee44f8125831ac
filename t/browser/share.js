/*
 * The creator's library links the share page (www/sharelink.js); then a
 * share link in Debian's chromium, opened by an anonymous visitor (a
 * fresh context: no cookies, no session): the page shows the title and
 * the creator, Play asks for an anonymous playback token, and the video
 * plays (its clock moves).  Prints what it saw as one JSON object for
 * t/public_browser.t to judge:
 *
 *   EMAIL=... PASSWORD=... node t/browser/share.js SHARE_URL EMBED_URL
 *
 * then the embed player, framed by a page of another origin (a data: URL),
 * plays too.
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { chromium } = require('playwright-core');

const [url, embed] = process.argv.slice(2);
const DEADLINE_MS = 90000;

const seen = { steps: [], console: [], requests: [] };
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
  passed();

  /* the creator's library links the page; then a fresh context, with no
   * session, for the visitor */
  step('the library links it');
  const own = await browser.newContext();
  const lib = await own.newPage();
  lib.on('pageerror', (e) => seen.console.push(`pageerror: ${e.message}`));
  await lib.goto(new URL('/', url).href);
  await lib.waitForSelector('#auth:not([hidden])', { timeout: 10000 });
  await lib.fill('#email', process.env.EMAIL);
  await lib.fill('#password', process.env.PASSWORD);
  await lib.click('#login');
  await lib.waitForSelector('#items li.item .item-share:not([hidden])',
                            { timeout: 20000 });
  seen.library_link = await lib.getAttribute('#items li.item .item-share',
                                             'href');
  await own.close();
  passed();

  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') seen.console.push(m.text());
  });
  page.on('pageerror', (e) => seen.console.push(`pageerror: ${e.message}`));
  context.on('response', (r) => {
    if (r.status() >= 400) {
      seen.failed = (seen.failed || []).concat(
        `${r.status()} ${new URL(r.url()).pathname}`);
    }
    if (r.url().includes('/playback')) {
      seen.requests.push({ url: new URL(r.url()).pathname,
                           status: r.status() });
    }
  });

  step('open the share link');
  await page.goto(url);
  seen.title = await page.textContent('h1', { timeout: 10000 });
  seen.by = await page.textContent('p.by', { timeout: 10000 });
  seen.cookies = (await context.cookies()).length;
  passed();

  step('play');
  await page.click('#play', { timeout: 10000 });
  await page.waitForFunction(() => {
    const v = document.getElementById('player');
    return v && v.currentTime > 0.5;
  }, null, { timeout: 40000, polling: 200 });
  seen.time = await page.evaluate(
    () => document.getElementById('player').currentTime);
  seen.status = await page.textContent('#play-status');
  passed();

  step('embed');
  const other = await context.newPage();
  other.on('pageerror', (e) => seen.console.push(`pageerror: ${e.message}`));
  await other.setContent(`<iframe src="${embed}" width="640" height="360"
                          allow="autoplay"></iframe>`);
  const frame = await (await other.waitForSelector('iframe',
                                                   { timeout: 10000 }))
    .contentFrame();
  await frame.click('#play', { timeout: 10000 });
  await frame.waitForFunction(() => {
    const v = document.getElementById('player');
    return v && v.currentTime > 0.5;
  }, null, { timeout: 40000, polling: 200 });
  seen.embed_time = await frame.evaluate(
    () => document.getElementById('player').currentTime);
  passed();

  done(0);
})().catch((e) => {
  seen.error = `${seen.at}: ${e.message}`;
  done(1);
});
