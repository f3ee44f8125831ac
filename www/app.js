/*
 * ngx_media's web client: sign in, upload with a progress bar, a library
 * that follows each transcode live, and an HLS player with a quality menu.
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
  playing: null,               /* media id in the player */
  errors: [],                  /* every hls.js error event, for diagnosis */
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

/* a call as the signed-in user: refreshes the access token once if needed */
async function api(method, path, body) {
  let res = await call(method, path, body);

  if (res.status === 401 && await refresh()) {
    res = await call(method, path, body);
  }
  if (res.status === 401) {
    signedOut();
  }
  return res;
}


/* --- signing in --------------------------------------------------------- */

function signedIn(user) {
  state.user = user;
  $('who-email').textContent = user.email;
  $('who-plan').textContent = user.plan;
  $('who').hidden = false;
  $('auth').hidden = true;
  $('app').hidden = false;
  $('auth-error').textContent = '';
  loadLibrary();
}

function signedOut() {
  state.user = null;
  stopPolling();
  stopPlayer();
  state.items.clear();
  $('items').replaceChildren();
  $('who').hidden = true;
  $('app').hidden = true;
  $('auth').hidden = false;
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

/* XMLHttpRequest, not fetch: only it reports upload progress */
function send(form, onProgress) {
  return new Promise((resolve) => {
    const x = new XMLHttpRequest();

    x.open('POST', '/api/v1/media');
    x.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    x.onload = () => {
      let json = null;
      try {
        json = JSON.parse(x.responseText);
      } catch (e) {
        json = null;
      }
      resolve({ status: x.status, json });
    };
    x.onerror = () => resolve({ status: 0, json: null });
    x.send(form);
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

  const form = new FormData();
  form.append('title', $('title').value.trim() || file.name);
  form.append('file', file);

  $('upload-go').disabled = true;
  $('upload-progress').hidden = false;
  bar.value = 0;
  $('upload-text').textContent = `0% of ${size(file.size)}`;

  const res = await send(form, (done, total) => {
    bar.value = Math.floor(done * 100 / total);
    $('upload-text').textContent = `${bar.value}% of ${size(total)}`;
  });

  $('upload-go').disabled = false;

  if (res.status !== 202) {
    $('upload-progress').hidden = true;
    $('upload-error').textContent = errorText(res);
    return;
  }

  bar.value = 100;
  $('upload-text').textContent = `Uploaded ${size(file.size)}; transcoding.`;
  $('upload-form').reset();

  showItem(res.json.media, true);
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
  el.querySelector('.item-error').textContent = media.error || '';
  el.querySelector('.item-play').hidden = media.status !== 'ready';
  el.querySelector('.item-privacy').value = media.privacy;

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
  if (state.hls) {
    state.hls.destroy();
    state.hls = null;
  }
  const v = $('player');
  v.pause();
  v.removeAttribute('src');
  v.load();
  state.playing = null;
  $('player-box').hidden = true;
}

function fillQualityMenu(hls) {
  const sel = $('quality');
  const opts = [new Option('Auto', '-1')];

  hls.levels.forEach((l, i) => opts.push(new Option(levelName(l), String(i))));
  sel.replaceChildren(...opts);
  sel.value = '-1';
  sel.disabled = hls.levels.length < 2;
}

async function playbackUrl(id) {
  const res = await api('POST', `/media/${id}/playback`);
  if (res.status !== 200) {
    $('player-error').textContent = errorText(res);
    return null;
  }
  return res.json.url;
}

async function play(id) {
  const it = state.items.get(id);
  const v = $('player');

  stopPlayer();
  $('player-box').hidden = false;
  $('player-title').textContent = it.media.title || '(untitled)';
  $('player-error').textContent = '';
  $('player-level').textContent = '';
  $('quality').replaceChildren();

  const url = await playbackUrl(id);
  if (!url) return;

  state.playing = id;
  v.classList.toggle('audio', it.media.kind === 'audio');
  v.poster = it.media.kind === 'video'
    ? url.replace(/master\.m3u8$/, 'poster.jpg') : '';

  if (!window.Hls || !Hls.isSupported()) {
    /* Safari on iOS: native HLS, whose quality is the browser's choice */
    if (v.canPlayType('application/vnd.apple.mpegurl')) {
      v.src = url;
      $('quality').disabled = true;
      v.play().catch(() => {});
    } else {
      $('player-error').textContent =
        'This browser cannot play HLS (no Media Source Extensions).';
    }
    return;
  }

  const hls = new Hls({ capLevelToPlayerSize: false });
  state.hls = hls;

  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    fillQualityMenu(hls);
    v.play().catch(() => {
      $('player-level').textContent = 'Press play to start.';
    });
  });

  hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => {
    const l = hls.levels[d.level];
    $('player-level').textContent = !l ? ''
      : l.height ? `playing ${levelName(l)}, ${Math.round(l.bitrate / 1000)} kb/s`
      : `playing ${levelName(l)}`;
  });

  let renewed = false;

  hls.on(Hls.Events.ERROR, async (_, d) => {
    const code = d.response && d.response.code;

    state.errors.push({ type: d.type, details: d.details, fatal: d.fatal,
                        code: code || null, reason: d.reason || null,
                        at: v.currentTime, level: hls.currentLevel });
    if (!d.fatal) return;

    /* the signed URL expired under a long session: sign a new one and
     * go on from where the viewer was, once */
    if (code === 403 && !renewed && state.hls === hls) {
      renewed = true;
      const at = v.currentTime;
      const fresh = await playbackUrl(id);
      if (fresh && state.hls === hls) {
        hls.once(Hls.Events.MANIFEST_PARSED, () => { v.currentTime = at; });
        hls.loadSource(fresh);
        return;
      }
    }

    if (d.type === Hls.ErrorTypes.MEDIA_ERROR) {
      hls.recoverMediaError();
      return;
    }

    $('player-error').textContent = `Playback stopped: ${d.details}`
      + (code ? ` (HTTP ${code})` : '');
  });

  hls.loadSource(url);
  hls.attachMedia(v);
}

function chooseQuality() {
  const hls = state.hls;
  if (!hls) return;
  /* currentLevel switches at once (flushing the buffer); -1 is automatic */
  hls.currentLevel = Number($('quality').value);
}


/* --- start -------------------------------------------------------------- */

$('auth-form').onsubmit = (e) => { e.preventDefault(); authenticate('login'); };
$('signup').onclick = () => authenticate('signup');
$('logout').onclick = logout;
$('upload-form').onsubmit = upload;
$('more').onclick = () => loadLibrary(true);
$('quality').onchange = chooseQuality;

resume();
