/*
 * The listening side of ngx_media's web client (app.js):
 *
 *   - #playlists: yours, and a form to make one; #playlist/<id>: its
 *     items in order, moved up and down (PUT /playlists/{id}/order),
 *     removed, and "Play all", which plays them through in the library's
 *     player, the next one when one ends;
 *   - under the player: "Add to playlist", and "Resume at m:ss" when the
 *     media was left part-way (GET /media/{id}/progress); the position is
 *     sent every 30 s while playing and on pause (PUT .../progress);
 *   - #history: what you played and where you stopped; #stats: your
 *     numbers for 90 days with a small bar chart (SVG, no library);
 *     #trending: anyone may look.
 *
 * app.js calls listeningView(hash, signedIn) from show() and play(id,
 * media) plays a media that is not in the library; everything else
 * (state, $, api, errorText, play, duration) is used only after load.
 */

'use strict';

const LISTEN_SAVE_MS = 30000;      /* the player reports its position */
const LISTEN_RESUME_MS = 3000;     /* less than this in or from the end:
                                    * start over, no offer */
const SVG_NS = 'http://www.w3.org/2000/svg';

const listen = {
  queue: null,                     /* { title, items: [media], at } */
  seen: null,                      /* the media id the player last had */
  pos: null,                       /* { id, ms, duration } last known */
  sent: 0,                         /* when the position was last sent */
  historyCursor: null,
  trendingCursor: null,
};


/* --- the views ----------------------------------------------------------- */

