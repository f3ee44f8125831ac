/*
 * What every browser test driver in t/browser shares: Debian's chromium,
 * headless and kept off the (closed) network; one bounded run that prints
 * what it saw as one JSON object on stdout, for its .t file to judge (the
 * steps it passed, where it stopped and why, the page's console errors);
 * and signing in through the web client's own form.
 *
 *   const { driver, AUTOPLAY } = require('./driver');
 *   const seen = {};
 *   const d = driver(DEADLINE_MS, seen);
 *   d.go(async () => {
 *     d.step('launch');
 *     const page = await (await d.launch(AUTOPLAY)).newPage();
 *     d.watch(page);
 *     d.passed();
 *     ...
 *   });
 *
 * The run ends with exit 0 when the body returns, 1 when it throws or the
 * deadline passes first (naming the step it was in).
 */

'use strict';

const { chromium } = require('playwright-core');

/* as root chromium needs --no-sandbox; the rest keep it off the network:
 * no updates, sync, QUIC probes or first-run calls */
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic',
              '--no-first-run', '--disable-background-networking',
              '--disable-component-update', '--disable-sync'];

/* players may start without a click */
const AUTOPLAY = '--autoplay-policy=no-user-gesture-required';

function driver(deadlineMs, seen) {
  let browser;
  let over = false;

  seen.steps = seen.steps || [];
  seen.console = seen.console || [];

  function done(code) {
    if (over) return;
    over = true;
    process.stdout.write(JSON.stringify(seen) + '\n');
    const close = browser ? browser.close().catch(() => {})
      : Promise.resolve();
    close.finally(() => process.exit(code));
  }

  setTimeout(() => {
    seen.error = `deadline of ${deadlineMs} ms passed during "${seen.at}"`;
    done(1);
  }, deadlineMs).unref();

  const d = {
    step(name) { seen.at = name; },
    passed() { seen.steps.push(seen.at); },

    /* the browser, closed when the run ends; extra flags (AUTOPLAY) */
    async launch(...extra) {
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: ARGS.concat(extra),
      });
      return browser;
    },

    /*
     * Console errors and uncaught exceptions go to seen.console; with
     * warnings, warnings too, each as "type: text"; but those ignore
     * matches (an answer the test asked for).  With origin, every request
     * elsewhere (but blob: and data:) goes to seen.offsite.
     */
    watch(page, { warnings, origin, ignore } = {}) {
      page.on('console', (m) => {
        if (ignore && ignore.test(m.text())) {
          return;
        }
        if (m.type() === 'error' && !warnings) {
          seen.console.push(m.text());
        } else if (m.type() === 'error' || (warnings && m.type() === 'warning')) {
          seen.console.push(`${m.type()}: ${m.text()}`);
        }
      });
      page.on('pageerror', (e) => seen.console.push(`pageerror: ${e.message}`));
      if (origin) {
        seen.offsite = seen.offsite || [];
        page.on('request', (r) => {
          const u = r.url();
          if (!u.startsWith(origin) && !u.startsWith('blob:')
              && !u.startsWith('data:')) {
            seen.offsite.push(u);
          }
        });
      }
    },

    /* the web client's sign-in form, until the library shows */
    async logIn(page, email, password) {
      await page.waitForSelector('#auth:not([hidden])', { timeout: 10000 });
      await page.fill('#email', email);
      await page.fill('#password', password);
      await page.click('#login');
      await page.waitForSelector('#app:not([hidden])', { timeout: 20000 });
    },

    /*
     * The web client's upload ends with the tus request that carries the
     * last bytes (a PATCH, or the POST when the file fits in its first
     * chunk): its answer names the media, Media-Id.  Resolves to the id.
     */
    async uploaded(page, timeoutMs) {
      const res = await page.waitForResponse((r) =>
        new URL(r.url()).pathname.startsWith('/api/v1/uploads')
        && r.headers()['media-id'] !== undefined, { timeout: timeoutMs });
      return res.headers()['media-id'];
    },

    /* the run: exit 0 when body returns, 1 when it throws */
    go(body) {
      body().then(() => done(0), (e) => {
        seen.error = `${seen.at}: ${String(e && e.stack || e)}`;
        done(1);
      });
    },
  };

  return d;
}

module.exports = { driver, AUTOPLAY };
