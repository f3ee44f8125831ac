/*
 * ngx_media's web client: sign in, upload with a progress bar, a library
 * that follows each transcode live, an HLS player with a quality menu, and
 * a pricing page (#pricing) that sends the user to Stripe to upgrade.
 *
 * The session lives in the HttpOnly cookies the API sets (media_access for
 * every call, media_refresh for /api/v1/auth only), so no token is ever
 * visible to this script.  A 401 triggers one refresh, shared by every call
 * waiting on it: two refreshes with the same token would look like token
 * theft to the server, which then revokes the whole session.
 */

'use strict';

const $ = (id) => document.getElementById(id);

const POLL_MS = 1000;          /* the library, while something transcodes */
const PAGE = 50;
const BUSY = new Set(['queued', 'processing']);

const state = {
  user: null,
  items: new Map(),            /* media id -> { media, el } */
  cursor: null,
  poll: null,
  refreshing: null,
  hls: null,
  ads: [],                     /* this content's schedule: {id, offset_ms, url, shown} */
  adPlaying: null,
  adDone: null,                /* ends the ad on screen */
  playing: null,               /* media id in the player */
  renewal: null,               /* the timer renewing the playback cookie */
  renewals: 0,                 /* how many times it did, for tests */
  errors: [],                  /* every hls.js error event, for diagnosis */
  billing: false,              /* a checkout or portal request under way */
  session: 0,                  /* counts sign-ins and sign-outs */
};


/* --- the API ------------------------------------------------------------ */

function errorText(res) {
  const e = res.json && res.json.error;
  if (e && e.message) {
    return e.message;
  }
  return res.status === 0
    ? 'The server could not be reached; check your connection and try again.'
    : `The server answered ${res.status}.`;
}

async function call(method, path, body) {
  const opt = { method, credentials: 'same-origin', headers: {} };

  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }

  let res;
  try {
    res = await fetch('/api/v1' + path, opt);
  } catch (e) {
    return { status: 0, json: null };
  }

  let json = null;
  if (res.status !== 204) {
    try {
      json = await res.json();
    } catch (e) {
      json = null;
    }
  }
  return { status: res.status, json };
}

function refresh() {
  if (!state.refreshing) {
    state.refreshing = call('POST', '/auth/refresh')
      .then((res) => res.status === 200)
      .finally(() => { state.refreshing = null; });
  }
  return state.refreshing;
}

/*
 * A call as the signed-in user: refreshes the access token once if needed.
 * A 401 signs out only the session the call was made in: one that began
 * while the call was under way (a sign-up racing a late answer to the
 * previous user's request) stays.
 */
async function api(method, path, body) {
  const session = state.session;
  let res = await call(method, path, body);

  if (res.status === 401 && await refresh()) {
    res = await call(method, path, body);
  }
  if (res.status === 401 && session === state.session) {
    signedOut();
  }
  return res;
}


/* --- signing in --------------------------------------------------------- */

function signedIn(user) {
  state.session++;
  state.user = user;
  $('who-email').textContent = user.email;
  $('who-plan').textContent = user.plan;
  $('who').hidden = false;
  $('auth-error').textContent = '';
  show();
  loadLibrary();
}

function signedOut() {
  state.session++;
  state.user = null;
  stopPolling();
  stopPlayer();
  state.items.clear();
  $('items').replaceChildren();
  $('who').hidden = true;
  show();
}

async function authenticate(route) {
  const email = $('email').value.trim();
  const password = $('password').value;

  if (!email) {
    $('auth-error').textContent = 'Enter your email address.';
    return;
  }
  if (!password) {
    $('auth-error').textContent = 'Enter a password.';
    return;
  }

  $('login').disabled = $('signup').disabled = true;
  $('auth-error').textContent = route === 'signup'
    ? 'Creating your account...' : 'Signing in...';

  const res = await call('POST', '/auth/' + route, { email, password });

  $('login').disabled = $('signup').disabled = false;

  if (res.status === 200 || res.status === 201) {
    $('password').value = '';
    signedIn(res.json.user);
    return;
  }

  let msg = errorText(res);
  if (res.status === 429) {
    msg += ' (too many attempts; wait a little before trying again)';
  }
  $('auth-error').textContent = msg;
}

async function resume() {
  const res = await api('GET', '/auth/me');
  if (res.status === 200) {
    signedIn(res.json.user || res.json);
  } else if (res.status !== 401) {
    signedOut();
    $('auth-error').textContent = errorText(res);
  }
}

async function logout() {
  await call('POST', '/auth/logout');
  signedOut();
}


/* --- upload ------------------------------------------------------------- */

