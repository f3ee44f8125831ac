/*
 * The CSP hash (sha256, base64) of the style wavesurfer.js puts in its
 * shadow DOM, at the height www/pictures.js draws (64): what
 * nginx.conf.example's style-src must name.
 *
 *   node t/browser/csp-hash.js build/www/vendor/wavesurfer.min.js
 */

'use strict';

const fs = require('fs');
const crypto = require('crypto');

const s = fs.readFileSync(process.argv[2], 'utf8');
const i = s.indexOf('<style');
const a = s.indexOf('}>', i) + 2;
/* the template literal's text: ${...} is the height, escapes as JS reads */
const raw = s.slice(a, s.indexOf('</style>', a)).replace(/\$\{[^}]*\}/g, '64');
const text = JSON.parse('"' + raw.replace(/"/g, '\\"') + '"');

console.log(crypto.createHash('sha256').update(text).digest('base64'));
