/*
 * The pricing page in Debian's chromium: signed out and signed in, the
 * plans (when the server has GET /api/v1/plans), "Manage subscription"
 * through the billing routes, and "Upgrade" when there is a plan to buy.
 * The billing worker's part is played here through psql, as t/billing_api.t
 * does: a job row is finished (done with a url on this same origin, or
 * failed) at the moment the step needs.  Prints what it saw as one JSON
 * object for t/pricing.t to judge:
 *
 *   PGPORT=... node t/browser/pricing.js BASE_URL
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { execFileSync } = require('child_process');
const { driver } = require('./driver');

const [base] = process.argv.slice(2);
const DEADLINE_MS = 120000;
const EMAIL = process.env.EMAIL || 'payer@example.com';

const seen = { steps: [], console: [], offsite: [], responses: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

function psql(sql) {
  return execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
    '-h', '127.0.0.1', '-p', process.env.PGPORT, '-U', 'media', '-d', 'media',
    '-c', sql], { encoding: 'utf8' }).trim();
}

const known = new Set();

/* the newest queued billing job not seen before, waited for (bounded) */
async function newJob(page) {
  const until = Date.now() + 10000;
  while (Date.now() < until) {
    const id = psql("SELECT id FROM jobs WHERE type = 'billing' AND status"
      + " = 'queued' ORDER BY created_at DESC LIMIT 1");
    if (id && !known.has(id)) {
      known.add(id);
      return id;
    }
    await page.waitForTimeout(50);
  }
  throw new Error('no billing job was written');
}

function finish(id, status, url, error) {
  const result = url ? `'${JSON.stringify({ url })}'` : 'NULL';
  psql(`UPDATE jobs SET status = '${status}', result = ${result}, error = `
    + (error ? `'${error}'` : 'NULL') + ` WHERE id = '${id}'`);
}

/* what the pricing view shows */
function pricingView(page) {
  return page.evaluate(() => {
    const text = (id) => document.getElementById(id).textContent.trim();
    return {
      shown: !document.getElementById('pricing').hidden,
      message: text('pricing-message'),
      error: text('pricing-error'),
      portal: !document.getElementById('billing-actions').hidden,
      usage_shown: !document.getElementById('usage').hidden,
      usage_message: text('usage-message'),
      meters: [...document.querySelectorAll('#usage-bars .meter')]
        .map((m) => m.dataset.quantity),
      groups: [...document.querySelectorAll('.plan-group')].map((g) => ({
        audience: g.dataset.audience,
        plans: [...g.querySelectorAll('.plan')].map((p) => ({
          id: p.dataset.plan,
          current: p.dataset.current === 'true',
          upgrade: p.querySelector('.plan-upgrade').hidden ? null
            : p.querySelector('.plan-upgrade').textContent.trim(),
          manage: !p.querySelector('.plan-manage').hidden,
          limits: [...p.querySelectorAll('.plan-limits li')]
            .map((li) => li.textContent),
          price: p.querySelector('.plan-price').textContent,
        })),
      })),
    };
  });
}

/* waits until the view has answered: plans, or a message, or an error */
async function pricingLoaded(page) {
  await page.waitForFunction(() => document.querySelector('.plan')
    || document.getElementById('pricing-message').textContent
    || document.getElementById('pricing-error').textContent, null,
  { timeout: 10000 });
}

async function spinner(page) {
  return page.evaluate(() => ({
    shown: !document.getElementById('billing-wait').hidden,
    text: document.getElementById('billing-wait-text').textContent,
    disabled: document.getElementById('portal').disabled,
  }));
}

d.go(async () => {
  step('launch');
  browser = await d.launch();
  const page = await (await browser.newContext()).newPage();
  const origin = new URL(base).origin;

  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      seen.console.push(`${m.type()}: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => seen.console.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith('data:')) seen.offsite.push(u);
  });
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/api/')) {
      seen.responses.push({ path: u.pathname, status: r.status(),
                            method: r.request().method() });
    }
  });
  passed();

  step('pricing signed out');
  await page.goto(base + '#pricing');
  await page.waitForSelector('#pricing:not([hidden])', { timeout: 10000 });
  await pricingLoaded(page);
  seen.signed_out = await pricingView(page);
  seen.plans_status = (seen.responses.find((r) => r.path === '/api/v1/plans')
    || {}).status;
  passed();

  step('sign up');
  await page.click('#nav-library');
  await page.waitForSelector('#auth:not([hidden])', { timeout: 10000 });
  await page.fill('#email', EMAIL);
  await page.fill('#password', 'a good long password');
  await page.click('#signup');
  await page.waitForSelector('#app:not([hidden])', { timeout: 20000 });
  passed();

  step('pricing signed in');
  await page.click('#nav-pricing');
  await pricingLoaded(page);
  await page.waitForFunction(() => document.getElementById('usage-message')
    .textContent || document.querySelector('#usage-bars .meter'), null,
  { timeout: 10000 });
  seen.signed_in = await pricingView(page);
  await page.screenshot({ path: `${process.env.OUT_DIR}/pricing.png`,
                          fullPage: true });
  passed();

  /* the worker slower than media_billing_wait: 202, the page polls the
   * job with a spinner, and goes to the url once the job has it */
  step('portal, slow worker');
  const accepted = page.waitForResponse((r) => r.request().method() === 'POST'
    && new URL(r.url()).pathname === '/api/v1/billing/portal',
  { timeout: 20000 });
  await page.click('#portal');
  seen.slow_first = await spinner(page);
  let job = await newJob(page);
  seen.slow_answer = (await accepted).status();
  await page.waitForResponse((r) => new URL(r.url()).pathname
    === `/api/v1/jobs/${job}`, { timeout: 10000 });
  seen.slow_polling = await spinner(page);
  finish(job, 'done', `${origin}/?stripe=portal-slow`);
  await page.waitForURL(/stripe=portal-slow/, { timeout: 10000 });
  passed();

  step('portal, fast worker');
  await page.goto(base + '#pricing');
  await pricingLoaded(page);
  const answered = page.waitForResponse((r) => r.request().method() === 'POST'
    && new URL(r.url()).pathname === '/api/v1/billing/portal',
  { timeout: 20000 });
  await page.click('#portal');
  job = await newJob(page);
  finish(job, 'done', `${origin}/?stripe=portal-fast`);
  seen.fast_answer = (await answered).status();
  await page.waitForURL(/stripe=portal-fast/, { timeout: 10000 });
  passed();

  step('portal, failed');
  await page.goto(base + '#pricing');
  await pricingLoaded(page);
  await page.click('#portal');
  job = await newJob(page);
  finish(job, 'failed', null, 'Stripe refused the request; try again later.');
  await page.waitForFunction(() => document.getElementById('billing-error')
    .textContent, null, { timeout: 10000 });
  seen.failed = {
    error: await page.textContent('#billing-error'),
    spinner: await spinner(page),
  };
  passed();

  /* with the plans route (after the merge): buy the first plan on sale */
  const buyable = seen.signed_in.groups.flatMap((g) => g.plans)
    .find((p) => p.upgrade === 'Upgrade');
  if (buyable) {
    step('upgrade');
    await page.click(`.plan[data-plan="${buyable.id}"] .plan-upgrade`);
    job = await newJob(page);
    seen.upgrade_payload = psql(
      `SELECT payload::text FROM jobs WHERE id = '${job}'`);
    finish(job, 'done', `${origin}/?stripe=checkout`);
    await page.waitForURL(/stripe=checkout/, { timeout: 10000 });
    passed();
  }

});
