# Paid assets: a creator puts a price on a media (PATCH, with its
# refusals); a buyer's POST /media/{id}/purchase has the billing worker make
# a Stripe Checkout Session in payment mode (t/stripe-fake, in Stripe's wire
# format); paying and coming back to the success page grants nothing; the
# signed checkout.session.completed webhook does, once, however many times
# it arrives; a payment that settles later is granted by its
# async_payment_succeeded, in whichever order the two events come; GET /library/purchases lists it; every refusal of the
# purchase route.  nginx runs from nginx.conf.example, as `make run` does.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use MediaTest qw(wait_until slurp);
use StripeFake;

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
# no webhook URL: the test delivers Stripe's events itself, when it wants
my $stripe = StripeFake->start($t);
$t->start_worker('transcoder');
$t->start_worker('billing');
$t->start_nginx;

my $clip = $t->make_media('tone.wav', '-f lavfi -i sine=frequency=440:duration=1');

my $ann = $t->signup('ann@example.com');     # sells
my $bob = $t->signup('bob@example.com');     # buys
my $bob_id = $bob->{user}{id};

my $r = $t->http(POST => '/api/v1/media', body => slurp($clip),
                 headers => { 'Content-Type' => 'audio/wav',
                              Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 202, 'ann uploads a clip');
my $id = $r->{json}{media}{id};
my $status = '';
wait_until(sub {
    $status = api(GET => "/api/v1/media/$id", $ann)->{json}{media}{status} // '';
    $status =~ /^(ready|failed)$/;
}, timeout => 60, interval => 0.3);
is($status, 'ready', 'and it is transcoded');

# --- the price --------------------------------------------------------------

$r = api(GET => "/api/v1/media/$id", $ann);
ok(exists $r->{json}{media}{price_cents} && !defined $r->{json}{media}{price_cents},
   'a new media has no price (price_cents null)');

for my $bad (
    [ { price_cents => 10, currency => 'usd' }, 'price_cents', qr/from 50/,
      'under the smallest charge' ],
    [ { price_cents => 100000000, currency => 'usd' }, 'price_cents',
      qr/to 99999999/, 'too much' ],
    [ { price_cents => 4.99, currency => 'usd' }, 'price_cents',
      qr/whole number of cents/, 'not a whole number' ],
    [ { price_cents => '499', currency => 'usd' }, 'price_cents',
      qr/whole number/, 'a string' ],
    [ { price_cents => 499 }, 'currency', qr/currency is required/,
      'no currency' ],
    [ { price_cents => 499, currency => 'dollars' }, 'currency',
      qr/ISO 4217/, 'a currency that is not three letters' ],
    [ { price_cents => 499, currency => 'u$d' }, 'currency',
      qr/three letters/, 'a currency with a symbol' ],
    [ { currency => 'usd' }, 'price_cents', qr/comes with price_cents/,
      'a currency without a price' ],
    [ { price_cents => undef, currency => 'usd' }, 'currency',
      qr/off sale has no currency/, 'clearing the price with a currency' ],
) {
    my ($body, $field, $msg, $what) = @$bad;
    $r = api(PATCH => "/api/v1/media/$id", $ann, $body);
    is($r->{status}, 422, "price refused, $what: 422");
    is($r->{json}{error}{field}, $field, "  naming $field");
    like($r->{json}{error}{message} // '', $msg, '  saying what is wrong');
}

$r = api(PATCH => "/api/v1/media/$id", $bob, { price_cents => 100,
                                               currency => 'usd' });
is($r->{status}, 404, "pricing someone else's media: 404");

$r = api(PATCH => "/api/v1/media/$id", $ann, { price_cents => 499,
                                               currency => 'EUR' });
is($r->{status}, 200, 'ann sets a price: 200');
is($r->{json}{media}{price_cents}, 499, 'the media JSON has price_cents');
is($r->{json}{media}{currency}, 'eur', 'and the currency, in lower case');

$r = api(PATCH => "/api/v1/media/$id", $ann, { title => 'Tone' });
is($r->{json}{media}{price_cents}, 499, 'a PATCH of the title keeps the price');

$r = api(PATCH => "/api/v1/media/$id", $ann, { price_cents => undef });
is($r->{status}, 200, 'price_cents null: 200');
ok(!defined $r->{json}{media}{price_cents} && !defined $r->{json}{media}{currency},
   'takes it off sale: price and currency null');

# --- refusals of the purchase -------------------------------------------------

$r = $t->http(POST => "/api/v1/media/$id/purchase");
is($r->{status}, 401, 'buying signed out: 401');

$r = api(POST => "/api/v1/media/$id/purchase", $bob);
is($r->{status}, 404, "a private media of someone else: 404");
is($r->{json}{error}{code}, 'not_found', '  not_found, as if it were not there');

api(PATCH => "/api/v1/media/$id", $ann, { privacy => 'unlisted' });

$r = api(POST => "/api/v1/media/$id/purchase", $bob);
is($r->{status}, 409, 'a media without a price: 409');
is($r->{json}{error}{code}, 'not_for_sale', '  not_for_sale');

api(PATCH => "/api/v1/media/$id", $ann, { price_cents => 499, currency => 'eur' });

$r = api(POST => "/api/v1/media/$id/purchase", $ann);
is($r->{status}, 409, 'buying your own media: 409');
is($r->{json}{error}{code}, 'own_media', '  own_media');

$r = api(POST => '/api/v1/media/00000000-0000-4000-8000-000000000000/purchase',
         $bob);
is($r->{status}, 404, 'no such media: 404');
$r = api(POST => '/api/v1/media/nope/purchase', $bob);
is($r->{status}, 404, 'not an id: 404');
my $gone = $t->psql('media', "INSERT INTO media (owner_id, title, status, privacy,"
                             . " price_cents, currency, deleted_at) VALUES"
                             . " ('$ann->{user}{id}', 'Gone', 'ready', 'public',"
                             . " 100, 'usd', now()) RETURNING id");
$gone =~ s/\s.*//s;
$r = api(POST => "/api/v1/media/$gone/purchase", $bob);
is($r->{status}, 404, 'a deleted media, priced and public: 404');

$t->psql('media', "UPDATE media SET status = 'processing' WHERE id = '$id'");
$r = api(POST => "/api/v1/media/$id/purchase", $bob);
is($r->{status}, 409, 'a media still processing: 409');
is($r->{json}{error}{code}, 'not_ready', '  not_ready');
$t->psql('media', "UPDATE media SET status = 'ready' WHERE id = '$id'");

is(jobs(), 0, 'no refusal wrote a billing job');

# --- the purchase ------------------------------------------------------------------

$r = api(POST => "/api/v1/media/$id/purchase", $bob);
ok($r->{status} == 200 || $r->{status} == 202, "bob buys it: $r->{status}");
my $url = checkout_url($r);
like($url // '', qr{^\Q${\ $stripe->url}\E/checkout/cs_\w+$},
     "the billing worker's Checkout Session, on Stripe's (the fake's) page");

my ($post) = $stripe->requests('POST', '/v1/checkout/sessions');
my $p = $post->{params};
is($p->{mode}, 'payment', 'the session is in payment mode');
is($p->{line_items}[0]{price_data}{unit_amount}, '499', 'at the media\'s price');
is($p->{line_items}[0]{price_data}{currency}, 'eur', 'in its currency');
is($p->{line_items}[0]{price_data}{product_data}{name}, 'Tone', 'named by its title');
is($p->{metadata}{user_id}, $bob_id, 'metadata: the buyer');
is($p->{metadata}{media_id}, $id, 'metadata: the media');
is($p->{client_reference_id}, $bob_id, 'client_reference_id: the buyer');
like($post->{idempotency_key} // '', qr/^ngx_media-purchase-[0-9a-f]{32}-\d{8}$/,
     'with an idempotency key: the session\'s parameters and the day');

# a double click: a second job, the same session (it cannot be paid twice)
$r = api(POST => "/api/v1/media/$id/purchase", $bob);
is(checkout_url($r), $url, 'asked again before paying: the same session');
is(scalar(() = $stripe->requests('POST', '/v1/checkout/sessions')), 2,
   '  (two calls to Stripe, one key)');

# paying: the fake completes the session and makes its event, which is not
# delivered yet; the browser is sent to the success page
my $pay = HTTP::Tiny->new(timeout => 10, max_redirect => 0)->post($url);
is($pay->{status}, 303, 'paying on the checkout page: 303');
my $back = $pay->{headers}{location} // '';
like($back, qr{^\Q${\ $t->url('/')}\E#purchases\?purchase=success},
     'back to our success page');
$r = HTTP::Tiny->new(timeout => 10)->get($back);
is($r->{status}, 200, 'the success page loads');

is(owned($bob), 0, 'the success redirect alone grants nothing');
is($t->psql('media', 'SELECT count(*) FROM entitlements'), "0\n",
   '  no entitlement row');

my @events = grep { $_->{type} eq 'checkout.session.completed' } $stripe->events;
is(scalar @events, 1, 'the fake made one checkout.session.completed');
ok($stripe->signature_ok($events[0]{body}, $events[0]{signature}),
   '  signed as Stripe signs');

# a forged event grants nothing either
$r = $t->http(POST => '/api/v1/webhooks/stripe', body => $events[0]{body},
              headers => { 'Content-Type' => 'application/json',
                           'Stripe-Signature' => 't=' . time . ',v1=' . '0' x 64 });
is($r->{status}, 400, 'the event with a bad signature: 400');

# the real one, twice
for my $n (1, 2) {
    $r = $t->http(POST => '/api/v1/webhooks/stripe', body => $events[0]{body},
                  headers => { 'Content-Type' => 'application/json',
                               'Stripe-Signature' => $events[0]{signature} });
    is($r->{status}, 200, "the signed webhook, delivery $n: 200");
}

ok(wait_until(sub { owned($bob) == 1 }, timeout => 20),
   'the verified webhook grants the media')
    or diag(slurp("$dir/billing.log"));
is($t->psql('media', "SELECT count(*) || ' ' || min(amount_cents) || ' '"
                     . " || min(currency) || ' '"
                     . " || bool_and(stripe_session LIKE 'cs_%')"
                     . " FROM entitlements"), "1 499 eur true\n",
   'one entitlement row, with what was paid and the session');
ok(wait_until(sub {
    $t->psql('media', "SELECT count(*) FROM billing_events"
                      . " WHERE applied_at IS NULL") eq "0\n" }, timeout => 10),
   'the event is marked applied');
my @gets = $stripe->requests('GET', '/v1/checkout/sessions/');
ok(@gets >= 1, 'the worker read the session again from Stripe');

# the same session again, as a new event (Stripe resends with a new id
# when the object changes): still one row
my $session = decode_json($events[0]{body})->{data}{object};
my $ev = $stripe->control(send_event => { type => 'checkout.session.completed',
                                          object => { %$session, id => $session->{id} } });
$r = $t->http(POST => '/api/v1/webhooks/stripe', body => $ev->{body},
              headers => { 'Content-Type' => 'application/json',
                           'Stripe-Signature' => $ev->{signature} });
is($r->{status}, 200, 'a second event about the same paid session: 200');
ok(wait_until(sub {
    $t->psql('media', "SELECT count(*) FROM billing_events"
                      . " WHERE applied_at IS NULL") eq "0\n" }, timeout => 10),
   '  applied');
is($t->psql('media', 'SELECT count(*) FROM entitlements'), "1\n",
   '  and still one entitlement');

# --- a payment that settles later, and events out of order ---------------------

# carl pays with a method that settles later: the session completes unpaid;
# its checkout.session.completed grants nothing, async_payment_succeeded
# does
my $carl = $t->signup('carl@example.com');
my ($cs_carl, $done_carl) = buy_delayed($carl);
deliver($done_carl);
ok(applied($done_carl->{id}), "carl's checkout.session.completed is applied");
is(owned($carl), 0, '  and grants nothing while the payment is unpaid');
like($t->psql('media', "SELECT result::text FROM jobs WHERE payload->>'event'"
                       . " = '$done_carl->{id}'") // '',
     qr/"granted"\s*:\s*false/, '  the job says so');
my $paid_carl = $stripe->control(settle => { session => $cs_carl });
deliver($paid_carl);
ok(wait_until(sub { owned($carl) == 1 }, timeout => 20),
   'async_payment_succeeded grants it');

# dave's events arrive the other way round: the settlement first
my $dave = $t->signup('dave@example.com');
my ($cs_dave, $done_dave) = buy_delayed($dave);
my $paid_dave = $stripe->control(settle => { session => $cs_dave });
deliver($paid_dave);
ok(wait_until(sub { owned($dave) == 1 }, timeout => 20),
   'out of order: the settlement first grants it');
deliver($done_dave);
ok(applied($done_dave->{id}), '  the completion after it is applied');
is($t->psql('media', "SELECT count(*) FROM entitlements e JOIN users u"
                     . " ON u.id = e.user_id WHERE u.email = 'dave\@example.com'"),
   "1\n", '  one entitlement');

# --- what bob owns ---------------------------------------------------------------

$r = api(GET => '/api/v1/library/purchases', $bob);
is($r->{status}, 200, 'GET /library/purchases: 200');
is(scalar @{ $r->{json}{items} }, 1, 'one item');
my $item = $r->{json}{items}[0];
is($item->{media}{id}, $id, 'the media bought');
is($item->{media}{title}, 'Tone', 'with its title');
is($item->{amount_cents}, 499, 'what was paid');
is($item->{currency}, 'eur', 'in which currency');
is($item->{source}, 'purchase', 'bought, not granted');
like($item->{purchased_at} // '', qr/^\d{4}-\d\d-\d\dT[\d:.]+Z$/, 'and when');
ok(!defined $r->{json}{next_cursor}, 'no next page');

is(scalar @{ api(GET => '/api/v1/library/purchases', $ann)->{json}{items} }, 0,
   "ann bought nothing: her list is empty");
$r = api(GET => '/api/v1/library/purchases?limit=0', $bob);
is($r->{status}, 422, 'limit 0: 422');
is($r->{json}{error}{field}, 'limit', '  naming limit');
$r = api(GET => '/api/v1/library/purchases?cursor=xyz', $bob);
is($r->{status}, 422, 'a made-up cursor: 422');
is($r->{json}{error}{field}, 'cursor', '  naming cursor');
is($t->http(GET => '/api/v1/library/purchases')->{status}, 401,
   'signed out: 401');

$r = api(POST => "/api/v1/media/$id/purchase", $bob);
is($r->{status}, 409, 'buying it again: 409');
is($r->{json}{error}{code}, 'already_owned', '  already_owned');

# pages: a second media granted by hand (source grant), listed first
my $id2 = $t->psql('media', "INSERT INTO media (owner_id, title, status, privacy)"
                            . " VALUES ('$ann->{user}{id}', 'Second', 'ready', 'public')"
                            . " RETURNING id");
chomp $id2;
$id2 =~ s/\s.*//s;
$t->psql('media', "INSERT INTO entitlements (user_id, media_id, source)"
                  . " VALUES ('$bob_id', '$id2', 'grant')");
$r = api(GET => '/api/v1/library/purchases?limit=1', $bob);
is($r->{json}{items}[0]{media}{id}, $id2, 'page 1: the newest');
my $cursor = $r->{json}{next_cursor};
ok($cursor, '  and a cursor');
$r = api(GET => "/api/v1/library/purchases?limit=1&cursor=$cursor", $bob);
is($r->{json}{items}[0]{media}{id}, $id, 'page 2: the purchase');
ok(!defined $r->{json}{next_cursor}, '  the last page');

# the worker refuses what changed after the module's check
$t->psql('media', "UPDATE media SET price_cents = NULL, currency = NULL"
                  . " WHERE id = '$id2'");
$t->psql('media', "DELETE FROM entitlements WHERE media_id = '$id2'");
my $job = $t->psql('media', "INSERT INTO jobs (type, user_id, payload) VALUES"
                            . " ('billing', '$bob_id', jsonb_build_object("
                            . "'action', 'purchase', 'media', '$id2'))"
                            . " RETURNING id");
$job =~ s/\s.*//s;
$t->redis('XADD', 'media:billing', '*', 'job', $job);
my $row = '';
ok(wait_until(sub {
    $row = $t->psql('media', "SELECT status || ' ' || coalesce(error, '')"
                             . " FROM jobs WHERE id = '$job'");
    $row =~ /^(failed|dead)/;
}, timeout => 20), 'a purchase job for a media no longer on sale fails')
    or diag($row);
like($row, qr/no longer for sale/, '  saying why');

$t->finish;
done_testing;


sub api {
    my ($method, $path, $user, $body) = @_;
    return $t->http($method => $path,
        headers => { ($user ? (Authorization => "Bearer $user->{access_token}")
                            : ()),
                     (defined $body ? ('Content-Type' => 'application/json')
                                    : ()) },
        (defined $body ? (body => encode_json($body)) : ()));
}

# a purchase paid with a delayed method: (session id, its completed event)
sub buy_delayed {
    my ($user) = @_;
    my $r = api(POST => "/api/v1/media/$id/purchase", $user);
    my $url = checkout_url($r, $user) // die "no checkout url: $r->{content}";
    my ($cs) = $url =~ m{/checkout/(cs_\w+)$};
    my $pay = HTTP::Tiny->new(timeout => 10, max_redirect => 0)
        ->post_form($url, { delayed => 1 });
    die "pay: $pay->{status}" unless $pay->{status} == 303;
    my ($ev) = grep { $_->{type} eq 'checkout.session.completed'
                      && decode_json($_->{body})->{data}{object}{id} eq $cs }
               $stripe->events;
    return ($cs, $ev);
}

sub deliver {
    my ($ev) = @_;
    my $r = $t->http(POST => '/api/v1/webhooks/stripe', body => $ev->{body},
                     headers => { 'Content-Type' => 'application/json',
                                  'Stripe-Signature' => $ev->{signature} });
    is($r->{status}, 200, "$ev->{type} delivered: 200");
}

sub applied {
    my ($event) = @_;
    return wait_until(sub {
        ($t->psql('media', "SELECT applied_at IS NOT NULL FROM billing_events"
                           . " WHERE id = '$event'") // '') eq "t\n"
    }, timeout => 20);
}

sub jobs {
    my $n = $t->psql('media', "SELECT count(*) FROM jobs WHERE type = 'billing'");
    chomp $n;
    return $n;
}

sub owned {
    my ($user) = @_;
    my $r = api(GET => '/api/v1/library/purchases', $user);
    return scalar @{ $r->{json}{items} || [] };
}

# the URL of a purchase answer: at once (200), or once the job is done (202)
sub checkout_url {
    my ($r, $user) = @_;
    my $url = $r->{json}{url};
    if ($r->{status} == 202) {
        my $job = $r->{json}{job}{id};
        wait_until(sub {
            $url = api(GET => "/api/v1/jobs/$job", $user || $bob)
                ->{json}{job}{result}{url};
        }, timeout => 20);
    }
    return $url;
}
