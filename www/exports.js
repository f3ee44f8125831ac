/*
 * The export dialog: a media's exports, and a new one (format, codec,
 * bitrate, sample rate, enhance presets) with a progress bar that follows
 * the export job live.  The choices come from GET /api/v1/enhance/presets,
 * so the dialog offers exactly what the server takes.
 *
 * Loaded after app.js, whose $(), api(), errorText(), size() and
 * duration() it uses; app.js calls mediaExports.update() for each library
 * item it draws.
 */

'use strict';

const mediaExports = (() => {
  const POLL_MS = 500;
  const POLLS = 2400;            /* 20 minutes */

  let table = null;              /* {presets, formats} from the server */
  let media = null;              /* the media the dialog is open for */
  let generation = 0;            /* a closed dialog's polling stops */

  function make(tag, props, ...kids) {
    const e = document.createElement(tag);
    Object.assign(e, props || {});
    for (const k of kids) e.append(k);
    return e;
  }

  /* the dialog, made once */
  function dialog() {
    let d = $('export-dialog');
    if (d) return d;

    d = make('dialog', { id: 'export-dialog' },
      make('h2', { id: 'export-title' }),
      make('form', { id: 'export-form', method: 'dialog' },
        make('div', { className: 'row' },
          make('label', {}, 'Format ', make('select', { id: 'export-format' })),
          make('label', { id: 'export-codec-label' }, 'Codec ',
               make('select', { id: 'export-codec' })),
          make('label', { id: 'export-bitrate-label' }, 'Bitrate ',
               make('select', { id: 'export-bitrate' })),
          make('label', {}, 'Sample rate ',
               make('select', { id: 'export-rate' })),
          make('label', { id: 'export-audio-only-label' },
               make('input', { id: 'export-audio-only', type: 'checkbox' }),
               ' Sound only')),
        make('fieldset', { id: 'export-presets' },
          make('legend', {}, 'Enhance')),
        make('div', { className: 'row' },
          make('button', { id: 'export-start', type: 'submit' }, 'Export'),
          make('button', { id: 'export-close', type: 'button',
                           className: 'secondary' }, 'Close'))),
      make('div', { id: 'export-running', className: 'progress', hidden: true },
        make('progress', { id: 'export-progress', max: 100, value: 0 }),
        make('span', { id: 'export-percent' })),
      make('p', { id: 'export-status', className: 'muted', role: 'status' }),
      make('p', { id: 'export-error', className: 'error', role: 'alert' }),
      make('ul', { id: 'export-list', className: 'exports' }));

    document.body.append(d);

    $('export-format').onchange = choices;
    $('export-codec').onchange = rates;
    $('export-audio-only').onchange = presets;
    $('export-close').onclick = close;
    $('export-form').onsubmit = (e) => { e.preventDefault(); start(); };
    d.addEventListener('close', () => { generation++; });
    return d;
  }

  function option(select, value, text, selected) {
    select.append(make('option', { value: String(value), textContent: text,
                                   selected: !!selected }));
  }

  function format() {
    return table.formats.find((f) => f.name === $('export-format').value);
  }

  function codec() {
    const f = format();
    return f.codecs.find((c) => c.name === $('export-codec').value)
      || f.codecs[0];
  }

  /* what a format may hold, for this media */
  function choices() {
    const f = format();
    const codecs = $('export-codec');

    codecs.replaceChildren();
    f.codecs.forEach((c) => option(codecs, c.name, c.name));
    $('export-codec-label').hidden = f.codecs.length < 2;
    $('export-audio-only-label').hidden = !f.video_codec;
    $('export-audio-only').checked = false;
    rates();
  }

  function rates() {
    const c = codec();
    const bitrate = $('export-bitrate');
    const rate = $('export-rate');

    bitrate.replaceChildren();
    (c.bitrates || []).forEach((b) =>
      option(bitrate, b, `${b / 1000} kb/s`, b === c.bitrate));
    $('export-bitrate-label').hidden = !c.bitrates;

    rate.replaceChildren();
    option(rate, '', 'as the source');
    c.sample_rates.forEach((r) => option(rate, r, `${r} Hz`));
    presets();
  }

  /* the picture's presets only when the export keeps a picture */
  function presets() {
    const picture = !!format().video_codec && !$('export-audio-only').checked;

    for (const box of document.querySelectorAll('#export-presets input')) {
      const video = box.dataset.applies === 'video';
      box.disabled = video && !picture;
      if (box.disabled) box.checked = false;
    }
  }

  async function load() {
    if (table) return true;

    const res = await api('GET', '/enhance/presets');
    if (res.status !== 200) {
      $('export-error').textContent = errorText(res);
      return false;
    }
    table = res.json;

    for (const p of table.presets) {
      const box = make('input', { type: 'checkbox', value: p.name });
      box.dataset.applies = p.applies_to;
      $('export-presets').append(make('label', { className: 'export-preset',
                                                 title: p.description },
        box, ` ${p.name.replace('_', ' ')}`));
    }
    return true;
  }

  async function open(m) {
    const d = dialog();
    media = m;
    generation++;

    $('export-title').textContent = `Export "${m.title || '(untitled)'}"`;
    $('export-error').textContent = '';
    $('export-status').textContent = '';
    $('export-running').hidden = true;
    $('export-start').disabled = false;
    d.showModal();

    if (!await load()) return;

    const formats = $('export-format');
    formats.replaceChildren();
    table.formats
      .filter((f) => !f.video_codec || m.kind === 'video')
      .forEach((f) => option(formats, f.name, f.name));
    choices();
    list();
  }

  function close() {
    $('export-dialog').close();
  }

  function body() {
    const b = { format: $('export-format').value };
    const f = format();

    if (f.codecs.length > 1) b.codec = $('export-codec').value;
    if (codec().bitrates) b.bitrate = Number($('export-bitrate').value);
    if ($('export-rate').value) b.sample_rate = Number($('export-rate').value);
    if (f.video_codec && $('export-audio-only').checked) b.audio_only = true;

    b.enhance = [...document.querySelectorAll('#export-presets input')]
      .filter((x) => x.checked).map((x) => x.value);
    return b;
  }

  async function start() {
    const mine = generation;

    $('export-error').textContent = '';
    $('export-start').disabled = true;

    const res = await api('POST', `/media/${encodeURIComponent(media.id)}/exports`,
                          body());
    if (res.status !== 202) {
      $('export-error').textContent = errorText(res);
      $('export-start').disabled = false;
      return;
    }

    await follow(res.json.export, mine);
    if (mine === generation) {
      $('export-start').disabled = false;
      list();
    }
  }

  /* the export's progress, until it is ready or failed */
  async function follow(e, mine) {
    $('export-running').hidden = false;

    for (let i = 0; i < POLLS && mine === generation; i++) {
      show(e);
      if (e.status === 'ready' || e.status === 'failed') return;

      await new Promise((r) => setTimeout(r, POLL_MS));
      const res = await api('GET', `/exports/${encodeURIComponent(e.id)}`);
      if (res.status !== 200) {
        $('export-error').textContent = errorText(res);
        return;
      }
      e = res.json.export;
    }
  }

  function show(e) {
    $('export-progress').value = e.progress;
    $('export-percent').textContent = `${e.progress}%`;
    $('export-status').textContent = e.status === 'ready'
      ? `Ready: ${e.format}, ${size(e.size)}, ${duration(e.duration_ms)}`
      : e.status === 'failed' ? '' : `${e.status}...`;
    $('export-error').textContent = e.status === 'failed' ? e.error || 'failed' : '';
  }

  async function list() {
    const res = await api('GET', `/media/${encodeURIComponent(media.id)}/exports`);
    const ul = $('export-list');

    ul.replaceChildren();
    if (res.status !== 200) return;

    for (const e of res.json.items) {
      const li = make('li', { className: 'export' },
        make('span', {}, `${e.format} ${e.enhance.join(', ')} · ${e.status}`
             + (e.status === 'ready'
                ? ` · ${size(e.size)} · until ${new Date(e.expires_at).toLocaleDateString()}`
                : '')),
        make('button', { type: 'button', className: 'secondary',
                         textContent: 'Delete',
                         onclick: async () => {
                           const r = await api('DELETE',
                             `/exports/${encodeURIComponent(e.id)}`);
                           if (r.status === 204) li.remove();
                           else $('export-error').textContent = errorText(r);
                         } }));
      li.dataset.id = e.id;
      ul.append(li);
    }
  }

  /* the Export button of a library item: shown once the media is ready */
  function update(el, m) {
    let b = el.querySelector('.item-export');

    if (!b) {
      b = make('button', { type: 'button', className: 'item-export',
                           textContent: 'Export...' });
      el.querySelector('.item-actions').prepend(b);
    }
    b.onclick = () => open(m);
    b.hidden = m.status !== 'ready';
  }

  return { update, open };
})();
