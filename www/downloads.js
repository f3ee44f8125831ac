/*
 * Download buttons for the library (app.js calls mediaDownloads.decorate
 * for each item it draws).  A click asks POST /api/v1/downloads for a
 * one-use link to the original upload, then lets the browser fetch it:
 * the server's Content-Disposition names the file after the media's title
 * (RFC 6266, UTF-8 included), so nothing here names it.
 */

'use strict';

window.mediaDownloads = (() => {
  const LINK = { max_uses: 1, ttl_s: 300 };

  /* a link made, then the download started by a click on a plain link:
   * the page stays where it is, as for any attachment */
  async function download(id, button, error) {
    button.disabled = true;
    error.textContent = '';

    try {
      const res = await api('POST', '/downloads', { media_id: id, ...LINK });

      if (res.status !== 201) {
        error.textContent = `Download refused: ${errorText(res)}`;
        return;
      }

      const a = document.createElement('a');
      a.href = res.json.url;
      a.download = '';
      a.hidden = true;
      document.body.append(a);
      a.click();
      a.remove();
    } finally {
      button.disabled = false;
    }
  }

  function decorate(el) {
    const actions = el.querySelector('.item-actions');
    const error = el.querySelector('.item-error');
    const button = document.createElement('button');

    button.type = 'button';
    button.className = 'item-download secondary';
    button.textContent = 'Download';
    button.title = 'The original file, named after the title';
    button.onclick = () => download(el.dataset.id, button, error);
    actions.insertBefore(button, el.querySelector('.item-delete'));
  }

  return { decorate };
})();