function size(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + ' GB';
  if (n >= 1e6) return (n / 1e6).toFixed(1) + ' MB';
  return Math.ceil(n / 1e3) + ' kB';
}

/* the chunk a dropped connection costs at most */
const CHUNK = 8 * 1024 * 1024;

/*
 * A resumable upload (tus, /api/v1/uploads) through tus-js-client.  It
 * keeps each upload's URL in localStorage under the file's fingerprint
 * (name, type, size, modification time), so the same file chosen again
 * after a reload or a lost connection resumes from the offset the server
 * reports (HEAD) instead of starting over.  The last PATCH names the
 * media it became: Media-Id.
 */
function send(file, onProgress, onResume) {
  return new Promise((resolve) => {
    /* www/moderation.js's Draft box: the owner's only until published */
    const draft = $('upload-draft') && $('upload-draft').checked;
    const type = /^(audio|video)\//.test(file.type) ? file.type : '';

    const up = new tus.Upload(file, {
      endpoint: '/api/v1/uploads' + (draft ? '?draft=1' : ''),
      chunkSize: CHUNK,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      metadata: type ? { filename: file.name, filetype: type }
                     : { filename: file.name },
      removeFingerprintOnSuccess: true,
      onProgress,
      /* a 401 mid-upload: the session is refreshed and the chunk sent
       * again; 409 and 423 are retried as tus-js-client does */
      onShouldRetry: (err) => {
        const status = err.originalResponse
          ? err.originalResponse.getStatus() : 0;
        if (status === 401) {
          refresh();
          return true;
        }
        return status === 0 || status >= 500 || status === 409
               || status === 423;
      },
      onSuccess: (payload) => {
        const res = payload && payload.lastResponse;
        resolve({ status: 200,
                  mediaId: res ? res.getHeader('Media-Id') : null });
      },
      onError: (err) => {
        const res = err.originalResponse;
        let json = null;
        try {
          json = JSON.parse(res.getBody());
        } catch (e) {
          json = null;
        }
        resolve({ status: res ? res.getStatus() : 0, json });
      },
    });

    up.findPreviousUploads().then((previous) => {
      if (previous.length) {
        onResume();
        up.resumeFromPreviousUpload(previous[0]);
      }
      up.start();
    });
  });
}

async function upload(ev) {
  ev.preventDefault();

  const file = $('file').files[0];
  const bar = $('upload-bar');

  $('upload-error').textContent = '';
  $('upload-progress').hidden = true;

  if (!file) {
    $('upload-error').textContent = 'Choose an audio or video file first.';
    return;
  }

  /* the session must be fresh before the body goes: a 401 after a large
   * upload would mean sending it twice */
  const me = await api('GET', '/auth/me');
  if (me.status !== 200) {
    return;
  }

  const title = $('title').value.trim();

  $('upload-go').disabled = true;
  $('upload-progress').hidden = false;
  bar.value = 0;
  $('upload-text').textContent = `0% of ${size(file.size)}`;

  let resumed = false;
  const res = await send(file, (done, total) => {
    bar.value = Math.floor(done * 100 / total);
    $('upload-text').textContent = `${bar.value}% of ${size(total)}`
      + (resumed ? ' (resumed)' : '');
  }, () => { resumed = true; });

  $('upload-go').disabled = false;

  if (res.status !== 200 || !res.mediaId) {
    $('upload-progress').hidden = true;
    $('upload-error').textContent = errorText(res);
    return;
  }

  bar.value = 100;
  $('upload-text').textContent = `Uploaded ${size(file.size)}; transcoding.`;
  $('upload-form').reset();

  /* the file's name is the title unless one was typed */
  const got = title && title !== file.name
    ? await api('PATCH', `/media/${res.mediaId}`, { title })
    : await api('GET', `/media/${res.mediaId}`);

  if (got.status === 200) {
    showItem(got.json.media, true);
  }
  startPolling();
}


/* --- library ------------------------------------------------------------ */

