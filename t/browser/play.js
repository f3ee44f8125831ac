/*
 * Drives Debian's chromium through the web client, as a user would, and
 * prints what it saw as one JSON object for t/browser.t to judge:
 *
 *   node t/browser/play.js BASE_URL VIDEO_FILE AUDIO_FILE OUT_DIR
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS whatever
 * happens, printing what it has.
 */

'use strict';

const path = require('path');
const { driver } = require('./driver');

const [base, videoFile, audioFile, outDir] = process.argv.slice(2);
const DEADLINE_MS = 240000;
const EMAIL = process.env.EMAIL || 'viewer@example.com';

const seen = {
  steps: [],           /* names of the steps completed, in order */
  console: [],         /* console errors and warnings, CSP reports among them */
  offsite: [],         /* requests to anything but the server under test */
  responses: [],       /* { url, status } of every /hls/ and /api/ answer */
};

let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

/* samples fn() in the page every 100 ms until pred(value) or timeout */
async function watch(page, fn, pred, timeout, arg) {
  const values = [];
  const until = Date.now() + timeout;

  while (Date.now() < until) {
    const v = await page.evaluate(fn, arg);
    values.push(v);
    if (pred(v)) {
      return { ok: true, values, last: v };
    }
    await page.waitForTimeout(100);
  }
  return { ok: false, values, last: values[values.length - 1] };
}

function item(page, title) {
  return page.locator('#items li.item', { hasText: title });
}

/* the item's status and progress as the library shows them, sampled until
 * it is ready (or failed) */
async function followTranscode(page, title, timeout) {
  const r = await watch(page, (t) => {
    const li = [...document.querySelectorAll('#items li.item')]
      .find((el) => el.querySelector('.item-title').textContent === t);
    if (!li) return null;
    return {
      status: li.dataset.status,
      shown: !li.querySelector('.item-progress').hidden,
      progress: li.querySelector('progress').value,
      error: li.querySelector('.item-error').textContent,
    };
  }, (v) => v && (v.status === 'ready' || v.status === 'failed'),
  timeout, title);

  return {
    final: r.last,
    progress: [...new Set(r.values.filter((v) => v && v.shown)
      .map((v) => v.progress))],
    statuses: [...new Set(r.values.filter((v) => v).map((v) => v.status))],
  };
}

/* plays the media in the player until currentTime passes `secs` */
async function playFor(page, secs, timeout) {
  return watch(page, () => {
    const v = document.getElementById('player');
    return {
      t: v.currentTime,
      paused: v.paused,
      level: state.hls ? state.hls.currentLevel : null,
      errors: state.errors.length,
      shown: document.getElementById('player-error').textContent,
    };
  }, (v) => v.t >= secs, timeout);
}

async function upload(page, file, title) {
  await page.setInputFiles('#file', file);
  await page.fill('#title', title);

  /* the bar, sampled in the page as the XHR reports progress */
  await page.evaluate(() => {
    window.__bar = [];
    const bar = document.getElementById('upload-bar');
    new MutationObserver(() => window.__bar.push(bar.value))
      .observe(bar, { attributes: true });
    clearInterval(window.__barTimer);
    window.__barTimer = setInterval(() => window.__bar.push(bar.value), 20);
  });

  const answered = d.uploaded(page, 60000);
  await page.click('#upload-go');
  await answered;
  await page.waitForFunction(
    () => !document.getElementById('upload-go').disabled, null,
    { timeout: 10000 });

  return page.evaluate(() => ({
    bar: [...new Set(window.__bar)],
    text: document.getElementById('upload-text').textContent,
    error: document.getElementById('upload-error').textContent,
  }));
}

