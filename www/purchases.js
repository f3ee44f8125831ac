/*
 * Paid media and the activity list, for ngx_media's web client (app.js):
 *
 *   - in the library, each of your media gets a price: Save sends
 *     PATCH /media/{id} {price_cents, currency}, Stop selling sends
 *     price_cents null; a priced media that is not private shows the link
 *     buyers use, #buy/<media id>;
 *   - #buy/<media id>: Buy sends POST /media/{id}/purchase and goes to
 *     Stripe's checkout page (200 {url}, or 202 {job} polled, bounded);
 *   - #purchases: what you own.  Back from Stripe
 *     (#purchases?purchase=success&media=<id>) it says the payment is being
 *     confirmed and reads the list again (bounded) until the media is in
 *     it: the redirect grants nothing, Stripe's webhook does;
 *   - #activity: uploads, exports, downloads and purchases, newest first.
 *
 * app.js calls extraView(hash, signedIn) from show() and
 * decorateItem(el, media) from showItem(); everything else it uses from
 * app.js ($, api, errorText, goTo, sleep) is called only after load.
 */

'use strict';

const SHOP_PAGE = 20;
const SHOP_POLL_MS = 1000;
const SHOP_POLLS = 30;
const CURRENCIES = ['usd', 'eur', 'gbp', 'chf', 'cad', 'aud'];

const shop = {
  buying: false,
  purchasesCursor: null,
  activityCursor: null,
  confirming: null,            /* the media id being confirmed */
};

