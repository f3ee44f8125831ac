/*
 * A Share link on each library item (app.js calls mediaShare.update for
 * each item it draws): the media's public page, /m/<id>, shown once the
 * media is ready and public or unlisted, since the page is a 404 for
 * anything else.
 */

'use strict';

window.mediaShare = (() => {
  function update(el, media) {
    let a = el.querySelector('.item-share');

    if (!a) {
      a = document.createElement('a');
      a.className = 'item-share';
      a.textContent = 'Share';
      a.target = '_blank';
      a.rel = 'noopener';
      el.querySelector('.item-actions').append(a);
    }

    a.href = `/m/${encodeURIComponent(media.id)}`;
    a.hidden = media.status !== 'ready' || media.privacy === 'private';
  }

  return { update };
})();
