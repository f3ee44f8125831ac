/*
 * The share page (/m/<id>) and the embed player (/embed/<id>), both made
 * by the module as HTML: this asks for a playback token (anonymous unless
 * the visitor is signed in; the server limits anonymous ones per address)
 * and plays it with hls.js, or natively where the browser plays HLS
 * itself (Safari).  Comments and likes come from the social room's API
 * when it is there; the page already shows their counts.  An audio page
 * draws its waveform at once with wavesurfer.js from the precomputed
 * waveform.json (data-waveform, a pictures-only URL: no audio is fetched
 * or decoded for it); a click on it starts playing from there.  Comments
 * are marks on it at their moment (at_ms of data-duration-ms), as the
 * library's player shows them; a click on a mark plays from there.
 */

const main = document.getElementById('share');
const player = document.getElementById('player');
const status = document.getElementById('play-status');

function say(text) {
  status.textContent = text;
}

async function token(id) {
  let res;
  try {
    res = await fetch(`/api/v1/media/${id}/playback`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
  } catch (e) {
    say('The server could not be reached; check your connection.');
    return null;
  }

  const json = await res.json().catch(() => null);

  if (res.status === 429) {
    const wait = res.headers.get('Retry-After') || 'a few';
    say(`Too many plays from this address; try again in ${wait} seconds.`);
    return null;
  }

  if (!res.ok || !json || !json.url) {
    say((json && json.error && json.error.message)
        || `The server answered ${res.status}.`);
    return null;
  }

  return json.url;
}

async function start() {
  const url = await token(main.dataset.media);
  if (!url) {
    return;
  }

  if (window.Hls && window.Hls.isSupported()) {
    const hls = new window.Hls();
    /* a video starts at the 480p rung (www/rungs.js), as in the library */
    hls.on(window.Hls.Events.MANIFEST_PARSED, () => {
      if (window.mediaStartLevel) {
        hls.startLevel = window.mediaStartLevel(hls.levels);
      }
    });
    hls.on(window.Hls.Events.ERROR, (ev, data) => {
      if (data.fatal) {
        say(`Playback failed: ${data.details}.`);
      }
    });
    hls.loadSource(url);
    hls.attachMedia(player);
  } else if (player.canPlayType('application/vnd.apple.mpegurl')) {
    player.src = url;
  } else {
    say('This browser cannot play HLS.');
    return;
  }

  player.dataset.ready = '1';
}

/* the social room's comments, when its API answers; nothing otherwise */
async function comments() {
  const box = document.getElementById('comments');
  if (!box) {
    return;
  }

  /* a page of the most the route gives: the marks show them all */
  const res = await fetch(
    `/api/v1/media/${box.dataset.media}/comments?limit=200`,
    { credentials: 'same-origin' }).catch(() => null);
  if (!res || !res.ok) {
    return;
  }

  const json = await res.json().catch(() => null);
  marks((json && json.items) || []);
  for (const c of (json && json.items) || []) {
    const p = document.createElement('p');
    p.className = 'comment';
    if (c.user && c.user.avatar) {
      const img = document.createElement('img');
      img.className = 'avatar-64';
      img.alt = '';
      img.width = 24;
      img.height = 24;
      img.src = c.user.avatar['64'];
      p.append(img, ' ');
    }
    p.append(`${c.user && (c.user.display_name || c.user.handle)
                || 'someone'}: ${c.body}`);
    box.appendChild(p);
  }
}

function clock(ms) {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/* plays from t seconds: the token first when nothing has played yet */
function playFrom(t) {
  if (!started) {
    started = true;
    if (go.isConnected) go.remove();
    start().then(() => {
      player.currentTime = t;
      return player.play();
    }).catch(() => {});
  } else {
    player.currentTime = t;
  }
}

/* a mark per comment over the waveform, at at_ms of the duration */
function marks(items) {
  const box = document.getElementById('comment-marks');
  const duration = box ? Number(box.dataset.durationMs) : 0;
  if (!box || !duration) {
    return;
  }

  box.replaceChildren(...items.map((c) => {
    const m = document.createElement('button');
    m.type = 'button';
    m.className = 'comment-mark';
    m.title = `${clock(c.at_ms)} ${c.body}`;
    m.dataset.atMs = String(c.at_ms);
    m.style.left = `${Math.min(100, c.at_ms / duration * 100)}%`;
    m.addEventListener('click', () => playFrom(c.at_ms / 1000));
    return m;
  }));
}

/* BBC audiowaveform v2: [min, max] pairs of 8-bit samples -> one channel
 * of peaks in [0, 1] (as www/pictures.js) */
function peaks(w) {
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) {
    out[i] = Math.max(Math.abs(w.data[2 * i]), Math.abs(w.data[2 * i + 1]))
             / 128;
  }
  return out;
}

async function waveform() {
  const box = document.getElementById('waveform');
  const url = main.dataset.waveform;
  if (!box || !url || !window.WaveSurfer) {
    return;
  }

  const res = await fetch(url).catch(() => null);
  const w = res && res.ok ? await res.json().catch(() => null) : null;
  if (!w || !Array.isArray(w.data) || !w.length) {
    return;
  }

  const ws = window.WaveSurfer.create({
    container: box,
    height: 64,             /* nginx.conf.example's CSP hashes this style */
    media: player,
    peaks: [peaks(w)],
    duration: w.length * w.samples_per_pixel / w.sample_rate,
    waveColor: '#9aa4b2',
    progressColor: '#2f6fde',
    cursorColor: '#1b3f80',
    barWidth: 2,
    barGap: 1,
    normalize: true,
    interact: true,
  });

  /* a click before the first play: play from there */
  ws.on('interaction', (t) => {
    if (!started) {
      playFrom(t);
    }
  });
  box.dataset.bars = String(w.length);
}

/* a token is asked for on the first play, so that unfurlers and visitors
 * who never press play cost none */
let started = false;
player.addEventListener('play', () => {
  if (!started) {
    started = true;
    player.pause();
    start().then(() => player.play().catch(() => {}));
  }
});

const go = document.createElement('button');
go.id = 'play';
go.type = 'button';
go.textContent = 'Play';
go.addEventListener('click', () => {
  go.remove();
  started = true;
  start().then(() => player.play().catch(() => {}));
});
player.after(go);

comments();
waveform();
