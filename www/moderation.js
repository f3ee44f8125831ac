/*
 * Moderation in ngx_media's web client:
 *
 *   - #moderation, for moderators and admins: the report queue
 *     (GET /admin/reports?status=), each report with what it is about, the
 *     media's player beside it, and the actions (POST /admin/actions):
 *     takedown, restore, warn, suspend (until), ban, unban, dismiss, each
 *     with a reason the moderator must write;
 *   - a Report button under the player, on any media one can see
 *     (POST /reports);
 *   - the banner of one's notices (GET /me/notices): a warning, a
 *     suspension, a takedown of one's media, until dismissed
 *     (POST /me/notices/{id}/seen);
 *   - drafts: a Draft box on the upload form (POST /media?draft=1), and
 *     Publish on a draft in the library (POST /media/{id}/publish).
 *
 * Loaded after app.js, whose $(), api(), errorText() and state it uses;
 * app.js calls mediaModeration.view(hash, signedIn) from show() and
 * mediaModeration.update(el, media) from showItem().
 */

'use strict';

const mediaModeration = (() => {
  const STAFF = new Set(['moderator', 'admin']);
  const MEDIA_ACTIONS = ['takedown', 'restore', 'warn', 'suspend', 'ban',
                         'unban', 'dismiss'];
  const USER_ACTIONS = ['warn', 'suspend', 'unsuspend', 'ban', 'unban',
                        'dismiss'];
  const LABELS = {
    takedown: 'Take down', restore: 'Restore', warn: 'Warn',
    suspend: 'Suspend', unsuspend: 'Lift suspension', ban: 'Ban',
    unban: 'Unban', dismiss: 'Dismiss',
  };

  let noticesFor = null;         /* the user whose notices are shown */
  let cursor = null;
  let generation = 0;            /* answers for an older queue are dropped */
  const players = new Map();     /* report id -> Hls */

  function make(tag, props, ...kids) {
    const e = document.createElement(tag);
    Object.assign(e, props || {});
    for (const k of kids) if (k != null) e.append(k);
    return e;
  }

  function when(at) {
    const d = new Date(at);
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
  }

  function staff() {
    return !!(state.user && STAFF.has(state.user.role));
  }


  /* --- the view ----------------------------------------------------------- */

  function view(hash, signedIn) {
    nav();
    reportButton();
    notices(signedIn);

    const on = signedIn && staff() && (hash || '').startsWith('#moderation');
    $('moderation').hidden = !on;
    $('nav-moderation').classList.toggle('active', on);

    if (on) load(false);
    else stopPlayers();
    return on;
  }

  function nav() {
    let a = $('nav-moderation');
    if (!a) {
      a = make('a', { id: 'nav-moderation', href: '#moderation' },
               'Moderation');
      document.querySelector('header nav').append(a);
      $('moderation-status').onchange = () => load(false);
      $('moderation-more').onclick = () => load(true);
    }
    a.hidden = !staff();
  }


  /* --- the queue ---------------------------------------------------------- */

  async function load(more) {
    const gen = ++generation;
    const status = $('moderation-status').value;
    let path = `/admin/reports?status=${status}&limit=20`;

    if (more && cursor) path += `&cursor=${encodeURIComponent(cursor)}`;
    if (!more) {
      stopPlayers();
      $('moderation-reports').replaceChildren();
    }
    $('moderation-error').textContent = '';

    const res = await api('GET', path);
    if (gen !== generation) return;

    if (res.status !== 200) {
      $('moderation-error').textContent = errorText(res);
      return;
    }

    for (const r of res.json.items) {
      $('moderation-reports').append(item(r));
    }
    cursor = res.json.next_cursor;
    $('moderation-more').hidden = !cursor;
    $('moderation-empty').hidden =
      $('moderation-reports').children.length > 0;
  }

  function target(r) {
    const t = r.target;
    if (!t) return make('p', { className: 'muted' }, 'the target is gone');

    if (t.type === 'media') {
      const by = t.owner ? ` by ${t.owner.handle || t.owner.id}` : '';
      return make('p', { className: 'report-target' },
        make('strong', {}, t.title || '(untitled)'),
        ` (${t.kind || 'media'}, ${t.privacy}, ${t.status})${by}`,
        t.blocked_reason ? ` removed: ${t.blocked_reason}` : '');
    }
    if (t.type === 'comment') {
      const by = t.author ? ` by ${t.author.handle || t.author.id}` : '';
      return make('p', { className: 'report-target' },
        'Comment', by, ': ', make('q', {}, t.body),
        t.blocked ? ' (taken down)' : t.deleted ? ' (deleted)' : '');
    }
    return make('p', { className: 'report-target' },
      'User ', make('strong', {}, t.handle || t.id),
      t.banned ? ' (banned)' : '',
      t.suspended_until ? ` (suspended until ${when(t.suspended_until)})`
                        : '');
  }

  function item(r) {
    const li = make('li', { className: 'report' });
    li.dataset.reportId = r.id;
    li.dataset.status = r.status;

    const who = r.reporter
      ? `reported by ${r.reporter.handle || r.reporter.id}`
      : `notice from ${r.contact_email}`;
    const info = make('div', { className: 'report-info' },
      make('div', { className: 'item-head' },
        make('strong', {}, `#${r.id} ${r.reason}`),
        make('span', { className: 'tag report-status' }, r.status),
        make('span', { className: 'muted' },
             ` ${who}, ${when(r.created_at)}`)),
      target(r),
      r.details ? make('p', {}, r.details) : null);

    if (r.reason === 'copyright') {
      info.append(make('p', { className: 'muted' },
        `Work claimed: ${r.work_claimed}; claimant: ${r.claimant}`));
    }
    if (r.evidence_urls && r.evidence_urls.length) {
      const ul = make('ul', { className: 'report-evidence' });
      for (const u of r.evidence_urls) {
        ul.append(make('li', {}, make('a', { href: u, rel: 'noopener',
                                             target: '_blank' }, u)));
      }
      info.append(ul);
    }
    if (r.appeal) {
      info.append(make('p', { className: 'report-appeal' },
        make('strong', {}, 'Appeal: '), r.appeal.statement,
        ` (${r.appeal.name}, ${r.appeal.contact}, ${when(r.appeal.at)})`));
    }
    if (r.resolution) {
      info.append(make('p', { className: 'muted' },
        `Closed by ${r.resolution}, ${when(r.resolved_at)}`));
    }

    info.append(actions(r, li));

    const row = make('div', { className: 'report-row' }, info);
    if (r.target_type === 'media') row.prepend(player(r));
    li.append(row);
    return li;
  }

  /* the media's player beside the report, loaded when asked */
  function player(r) {
    const v = make('video', { className: 'report-player', controls: true,
                              playsInline: true });
    const err = make('p', { className: 'error', role: 'alert' });
    const go = make('button', { type: 'button', className: 'report-play' },
                    'Load player');

    go.onclick = async () => {
      err.textContent = '';
      const res = await api('POST', `/media/${r.target_id}/playback`);
      if (res.status !== 200) {
        err.textContent = errorText(res);
        return;
      }
      go.hidden = true;
      if (window.Hls && Hls.isSupported()) {
        const hls = new Hls();
        players.set(r.id, hls);
        hls.loadSource(res.json.url);
        hls.attachMedia(v);
      } else {
        v.src = res.json.url;
      }
    };
    return make('div', { className: 'report-media' }, v, go, err);
  }

  function stopPlayers() {
    for (const hls of players.values()) hls.destroy();
    players.clear();
  }

  function actions(r, li) {
    const reason = make('input', { type: 'text', className: 'report-reason',
                                   maxLength: 2000, required: true,
                                   placeholder: 'Reason (required)' });
    const until = make('input', { type: 'datetime-local',
                                  className: 'report-until',
                                  title: 'suspended until' });
    const status = make('p', { className: 'report-result muted',
                               role: 'status' });
    const box = make('div', { className: 'report-actions' },
      make('label', {}, 'Reason ', reason),
      make('label', {}, 'Until ', until));
    const row = make('div', { className: 'row' });

    const list = r.target_type === 'user' ? USER_ACTIONS : MEDIA_ACTIONS;
    for (const a of list) {
      if (a === 'dismiss' && r.status !== 'open') continue;
      const b = make('button', { type: 'button',
                                 className: `report-${a}`
                                   + (a === 'dismiss' ? ' secondary' : '') },
                     LABELS[a]);
      b.dataset.action = a;
      b.onclick = () => act(r, a, reason, until, status, row);
      row.append(b);
    }
    box.append(row, status);
    return box;
  }

  async function act(r, action, reason, until, status, row) {
    const why = reason.value.trim();
    status.className = 'report-result error';

    if (!why) {
      status.textContent = 'Write a reason first: it is recorded and '
        + 'shown to the user.';
      reason.focus();
      return;
    }

    const body = { target_type: r.target_type, target_id: r.target_id,
                   action, reason: why, report_id: Number(r.id) };
    if (action === 'suspend') {
      if (!until.value) {
        status.textContent = 'Choose until when the user is suspended.';
        until.focus();
        return;
      }
      body.until = new Date(until.value).toISOString();
    }

    for (const b of row.querySelectorAll('button')) b.disabled = true;
    status.className = 'report-result muted';
    status.textContent = 'Sending...';

    const res = await api('POST', '/admin/actions', body);

    for (const b of row.querySelectorAll('button')) b.disabled = false;

    if (res.status !== 200) {
      status.className = 'report-result error';
      status.textContent = errorText(res);
      return;
    }

    status.textContent = `${LABELS[action]}: done`
      + (res.json.changed ? '' : ' (nothing to change)')
      + (res.json.report_status ? `; the report is ${res.json.report_status}`
                                : '');
    const li = row.closest('li.report');
    if (li && res.json.report_status) {
      li.dataset.status = res.json.report_status;
      li.querySelector('.report-status').textContent = res.json.report_status;
      const d = li.querySelector('.report-dismiss');
      if (d) d.remove();
    }
  }


  /* --- the Report button under the player --------------------------------- */

  function reportButton() {
    if ($('report-open') || !$('player-box')) return;

    const reason = make('select', { id: 'report-reason' });
    for (const [v, t] of [['abuse', 'Abuse'], ['spam', 'Spam'],
                          ['copyright', 'Copyright'], ['other', 'Other']]) {
      reason.append(new Option(t, v));
    }
    const form = make('form', { id: 'report-form', className: 'row',
                                hidden: true },
      make('label', {}, 'Why ', reason),
      make('input', { id: 'report-details', type: 'text', maxLength: 5000,
                      placeholder: 'What is wrong (optional)' }),
      make('input', { id: 'report-work', type: 'text', maxLength: 2000,
                      placeholder: 'The work you own', hidden: true }),
      make('button', { id: 'report-send', type: 'submit' }, 'Send report'));
    const open = make('button', { id: 'report-open', type: 'button',
                                  className: 'secondary' }, 'Report');
    const msg = make('p', { id: 'report-message', role: 'status',
                            className: 'muted' });

    $('player-box').append(make('div', { id: 'report-box' }, open, form, msg));

    open.onclick = () => {
      form.hidden = !form.hidden;
      msg.textContent = '';
    };
    reason.onchange = () => {
      $('report-work').hidden = reason.value !== 'copyright';
    };
    form.onsubmit = (e) => { e.preventDefault(); sendReport(); };
  }

  async function sendReport() {
    const id = state.playing;
    const msg = $('report-message');
    if (!id) return;

    const body = { target_type: 'media', target_id: id,
                   reason: $('report-reason').value,
                   details: $('report-details').value.trim() };
    if (body.reason === 'copyright') {
      body.work_claimed = $('report-work').value.trim();
      body.claimant = state.user ? state.user.email : '';
      body.good_faith = true;
    }

    msg.className = 'muted';
    msg.textContent = 'Sending...';
    const res = await api('POST', '/reports', body);

    if (res.status !== 201) {
      msg.className = 'error';
      msg.textContent = errorText(res);
      return;
    }
    $('report-form').hidden = true;
    $('report-details').value = '';
    msg.textContent = 'Thank you: a moderator will look at it.';
  }


  /* --- the banner of notices ---------------------------------------------- */

  const TOLD = {
    warn: 'A moderator warned you',
    suspend: 'Your account is suspended',
    unsuspend: 'Your suspension was lifted',
    takedown: 'One of your media was taken down',
    restore: 'One of your media was restored',
    comment_takedown: 'One of your comments was taken down',
  };

  async function notices(signedIn) {
    const uid = signedIn && state.user ? state.user.id : null;
    let banner = $('notice-banner');

    if (!banner) {
      banner = make('div', { id: 'notice-banner', className: 'banner',
                             role: 'alert', hidden: true });
      document.querySelector('main').prepend(banner);
    }
    if (uid === noticesFor) return;
    noticesFor = uid;
    banner.replaceChildren();
    banner.hidden = true;
    if (!uid) return;

    const res = await api('GET', '/me/notices');
    if (res.status !== 200 || noticesFor !== uid) return;

    for (const n of res.json.items.filter((x) => !x.seen_at)) {
      const ok = make('button', { type: 'button', className: 'secondary' },
                      'Dismiss');
      const p = make('p', { className: `notice notice-${n.kind}` },
        make('strong', {}, `${TOLD[n.kind] || n.kind}: `), n.message,
        n.until ? ` (until ${when(n.until)})` : '',
        n.report_id && n.kind === 'takedown'
          ? ` You may appeal report #${n.report_id}.` : '',
        ' ', ok);
      ok.onclick = async () => {
        const r = await api('POST', `/me/notices/${n.id}/seen`);
        if (r.status === 204) p.remove();
        banner.hidden = !banner.children.length;
      };
      banner.append(p);
    }
    banner.hidden = !banner.children.length;
  }


  /* --- drafts in the library ----------------------------------------------- */

  /* the upload form's Draft box, made once */
  function draftBox() {
    if ($('upload-draft') || !$('upload-go')) return;
    $('upload-go').before(make('label', { title: 'yours only until you '
                                                 + 'publish it' },
      make('input', { id: 'upload-draft', type: 'checkbox' }), ' Draft'));
  }

  /* a library item: a draft says so, with Publish */
  function update(el, media) {
    draftBox();
    let b = el.querySelector('.item-publish');

    if (!b) {
      b = make('button', { type: 'button', className: 'item-publish',
                           hidden: true }, 'Publish');
      el.querySelector('.item-actions').prepend(b);
      el.querySelector('.item-head').append(
        make('span', { className: 'item-draft tag', hidden: true }, 'draft'));
    }
    b.hidden = !media.draft;
    el.querySelector('.item-draft').hidden = !media.draft;
    el.querySelector('.item-privacy').disabled = !!media.draft;
    b.onclick = async () => {
      const res = await api('POST', `/media/${media.id}/publish`);
      if (res.status !== 200) {
        el.querySelector('.item-error').textContent = errorText(res);
        return;
      }
      update(el, { ...media, draft: false });
      el.querySelector('.item-privacy').value = res.json.media.privacy;
    };
  }

  return { view, update };
})();
