/*
 * Plays a video in the web client while it is still transcoding, from the
 * start to the end, and prints what it saw as one JSON object for
 * t/progressive_browser.t to judge:
 *
 *   node t/browser/progressive.js BASE_URL VIDEO_FILE [HOLD_FILE]
 *
 * HOLD_FILE, where the test holds the transcode with it
 * (MEDIA_TEST_TRANSCODE_HOLD), is removed once the video plays: the rest
 * is transcoded while it plays, however late a busy machine starts it.
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS whatever
 * happens, printing what it has.
 */

'use strict';

const fs = require('fs');
const { driver, AUTOPLAY } = require('./driver');

const [base, videoFile, holdFile] = process.argv.slice(2);
const DEADLINE_MS = 200000;

const seen = {
  steps: [],
  console: [],
  offsite: [],
  responses: [],       /* { path, status, cache } of every /hls/ answer */
};

let browser;
const started = Date.now();

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

d.go(async () => {
  step('launch');
  browser = await d.launch(AUTOPLAY);
  const context = await browser.newContext();
  const page = await context.newPage();
  const origin = new URL(base).origin;

  d.watch(page, { warnings: true, origin });
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/hls/')) {
      const e = { path: u.pathname, status: r.status(),
                  cache: r.headers()['cache-control'] || null,
                  at: Date.now() - started };
      seen.responses.push(e);
      /* a playlist: how many segments it listed, how many seconds of
       * media, and whether it ended */
      if (u.pathname.endsWith('index.m3u8')) {
        r.text().then((b) => {
          e.segments = (b.match(/^seg_/mg) || []).length;
          e.listed = (b.match(/^#EXTINF:[0-9.]+/mg) || [])
            .reduce((sum, x) => sum + parseFloat(x.slice(8)), 0);
          e.ended = /#EXT-X-ENDLIST/.test(b);
        }).catch(() => {});
      }
    }
  });
  passed();

  step('sign up');
  await page.goto(base);
  await page.waitForSelector('#auth:not([hidden])', { timeout: 10000 });
  await page.fill('#email', 'early@example.com');
  await page.fill('#password', 'a good long password');
  await page.click('#signup');
  await page.waitForSelector('#app:not([hidden])', { timeout: 20000 });
  passed();

  step('upload');
  await page.setInputFiles('#file', videoFile);
  await page.fill('#title', 'Early');
  const answered = d.uploaded(page, 60000);
  await page.click('#upload-go');
  await answered;
  passed();

  step('Play shows while it transcodes');
  const li = page.locator('#items li.item', { hasText: 'Early' });
  await li.locator('.item-play:not([hidden])').waitFor({ timeout: 60000 });
  seen.status_at_play = await li.getAttribute('data-status');
  passed();

  step('play from the start to the end');
  await page.evaluate(() => {
    const v = document.getElementById('player');
    window.__play = { waiting: [], playing: 0, ended: false, first: null,
                      late: [] };
    /* the page's own timers: how late a 100 ms one fired, where over
     * 250 ms (a browser starved of CPU) */
    let tick = Date.now();
    setInterval(() => {
      const now = Date.now();
      if (now - tick - 100 > 250) {
        window.__play.late.push({ at: now, ms: now - tick - 100 });
      }
      tick = now;
    }, 100);
    v.addEventListener('playing', () => {
      window.__play.playing++;
      if (window.__play.first === null) {
        window.__play.first = v.currentTime;
      }
    });
    v.addEventListener('waiting', () => {
      if (window.__play.playing > 0) {
        /* what the player held past the position: media it had but did
         * not play (a starved decoder), or none (the data not in yet) */
        let ahead = 0;
        for (let i = 0; i < v.buffered.length; i++) {
          if (v.buffered.start(i) <= v.currentTime + 0.1
              && v.buffered.end(i) > v.currentTime) {
            ahead = v.buffered.end(i) - v.currentTime;
          }
        }
        window.__play.waiting.push({ t: v.currentTime, at: Date.now(),
                                     ahead });
      }
    });
    v.addEventListener('ended', () => { window.__play.ended = true; });
  });
  await li.locator('.item-play').click();

  /* sampled every 250 ms: how far it played, and whether the library
   * still said "processing" while it did */
  const samples = [];
  const until = Date.now() + 120000;
  let last;

  while (Date.now() < until) {
    last = await page.evaluate(() => {
      const v = document.getElementById('player');
      const el = [...document.querySelectorAll('#items li.item')]
        .find((e) => e.querySelector('.item-title').textContent === 'Early');
      return {
        at: Date.now(),
        t: v.currentTime,
        d: v.duration,
        paused: v.paused,
        ended: window.__play.ended,
        status: el ? el.dataset.status : null,
        start: v.buffered.length ? v.buffered.start(0) : null,
      };
    });
    samples.push(last);
    if (holdFile && last.t > 0 && seen.released === undefined) {
      fs.rmSync(holdFile, { force: true });
      seen.released = { t: last.t, at: last.at - started };
    }
    if (last.ended) break;
    await page.waitForTimeout(250);
  }

  seen.play = await page.evaluate(() => window.__play);
  seen.last = last;
  seen.played_while_processing = samples
    .filter((s) => s.status === 'processing' && s.t > 0).length;
  seen.max_t = Math.max(...samples.map((s) => s.t));
  seen.first_buffered = samples.map((s) => s.start).find((s) => s !== null);
  seen.hls_errors = await page.evaluate(() => state.errors);

  /* playing time that did not move while not paused: a stall the
   * 'waiting' event did not report */
  const frozen = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    if (!a.paused && !b.paused && !b.ended && a.t > 0 && b.t === a.t) {
      frozen.push({ t: b.t, at: b.at });
    }
  }

  /* every stall, with what the newest media playlist fetched before it
   * listed, and how late the page's timers ran in the 3 s before it: the
   * test tells a player's fault (the media was listed, the page ran on
   * time) from a transcode that a loaded machine kept behind the player,
   * or a browser it starved */
  const explain = (s) => {
    const at = s.at - started;
    const newest = {};   /* each rendition's newest playlist by then */
    for (const r of seen.responses) {
      if (r.path.endsWith('index.m3u8') && r.listed !== undefined && r.at <= at) {
        newest[r.path] = r;
      }
    }
    const p = Object.values(newest);
    const late = seen.play.late
      .filter((l) => l.at <= s.at + 500 && l.at >= s.at - 3000)
      .map((l) => l.ms);
    return { t: s.t, at, ahead: s.ahead,
             listed: p.length ? Math.min(...p.map((r) => r.listed)) : 0,
             ended: p.length > 0 && p.every((r) => r.ended),
             late: late.length ? Math.max(...late) : 0 };
  };
  seen.stalls = seen.play.waiting.map(explain);
  seen.frozen = frozen.map(explain);
  passed();

});