function duration(ms) {
  if (ms == null) return '';
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function showItem(media, first) {
  let it = state.items.get(media.id);

  if (!it) {
    const el = $('item-template').content.firstElementChild.cloneNode(true);
    el.dataset.id = media.id;
    el.querySelector('.item-play').onclick = () => play(media.id);
    el.querySelector('.item-delete').onclick = () => remove(media.id);
    el.querySelector('.item-privacy').onchange = (e) =>
      setPrivacy(media.id, e.target);
    if (window.mediaDownloads) {
      window.mediaDownloads.decorate(el);     /* downloads.js */
    }
    it = { el };
    state.items.set(media.id, it);
    if (first) {
      $('items').prepend(el);
    } else {
      $('items').append(el);
    }
  }

  it.media = media;

  const el = it.el;
  const busy = BUSY.has(media.status);

  el.dataset.status = media.status;
  el.querySelector('.item-title').textContent = media.title || '(untitled)';
  el.querySelector('.item-kind').textContent = media.kind || '';
  el.querySelector('.item-kind').hidden = !media.kind;
  el.querySelector('.item-status').textContent = media.status;
  el.querySelector('.item-duration').textContent = duration(media.duration_ms);
  el.querySelector('.item-progress').hidden = !busy;
  el.querySelector('progress').value = media.progress || 0;
  el.querySelector('.item-percent').textContent = `${media.progress || 0}%`;
  el.querySelector('.item-error').textContent = media.status === 'blocked'
    ? `Removed by a moderator${media.blocked_reason ? `: ${media.blocked_reason}` : '.'}`
    : media.error || '';
  /* playable while it transcodes, once a rung is listed */
  el.querySelector('.item-play').hidden = !(media.playable
                                            || media.status === 'ready');
  el.querySelector('.item-privacy').value = media.privacy;
  if (typeof mediaExports !== 'undefined') mediaExports.update(el, media);
  if (typeof decorateItem === 'function') decorateItem(el, media);
  if (window.mediaShare) window.mediaShare.update(el, media);   /* sharelink.js */
  if (window.mediaPictures) mediaPictures.update(el, media);   /* pictures.js */
  if (typeof mediaModeration !== 'undefined') mediaModeration.update(el, media);

  $('library-empty').hidden = state.items.size > 0;
}

async function loadLibrary(more) {
  const q = `?limit=${PAGE}` + (more && state.cursor
    ? `&cursor=${encodeURIComponent(state.cursor)}` : '');
  const res = await api('GET', '/media' + q);

  if (res.status !== 200) {
    if (res.status !== 401) {
      $('library-error').textContent = errorText(res);
    }
    return;
  }

  $('library-error').textContent = '';
  for (const m of res.json.items) {
    showItem(m, false);
  }
  state.cursor = res.json.next_cursor || null;
  $('more').hidden = !state.cursor;
  $('library-empty').hidden = state.items.size > 0;

  startPolling();
}

/* while anything transcodes, ask for those items once a second; the list
 * answer carries status and progress, so one request covers them all */
function startPolling() {
  if (state.poll) return;
  const busy = [...state.items.values()].some((it) => BUSY.has(it.media.status));
  if (busy) {
    state.poll = setTimeout(poll, POLL_MS);
  }
}

function stopPolling() {
  clearTimeout(state.poll);
  state.poll = null;
}

async function poll() {
  state.poll = null;
  if (!state.user) return;

  const ids = [...state.items.values()]
    .filter((it) => BUSY.has(it.media.status))
    .map((it) => it.media.id);

  for (const id of ids) {
    const res = await api('GET', '/media/' + id);
    if (res.status === 200) {
      showItem(res.json.media, false);
    } else if (res.status === 404) {
      dropItem(id);
    } else if (res.status === 401) {
      return;
    }
  }
  startPolling();
}

function dropItem(id) {
  const it = state.items.get(id);
  if (it) {
    it.el.remove();
    state.items.delete(id);
  }
  if (state.playing === id) {
    stopPlayer();
  }
  $('library-empty').hidden = state.items.size > 0;
}

async function setPrivacy(id, select) {
  const it = state.items.get(id);
  const res = await api('PATCH', '/media/' + id, { privacy: select.value });

  if (res.status === 200) {
    showItem(res.json.media, false);
  } else {
    select.value = it.media.privacy;
    it.el.querySelector('.item-error').textContent = errorText(res);
  }
}

async function remove(id) {
  const it = state.items.get(id);
  if (!confirm(`Delete "${it.media.title}"? This cannot be undone.`)) return;

  const res = await api('DELETE', '/media/' + id);
  if (res.status === 204 || res.status === 404) {
    dropItem(id);
  } else {
    it.el.querySelector('.item-error').textContent = errorText(res);
  }
}


/* --- player ------------------------------------------------------------- */

function levelName(l) {
  if (l.height) return `${l.height}p`;
  return `${Math.round(l.bitrate / 1000)} kb/s`;
}

function stopPlayer() {
  clearTimeout(state.renewal);
  state.renewal = null;
  if (state.adDone) state.adDone();
  if (window.mediaPictures) mediaPictures.stop();
  if (state.hls) {
    state.hls.destroy();
    state.hls = null;
  }
  state.ads = [];
  const v = $('player');
  v.ontimeupdate = null;
  v.pause();
  v.removeAttribute('src');
  v.load();
  state.playing = null;
  $('player-box').hidden = true;
  if (typeof mediaSocial !== 'undefined') mediaSocial.close();
}

function fillQualityMenu(hls) {
  const sel = $('quality');
  const opts = [new Option('Auto', '-1')];

  hls.levels.forEach((l, i) => opts.push(new Option(levelName(l), String(i))));
  sel.replaceChildren(...opts);
  sel.value = '-1';
  sel.disabled = hls.levels.length < 2;
}

/*
 * The playback answer: {url, expires_at, ads?}, or null with the error
 * shown.  Signed-cookie mode: the URL is the media's own, the same for
 * every viewer (what a CDN caches once), and the token rides in an
 * HttpOnly cookie that lives media_cookie_ttl; asking again renews the
 * cookie and gives the same URL back, so the player goes on untouched.
 */
async function playback(id) {
  const res = await api('POST', `/media/${id}/playback`, { mode: 'cookie' });
  if (res.status !== 200) {
    $('player-error').textContent = refusalText(res) || errorText(res);
    return null;
  }
  return res.json;
}

/* renew this long before the cookie ends: a fifth of its life, 5 s to 2 min */
function renewLead(lifeMs) {
  return Math.min(120000, Math.max(5000, lifeMs / 5));
}

/*
 * Renew the playback cookie before it ends (pb.expires_at), for as long
 * as this media plays.  A refusal (taken down, banned) stops the player
 * with its reason, as a refused segment would; a failed request is tried
 * again sooner, while the cookie still holds.
 */
function scheduleRenewal(id, hls, pb) {
  clearTimeout(state.renewal);
  const ends = Date.parse(pb.expires_at);
  if (!Number.isFinite(ends)) return;
  const life = ends - Date.now();
  const wait = Math.max(1000, life - renewLead(life));
  state.renewal = setTimeout(async () => {
    if (state.hls !== hls) return;
    const res = await api('POST', `/media/${id}/playback`, { mode: 'cookie' });
    if (state.hls !== hls) return;
    state.renewals += 1;
    if (res.status === 200) {
      scheduleRenewal(id, hls, res.json);
    } else if (res.status === 0 || res.status >= 500) {
      /* until the cookie ends; past that a refused segment asks again */
      if (Date.now() < ends) {
        scheduleRenewal(id, hls, { expires_at: new Date(ends).toISOString() });
      }
    } else if (hls) {
      await refusedMidPlay(id, hls, res.status);
    } else {
      $('player').pause();
      $('player-error').textContent = refusalText(res) || errorText(res);
    }
  }, wait);
}

/* a moderator's refusal, said plainly: a takedown (451 media_blocked,
 * "this media was removed: <reason>") or a ban; null for anything else */
function refusalText(res) {
  const e = (res.json && res.json.error) || {};
  if (res.status === 451 || e.code === 'media_blocked') {
    const reason = (e.message || '').replace(/^this media was removed:?\s*/i, '')
                                    .replace(/^by a moderator\.?$/i, '');
    return 'This media was removed by a moderator'
      + (reason ? `: ${reason}` : '.');
  }
  if (e.code === 'account_banned') {
    return 'This account was banned by a moderator: it may not play media.';
  }
  return null;
}

/*
 * Refused in the middle of playing (a segment or playlist answered 451,
 * or 403 to a URL that was good): stop loading and playing, then ask the
 * playback route why; its answer names the moderator's reason.  If it
 * signs a new URL after all (an expired one), play on from there.
 */
async function refusedMidPlay(id, hls, code) {
  const v = $('player');
  const at = v.currentTime;
  hls.stopLoad();
  if (code === 451) v.pause();
  const pb = await playback(id);
  if (!pb || state.hls !== hls) {
    v.pause();
    $('player-level').textContent = '';
    return;
  }
  scheduleRenewal(id, hls, pb);
  if (pb.url === hls.url) {
    /* the same URL with a fresh cookie: load on from where it stopped */
    hls.startLoad(at);
    return;
  }
  hls.once(Hls.Events.MANIFEST_PARSED, () => { v.currentTime = at; });
  hls.loadSource(pb.url);
}


/* --- ads ---------------------------------------------------------------- */

/*
 * A plan with ads gets a schedule with its playback URL: ads at offset 0
 * play before the content, the others when the content reaches them. An
 * ad plays in its own <video> over the paused content, may be skipped
 * after skippable_after_ms, and is counted once it starts. Resolves when
 * it ends, is skipped, or cannot play (an ad never blocks the content).
 */
function playAd(ad) {
  const box = $('ad-box');
  const av = $('ad-player');
  const skip = $('ad-skip');
  const started = Date.now();
  let hls = null;
  let timer = null;

  box.hidden = false;
  skip.disabled = true;
  state.adPlaying = ad.id;

  return new Promise((resolve) => {
    const done = () => {
      clearInterval(timer);
      if (hls) hls.destroy();
      av.pause();
      av.removeAttribute('src');
      av.load();
      box.hidden = true;
      skip.onclick = null;
      state.adPlaying = null;
      state.adDone = null;
      resolve();
    };
    state.adDone = done;

    const tick = () => {
      const left = Math.ceil((ad.skippable_after_ms - (Date.now() - started)) / 1000);
      skip.disabled = left > 0;
      skip.textContent = left > 0 ? `Skip in ${left}` : 'Skip ad';
      const secs = ad.duration_ms ? Math.round(ad.duration_ms / 1000) : null;
      $('ad-text').textContent = secs ? `${secs} s` : '';
    };
    tick();
    timer = setInterval(tick, 250);
    skip.onclick = () => { if (!skip.disabled) done(); };
    av.onended = done;

    api('POST', `/ads/${ad.id}/impressions`, { url: ad.url }).catch(() => {});

    if (window.Hls && Hls.isSupported()) {
      hls = new Hls();
      hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) done(); });
      hls.on(Hls.Events.MANIFEST_PARSED, () => av.play().catch(() => {}));
      hls.loadSource(ad.url);
      hls.attachMedia(av);
    } else if (av.canPlayType('application/vnd.apple.mpegurl')) {
      av.src = ad.url;
      av.onerror = done;
      av.play().catch(() => {});
    } else {
      done();
    }
  });
}

