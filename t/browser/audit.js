/*
 * The admin area (www/audit.js) in Debian's chromium: an admin signs in,
 * opens Admin, searches for an account and makes it a moderator with the
 * role select, sees the grant at the top of the audit trail, filters the
 * trail by action, pages to older entries, and fetches the CSV link; then
 * that account, now a moderator (not an admin), signs in and sees neither
 * the link nor the section, even at #admin.  Prints what it saw as one JSON object for
 * t/audit_browser.t:
 *
 *   node t/browser/audit.js BASE_URL ADMIN_EMAIL USER_EMAIL PASSWORD
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { driver } = require('./driver');

const [base, adminEmail, userEmail, password] = process.argv.slice(2);
const DEADLINE_MS = 90000;

const seen = { steps: [], console: [], offsite: [], patches: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

const texts = (page, sel) => page.$$eval(sel, (els) =>
  els.map((e) => e.textContent));

async function signIn(page, email) {
  await page.goto(base);
  await page.waitForSelector('#auth:not([hidden]) #email', { timeout: 10000 });
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#login');
  await page.waitForSelector('#who:not([hidden])', { timeout: 15000 });
}

async function watch(page) {
  const origin = new URL(base).origin;
  d.watch(page, { warnings: true, origin, ignore: /status of 401/ });
  page.on('request', (r) => {
    const u = r.url();
    if (r.method() === 'PATCH') {
      seen.patches.push(new URL(u).pathname + ' ' + r.postData());
    }
  });
}

d.go(async () => {
  step('launch');
  browser = await d.launch();
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await watch(page);
  passed();

  step('sign in as admin');
  await signIn(page, adminEmail);
  await page.waitForSelector('#nav-admin:not([hidden])', { timeout: 10000 });
  passed();

  step('open admin');
  await page.click('#nav-admin');
  await page.waitForSelector('#admin:not([hidden]) #audit-body tr',
                             { timeout: 10000 });
  seen.app_hidden = await page.$eval('#app', (e) => e.hidden);
  seen.first_page = (await texts(page, '#audit-body tr')).length;
  seen.more_shown = await page.$eval('#audit-more', (e) => !e.hidden);
  passed();

  step('search');
  await page.fill('#admin-user-q', userEmail.split('@')[0]);
  await page.click('#admin-user-form button[type=submit]');
  await page.waitForFunction((email) => {
    const rows = document.querySelectorAll('#admin-users-body tr');
    return rows.length === 1
      && rows[0].querySelector('.admin-user-email').textContent === email;
  }, userEmail, { timeout: 10000 });
  seen.found = await texts(page, '#admin-users-body .admin-user-email');
  passed();

  step('grant');
  await page.selectOption('#admin-users-body .admin-user-role', 'moderator');
  await page.waitForFunction(() => {
    const top = document.querySelector('#audit-body tr');
    return top && top.querySelector('.audit-action').textContent
      === 'role.grant';
  }, null, { timeout: 10000 });
  seen.top = {
    action: await page.textContent('#audit-body tr .audit-action'),
    actor: await page.textContent('#audit-body tr .audit-actor'),
    before: await page.textContent('#audit-body tr .audit-before'),
    after: await page.textContent('#audit-body tr .audit-after'),
  };
  passed();

  step('filter');
  await page.fill('#audit-action', 'role.grant');
  await page.click('#audit-form button[type=submit]');
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll('#audit-body .audit-action')];
    return cells.length > 0 && cells.every((c) => c.textContent
                                           === 'role.grant');
  }, null, { timeout: 10000 });
  seen.filtered = await texts(page, '#audit-body .audit-action');
  seen.csv_href = await page.getAttribute('#audit-csv', 'href');
  passed();

  step('older');
  await page.fill('#audit-action', '');
  await page.click('#audit-form button[type=submit]');
  await page.waitForSelector('#audit-more:not([hidden])', { timeout: 10000 });
  const before = (await texts(page, '#audit-body tr')).length;
  await page.click('#audit-more');
  await page.waitForFunction((n) => document.querySelectorAll(
    '#audit-body tr').length > n, before, { timeout: 10000 });
  seen.after_older = (await texts(page, '#audit-body tr')).length;
  seen.before_older = before;
  const ids = await page.$$eval('#audit-body tr', (els) =>
    els.map((e) => Number(e.dataset.id)));
  seen.ids_descending = ids.every((id, i) => i === 0 || id < ids[i - 1]);
  passed();

  step('csv');
  seen.csv = await page.evaluate(async (href) => {
    const res = await fetch(href, { credentials: 'same-origin' });
    return { status: res.status, type: res.headers.get('content-type'),
             disposition: res.headers.get('content-disposition'),
             first: (await res.text()).split('\r\n')[0] };
  }, seen.csv_href);
  passed();

  step('a user');
  const other = await browser.newContext();
  const upage = await other.newPage();
  await watch(upage);
  await signIn(upage, userEmail);
  await upage.goto(base + '#admin');
  await upage.waitForSelector('#who:not([hidden])', { timeout: 15000 });
  seen.user_nav_hidden = await upage.$eval('#nav-admin', (e) => e.hidden);
  seen.user_admin_hidden = await upage.$eval('#admin', (e) => e.hidden);
  passed();

});