/* 499, "eur" -> "€4.99", as the browser writes money */
function money(cents, currency) {
  if (cents == null || !currency) return '';
  try {
    return new Intl.NumberFormat(undefined, {
      style: 'currency', currency: currency.toUpperCase(),
    }).format(cents / 100);
  } catch (e) {
    return `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;
  }
}

function when(at) {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

/* "#purchases?purchase=success&media=..." -> ["#purchases", params] */
function hashRoute(hash) {
  const i = hash.indexOf('?');
  return i < 0 ? [hash, new URLSearchParams()]
    : [hash.slice(0, i), new URLSearchParams(hash.slice(i + 1))];
}


/* --- the views ---------------------------------------------------------- */

/* shows the view the address asks for; true when it is one of these */
function extraView(hash, signedIn) {
  const [path, params] = hashRoute(hash || '');
  const buy = signedIn && /^#buy\/[0-9a-f-]{36}$/.test(path);
  const purchases = signedIn && path === '#purchases';
  const activity = signedIn && path === '#activity';

  $('buy').hidden = !buy;
  $('purchases').hidden = !purchases;
  $('activity').hidden = !activity;
  $('nav-purchases').classList.toggle('active', purchases);
  $('nav-activity').classList.toggle('active', activity);

  if (buy) showBuy(path.slice(5));
  if (purchases) loadPurchases(false, params);
  if (activity) loadActivity(false);

  return buy || purchases || activity;
}


/* --- a price on your media ----------------------------------------------- */

function decorateItem(el, media) {
  let box = el.querySelector('.item-price');

  if (!box) {
    box = document.createElement('div');
    box.className = 'row item-price';

    const label = document.createElement('label');
    label.append('Price ');
    const amount = document.createElement('input');
    amount.className = 'price-amount';
    amount.type = 'number';
    amount.min = '0.50';
    amount.step = '0.01';
    amount.placeholder = 'not for sale';
    label.append(amount);

    const currency = document.createElement('select');
    currency.className = 'price-currency';
    for (const c of CURRENCIES) {
      currency.append(new Option(c.toUpperCase(), c));
    }

    const save = document.createElement('button');
    save.type = 'button';
    save.className = 'price-save';
    save.textContent = 'Save price';
    save.onclick = () => setPrice(el, false);

    const stop = document.createElement('button');
    stop.type = 'button';
    stop.className = 'price-stop secondary';
    stop.textContent = 'Stop selling';
    stop.onclick = () => setPrice(el, true);

    const link = document.createElement('a');
    link.className = 'price-link';
    link.textContent = 'Buy link';

    const error = document.createElement('span');
    error.className = 'price-error error';
    error.setAttribute('role', 'alert');

    box.append(label, currency, save, stop, link, error);
    el.querySelector('.item-actions').after(box);
  }

  const priced = media.price_cents != null;

  el.dataset.id = media.id;
  el.dataset.price = priced ? `${media.price_cents} ${media.currency}` : '';
  box.querySelector('.price-amount').value =
    priced ? (media.price_cents / 100).toFixed(2) : '';
  if (priced) box.querySelector('.price-currency').value = media.currency;
  box.querySelector('.price-stop').hidden = !priced;

  const link = box.querySelector('.price-link');
  link.hidden = !priced || media.privacy === 'private';
  link.href = `#buy/${media.id}`;
  link.title = priced ? `Sold for ${money(media.price_cents, media.currency)}`
    : '';
}

async function setPrice(el, stop) {
  const box = el.querySelector('.item-price');
  const error = box.querySelector('.price-error');
  const value = box.querySelector('.price-amount').value.trim();
  let body;

  error.textContent = '';

  if (stop) {
    body = { price_cents: null };
  } else {
    const cents = Math.round(Number(value) * 100);
    if (!value || !Number.isFinite(cents)) {
      error.textContent = 'Enter a price, such as 4.99.';
      return;
    }
    body = { price_cents: cents,
             currency: box.querySelector('.price-currency').value };
  }

  const res = await api('PATCH', '/media/' + encodeURIComponent(el.dataset.id),
                        body);
  if (res.status !== 200) {
    error.textContent = errorText(res);
    return;
  }
  decorateItem(el, res.json.media);
}


/* --- buying ------------------------------------------------------------- */

function showBuy(id) {
  shop.buyId = id;
  $('buy-error').textContent = '';
  $('buy-text').textContent = 'Buying this media takes you to Stripe to '
    + 'pay; it is yours once the payment is confirmed.';
  buyBusy(null);
}

function buyBusy(text) {
  $('buy-wait').hidden = !text;
  $('buy-wait-text').textContent = text || '';
  $('buy-go').disabled = !!text;
}

async function buy() {
  if (shop.buying) return;
  shop.buying = true;

  const fail = (msg) => {
    buyBusy(null);
    $('buy-error').textContent = msg;
  };

  $('buy-error').textContent = '';
  buyBusy('Opening Stripe checkout...');

  try {
    const res = await api('POST', '/media/' + encodeURIComponent(shop.buyId)
                          + '/purchase');
    let url = res.status === 200 ? res.json.url : null;

    if (res.status === 202 && res.json && res.json.job) {
      url = await jobUrl(res.json.job.id, fail);
      if (url === undefined) return;
    } else if (res.status !== 200) {
      fail(errorText(res));
      return;
    }

    if (!goTo(url)) fail('The server gave no page to go to.');
  } finally {
    shop.buying = false;
  }
}

/* a billing job's url, polled (bounded); undefined when it failed */
async function jobUrl(id, fail) {
  for (let i = 0; i < SHOP_POLLS; i++) {
    buyBusy('Waiting for Stripe...');
    await sleep(SHOP_POLL_MS);

    const j = await api('GET', '/jobs/' + encodeURIComponent(id));
    if (j.status !== 200) {
      fail(errorText(j));
      return undefined;
    }

    const job = j.json.job;
    if (job.status === 'done') return job.result && job.result.url;
    if (job.status === 'failed' || job.status === 'dead') {
      fail(job.error || 'The purchase failed; try again later.');
      return undefined;
    }
  }
  fail('Stripe has not answered yet; try again in a minute.');
  return undefined;
}


/* --- what you own ----------------------------------------------------------- */

async function loadPurchases(more, params) {
  const q = `?limit=${SHOP_PAGE}`
    + (more && shop.purchasesCursor
      ? '&cursor=' + encodeURIComponent(shop.purchasesCursor) : '');

  if (!more) {
    $('purchases-error').textContent = '';
    $('purchases-message').textContent = '';
    confirmPurchase(params);
  }

  const res = await api('GET', '/library/purchases' + q);
  if (res.status !== 200) {
    $('purchases-error').textContent = errorText(res);
    return null;
  }

  const list = $('purchases-items');
  const items = res.json.items.map((p) => {
    const li = document.createElement('li');
    li.className = 'purchase';
    li.dataset.media = p.media.id;
    const title = document.createElement('strong');
    title.textContent = p.media.title || '(untitled)';
    const what = document.createElement('span');
    what.className = 'muted';
    what.textContent = (p.source === 'grant' ? ' given to you'
      : ` ${money(p.amount_cents, p.currency)}`) + `, ${when(p.purchased_at)}`
      + (p.media.deleted ? ' (deleted by its owner)' : '');
    li.append(title, what);
    return li;
  });

  if (more) {
    list.append(...items);
  } else {
    list.replaceChildren(...items);
  }

  shop.purchasesCursor = res.json.next_cursor;
  $('purchases-more').hidden = !res.json.next_cursor;

  if (!more && !items.length && !shop.confirming) {
    $('purchases-message').textContent = 'Nothing bought yet.';
  }
  return res.json.items;
}

/*
 * Back from Stripe: the webhook, not this page, grants the media, so the
 * list is read again until it is there (bounded)
 */
async function confirmPurchase(params) {
  const outcome = params && params.get('purchase');
  const media = params && params.get('media');

  if (outcome === 'cancel') {
    $('purchases-message').textContent = 'Checkout cancelled: nothing was '
      + 'charged.';
    return;
  }
  if (outcome !== 'success' || !media || shop.confirming === media) return;

  shop.confirming = media;
  $('purchases-message').textContent = 'Payment received; waiting for '
    + 'Stripe to confirm it...';

  try {
    for (let i = 0; i < SHOP_POLLS; i++) {
      await sleep(SHOP_POLL_MS);
      if ($('purchases').hidden) return;

      const items = await loadPurchases(false, null);
      const mine = items && items.find((p) => p.media.id === media);
      if (mine) {
        $('purchases-message').textContent =
          `Thank you: ${mine.media.title || 'the media'} is yours.`;
        return;
      }
    }
    $('purchases-message').textContent = 'Stripe has not confirmed the '
      + 'payment yet; it will appear here once it does.';
  } finally {
    shop.confirming = null;
  }
}


/* --- activity --------------------------------------------------------------- */

function activityText(a) {
  const title = (a.media && a.media.title) || '(untitled)';
  switch (a.type) {
    case 'upload':
      return `Uploaded ${title}` + (a.media.deleted ? ' (deleted)' : '');
    case 'export':
      return `Exported ${title} as ${a.export.format.toUpperCase()} `
        + `(${a.export.status})`;
    case 'download':
      return `Downloaded ${title}` + (a.range ? ` (${a.range})` : '')
        + (a.status >= 400 ? `: refused, ${a.status}` : '');
    case 'purchase':
      return a.source === 'grant' ? `Was given ${title}`
        : `Bought ${title} for ${money(a.amount_cents, a.currency)}`;
    default:
      return a.type;
  }
}

async function loadActivity(more) {
  const q = `?limit=${SHOP_PAGE}`
    + (more && shop.activityCursor
      ? '&cursor=' + encodeURIComponent(shop.activityCursor) : '');

  $('activity-error').textContent = '';

  const res = await api('GET', '/activity' + q);
  if (res.status !== 200) {
    $('activity-error').textContent = errorText(res);
    return;
  }

  const items = res.json.items.map((a) => {
    const li = document.createElement('li');
    li.className = 'activity';
    li.dataset.type = a.type;
    const text = document.createElement('span');
    text.className = 'activity-text';
    text.textContent = activityText(a);
    const at = document.createElement('span');
    at.className = 'muted';
    at.textContent = ` ${when(a.at)}`;
    li.append(text, at);
    return li;
  });

  if (more) {
    $('activity-items').append(...items);
  } else {
    $('activity-items').replaceChildren(...items);
  }

  shop.activityCursor = res.json.next_cursor;
  $('activity-more').hidden = !res.json.next_cursor;
  $('activity-empty').hidden = $('activity-items').children.length > 0;
}


/* --- start -------------------------------------------------------------- */

$('buy-go').onclick = buy;
$('purchases-more').onclick = () => loadPurchases(true, null);
$('activity-more').onclick = () => loadActivity(true);
