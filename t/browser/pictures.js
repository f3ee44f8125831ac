/*
 * Pictures in Debian's chromium: log in; the library shows a song's cover
 * and a video's poster; playing the song draws its waveform with
 * wavesurfer.js from waveform.json (the player's picture its cover), and a
 * click on the waveform seeks; playing the video, hovering the bottom of
 * the player shows the thumbnail strip's tile for that moment.  Prints
 * what it saw as one JSON object for t/pictures_browser.t to judge:
 *
 *   EMAIL=... PASSWORD=... node t/browser/pictures.js BASE_URL SONG VIDEO
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { driver, AUTOPLAY } = require('./driver');

const [base, song, video] = process.argv.slice(2);
const DEADLINE_MS = 120000;

const seen = { steps: [], console: [], requests: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

d.go(async () => {
  step('launch');
  browser = await d.launch(AUTOPLAY);
  const page = await (await browser.newContext()).newPage();
  d.watch(page);
  page.on('request', (r) => {
    if (/^(blob|data):/.test(r.url())) {
      seen.requests.push(r.url().replace(/:.*/, ':'));    /* hls.js, ours */
      return;
    }
    const u = new URL(r.url());
    seen.requests.push(u.origin === new URL(base).origin
      ? u.pathname.replace(/^\/hls\/[^/]+\//, '/hls/T/') : u.href);
  });
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  passed();

  step('log in');
  await page.goto(base);
  await d.logIn(page, process.env.EMAIL, process.env.PASSWORD);
  passed();

  step('covers in the library');
  const songItem = page.locator('#items li.item', { hasText: song });
  const videoItem = page.locator('#items li.item', { hasText: video });
  const loaded = (img) => img.complete && img.naturalWidth > 0;
  await songItem.locator('img.item-cover').waitFor({ timeout: 10000 });
  await page.waitForFunction(() => [...document.querySelectorAll(
    'img.item-cover')].every((i) => i.complete && i.naturalWidth > 0), null,
    { timeout: 10000 });
  seen.cover = await songItem.locator('img.item-cover').evaluate((i) =>
    ({ w: i.naturalWidth, h: i.naturalHeight,
       file: i.src.replace(/^.*\//, '') }));
  seen.poster = await videoItem.locator('img.item-cover').evaluate((i) =>
    ({ w: i.naturalWidth, h: i.naturalHeight,
       file: i.src.replace(/^.*\//, '') }));
  void loaded;
  passed();

  step('the waveform');
  await songItem.locator('.item-play').click();
  await page.waitForFunction(() => {
    const box = document.getElementById('waveform');
    const root = box && box.firstElementChild
                 && box.firstElementChild.shadowRoot;
    return !box.hidden && root && root.querySelector('canvas');
  }, null, { timeout: 20000 });
  seen.wave = await page.evaluate(() => {
    const box = document.getElementById('waveform');
    const root = box.firstElementChild.shadowRoot;
    const canvases = [...root.querySelectorAll('canvas')];
    /* pixels drawn: a flat or empty canvas has none */
    let inked = 0;
    for (const c of canvases) {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i]) inked++;
    }
    return { bars: Number(box.dataset.bars), canvases: canvases.length,
             inked, width: box.getBoundingClientRect().width,
             poster: document.getElementById('player').poster
               .replace(/^.*\//, '') };
  });
  passed();

  step('seek on the waveform');
  await page.waitForFunction(() =>
    document.getElementById('player').readyState >= 1, null,
    { timeout: 20000 });
  const wb = await page.locator('#waveform').boundingBox();
  await page.mouse.click(wb.x + wb.width * 0.5, wb.y + wb.height / 2);
  await page.waitForFunction(() => {
    const v = document.getElementById('player');
    return v.currentTime > 1;
  }, null, { timeout: 10000 });
  seen.seek = await page.evaluate(() => {
    const v = document.getElementById('player');
    return { at: v.currentTime, duration: v.duration };
  });
  passed();

  step('thumbnails on hover');
  await videoItem.locator('.item-play').click();
  await page.waitForFunction(() => {
    const v = document.getElementById('player');
    return v.duration > 0 && document.getElementById('waveform').hidden;
  }, null, { timeout: 20000 });
  /* the track fetched: hovering then shows a tile */
  await page.waitForFunction(() => performance.getEntriesByType('resource')
    .some((e) => /thumbs\.vtt$/.test(e.name)), null, { timeout: 10000 });
  /* in view: what other features put around the player may push it down */
  await page.locator('#player').scrollIntoViewIfNeeded();
  const vb = await page.locator('#player').boundingBox();
  await page.mouse.move(vb.x + vb.width * 0.75, vb.y + vb.height - 20);
  await page.waitForSelector('#thumb-preview:not([hidden])',
                             { timeout: 5000 });
  seen.thumb = await page.evaluate(() => {
    const b = document.getElementById('thumb-preview');
    return { at: Number(b.dataset.at), position: b.style.backgroundPosition,
             width: b.style.width, height: b.style.height,
             image: /thumbs\.jpg/.test(b.style.backgroundImage) };
  });
  await page.mouse.move(vb.x + vb.width * 0.5, vb.y + 10);
  seen.hidden_above = await page.evaluate(() =>
    document.getElementById('thumb-preview').hidden);
  passed();

  seen.csp = await page.evaluate(() => window.cspViolations);
});