function listeningView(hash, signedIn) {
  const list = signedIn && hash === '#playlists';
  const one = signedIn && /^#playlist\/[0-9a-f-]{36}$/.test(hash);
  const history = signedIn && hash === '#history';
  const stats = signedIn && hash === '#stats';
  const trending = hash === '#trending';

  $('playlists').hidden = !list;
  $('playlist').hidden = !one;
  $('history').hidden = !history;
  $('stats').hidden = !stats;
  $('trending').hidden = !trending;
  for (const [nav, on] of [['nav-playlists', list || one],
                           ['nav-history', history], ['nav-stats', stats],
                           ['nav-trending', trending]]) {
    $(nav).classList.toggle('active', on);
  }

  if (list) loadPlaylists();
  if (one) loadPlaylist(hash.slice(10));
  if (history) loadHistory(false);
  if (stats) loadStats();
  if (trending) loadTrending(false);

  return list || one || history || stats || trending;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function button(text, onclick, cls) {
  const b = el('button', cls, text);
  b.type = 'button';
  b.onclick = onclick;
  return b;
}

function mediaLine(m) {
  const li = el('li', 'item');
  li.dataset.id = m.id;
  const head = el('div', 'item-head');
  head.append(el('strong', 'item-title', m.title || '(untitled)'),
              el('span', 'tag', m.kind || ''),
              el('span', 'muted', duration(m.duration_ms)));
  li.append(head);
  return li;
}


/* --- playlists ------------------------------------------------------------ */

async function loadPlaylists() {
  $('playlists-error').textContent = '';
  const res = await api('GET', '/playlists?limit=100');
  if (res.status !== 200) {
    $('playlists-error').textContent = errorText(res);
    return;
  }
  $('playlists-items').replaceChildren(...res.json.items.map((p) => {
    const li = el('li', 'item');
    const a = el('a', 'playlist-link', p.title);
    a.href = `#playlist/${p.id}`;
    li.append(a, el('span', 'tag', p.privacy),
              el('span', 'muted', ` ${p.items_count} items`));
    return li;
  }));
  $('playlists-empty').hidden = res.json.items.length > 0;
}

async function createPlaylist(ev) {
  ev.preventDefault();
  $('playlists-error').textContent = '';
  const res = await api('POST', '/playlists', {
    title: $('playlist-title').value,
    privacy: $('playlist-privacy').value,
  });
  if (res.status !== 201) {
    $('playlists-error').textContent = errorText(res);
    return;
  }
  $('playlist-title').value = '';
  loadPlaylists();
  fillAddMenu();
}

async function loadPlaylist(id) {
  $('playlist-error').textContent = '';
  const res = await api('GET', `/playlists/${id}`);
  if (res.status !== 200) {
    $('playlist-error').textContent = errorText(res);
    $('playlist-items').replaceChildren();
    return;
  }
  const p = res.json.playlist;
  const items = res.json.items.map((i) => i.media);
  const mine = state.user && p.owner && p.owner.id === state.user.id;

  $('playlist-name').textContent = p.title;
  $('playlist-meta').textContent = `${p.privacy} · ${items.length} items`;
  $('playlist-play').disabled = items.length === 0;
  $('playlist-play').onclick = () => playAll(p.title, items);
  $('playlist-delete').hidden = !mine;
  $('playlist-delete').onclick = () => deletePlaylist(p.id);

  $('playlist-items').replaceChildren(...items.map((m, i) => {
    const li = mediaLine(m);
    const row = el('div', 'row');
    row.append(button('Play from here', () => playAll(p.title, items, i)));
    if (mine) {
      const up = button('Up', () => move(p.id, items, i, -1), 'secondary');
      const down = button('Down', () => move(p.id, items, i, 1), 'secondary');
      up.disabled = i === 0;
      down.disabled = i === items.length - 1;
      row.append(up, down, button('Remove', () => removeItem(p.id, m.id),
                                  'secondary'));
    }
    li.append(row);
    return li;
  }));
}

async function move(id, items, i, by) {
  const ids = items.map((m) => m.id);
  [ids[i], ids[i + by]] = [ids[i + by], ids[i]];
  const res = await api('PUT', `/playlists/${id}/order`, { media_ids: ids });
  if (res.status !== 204) {
    $('playlist-error').textContent = errorText(res);
  }
  loadPlaylist(id);
}

async function removeItem(id, media) {
  const res = await api('DELETE', `/playlists/${id}/items/${media}`);
  if (res.status !== 204) {
    $('playlist-error').textContent = errorText(res);
  }
  loadPlaylist(id);
}

async function deletePlaylist(id) {
  const res = await api('DELETE', `/playlists/${id}`);
  if (res.status !== 204) {
    $('playlist-error').textContent = errorText(res);
    return;
  }
  location.hash = '#playlists';
  fillAddMenu();
}


/* --- the player: play through, add, resume, report -------------------- */

/* the playable items from `from` on, in the library's player */
function playAll(title, items, from) {
  const ready = items.filter((m) => m.status === 'ready');
  const start = from ? ready.indexOf(items[from]) : 0;
  if (!ready.length || start < 0) return;
  listen.queue = { title, items: ready, at: start };
  location.hash = '';
  playQueued();
}

function playQueued() {
  const q = listen.queue;
  const m = q.items[q.at];
  $('listen-queue').textContent =
    `Playing "${q.title}": ${q.at + 1} of ${q.items.length}`;
  play(m.id, m);
}

function ended() {
  const q = listen.queue;
  if (!q || state.playing !== q.items[q.at].id) return;
  if (q.at + 1 < q.items.length) {
    q.at++;
    playQueued();
  } else {
    listen.queue = null;
    $('listen-queue').textContent = 'The playlist has ended.';
  }
}

async function fillAddMenu() {
  const sel = $('listen-add-to');
  const res = await api('GET', '/playlists?limit=100');
  const opts = [new Option('Add to playlist…', '')];
  if (res.status === 200) {
    for (const p of res.json.items) opts.push(new Option(p.title, p.id));
  }
  sel.replaceChildren(...opts);
}

async function addToPlaylist() {
  const sel = $('listen-add-to');
  const id = sel.value;
  sel.value = '';
  if (!id || !state.playing) return;
  const res = await api('PUT', `/playlists/${id}/items/${state.playing}`);
  $('listen-note').textContent = res.status === 204
    ? 'Added.' : errorText(res);
}

/* a new media in the player: offer to go on where it was left */
async function started(id) {
  $('listen-resume').hidden = true;
  $('listen-note').textContent = '';
  fillAddMenu();
  if (listen.queue && listen.queue.items[listen.queue.at].id !== id) {
    listen.queue = null;
    $('listen-queue').textContent = '';
  }
  const res = await api('GET', `/media/${id}/progress`);
  if (res.status !== 200 || state.playing !== id) return;
  const p = res.json;
  listen.pos = { id, ms: 0, duration: p.duration_ms };
  if (p.position_ms >= LISTEN_RESUME_MS
      && (p.duration_ms == null
          || p.position_ms <= p.duration_ms - LISTEN_RESUME_MS))
  {
    const b = $('listen-resume');
    b.textContent = `Resume at ${duration(p.position_ms)}`;
    b.onclick = () => {
      $('player').currentTime = p.position_ms / 1000;
      b.hidden = true;
    };
    b.hidden = false;
  }
}

function saveProgress() {
  const p = listen.pos;
  if (!p || !state.user) return;
  listen.sent = Date.now();
  let ms = Math.floor(p.ms);
  if (p.duration != null) ms = Math.min(ms, p.duration);
  api('PUT', `/media/${p.id}/progress`, { position_ms: ms });
}

function timeUpdate() {
  const v = $('player');
  const id = state.playing;
  if (!id) return;
  if (id !== listen.seen) {
    listen.seen = id;
    listen.sent = Date.now();
    listen.pos = { id, ms: 0, duration: null };
    started(id);
    return;
  }
  if (listen.pos && listen.pos.id === id) listen.pos.ms = v.currentTime * 1000;
  if (!v.paused && Date.now() - listen.sent >= LISTEN_SAVE_MS) saveProgress();
}

function playerHooks() {
  const v = $('player');
  const bar = el('div', 'row listen-bar');
  bar.id = 'listen-bar';
  const resume = button('Resume', null);
  resume.id = 'listen-resume';
  resume.hidden = true;
  const add = el('select');
  add.id = 'listen-add-to';
  add.onchange = addToPlaylist;
  const queue = el('span', 'muted');
  queue.id = 'listen-queue';
  const note = el('span', 'muted');
  note.id = 'listen-note';
  note.setAttribute('role', 'status');
  bar.append(resume, add, queue, note);
  $('player').after(bar);

  v.addEventListener('timeupdate', timeUpdate);
  v.addEventListener('playing', timeUpdate);
  v.addEventListener('pause', saveProgress);
  v.addEventListener('ended', ended);
  window.addEventListener('pagehide', saveProgress);
}


/* --- history, stats, trending ------------------------------------------ */

async function loadHistory(more) {
  $('history-error').textContent = '';
  const q = more && listen.historyCursor
    ? `?cursor=${encodeURIComponent(listen.historyCursor)}` : '';
  const res = await api('GET', `/history${q}`);
  if (res.status !== 200) {
    $('history-error').textContent = errorText(res);
    return;
  }
  const rows = res.json.items.map((h) => {
    const li = mediaLine(h.media);
    const left = h.media.duration_ms
      ? ` of ${duration(h.media.duration_ms)}` : '';
    li.append(el('p', 'muted',
                 `stopped at ${duration(h.position_ms)}${left}`),
              button('Play', () => playAll(h.media.title, [h.media])));
    return li;
  });
  if (more) $('history-items').append(...rows);
  else $('history-items').replaceChildren(...rows);
  listen.historyCursor = res.json.next_cursor;
  $('history-more').hidden = !res.json.next_cursor;
  $('history-empty').hidden = $('history-items').children.length > 0;
}

/* one bar a day, plays in the accent colour, likes drawn over them */
function chart(days) {
  const w = 4, gap = 1, h = 80;
  const top = Math.max(1, ...days.map((d) => Math.max(d.plays, d.likes)));
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${days.length * (w + gap)} ${h}`);
  svg.setAttribute('class', 'stats-chart');
  svg.setAttribute('role', 'img');
  days.forEach((d, i) => {
    for (const [k, cls] of [['plays', 'bar-plays'], ['likes', 'bar-likes']]) {
      if (!d[k]) continue;
      const r = document.createElementNS(SVG_NS, 'rect');
      const bh = Math.max(1, Math.round(d[k] / top * h));
      r.setAttribute('x', String(i * (w + gap)));
      r.setAttribute('y', String(h - bh));
      r.setAttribute('width', String(k === 'plays' ? w : w / 2));
      r.setAttribute('height', String(bh));
      r.setAttribute('class', cls);
      const t = document.createElementNS(SVG_NS, 'title');
      t.textContent = `${d.day}: ${d[k]} ${k}`;
      r.append(t);
      svg.append(r);
    }
  });
  return svg;
}

async function loadStats() {
  $('stats-error').textContent = '';
  const res = await api('GET', '/stats');
  if (res.status !== 200) {
    $('stats-error').textContent = errorText(res);
    return;
  }
  const s = res.json;
  const t = s.totals;
  $('stats-totals').textContent = `${t.plays} plays, ${t.likes} likes, `
    + `${t.comments} comments, ${t.new_followers} new followers `
    + `(${t.followers} in all), ${s.from} to ${s.to}`;
  $('stats-chart').replaceChildren(chart(s.days));
  $('stats-media').replaceChildren(...s.media.map((m) => {
    const li = el('li', 'item');
    li.append(el('strong', null, m.title || '(untitled)'),
              el('span', 'muted', ` ${m.plays} plays, ${m.likes} likes, `
                                  + `${m.comments} comments`));
    return li;
  }));
}

async function loadTrending(more) {
  $('trending-error').textContent = '';
  const q = more && listen.trendingCursor
    ? `?cursor=${encodeURIComponent(listen.trendingCursor)}` : '';
  const res = await call('GET', `/trending${q}`);
  if (res.status !== 200) {
    $('trending-error').textContent = errorText(res);
    return;
  }
  const rows = res.json.items.map((x) => {
    const li = mediaLine(x.media);
    li.querySelector('.item-head').prepend(el('span', 'tag', `#${x.rank}`));
    const by = x.owner.display_name || x.owner.handle || '';
    li.append(el('p', 'muted', `${by ? by + ' · ' : ''}${x.plays} plays, `
                               + `${x.likes} likes this week`));
    if (state.user) {
      li.append(button('Play', () => playAll(x.media.title, [x.media])));
    }
    return li;
  });
  if (more) $('trending-items').append(...rows);
  else $('trending-items').replaceChildren(...rows);
  listen.trendingCursor = res.json.next_cursor;
  $('trending-more').hidden = !res.json.next_cursor;
  $('trending-empty').hidden = $('trending-items').children.length > 0;
}


/* --- start ---------------------------------------------------------------- */

playerHooks();
$('playlist-form').onsubmit = createPlaylist;
$('history-more').onclick = () => loadHistory(true);
$('trending-more').onclick = () => loadTrending(true);
