/*
 * The listening side of the player: comments as marks on a timeline at
 * their moment (a click seeks there), a box that comments at the current
 * time, like and repost buttons with their counts, follow on the creator.
 * Everything comes from the social routes (GET /media/{id}/social and
 * /comments); a button shows what the server answered, never a guess.
 *
 * Loaded after app.js, whose $(), api(), and errorText() it
 * uses; app.js calls mediaSocial.open(media) when the player starts a
 * media and mediaSocial.close() when it stops.
 */

'use strict';

const mediaSocial = (() => {
  const PAGES = 20;              /* comments read at most: 20 x 200 */

  let media = null;              /* the media the panel is for */
  let generation = 0;            /* answers for a closed panel are dropped */
  let comments = [];

  function make(tag, props, ...kids) {
    const e = document.createElement(tag);
    Object.assign(e, props || {});
    for (const k of kids) e.append(k);
    return e;
  }

  /* the panel, made once, under the player */
  function panel() {
    let p = $('social');
    if (p) return p;

    p = make('div', { id: 'social' },
      make('div', { id: 'social-timeline', className: 'social-timeline',
                    title: 'comments on this media, at their moment' },
        make('div', { id: 'social-played', className: 'social-played' }),
        make('div', { id: 'social-marks' })),
      make('div', { className: 'row' },
        make('button', { id: 'social-like', type: 'button' }, 'Like'),
        make('span', { id: 'social-likes', className: 'muted' }),
        make('button', { id: 'social-repost', type: 'button' }, 'Repost'),
        make('span', { id: 'social-reposts', className: 'muted' }),
        make('span', { id: 'social-owner', className: 'muted' }),
        make('button', { id: 'social-follow', type: 'button',
                         className: 'secondary', hidden: true }, 'Follow')),
      make('form', { id: 'social-form', className: 'row' },
        make('input', { id: 'social-body', type: 'text', maxLength: 1000,
                        placeholder: 'Comment at this moment',
                        required: true }),
        make('button', { id: 'social-post', type: 'submit' }, 'Comment')),
      make('p', { id: 'social-error', className: 'error', role: 'alert' }),
      make('ul', { id: 'social-comments', className: 'social-comments' }));

    $('player-box').append(p);

    $('social-like').onclick = () => toggle('like', 'liked');
    $('social-repost').onclick = () => toggle('repost', 'reposted');
    $('social-follow').onclick = follow;
    $('social-form').onsubmit = (e) => { e.preventDefault(); post(); };
    $('player').addEventListener('timeupdate', played);
    $('social-body').addEventListener('focus', label);
    $('player').addEventListener('timeupdate', label);
    $('social-timeline').onclick = (e) => {
      const box = e.currentTarget.getBoundingClientRect();
      seek((e.clientX - box.left) / box.width * media.duration_ms);
    };
    return p;
  }

  /* an answer that is not 2xx: its message shown, true */
  function failed(res) {
    if (res.status >= 200 && res.status < 300) return false;
    $('social-error').textContent = errorText(res);
    return true;
  }

  function nowMs() {
    const v = $('player');
    const ms = Math.round((v.currentTime || 0) * 1000);
    return Math.max(0, Math.min(ms, media.duration_ms || 0));
  }

  function label() {
    if (media) $('social-post').textContent = `Comment at ${clock(nowMs())}`;
  }

  function clock(ms) {
    const s = Math.floor(ms / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }

  function seek(ms) {
    const v = $('player');
    v.currentTime = Math.max(0, ms) / 1000;
  }

  function played() {
    if (!media || !media.duration_ms) return;
    const pct = Math.min(100, nowMs() / media.duration_ms * 100);
    $('social-played').style.width = `${pct}%`;
  }

  /* a mark per comment, at at_ms of the media's duration */
  function draw() {
    const marks = comments.map((c) => {
      const pct = media.duration_ms
        ? Math.min(100, c.at_ms / media.duration_ms * 100) : 0;
      const m = make('button', { type: 'button', className: 'social-mark',
                                 title: `${clock(c.at_ms)} ${c.body}` });
      m.dataset.atMs = String(c.at_ms);
      m.dataset.id = c.id;
      m.style.left = `${pct}%`;
      m.onclick = (e) => { e.stopPropagation(); seek(c.at_ms); };
      return m;
    });
    $('social-marks').replaceChildren(...marks);

    $('social-comments').replaceChildren(...comments.map((c) => {
      const who = c.user.display_name || (c.user.handle ? `@${c.user.handle}`
                                                        : 'someone');
      const at = make('button', { type: 'button', className: 'link' },
                      clock(c.at_ms));
      at.onclick = () => seek(c.at_ms);
      /* the author's 64 px avatar, when they have one */
      const face = c.user.avatar
        ? make('img', { className: 'avatar-64', alt: '', width: 24,
                        height: 24, src: c.user.avatar['64'] })
        : '';
      const li = make('li', {}, at, ' ', face, make('strong', {}, who), ' ',
                      make('span', { className: 'social-text' }, c.body));
      li.dataset.id = c.id;
      if (state.user && (c.user.id === state.user.id
                         || media.owner_id === state.user.id)) {
        const del = make('button', { type: 'button',
                                     className: 'secondary' }, 'Delete');
        del.onclick = () => remove(c.id);
        li.append(' ', del);
      }
      return li;
    }));
  }

  function counts(s) {
    $('social-likes').textContent = String(s.likes_count);
    $('social-reposts').textContent = String(s.reposts_count);
    $('social-like').setAttribute('aria-pressed', String(!!s.liked));
    $('social-repost').setAttribute('aria-pressed', String(!!s.reposted));
  }

  async function load(g) {
    let res = await api('GET', `/media/${media.id}/social`);
    if (g !== generation) return;
    if (failed(res)) return;
    const s = res.json;
    if (g !== generation) return;
    counts(s);
    media.owner_id = s.owner.id;
    const mine = state.user && s.owner.id === state.user.id;
    $('social-owner').textContent = mine ? ''
      : `by ${s.owner.display_name || (s.owner.handle ? '@' + s.owner.handle
                                                      : 'its creator')}`;
    $('social-follow').hidden = mine;
    following(s.following);

    comments = [];
    let cursor = null;
    for (let i = 0; i < PAGES; i++) {
      const q = '?limit=200' + (cursor ? `&cursor=${cursor}` : '');
      res = await api('GET', `/media/${media.id}/comments${q}`);
      if (g !== generation) return;
      if (failed(res)) break;
      const page = res.json;
      if (g !== generation) return;
      comments.push(...page.items);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    draw();
  }

  function following(on) {
    $('social-follow').textContent = on ? 'Following' : 'Follow';
    $('social-follow').setAttribute('aria-pressed', String(!!on));
  }

  async function toggle(what, state_) {
    const pressed = $(`social-${what}`).getAttribute('aria-pressed') === 'true';
    const res = await api(pressed ? 'DELETE' : 'PUT',
                          `/media/${media.id}/${what}`);
    if (failed(res)) return;
    const s = res.json;
    $(`social-${what}`).setAttribute('aria-pressed', String(s[state_]));
    $(`social-${what}s`).textContent = String(s[`${what}s_count`]);
  }

  async function follow() {
    const on = $('social-follow').getAttribute('aria-pressed') === 'true';
    const res = await api(on ? 'DELETE' : 'PUT',
                          `/users/${media.owner_id}/follow`);
    if (failed(res)) return;
    following((res.json).following);
  }

  async function post() {
    const body = $('social-body').value;
    const res = await api('POST', `/media/${media.id}/comments`,
                          { body, at_ms: nowMs() });
    if (failed(res)) return;
    const c = res.json;
    $('social-error').textContent = '';
    $('social-body').value = '';
    comments.push(c);
    comments.sort((a, b) => a.at_ms - b.at_ms || (a.id < b.id ? -1 : 1));
    draw();
  }

  async function remove(id) {
    const res = await api('DELETE', `/comments/${id}`);
    if (failed(res)) return;
    comments = comments.filter((c) => c.id !== id);
    draw();
  }

  return {
    open(m) {
      generation++;
      media = { ...m };
      comments = [];
      panel().hidden = false;
      $('social-error').textContent = '';
      $('social-marks').replaceChildren();
      $('social-comments').replaceChildren();
      $('social-played').style.width = '0';
      label();
      load(generation);
    },
    close() {
      generation++;
      media = null;
      if ($('social')) $('social').hidden = true;
    },
  };
})();