/* mid-rolls: the first one the content has reached and not yet shown */
function midroll(id) {
  const v = $('player');
  const ad = state.ads.find((a) => !a.shown && a.offset_ms > 0
                                   && v.currentTime * 1000 >= a.offset_ms);
  if (!ad || state.adPlaying || state.playing !== id) return;
  ad.shown = true;
  v.pause();
  playAd(ad).then(() => {
    if (state.playing === id) v.play().catch(() => {});
  });
}

/* media: for one not in the library (a playlist's: www/listening.js) */
async function play(id, media) {
  const it = state.items.get(id) || { media };
  const v = $('player');

  stopPlayer();
  $('player-box').hidden = false;
  $('player-title').textContent = it.media.title || '(untitled)';
  $('player-error').textContent = '';
  $('player-level').textContent = '';
  $('quality').replaceChildren();

  const pb = await playback(id);
  if (!pb) return;
  const url = pb.url;

  state.playing = id;
  if (typeof mediaSocial !== 'undefined') mediaSocial.open(it.media);
  state.ads = (pb.ads || []).map((a) => ({ ...a, shown: false }))
                            .sort((a, b) => a.offset_ms - b.offset_ms);

  for (const ad of state.ads.filter((a) => a.offset_ms === 0)) {
    ad.shown = true;
    await playAd(ad);
    if (state.playing !== id) return;
  }
  v.ontimeupdate = () => midroll(id);
  v.classList.toggle('audio', it.media.kind === 'audio');
  v.poster = it.media.kind === 'video'
    ? url.replace(/master\.m3u8$/, 'poster.jpg') : '';
  if (window.mediaPictures) mediaPictures.play(v, it.media, pb);

  if (!window.Hls || !Hls.isSupported()) {
    /* Safari on iOS: native HLS, whose quality is the browser's choice */
    if (v.canPlayType('application/vnd.apple.mpegurl')) {
      scheduleRenewal(id, null, pb);
      v.src = url;
      $('quality').disabled = true;
      v.play().catch(() => {});
    } else {
      $('player-error').textContent =
        'This browser cannot play HLS (no Media Source Extensions).';
    }
    return;
  }

  /* from the start: a media still transcoding has an EVENT playlist,
   * which hls.js would otherwise join at its live edge; 30 s ahead at
   * most, whatever the bit rate (hls.js would buffer ten minutes of
   * audio): less to fetch for a viewer who stops, and a takedown stops
   * the player within a segment or so */
  const hls = new Hls({ capLevelToPlayerSize: false, startPosition: 0,
                        maxMaxBufferLength: 30 });
  state.hls = hls;

  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    /* the first fragments from the start rung; Auto (the bandwidth
     * estimate) takes over from there until the viewer picks one */
    hls.startLevel = window.mediaStartLevel(hls.levels);
    fillQualityMenu(hls);
    v.play().catch(() => {
      $('player-level').textContent = 'Press play to start.';
    });
  });

  /* which rung the first picture came from, for diagnosis and tests */
  state.firstLevel = null;
  hls.on(Hls.Events.FRAG_LOADED, (_, d) => {
    if (state.firstLevel === null && d.frag.type === 'main') {
      const l = hls.levels[d.frag.level];
      state.firstLevel = { level: d.frag.level, height: l && l.height };
    }
  });

  hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => {
    const l = hls.levels[d.level];
    $('player-level').textContent = !l ? ''
      : l.height ? `playing ${levelName(l)}, ${Math.round(l.bitrate / 1000)} kb/s`
      : `playing ${levelName(l)}`;
  });

  let renewed = false;
  let refused = false;

  hls.on(Hls.Events.ERROR, async (_, d) => {
    const code = d.response && d.response.code;

    state.errors.push({ type: d.type, details: d.details, fatal: d.fatal,
                        code: code || null, reason: d.reason || null,
                        at: v.currentTime, level: hls.currentLevel,
                        t: Math.round(performance.now()) });

    /* taken down while playing: stop at the first refusal, not after
     * hls.js has tried every rung */
    if (code === 451 && !refused && state.hls === hls) {
      refused = true;
      await refusedMidPlay(id, hls, code);
      return;
    }
    if (refused) return;

    /* the cookie ended (a laptop asleep past its renewal), or the account
     * was banned: ask again at the first 403, since hls.js's retries would
     * send the same cookie (the answer says why when it is refused), and
     * go on from where the viewer was, once */
    if (code === 403 && !renewed && state.hls === hls) {
      renewed = true;
      await refusedMidPlay(id, hls, code);
      return;
    }
    if (!d.fatal) return;

    if (d.type === Hls.ErrorTypes.MEDIA_ERROR) {
      hls.recoverMediaError();
      return;
    }

    $('player-error').textContent = `Playback stopped: ${d.details}`
      + (code ? ` (HTTP ${code})` : '');
  });

  scheduleRenewal(id, hls, pb);
  hls.loadSource(url);
  hls.attachMedia(v);
}

