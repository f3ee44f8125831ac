/*
 * The admin area of ngx_media's web client (app.js), shown to admins only
 * (the server refuses the routes to anyone else, whatever the page shows):
 *
 *   - users: a search (GET /api/v1/admin/users?q=) and a role select per
 *     account (PATCH /api/v1/admin/users/{id}), each grant audited;
 *   - the audit trail (GET /api/v1/admin/audit): filters, "Older" for
 *     the next page (?cursor=), and a link to the same filter as CSV.
 *
 * #admin is its view; app.js calls mediaAudit.view(hash, user) from show()
 * and uses nothing else from here.  Everything used from app.js (api,
 * errorText) is called only after load.
 */

'use strict';

window.mediaAudit = (() => {
  const ROLES = ['user', 'creator', 'moderator', 'admin'];
  const PAGE = 20;

  const st = {
    cursor: null,        /* the next page of the trail, null: none */
    filter: null,        /* the filter shown, as URLSearchParams */
    loading: 0,          /* the newest request for the trail */
  };

  const el = (id) => document.getElementById(id);

  function cell(tr, value, cls) {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    td.textContent = value == null ? '' : String(value);
    tr.append(td);
    return td;
  }

  /* {"role": "user"} -> role: user */
  function change(obj) {
    if (!obj) return '';
    return Object.keys(obj).map((k) => {
      const v = obj[k];
      return `${k}: ${v !== null && typeof v === 'object'
        ? JSON.stringify(v) : v}`;
    }).join(', ');
  }

  /* --- users ------------------------------------------------------------ */

  async function searchUsers(ev) {
    if (ev) ev.preventDefault();
    const q = el('admin-user-q').value.trim();
    const res = await api('GET', '/admin/users'
                          + (q ? '?q=' + encodeURIComponent(q) : ''));

    el('admin-user-error').textContent = res.status === 200
      ? '' : errorText(res);
    el('admin-users-body').replaceChildren();
    if (res.status !== 200) return;

    for (const u of res.json.users) {
      el('admin-users-body').append(userRow(u));
    }
    el('admin-users-empty').hidden = res.json.users.length > 0;
  }

  function userRow(u) {
    const tr = document.createElement('tr');
    tr.dataset.id = u.id;
    cell(tr, u.email || '(no email)', 'admin-user-email');
    cell(tr, u.handle ? '@' + u.handle : '');
    const td = cell(tr, '');
    cell(tr, u.plan);
    cell(tr, (u.created_at || '').slice(0, 10), 'muted');

    const select = document.createElement('select');
    select.className = 'admin-user-role';
    select.setAttribute('aria-label', `Role of ${u.email || u.id}`);
    for (const r of ROLES) {
      select.append(new Option(r, r, false, r === u.role));
    }
    select.dataset.role = u.role;
    select.onchange = () => grant(u, select);
    td.append(select);
    return tr;
  }

  async function grant(u, select) {
    const role = select.value;
    select.disabled = true;
    const res = await api('PATCH', '/admin/users/' + encodeURIComponent(u.id),
                          { role });
    select.disabled = false;

    if (res.status !== 200) {
      select.value = select.dataset.role;
      el('admin-user-error').textContent =
        `Role not changed: ${errorText(res)}`;
      return;
    }

    select.dataset.role = res.json.user.role;
    el('admin-user-error').textContent = '';
    loadTrail(false);
  }

  /* --- the audit trail -------------------------------------------------- */

  function filter() {
    const p = new URLSearchParams();
    for (const name of ['actor', 'target', 'action', 'since']) {
      const v = el('audit-' + name).value.trim();
      if (v) p.set(name, v);
    }
    return p;
  }

  async function loadTrail(more) {
    if (!more) {
      st.filter = filter();
      st.cursor = null;
    }

    const p = new URLSearchParams(st.filter);
    p.set('limit', String(PAGE));
    if (more && st.cursor) p.set('cursor', st.cursor);

    const csv = new URLSearchParams(st.filter);
    csv.set('format', 'csv');
    el('audit-csv').href = '/api/v1/admin/audit?' + csv.toString();

    const mine = ++st.loading;
    el('audit-more').disabled = true;
    const res = await api('GET', '/admin/audit?' + p.toString());
    if (mine !== st.loading) return;        /* a newer filter was asked */
    el('audit-more').disabled = false;

    el('audit-error').textContent = res.status === 200 ? '' : errorText(res);
    if (!more) el('audit-body').replaceChildren();
    if (res.status !== 200) {
      el('audit-more').hidden = true;
      return;
    }

    for (const a of res.json.items) {
      el('audit-body').append(trailRow(a));
    }
    st.cursor = res.json.next_cursor;
    el('audit-more').hidden = !st.cursor;
    el('audit-empty').hidden = el('audit-body').children.length > 0;
  }

  function trailRow(a) {
    const tr = document.createElement('tr');
    tr.className = 'audit-row';
    tr.dataset.id = a.id;
    cell(tr, a.created_at.replace('T', ' ').slice(0, 19), 'muted');
    cell(tr, a.action, 'audit-action');
    cell(tr, a.actor_email || a.actor_id || a.actor_role || '', 'audit-actor');
    cell(tr, `${a.target_type}${a.target_id ? ' ' + a.target_id : ''}`,
         'audit-target');
    cell(tr, change(a.before), 'audit-before');
    cell(tr, change(a.after), 'audit-after');
    cell(tr, a.reason, 'audit-reason');
    cell(tr, a.address, 'muted');
    return tr;
  }

  /* --- the view --------------------------------------------------------- */

  function isAdmin(user) {
    return !!user && user.role === 'admin';
  }

  /* shows #admin when asked for by an admin; true when shown */
  function view(hash, user) {
    const admin = isAdmin(user);
    const shown = admin && hash === '#admin';

    el('nav-admin').hidden = !admin;
    el('nav-admin').classList.toggle('active', shown);
    el('admin').hidden = !shown;

    if (shown && !st.filter) {
      searchUsers();
      loadTrail(false);
    }
    if (!admin) {
      st.filter = null;
      el('admin-users-body').replaceChildren();
      el('audit-body').replaceChildren();
    }
    return shown;
  }

  function nav() {
    const a = document.createElement('a');
    a.id = 'nav-admin';
    a.href = '#admin';
    a.textContent = 'Admin';
    a.hidden = true;
    document.querySelector('header nav').append(a);
  }

  nav();
  el('admin-user-form').addEventListener('submit', searchUsers);
  el('audit-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    loadTrail(false);
  });
  el('audit-more').addEventListener('click', () => loadTrail(true));

  return { view };
})();
