/*
 * Moderation in Debian's chromium: a user plays a media from a public
 * playlist and reports it with the Report button under the player; a
 * moderator, in another browser context, opens the report queue, sees the
 * report with the media's player beside it, is told to write a reason when
 * taking it down without one, takes it down with a reason, and sees the
 * report actioned; the uploader, signing in, sees the takedown in the
 * banner and dismisses it.  Prints what it saw as one JSON object for
 * t/moderation_browser.t to judge:
 *
 *   USER_EMAIL=... MOD_EMAIL=... OWNER_EMAIL=... PASSWORD=... \
 *       node t/browser/moderation.js BASE_URL PLAYLIST_ID TITLE
 *
 * Every wait is bounded; the whole run ends after DEADLINE_MS.
 */

'use strict';

const { driver, AUTOPLAY } = require('./driver');

const [base, playlist, title] = process.argv.slice(2);
const DEADLINE_MS = 100000;

const seen = { steps: [], console: [] };
let browser;

const d = driver(DEADLINE_MS, seen);
const { step, passed } = d;

async function login(email) {
  const page = await (await browser.newContext()).newPage();
  d.watch(page);
  await page.goto(base);
  await d.logIn(page, email, process.env.PASSWORD);
  return page;
}

d.go(async () => {
  step('launch');
  browser = await d.launch(AUTOPLAY);
  passed();

  step('the user reports the media');
  const user = await login(process.env.USER_EMAIL);
  seen.user_nav_hidden = await user.evaluate(() => {
    const a = document.getElementById('nav-moderation');
    return !a || a.hidden;
  });
  await user.goto(`${base}#playlist/${playlist}`);
  await user.waitForSelector('#playlist-items li', { timeout: 10000 });
  await user.click('#playlist-play');
  await user.waitForSelector('#player-box:not([hidden]) #report-open',
                             { timeout: 20000 });
  await user.click('#report-open');
  await user.selectOption('#report-reason', 'abuse');
  await user.fill('#report-details', 'hateful words at 0:01');
  await user.click('#report-send');
  await user.waitForFunction(() => /Thank you/.test(
    document.getElementById('report-message').textContent), null,
    { timeout: 10000 });
  seen.reported = await user.textContent('#report-message');
  passed();

  step('the moderator opens the queue');
  const mod = await login(process.env.MOD_EMAIL);
  await mod.click('#nav-moderation');
  await mod.waitForSelector('#moderation:not([hidden])', { timeout: 10000 });
  const report = mod.locator('#moderation-reports li.report',
                             { hasText: title });
  await report.waitFor({ timeout: 10000 });
  seen.queue_status = await report.locator('.report-status').textContent();
  seen.queue_text = await report.locator('.report-info').textContent();
  seen.has_player = await report.locator('video.report-player').count();
  await report.locator('.report-play').click();
  await mod.waitForFunction((t) => {
    const li = [...document.querySelectorAll('#moderation-reports li.report')]
      .find((x) => x.textContent.includes(t));
    const v = li && li.querySelector('video.report-player');
    return v && v.readyState >= 1;
  }, title, { timeout: 20000 });
  seen.player_duration = await report.locator('video.report-player')
    .evaluate((v) => v.duration);
  passed();

  step('a takedown needs a reason');
  await report.locator('.report-takedown').click();
  seen.no_reason = await report.locator('.report-result').textContent();
  passed();

  step('the moderator takes it down');
  await report.locator('.report-reason').fill('hate speech, see report');
  await report.locator('.report-takedown').click();
  await mod.waitForFunction((t) => {
    const li = [...document.querySelectorAll('#moderation-reports li.report')]
      .find((x) => x.textContent.includes(t));
    return li && li.querySelector('.report-status').textContent === 'actioned';
  }, title, { timeout: 10000 });
  seen.result = await report.locator('.report-result').textContent();
  seen.after_status = await report.locator('.report-status').textContent();
  passed();

  step('the report shows actioned');
  await mod.selectOption('#moderation-status', 'actioned');
  const closed = mod.locator('#moderation-reports li.report',
                             { hasText: title });
  await closed.waitFor({ timeout: 10000 });
  seen.actioned_status = await closed.locator('.report-status').textContent();
  seen.actioned_text = await closed.locator('.report-info').textContent();
  passed();

  step('the uploader sees the notice');
  const owner = await login(process.env.OWNER_EMAIL);
  await owner.waitForSelector('#notice-banner:not([hidden]) .notice-takedown',
                              { timeout: 10000 });
  seen.banner = await owner.textContent('#notice-banner .notice-takedown');
  await owner.click('#notice-banner .notice-takedown button');
  await owner.waitForSelector('#notice-banner', { state: 'hidden',
                                                  timeout: 10000 });
  passed();

});
