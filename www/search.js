/*
 * Search and the catalogue, for ngx_media's web client (app.js):
 *
 *   - the header's search box suggests media while one types: a request
 *     (GET /api/v1/search?q=...&limit=8) 250 ms after the last key, an
 *     answer to an older request than the last one sent never shown;
 *     Enter opens #search?q=... with every result, in pages;
 *   - #search?q=...&type=media|users|playlists: the results, best first;
 *   - #catalog?kind=&tag=&sort=: public media, newest or most played.
 *
 * A media links to its share page (/m/<id>), a user to /u/<handle>.
 * app.js calls mediaSearch.view(hash) from show(); everything else it
 * uses from app.js ($, api, errorText) is called only after load.
 */

'use strict';

window.mediaSearch = (() => {
  const DEBOUNCE_MS = 250;
  const SUGGEST = 8;
  const PAGE = 20;

  const st = {
    timer: null,
    sent: 0,                     /* the newest suggestion request sent */
    loads: 0,                    /* the newest page of results asked for */
    cursor: null,                /* the next page of the view shown */
    args: null,                  /* that view's query, without cursor */
    path: null,                  /* '/search' or '/catalog' */
  };

  const el = (id) => document.getElementById(id);

  function text(tag, cls, value) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    n.textContent = value == null ? '' : String(value);
    return n;
  }

  function link(item, type) {
    const a = document.createElement('a');
    if (type === 'users') {
      a.href = '/u/' + encodeURIComponent(item.handle);
      a.textContent = item.display_name || '@' + item.handle;
    } else if (type === 'playlists') {
      a.href = '#playlist/' + encodeURIComponent(item.id);
      a.textContent = item.title;
    } else {
      a.href = '/m/' + encodeURIComponent(item.id);
      a.textContent = item.title || '(untitled)';
    }
    return a;
  }

  /* one result: its link, then who and what */
  function row(item, type) {
    const li = document.createElement('li');
    li.className = 'result';
    li.dataset.id = item.id;
    li.append(link(item, type));
    if (item.owner && item.owner.handle) {
      li.append(text('span', 'muted', ' @' + item.owner.handle));
    }
    if (item.kind) li.append(text('span', 'tag', item.kind));
    if (item.privacy && item.privacy !== 'public') {
      li.append(text('span', 'tag', item.privacy));
    }
    (item.tags || []).forEach((t) => li.append(text('span', 'tag', '#' + t)));
    return li;
  }

  /* --- suggestions ------------------------------------------------------ */

  function closeSuggestions() {
    el('search-suggest').hidden = true;
    el('search-suggest').replaceChildren();
  }

  async function suggest(q) {
    const n = ++st.sent;
    const res = await api('GET', '/search?limit=' + SUGGEST + '&q='
                          + encodeURIComponent(q));
    if (n !== st.sent) return;          /* a newer one is on its way */

    const list = el('search-suggest');
    list.replaceChildren();
    if (res.status !== 200) {
      list.append(text('li', 'error', errorText(res)));
    } else {
      res.json.items.forEach((item) => list.append(row(item, 'media')));
      if (!res.json.items.length) {
        list.append(text('li', 'muted', 'Nothing found'));
      }
    }
    list.hidden = false;
  }

  function typed() {
    const q = el('search-q').value;
    clearTimeout(st.timer);
    if (!q.trim()) {
      st.sent++;
      closeSuggestions();
      return;
    }
    st.timer = setTimeout(() => suggest(q), DEBOUNCE_MS);
  }

  /* --- the views -------------------------------------------------------- */

  async function load(more) {
    const params = new URLSearchParams(st.args);
    params.set('limit', PAGE);
    if (more && st.cursor) params.set('cursor', st.cursor);

    const n = ++st.loads;
    const res = await api('GET', st.path + '?' + params);
    /* an earlier view's answer, late (a search answered after the
     * catalogue was asked for) is not drawn over the view shown */
    if (n !== st.loads) return;

    const list = el('results-items');
    list.dataset.path = st.path;
    if (!more) list.replaceChildren();
    el('results-error').textContent = '';

    if (res.status !== 200) {
      el('results-error').textContent = errorText(res);
      el('results-more').hidden = true;
      return;
    }

    const type = st.path === '/search' ? params.get('type') || 'media'
      : 'media';
    res.json.items.forEach((item) => list.append(row(item, type)));
    el('results-empty').hidden = list.children.length > 0;
    st.cursor = res.json.next_cursor;
    el('results-more').hidden = !st.cursor;
  }

  /* #search?q=... and #catalog?...: true when one of them is shown */
  function view(hash) {
    const i = hash.indexOf('?');
    const route = i < 0 ? hash : hash.slice(0, i);
    const args = new URLSearchParams(i < 0 ? '' : hash.slice(i + 1));
    const mine = route === '#search' || route === '#catalog';

    el('results').hidden = !mine;
    el('catalog-filters').hidden = route !== '#catalog';
    el('search-type').hidden = route !== '#search';
    el('nav-catalog').classList.toggle('active', route === '#catalog');
    if (!mine) return false;

    closeSuggestions();
    st.path = route === '#search' ? '/search' : '/catalog';
    st.args = args;
    st.cursor = null;
    el('results-title').textContent = route === '#search'
      ? `Results for “${args.get('q') || ''}”` : 'Catalogue';
    if (route === '#search') {
      el('search-type').value = args.get('type') || 'media';
    } else {
      el('catalog-kind').value = args.get('kind') || '';
      el('catalog-tag').value = args.get('tag') || '';
      el('catalog-sort').value = args.get('sort') || 'new';
    }
    load(false);
    return true;
  }

  function go(route, args) {
    for (const [k, v] of [...args]) {
      if (!v) args.delete(k);
    }
    location.hash = route + '?' + args;
  }

  el('search-q').addEventListener('input', typed);
  el('search-form').onsubmit = (e) => {
    e.preventDefault();
    clearTimeout(st.timer);
    st.sent++;
    const q = el('search-q').value.trim();
    if (q) go('#search', new URLSearchParams({ q }));
  };
  el('search-q').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') closeSuggestions();
  });
  el('search-type').onchange = () => {
    const args = new URLSearchParams(st.args);
    args.set('type', el('search-type').value);
    go('#search', args);
  };
  el('catalog-filters').onsubmit = (e) => {
    e.preventDefault();
    go('#catalog', new URLSearchParams({
      kind: el('catalog-kind').value,
      tag: el('catalog-tag').value.trim(),
      sort: el('catalog-sort').value,
    }));
  };
  el('results-more').onclick = () => load(true);
  document.addEventListener('click', (e) => {
    if (!el('search-box').contains(e.target)) closeSuggestions();
  });

  return { view };
})();
