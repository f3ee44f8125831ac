/*
 * Pictures in the web client (app.js calls these hooks):
 *   mediaPictures.update(el, media)  the library item's cover (128 px) or
 *                                    the video's poster;
 *   mediaPictures.play(v, media, pb) with the playback answer: an audio
 *                                    file's cover as the player's picture
 *                                    and its waveform drawn by wavesurfer.js
 *                                    from the precomputed waveform.json (no
 *                                    decoding here), seeking on click; a
 *                                    video's thumbnail strip shown over the
 *                                    bottom of the player on hover;
 *   mediaPictures.stop()             when the player stops.
 * Every URL comes from the API's "pictures" (a pictures-only token).
 */

'use strict';

window.mediaPictures = (() => {
  const HEIGHT = 64;        /* nginx.conf.example's CSP hashes wavesurfer's
                               shadow style for this height */
  const HOVER_PX = 48;      /* the controls' band at the player's bottom */

  let ws = null;
  let thumbs = null;        /* {cues, v, box} */
  let generation = 0;

  function update(el, media) {
    const p = media.pictures || {};
    const src = p.cover_128 || p.poster;
    let img = el.querySelector('.item-cover');

    if (!src) {
      if (img) img.remove();
      return;
    }

    if (!img) {
      img = document.createElement('img');
      img.className = 'item-cover';
      img.alt = '';
      img.loading = 'lazy';
      el.querySelector('.item-head').prepend(img);
    }

    /* the same URL for an hour: reassigning it would fetch nothing new,
     * but compare the path without the token so the image never blinks */
    if (img.dataset.file !== file(src)) {
      img.dataset.file = file(src);
      img.src = src;
    }
  }

  function file(url) {
    return url.replace(/^.*\/([0-9a-f-]{36}\/[^/]+)$/, '$1');
  }

  /* BBC audiowaveform v2: [min, max] pairs of 8-bit samples -> one
   * channel of peaks in [0, 1] */
  function peaks(w) {
    const out = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) {
      out[i] = Math.max(Math.abs(w.data[2 * i]), Math.abs(w.data[2 * i + 1]))
               / 128;
    }
    return out;
  }

  async function play(v, media, pb) {
    stop();
    const p = pb.pictures || {};
    const mine = ++generation;

    if (media.kind === 'audio') {
      v.poster = p.cover_512 || '';
      if (p.waveform && window.WaveSurfer) {
        await waveform(v, media, p.waveform, mine);
      }
    } else if (p.thumbnails) {
      await strip(v, p.thumbnails, mine);
    }
  }

  async function waveform(v, media, url, mine) {
    const res = await fetch(url);
    if (!res.ok || mine !== generation) return;
    const w = await res.json();

    const box = document.getElementById('waveform');
    box.hidden = false;
    ws = WaveSurfer.create({
      container: box,
      height: HEIGHT,
      media: v,
      peaks: [peaks(w)],
      duration: (media.duration_ms || w.length * w.samples_per_pixel
                 / w.sample_rate * 1000) / 1000,
      waveColor: '#9aa4b2',
      progressColor: '#2f6fde',
      cursorColor: '#1b3f80',
      barWidth: 2,
      barGap: 1,
      normalize: true,
      interact: true,
    });
    box.dataset.bars = String(w.length);
  }

  /* WebVTT cues "start --> end" + "thumbs.jpg#xywh=x,y,w,h" */
  function cues(text, base) {
    const out = [];
    const time = String.raw`(\d+):(\d\d):(\d\d\.\d+)`;
    const re = new RegExp(String.raw`${time} --> ${time}\s*\n([^#\s]+)`
                          + String.raw`#xywh=(\d+),(\d+),(\d+),(\d+)`, 'g');
    let m;
    while ((m = re.exec(text))) {
      out.push({
        start: +m[1] * 3600 + +m[2] * 60 + +m[3],
        end: +m[4] * 3600 + +m[5] * 60 + +m[6],
        src: new URL(m[7], base).href,
        x: +m[8], y: +m[9], w: +m[10], h: +m[11],
      });
    }
    return out;
  }

  async function strip(v, url, mine) {
    const res = await fetch(url);
    if (!res.ok || mine !== generation) return;
    const list = cues(await res.text(), new URL(url, location.href));
    if (!list.length) return;

    const box = document.getElementById('thumb-preview');
    thumbs = { cues: list, v, box };
    v.addEventListener('mousemove', hover);
    v.addEventListener('mouseleave', hide);
  }

  function hover(ev) {
    const { cues: list, v, box } = thumbs;
    const r = v.getBoundingClientRect();
    const x = ev.clientX - r.left;

    if (ev.clientY < r.bottom - HOVER_PX || !v.duration) {
      hide();
      return;
    }

    const t = Math.max(0, Math.min(1, x / r.width)) * v.duration;
    const c = list.find((q) => t >= q.start && t < q.end)
              || list[list.length - 1];

    box.hidden = false;
    box.style.width = `${c.w}px`;
    box.style.height = `${c.h}px`;
    box.style.backgroundImage = `url("${c.src}")`;
    box.style.backgroundPosition = `-${c.x}px -${c.y}px`;
    /* above the controls, inside #player-box (position: relative) */
    const b = box.offsetParent ? box.offsetParent.getBoundingClientRect()
                               : r;
    box.style.left = `${r.left - b.left
                        + Math.max(0, Math.min(r.width - c.w, x - c.w / 2))}px`;
    box.style.top = `${r.bottom - b.top - HOVER_PX - c.h - 4}px`;
    box.dataset.at = String(c.start);
  }

  function hide() {
    const box = document.getElementById('thumb-preview');
    if (box) box.hidden = true;
  }

  function stop() {
    generation++;
    if (ws) {
      ws.destroy();
      ws = null;
    }
    const box = document.getElementById('waveform');
    if (box) {
      box.hidden = true;
      box.replaceChildren();
    }
    if (thumbs) {
      thumbs.v.removeEventListener('mousemove', hover);
      thumbs.v.removeEventListener('mouseleave', hide);
      thumbs = null;
    }
    hide();
  }

  return { update, play, stop };
})();