d.go(async () => {
  step('launch');
  browser = await d.launch();
  const context = await browser.newContext();
  /* the page's own clock: a 100 ms timer that fires late shows the page
   * got no CPU for that long (t/browser.t tells a stall of a starved
   * machine from one of the stream by it); the same clock as the error
   * events' t, performance.now() */
  await context.addInitScript(() => {
    window.__starved = [];
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      if (now - last >= 350) {
        window.__starved.push({ t: Math.round(now),
                                late_ms: Math.round(now - last - 100) });
      }
      last = now;
    }, 100);
  });
  const page = await context.newPage();
  const origin = new URL(base).origin;

  d.watch(page, { warnings: true, origin });
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/hls/') || u.pathname.startsWith('/api/')) {
      seen.responses.push({ path: u.pathname, status: r.status(),
                            method: r.request().method() });
    }
  });
  passed();

  step('sign up');
  await page.goto(base);
  await page.waitForSelector('#auth:not([hidden])', { timeout: 10000 });
  await page.fill('#email', EMAIL);
  await page.fill('#password', 'short');
  await page.click('#signup');
  await page.waitForFunction(() => document.getElementById('auth-error')
    .textContent.match(/password/i), null, { timeout: 10000 });
  seen.short_password_error = await page.textContent('#auth-error');

  await page.fill('#password', 'a good long password');
  await page.click('#signup');
  await page.waitForSelector('#app:not([hidden])', { timeout: 20000 });
  seen.who = await page.textContent('#who-email');
  passed();

  step('session survives a reload');
  await page.reload();
  await page.waitForSelector('#app:not([hidden])', { timeout: 20000 });
  seen.reload_who = await page.textContent('#who-email');
  passed();

  step('log out and back in');
  await page.click('#logout');
  await page.waitForSelector('#auth:not([hidden])', { timeout: 10000 });
  await page.fill('#email', EMAIL);
  await page.fill('#password', 'not the password');
  await page.click('#login');
  await page.waitForFunction(() => document.getElementById('auth-error')
    .textContent.length > 0 && !document.getElementById('login').disabled
    && !/Signing in/.test(document.getElementById('auth-error').textContent),
  null, { timeout: 20000 });
  seen.wrong_password_error = await page.textContent('#auth-error');
  await page.fill('#password', 'a good long password');
  await page.click('#login');
  await page.waitForSelector('#app:not([hidden])', { timeout: 20000 });
  passed();

  step('upload the video');
  /* a slow uplink, so the bar has something to show */
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1,
    uploadThroughput: 512 * 1024,
  });
  seen.video_upload = await upload(page, videoFile, 'Test pattern');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
  });
  passed();

  step('transcode the video');
  seen.video_transcode = await followTranscode(page, 'Test pattern', 120000);
  passed();

  step('play the video');
  await item(page, 'Test pattern').locator('.item-play').click();
  await page.waitForSelector('#player-box:not([hidden])', { timeout: 10000 });
  const first = await playFor(page, 5, 60000);
  /* what hls.js said on a start from 0 (t/browser.t: no hole to step over) */
  seen.start_errors = await page.evaluate(() => state.errors.slice());
  seen.buffered_start = await page.evaluate(() => {
    const b = document.getElementById('player').buffered;
    return b.length ? b.start(0) : null;
  });
  seen.video_play = { ok: first.ok, last: first.last };
  seen.levels = await page.evaluate(() => state.hls.levels.map((l) => ({
    height: l.height, bitrate: l.bitrate, url: l.url[0] })));
  seen.menu = await page.$$eval('#quality option', (os) =>
    os.map((o) => ({ value: o.value, text: o.textContent })));
  seen.poster = await page.getAttribute('#player', 'poster');
  seen.first_level = await page.evaluate(() => state.firstLevel);
  seen.start_level = await page.evaluate(() => state.hls.startLevel);
  /* the rule on other ladders: the nearest rung below 480p, the smallest
   * when all are larger, the short side for portrait, none for audio */
  seen.start_rules = await page.evaluate(() => [
    [{ width: 1920, height: 1080 }, { width: 1280, height: 720 },
     { width: 640, height: 360 }],
    [{ width: 1280, height: 720 }, { width: 1920, height: 1080 }],
    [{ width: 480, height: 854 }, { width: 720, height: 1280 }],
    [{ bitrate: 128000 }, { bitrate: 64000 }],
  ].map(window.mediaStartLevel));
  seen.hls_errors = await page.evaluate(() => state.errors);
  passed();

  step('switch quality');
  /* the menu entry for a rung other than the one playing */
  const now = first.last.level;
  const target = seen.menu.map((o) => Number(o.value))
    .filter((v) => v >= 0 && v !== now).pop();
  seen.switch_from = now;
  seen.switch_to = target;
  const errorsBefore = await page.evaluate(() => state.errors.length);
  await page.selectOption('#quality', String(target));
  const sw = await watch(page, () => ({
    level: state.hls.currentLevel,
    label: document.getElementById('player-level').textContent,
    want: Number(document.getElementById('quality').value),
    t: document.getElementById('player').currentTime,
  }), (v) => v.level === v.want, 20000);
  seen.switched = sw.last;
  const after = await playFor(page, sw.last.t + 3, 30000);
  seen.after_switch = { ok: after.ok, last: after.last };
  /* what the switch itself caused: it flushes what was buffered ahead */
  seen.switch_errors = await page.evaluate((n) => state.errors.splice(n),
                                           errorsBefore);
  seen.level_label = await page.textContent('#player-level');
  passed();

  step('an expired cookie is renewed');
  /* what a token's expiry looks like from the browser: segments from 1 on
   * are refused (nginx's own 403 for an expired cookie is t/playback.t's)
   * until the player has asked for a new cookie; it must, and go on with
   * the same URL */
  seen.hls_errors_before_renewal = await page.evaluate(() => state.errors);
  const signed = (r) => r.request().method() === 'POST'
    && /\/playback$/.test(new URL(r.url()).pathname);
  let answered = 0;
  const counting = (r) => { if (signed(r)) answered++; };
  seen.refused = 0;
  await page.route(/\/hls\//, (route) => {
    const u = new URL(route.request().url()).pathname;
    if (answered < 2 && /seg_0*[1-9]\d*\.ts$/.test(u)) {
      seen.refused++;
      return route.fulfill({ status: 403, body: 'expired' });
    }
    return route.continue();
  });
  page.on('response', counting);
  const firstUrl = page.waitForResponse(signed, { timeout: 10000 });
  await item(page, 'Test pattern').locator('.item-play').click();
  seen.cookie_url = (await (await firstUrl).json()).url;
  const renewed = await playFor(page, 8, 60000);
  await page.unroute(/\/hls\//);
  page.off('response', counting);
  seen.renewal = {
    ok: renewed.ok, last: renewed.last, signed: answered,
    url: await page.evaluate(() => state.hls
      && new URL(state.hls.url, location.href).pathname),
    shown: await page.textContent('#player-error'),
    errors: await page.evaluate(() => state.errors.splice(0)),
  };
  passed();

  step('the cookie is renewed before it ends');
  /* t/browser.t sets media_cookie_ttl 20s: the player asks again 5 s
   * before the end; after the first cookie's 20 s, a quality switch
   * loads segments it never had, with the renewed cookie */
  const issued = page.waitForResponse(signed, { timeout: 10000 });
  await item(page, 'Test pattern').locator('.item-play').click();
  const t0 = Date.now();
  const before = await page.evaluate(() => state.renewals);
  seen.ttl_answer = await (await issued).json();
  const from = seen.responses.length;
  await playFor(page, 2, 30000);
  await page.evaluate(() => document.getElementById('player').pause());
  const renewals = await watch(page, () => state.renewals, (n) => n > before, 40000);
  await page.waitForTimeout(Math.max(0, t0 + 22000 - Date.now()));
  seen.before_end = {
    renewals: renewals.last - before, waited_ms: Date.now() - t0,
  };
  const lvl = await page.evaluate(() => state.hls.currentLevel);
  const other = seen.menu.map((o) => Number(o.value))
    .filter((v) => v >= 0 && v !== lvl).pop();
  await page.selectOption('#quality', String(other));
  await page.evaluate(() => document.getElementById('player').play());
  const t1 = await page.evaluate(() => document.getElementById('player').currentTime);
  const on = await playFor(page, t1 + 3, 30000);
  seen.before_end.ok = on.ok;
  seen.before_end.last = on.last;
  seen.before_end.responses = seen.responses.slice(from)
    .filter((r) => r.path.startsWith('/hls/'));
  seen.before_end.errors = await page.evaluate(() => state.errors.splice(0));
  passed();

  step('audio: upload, transcode, play');
  seen.audio_upload = await upload(page, audioFile, 'Sine tone');
  seen.audio_transcode = await followTranscode(page, 'Sine tone', 120000);
  await item(page, 'Sine tone').locator('.item-play').click();
  const audio = await playFor(page, 3, 60000);
  seen.audio_play = { ok: audio.ok, last: audio.last };
  seen.audio_levels = await page.evaluate(() => state.hls.levels.map((l) => ({
    height: l.height, bitrate: l.bitrate, codecs: l.codecSet })));
  passed();

  step('privacy and delete');
  const patched = page.waitForResponse((r) => r.request().method() === 'PATCH',
                                       { timeout: 10000 });
  await item(page, 'Sine tone').locator('.item-privacy').selectOption('public');
  seen.patch_status = (await patched).status();
  seen.hls_errors = await page.evaluate(() => state.errors);
  seen.starved = await page.evaluate(() => window.__starved);
  await page.screenshot({ path: path.join(outDir, 'browser.png'),
                          fullPage: true });
  await page.reload();
  await page.waitForSelector('#items li.item', { timeout: 10000 });
  seen.privacy_after_reload = await item(page, 'Sine tone')
    .locator('.item-privacy').inputValue();
  page.once('dialog', (d) => {
    seen.confirm = d.message();
    d.accept();
  });
  const deleted = page.waitForResponse((r) => r.request().method() === 'DELETE',
                                       { timeout: 10000 });
  await item(page, 'Test pattern').locator('.item-delete').click();
  seen.delete_status = (await deleted).status();
  await page.waitForFunction(() => !/Test pattern/.test(
    document.getElementById('items').textContent), null, { timeout: 5000 })
    .catch(() => {});
  seen.titles_after_delete = await page.$$eval('#items .item-title',
    (els) => els.map((e) => e.textContent));
  await page.reload();
  await page.waitForSelector('#items li.item', { timeout: 10000 });
  seen.titles_after_reload = await page.$$eval('#items .item-title',
    (els) => els.map((e) => e.textContent));
  passed();

});
