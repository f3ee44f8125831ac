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
 * plays too.  With SONG_URL (a song's share page) as a third argument: its
 * cover is shown and its waveform drawn before anything plays, and a
 * click on the waveform plays from there; a comment shows as a mark on
 * the waveform at its moment.
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { driver, AUTOPLAY } = require('./driver');

const [url, embed, song] = process.argv.slice(2);
const DEADLINE_MS = 90000;

const seen = { steps: [], console: [], requests: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

d.go(async () => {
  step('launch');
  browser = await d.launch(AUTOPLAY);
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
  d.watch(page);
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
  /* the poster, loaded (a broken image has no natural size) */
  await page.waitForFunction(() => {
    const v = document.getElementById('player');
    return v && v.poster;
  }, null, { timeout: 10000 });
  seen.poster = await page.evaluate(() => new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve({ w: img.naturalWidth, h: img.naturalHeight });
    img.onerror = () => resolve({ error: 'the poster did not load' });
    img.src = document.getElementById('player').poster;
  }));
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

  if (song) {
    step('the song\'s page');
    const sp = await context.newPage();
    sp.on('pageerror', (e) => seen.console.push(`pageerror: ${e.message}`));
    sp.on('console', (m) => {
      if (m.type() === 'error') seen.console.push(m.text());
    });
    sp.on('request', (q) => {
      const path = new URL(q.url()).pathname;
      seen.song_requests = (seen.song_requests || [])
        .concat(path.replace(/^\/hls\/[^/]+\//, '/hls/T/'));
    });
    await sp.goto(song);
    await sp.waitForFunction(() => {
      const img = document.getElementById('cover');
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: 10000 });
    await sp.waitForFunction(() => {
      const box = document.getElementById('waveform');
      const root = box && box.firstElementChild
                   && box.firstElementChild.shadowRoot;
      return box && box.dataset.bars && root && root.querySelector('canvas');
    }, null, { timeout: 20000 });
    seen.song = await sp.evaluate(() => {
      const box = document.getElementById('waveform');
      const root = box.firstElementChild.shadowRoot;
      const canvases = [...root.querySelectorAll('canvas')];
      let inked = 0;
      for (const c of canvases) {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height)
          .data;
        for (let i = 3; i < d.length; i += 4) if (d[i]) inked++;
      }
      const img = document.getElementById('cover');
      const r = img.getBoundingClientRect();
      return { cover: { w: img.naturalWidth, h: img.naturalHeight,
                        shown: r.width > 0 && r.height > 0,
                        file: img.src.replace(/^.*\//, '') },
               bars: Number(box.dataset.bars), canvases: canvases.length,
               inked };
    });
    /* the comment at 0:03 (t/public_browser.t posts it): a mark on the
     * waveform, where 3 s of the song's 8 are */
    await sp.waitForSelector('#comment-marks .comment-mark',
                             { timeout: 10000 });
    seen.song.marks = await sp.evaluate(() => {
      const wave = document.getElementById('waveform')
        .getBoundingClientRect();
      return [...document.querySelectorAll('#comment-marks .comment-mark')]
        .map((m) => {
          const r = m.getBoundingClientRect();
          return { at_ms: Number(m.dataset.atMs), title: m.title,
                   at_s: Math.round((r.left + r.width / 2 - wave.left)
                                    / wave.width * 8 * 10) / 10 };
        });
    });
    seen.song.played_before_click = seen.song_requests
      .filter((q) => /playback|m3u8|seg_/.test(q)).length;
    passed();

    step('click on the waveform');
    const wave = await sp.$('#waveform');
    const box = await wave.boundingBox();
    await sp.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await sp.waitForFunction(() => {
      const a = document.getElementById('player');
      return a && a.currentTime > 3.5 && !a.paused;
    }, null, { timeout: 30000, polling: 200 });
    seen.song.at = await sp.evaluate(
      () => document.getElementById('player').currentTime);
    passed();
  }

});
