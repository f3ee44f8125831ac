/*
 * Paid media in Debian's chromium, against the real billing worker and
 * t/stripe-fake: the seller prices a media in the library; the buyer opens
 * its buy link, goes to the fake's checkout page and pays; back on the
 * success page the purchase appears once Stripe's webhook is applied; the
 * activity list shows it; buying again is refused with the server's
 * sentence.  Prints what it saw as one JSON object for
 * t/purchases_browser.t to judge:
 *
 *   SELLER=email PASSWORD=... MEDIA=id node t/browser/purchases.js BASE_URL
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { driver } = require('./driver');

const [base] = process.argv.slice(2);
const DEADLINE_MS = 120000;
const { SELLER, PASSWORD, MEDIA } = process.env;

const seen = { steps: [], console: [], responses: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

async function signIn(page, email, password, signup) {
  await page.goto(base);
  await page.waitForSelector('#auth:not([hidden])', { timeout: 10000 });
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click(signup ? '#signup' : '#login');
  try {
    await page.waitForSelector('#app:not([hidden])', { timeout: 20000 });
  } catch (e) {
    seen.auth_error = await page.textContent('#auth-error').catch(() => null);
    throw e;
  }
}

d.go(async () => {
  step('launch');
  browser = await d.launch();
  const page = await (await browser.newContext()).newPage();

  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      seen.console.push(`${m.type()}: ${m.text()} at ${m.location().url}`);
    }
  });
  page.on('pageerror', (e) => seen.console.push(`pageerror: ${e.message}`));
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/api/')) {
      seen.responses.push({ path: u.pathname, status: r.status(),
                            method: r.request().method() });
    }
  });
  passed();

  step('seller prices the media');
  await signIn(page, SELLER, PASSWORD, false);
  const item = `li.item[data-id="${MEDIA}"]`;
  await page.waitForSelector(`${item} .price-amount`, { timeout: 10000 });
  await page.fill(`${item} .price-amount`, '4.99');
  await page.selectOption(`${item} .price-currency`, 'eur');
  await page.click(`${item} .price-save`);
  await page.waitForFunction((sel) => document.querySelector(sel)
    .dataset.price === '499 eur', item, { timeout: 10000 });
  seen.buy_link = await page.$eval(`${item} .price-link`,
    (a) => (a.hidden ? null : a.getAttribute('href')));
  passed();

  step('seller refused a bad price');
  await page.fill(`${item} .price-amount`, '0.10');
  await page.click(`${item} .price-save`);
  await page.waitForFunction((sel) => document.querySelector(sel)
    .textContent, `${item} .price-error`, { timeout: 10000 });
  seen.bad_price = await page.textContent(`${item} .price-error`);
  /* signed out once the server said so: not a page left mid-request */
  await page.click('#logout');
  await page.waitForSelector('#auth:not([hidden])', { timeout: 10000 });
  passed();

  step('buyer signs up');
  await signIn(page, 'buyer@example.com', 'a good long password', true);
  passed();

  step('buy');
  await page.goto(base + seen.buy_link);
  await page.waitForSelector('#buy:not([hidden])', { timeout: 10000 });
  seen.buy_text = await page.textContent('#buy-text');
  await Promise.all([
    page.waitForURL(/\/checkout\/cs_\w+$/, { timeout: 30000 }),
    page.click('#buy-go'),
  ]);
  seen.checkout_items = await page.textContent('#items');
  passed();

  step('pay');
  /* the return from Stripe on a slow network: the page's later scripts
   * arrive a second and a half after /auth/me has answered, and the view
   * the address names must still open */
  await page.route(/\/(purchases|audit)\.js$/, async (route) => {
    seen.slow_scripts = (seen.slow_scripts || 0) + 1;
    await new Promise((r) => setTimeout(r, 1500));
    await route.continue();
  });
  await Promise.all([
    page.waitForURL(/#purchases\?purchase=success/, { timeout: 20000 }),
    page.click('#pay'),
  ]);
  await page.waitForSelector('#purchases:not([hidden])', { timeout: 10000 });
  await page.unroute(/\/(purchases|audit)\.js$/);
  seen.confirming = await page.textContent('#purchases-message');
  await page.waitForSelector(`#purchases-items li[data-media="${MEDIA}"]`,
    { timeout: 40000 });
  await page.waitForFunction(() => /Thank you/.test(
    document.getElementById('purchases-message').textContent), null,
  { timeout: 10000 });
  seen.confirmed = await page.textContent('#purchases-message');
  seen.owned = await page.$$eval('#purchases-items li',
    (lis) => lis.map((li) => li.textContent));
  passed();

  step('activity');
  await page.click('#nav-activity');
  await page.waitForSelector('#activity-items li', { timeout: 10000 });
  seen.activity = await page.$$eval('#activity-items li',
    (lis) => lis.map((li) => ({ type: li.dataset.type,
      text: li.querySelector('.activity-text').textContent })));
  seen.library_hidden = await page.$eval('#app', (e) => e.hidden);
  passed();

  step('buy again');
  await page.goto(base + seen.buy_link);
  await page.waitForSelector('#buy:not([hidden])', { timeout: 10000 });
  await page.click('#buy-go');
  await page.waitForFunction(() => document.getElementById('buy-error')
    .textContent, null, { timeout: 10000 });
  seen.again = await page.textContent('#buy-error');
  seen.again_button = await page.$eval('#buy-go', (b) => b.disabled);
  passed();

});