function chooseQuality() {
  const hls = state.hls;
  if (!hls) return;
  /* currentLevel switches at once (flushing the buffer); -1 is automatic */
  hls.currentLevel = Number($('quality').value);
}


/* --- pricing and billing ------------------------------------------------ */

/*
 * GET /api/v1/plans (no sign-in needed), /subscription and /usage come
 * with the billing work on the server; a server without them answers 404,
 * and the page says so plainly instead of failing.
 *
 * Upgrade and Manage subscription ask the server for a Stripe page: 200
 * {url} goes there; 202 {job} means the billing worker has not answered
 * yet, and the job is polled (bounded) until its result has the url.
 */

const BILLING_POLL_MS = 1000;
const BILLING_POLLS = 30;
const AUDIENCES = [['viewer', 'For viewers'], ['creator', 'For creators']];
const QUANTITIES = {
  storage: 'Storage', media: 'Media', exports: 'Exports this month',
  downloads: 'Downloads this month',
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* storage as plans count it, in powers of 1024: 5368709120 is "5 GB" */
function capacity(n) {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number(n.toFixed(i ? 2 : 0))} ${units[i]}`;
}

/* the view the address asks for: #pricing, or the library (or sign-in) */
function show() {
  const pricing = location.hash === '#pricing';
  /* #buy/<id>, #purchases, #activity: www/purchases.js */
  /* #playlists, #playlist/<id>, #history, #stats, #trending: listening.js */
  const listening = typeof listeningView === 'function'
    && listeningView(pricing ? '' : location.hash, !!state.user);
  /* #search, #catalog: www/search.js, signed in or not */
  const found = !!window.mediaSearch
    && window.mediaSearch.view(pricing ? '' : location.hash);
  /* #moderation: www/moderation.js, for moderators and admins */
  const moderating = typeof mediaModeration !== 'undefined'
    && mediaModeration.view(pricing ? '' : location.hash, !!state.user);
  /* #admin: www/audit.js, admins only */
  const admin = !!window.mediaAudit
    && window.mediaAudit.view(pricing ? '' : location.hash, state.user);
  const other = (typeof extraView === 'function'
    && extraView(pricing ? '' : location.hash, !!state.user)) || listening
    || found || moderating || admin;

  $('pricing').hidden = !pricing;
  $('usage').hidden = !pricing || !state.user;
  $('app').hidden = pricing || other || !state.user;
  $('auth').hidden = pricing || found || !!state.user;
  $('nav-pricing').classList.toggle('active', pricing);
  $('nav-library').classList.toggle('active', !pricing && !other);

  if (pricing) {
    loadPricing();
  }
}

function price(plan) {
  if (!plan.price_cents) return 'Free';
  let text;
  try {
    text = new Intl.NumberFormat(undefined, {
      style: 'currency', currency: plan.currency.toUpperCase(),
    }).format(plan.price_cents / 100);
  } catch (e) {
    text = `${(plan.price_cents / 100).toFixed(2)} ${plan.currency}`;
  }
  return `${text} / month`;
}

/* what a plan allows, in words; null is unlimited */
function limits(plan) {
  const l = plan.limits || {};
  const n = (v, one, unlimited) => (v == null ? unlimited : `${v} ${one}`);

  if (plan.audience === 'viewer') {
    return [
      l.max_rung == null ? 'Every quality' : `Up to ${l.max_rung}p`,
      n(l.downloads_per_month, 'downloads a month', 'Unlimited downloads'),
      plan.ads ? 'With ads' : 'No ads',
    ];
  }
  return [
    l.storage_bytes == null ? 'Unlimited storage'
      : `${capacity(l.storage_bytes)} of storage`,
    n(l.media_count, 'media', 'Unlimited media'),
    n(l.exports_per_month, 'exports a month', 'Unlimited exports'),
  ];
}

function planCard(plan) {
  const el = $('plan-template').content.firstElementChild.cloneNode(true);
  const current = !!(state.user && plan.current);
  const sold = plan.price_cents > 0;

  el.dataset.plan = plan.id;
  el.dataset.current = String(current);
  el.querySelector('.plan-name').textContent = plan.name;
  el.querySelector('.plan-current').hidden = !current;
  el.querySelector('.plan-price').textContent = price(plan);
  el.querySelector('.plan-limits').replaceChildren(...limits(plan).map((t) => {
    const li = document.createElement('li');
    li.textContent = t;
    return li;
  }));

  const up = el.querySelector('.plan-upgrade');
  const manage = el.querySelector('.plan-manage');

  if (sold && !current) {
    up.hidden = false;
    if (state.user) {
      up.onclick = () => billing('checkout', { plan: plan.id });
    } else {
      up.textContent = 'Sign in to upgrade';
      up.onclick = () => { location.hash = ''; };
    }
  }
  if (sold && current) {
    manage.hidden = false;
    manage.onclick = () => billing('portal', {});
  }
  return el;
}

function subscriptionText(s) {
  if (!s || s.status === 'none') return '';
  const end = s.current_period_end
    ? new Date(s.current_period_end).toLocaleDateString() : null;
  if (s.cancel_at_period_end && end) return `${s.status}, ends ${end}`;
  return end ? `${s.status}, renews ${end}` : s.status;
}

async function loadPricing() {
  const get = state.user ? api : call;
  const res = await get('GET', '/plans');

  $('pricing-error').textContent = '';
  $('pricing-message').textContent = '';
  $('billing-actions').hidden = !state.user;

  if (res.status === 404) {
    $('plan-groups').replaceChildren();
    $('pricing-message').textContent =
      'Plans are not available on this server yet.';
  } else if (res.status !== 200 || !res.json || !res.json.plans) {
    $('plan-groups').replaceChildren();
    $('pricing-error').textContent = errorText(res);
  } else {
    renderPlans(res.json.plans);
  }

  if (state.user) {
    loadSubscription();
    loadUsage();
  }
}

function renderPlans(plans) {
  const groups = AUDIENCES.map(([audience, title]) => {
    const mine = plans.filter((p) => p.audience === audience);
    if (!mine.length) return null;

    const group = document.createElement('div');
    const head = document.createElement('h3');
    const sub = document.createElement('span');
    const row = document.createElement('div');

    group.className = 'plan-group';
    group.dataset.audience = audience;
    head.textContent = title;
    sub.className = 'plan-subscription muted';
    head.append(' ', sub);
    row.className = 'plans';
    row.append(...mine.map(planCard));
    group.append(head, row);
    return group;
  }).filter(Boolean);

  $('plan-groups').replaceChildren(...groups);
}

async function loadSubscription() {
  const res = await api('GET', '/subscription');
  if (res.status !== 200 || !res.json || !res.json.subscription) return;

  for (const [audience] of AUDIENCES) {
    const el = document.querySelector(
      `.plan-group[data-audience="${audience}"] .plan-subscription`);
    if (el) el.textContent = subscriptionText(res.json.subscription[audience]);
  }
}

async function loadUsage() {
  const res = await api('GET', '/usage');

  $('usage-message').textContent = '';
  $('usage-bars').replaceChildren();
  $('alerts').replaceChildren();
  $('usage-period').textContent = '';

  if (res.status === 404) {
    $('usage-message').textContent =
      'Usage is not available on this server yet.';
    return;
  }
  if (res.status !== 200 || !res.json || !res.json.usage) {
    $('usage-message').textContent = errorText(res);
    return;
  }

  const u = res.json;
  const amount = (q, v) => (q === 'storage' ? capacity(v) : String(v));

  if (u.period && u.period.start && u.period.end) {
    $('usage-period').textContent = 'This month: '
      + `${new Date(u.period.start).toLocaleDateString()} to `
      + `${new Date(u.period.end).toLocaleDateString()}`;
  }

  $('usage-bars').replaceChildren(...u.usage.map((q) => {
    const el = $('usage-template').content.firstElementChild.cloneNode(true);
    const bar = el.querySelector('progress');
    const pct = Math.min(100, Math.max(0, q.percent || 0));

    el.dataset.quantity = q.quantity;
    el.querySelector('.meter-name').textContent =
      QUANTITIES[q.quantity] || q.quantity;
    el.querySelector('.meter-value').textContent = q.limit == null
      ? `${amount(q.quantity, q.used)} (unlimited)`
      : `${amount(q.quantity, q.used)} of ${amount(q.quantity, q.limit)}`
        + ` (${pct}%)`;
    bar.value = q.limit == null ? 0 : pct;
    bar.hidden = q.limit == null;
    el.classList.toggle('high', q.limit != null && pct >= 80);
    return el;
  }));

  $('alerts').replaceChildren(...(u.alerts || []).map((a) => {
    const li = document.createElement('li');
    const name = QUANTITIES[a.quantity] || a.quantity;
    li.className = 'alert';
    li.textContent = `${name}: ${a.threshold}% of your limit reached `
      + `(${amount(a.quantity, a.used)} of ${amount(a.quantity, a.limit)}).`
      + (a.threshold >= 100 ? ' Upgrade to go on.' : '');
    return li;
  }));
}

function billingBusy(text) {
  $('billing-wait').hidden = !text;
  $('billing-wait-text').textContent = text || '';
  for (const b of document.querySelectorAll(
    '#portal, .plan-upgrade, .plan-manage')) {
    b.disabled = !!text;
  }
}

/* off to Stripe: only an http(s) page, never a script URL */
function goTo(url) {
  let u = null;
  try {
    u = new URL(url, location.href);
  } catch (e) {
    u = null;
  }
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:')) {
    return false;
  }
  billingBusy('Going to Stripe...');
  location.assign(u.href);
  return true;
}

async function billing(action, body) {
  if (state.billing) return;
  state.billing = true;

  $('billing-error').textContent = '';
  billingBusy(action === 'checkout' ? 'Opening Stripe checkout...'
    : 'Opening your billing portal...');

  const fail = (msg) => {
    billingBusy(null);
    $('billing-error').textContent = msg;
  };

  try {
    const res = await api('POST', '/billing/' + action, body);

    if (res.status === 200) {
      if (!goTo(res.json.url)) fail('The server gave no page to go to.');
      return;
    }
    if (res.status !== 202 || !res.json || !res.json.job) {
      fail(errorText(res));
      return;
    }

    const id = res.json.job.id;

    for (let i = 0; i < BILLING_POLLS; i++) {
      billingBusy('Waiting for Stripe...');
      await sleep(BILLING_POLL_MS);

      const j = await api('GET', '/jobs/' + encodeURIComponent(id));
      if (j.status !== 200) {
        fail(errorText(j));
        return;
      }

      const job = j.json.job;
      if (job.status === 'done') {
        if (!goTo(job.result && job.result.url)) {
          fail('The server gave no page to go to.');
        }
        return;
      }
      if (job.status === 'failed' || job.status === 'dead') {
        fail(job.error || 'Billing failed; try again later.');
        return;
      }
    }
    fail('Stripe has not answered yet; try again in a minute.');
  } finally {
    state.billing = false;
  }
}


/* --- start -------------------------------------------------------------- */

$('auth-form').onsubmit = (e) => { e.preventDefault(); authenticate('login'); };
$('signup').onclick = () => authenticate('signup');
$('logout').onclick = logout;
$('upload-form').onsubmit = upload;
$('more').onclick = () => loadLibrary(true);
$('quality').onchange = chooseQuality;
$('portal').onclick = () => billing('portal', {});
window.addEventListener('hashchange', show);

/*
 * Every script of the page is deferred and runs, in order, before
 * DOMContentLoaded; the network may answer /auth/me between two of them.
 * Starting here, the first view drawn knows every module's routes (a
 * return from Stripe to #purchases, a #search link) and every item is
 * drawn with every module's buttons.
 */
document.addEventListener('DOMContentLoaded', resume, { once: true });
