/*
 * The rung a video starts at, for every player of the web client (the
 * library's app.js, the share and embed pages' share.js): 480p, the film
 * platform's default, or the nearest rung below it (the smallest when all
 * are larger); rungs are named by their short side, as the ladder makes
 * them.  -1 (hls.js's own choice) for audio, whose levels have no picture.
 * hls.js plays its first fragments from it; Auto, its bandwidth estimate,
 * takes over from there until the viewer picks a rung.
 */

'use strict';

window.mediaStartLevel = (() => {
  const START_SIDE = 480;

  function side(l) {
    return Math.min(l.width || l.height, l.height || l.width);
  }

  return function startLevel(levels) {
    let best = -1;
    let least = -1;

    levels.forEach((l, i) => {
      if (!l.height) return;
      if (least < 0 || side(l) < side(levels[least])) least = i;
      if (side(l) <= START_SIDE
          && (best < 0 || side(l) > side(levels[best]))) best = i;
    });

    return best >= 0 ? best : least;
  };
})();
