# The billing worker against t/stripe-fake: checkout and portal sessions
# (one customer per user, one session per job whatever fails on the way),
# Stripe's failures (500, down, 400), and Stripe's events applied from the
# subscription as Stripe holds it now: a paid checkout makes the user
# 'basic', events out of order or twice change nothing more, a cancel
# brings 'free' back, a failed payment leaves the plan, past_due.
#
# Jobs and stored events are written here as the module writes them (a
# jobs row, XADD media:billing; a billing_events row), so the worker is
# tested on its own.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use MediaTest qw(wait_until slurp log_messages);
use StripeFake;

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;

my $conf = <<'EOF';
%%MAIN%%
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;
    media_job_lease 20s;
    media_job_retry 300ms;
    %%STRIPE%%
    media_public_url http://127.0.0.1:%%PORT%%/;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
    }
}
EOF

# the directives first, with the fake's address (its port is known now)
my $stripe_conf = "media_stripe_secret_key $dir/stripe.key;\n"
    . "    media_stripe_api_url http://127.0.0.1:" . $t->port('stripe') . ";";
(my $c = $conf) =~ s/%%STRIPE%%/$stripe_conf/;
$t->write_conf($c);
$t->jwt_key;
$t->migrate;

my $stripe = StripeFake->start($t);
is($stripe->conf, "media_stripe_secret_key $dir/stripe.key;\n"
   . "    media_stripe_api_url " . $stripe->url . ";\n",
   'the fake is where the configuration says');

# --- nginx checks the directives and leaves them to the worker ------------

my ($ok, $out) = $t->nginx_test;
ok($ok, 'nginx -t accepts media_stripe_secret_key, media_stripe_api_url, '
   . 'media_public_url') or diag($out);

for my $bad ('media_stripe_api_url api.stripe.com;',
             'media_public_url "http://x/?a";')
{
    (my $b = $c) =~ s/media_public_url [^;]+;/$bad/;
    $t->write_conf($b);
    my ($ok, $out) = $t->nginx_test;
    ok(!$ok, "nginx -t refuses $bad");
    like(slurp("$dir/nginx-t.err") . $out,
         qr/invalid media_\w+_url "[^"]+": expected an http:\/\/ or https:\/\/ URL/,
         'naming the directive and what it expects');
}
$t->write_conf($c);

# the worker refuses the same values at start
(my $b = $c) =~ s/media_public_url [^;]+;/media_public_url ftp:\/\/x;/;
$t->write_conf($b);
my $w = `@{[ $t->build_path('media-billing') ]} -c @{[ $t->conf_file ]} 2>&1`;
is($? >> 8, 2, 'media-billing refuses a bad media_public_url: exit 2');
like(log_messages($w), qr/invalid media_public_url "ftp:\/\/x": expected an http:\/\/ or https:\/\/ URL/,
     'naming it');
$t->write_conf($c);

$t->start_nginx;
$t->start_worker('billing');

my $u1 = $t->signup('one@example.com')->{user}{id};
my $u2 = $t->signup('two@example.com')->{user}{id};

# --- checkout: a customer once, a session per job --------------------------

my $j = run_job($u1, { action => 'checkout', plan => 'basic' });
is($j->{status}, 'done', 'checkout job done');
my $url = decode_json($j->{result})->{url};
like($url, qr{^\Q@{[ $stripe->url ]}\E/checkout/cs_test_\w+$},
     "jobs.result holds the session's url: $url");

my $cus = sql("SELECT stripe_customer_id FROM users WHERE id = '$u1'");
like($cus, qr/^cus_\w+$/, "the customer is stored: $cus");

my @posts = $stripe->requests('POST', '/v1/customers');
is(scalar @posts, 1, 'one customer made');
is($posts[0]{params}{email}, 'one@example.com', 'with the email');
is($posts[0]{params}{metadata}{user_id}, $u1, 'and metadata[user_id]');

my ($s) = $stripe->requests('POST', '/v1/checkout/sessions');
my $p = $s->{params};
is($p->{mode}, 'subscription', 'mode=subscription');
is($p->{customer}, $cus, 'for the customer');
is($p->{client_reference_id}, $u1, 'client_reference_id is the user');
is($p->{metadata}{user_id}, $u1, 'metadata[user_id] is the user');
is($p->{subscription_data}{metadata}{user_id}, $u1,
   'and so is the subscription\'s metadata');
is_deeply($p->{line_items}, [ { price => 'price_basic_monthly',
                                quantity => 1 } ],
          "the plan's stripe_price_id, once");
is($p->{success_url}, 'http://127.0.0.1:' . $t->port('http')
   . '/#pricing?checkout=success', 'success_url from media_public_url');
is($p->{cancel_url}, 'http://127.0.0.1:' . $t->port('http')
   . '/#pricing?checkout=cancel', 'cancel_url too');

for my $r ($stripe->requests) {
    is($r->{stripe_version}, '2024-06-20',
       "$r->{method} $r->{path}: Stripe-Version pinned");
    like($r->{idempotency_key} // '', qr/^ngx_media-$j->{id}-(customer|checkout)$/,
         "$r->{method} $r->{path}: Idempotency-Key from the job: "
         . ($r->{idempotency_key} // 'none'));
}

$j = run_job($u1, { action => 'checkout', plan => 'premium' });
is($j->{status}, 'done', 'a second checkout');
is(scalar $stripe->requests('POST', '/v1/customers'), 1,
   'uses the stored customer: still one made');

# --- a customer deleted in Stripe: forgotten, a new one, the session made ----

my $old = sql("SELECT stripe_customer_id FROM users WHERE id = '$u1'");
my $del = HTTP::Tiny->new(timeout => 10)->request(DELETE =>
    $stripe->url . "/v1/customers/$old",
    { headers => { Authorization => 'Bearer ' . $stripe->key } });
is($del->{status}, 200, "customer $old deleted in Stripe (the Dashboard)");

$stripe->control('reset');
$j = run_job($u1, { action => 'checkout', plan => 'premium' });
is($j->{status}, 'done', 'a checkout after the customer was deleted: done')
    or diag($j->{error});
is($j->{attempts}, 1, 'in one attempt');
my $new = sql("SELECT stripe_customer_id FROM users WHERE id = '$u1'");
like($new, qr/^cus_\w+$/, "a new customer stored: $new");
isnt($new, $old, 'not the deleted one');
my @cs = $stripe->requests('POST', '/v1/checkout/sessions');
is(scalar @cs, 2, 'the session asked twice');
is($cs[0]{params}{customer}, $old, 'first for the deleted customer');
is($cs[1]{params}{customer}, $new, 'then for the new one');
is($cs[1]{idempotency_key}, "ngx_media-$j->{id}-checkout-recovered",
   'under a key of its own: ' . $cs[1]{idempotency_key});
my @cu = $stripe->requests('POST', '/v1/customers');
is(scalar @cu, 1, 'one customer made');
is($cu[0]{idempotency_key}, "ngx_media-$j->{id}-customer-recovered",
   'its key is not the deleted one\'s');
like(decode_json($j->{result})->{url}, qr{/checkout/cs_test_\w+$},
     'the url of the session');

# --- 500 then 200: one session, thanks to the idempotency key ---------------

# "after": Stripe made the session, then its answer was lost
$stripe->control('reset');
my %old = map { ($_->{id} => 1) } $stripe->objects('checkout_sessions');
my $before = keys %old;
$stripe->control(fail => { path => '/v1/checkout/sessions', status => 500,
                           when => 'after', times => 1 });
$j = run_job($u1, { action => 'checkout', plan => 'basic' });
is($j->{status}, 'done', '500 then 200: done');
is($j->{attempts}, 1, 'in one attempt (tried again within it)');
@posts = $stripe->requests('POST', '/v1/checkout/sessions');
is(scalar @posts, 2, 'two POSTs reached Stripe');
is($posts[0]{idempotency_key}, $posts[1]{idempotency_key},
   'with the same Idempotency-Key');
ok($posts[1]{replayed}, 'the second was answered from the first');
is(scalar(() = $stripe->objects('checkout_sessions')), $before + 1,
   'exactly one session made');
my ($made) = grep { !$old{$_->{id}} } $stripe->objects('checkout_sessions');
is(decode_json($j->{result})->{url}, $made->{url},
   "its url in jobs.result");

# 429 (rate limited), before Stripe acts: tried again
$stripe->control('reset');
$stripe->control(fail => { path => '/v1/checkout/sessions', status => 429,
                           times => 1 });
$j = run_job($u1, { action => 'checkout', plan => 'basic' });
is("$j->{status} $j->{attempts}", 'done 1', '429 then 200: done in one attempt');
is(scalar $stripe->requests('POST', '/v1/checkout/sessions'), 2, 'after two tries');

# the answer lost three times: the job's next attempt replays it
$stripe->control('reset');
$before = () = $stripe->objects('checkout_sessions');
$stripe->control(fail => { path => '/v1/checkout/sessions', status => 0,
                           when => 'after', times => 3 });
$j = run_job($u1, { action => 'checkout', plan => 'basic' });
is($j->{status}, 'done', 'connection lost after Stripe acted, three times: '
   . 'done');
is($j->{attempts}, 2, 'on the job\'s second attempt');
is(scalar(() = $stripe->objects('checkout_sessions')), $before + 1,
   'still exactly one session');

# the same for the customer
$stripe->control('reset');
$stripe->control(fail => { path => '/v1/customers', status => 502,
                           when => 'after', times => 3 });
$j = run_job($u2, { action => 'checkout', plan => 'creator' });
is($j->{status}, 'done', 'customer: answer lost on the first attempt, done');
is($j->{attempts}, 2, 'on the second');
is(scalar(grep { ($_->{metadata}{user_id} // '') eq $u2 }
          $stripe->objects('customers')), 1, 'one customer for the user');
my ($c2) = grep { ($_->{metadata}{user_id} // '') eq $u2 }
           $stripe->objects('customers');
is(sql("SELECT stripe_customer_id FROM users WHERE id = '$u2'"), $c2->{id},
   'and it is the one stored');

# --- Stripe down: retried, and the row says so -------------------------------

my $u3 = $t->signup('three@example.com')->{user}{id};
$stripe->control(down => { down => JSON::PP::true });
my $id = add_job($u3, { action => 'checkout', plan => 'basic' });
ok(wait_until(sub { (sql("SELECT attempts FROM jobs WHERE id = '$id'") || 0) >= 2
                    && sql("SELECT status FROM jobs WHERE id = '$id'") ne 'running' },
              timeout => 30), 'Stripe down: the job is tried again');
$j = job($id);
isnt($j->{status}, 'failed', "not failed for good ($j->{status})");
like($j->{error}, qr/^Stripe, the payment service, could not be reached \(.+\); it will be tried again shortly \(attempt \d of 5\)$/,
     "the row's error says so: $j->{error}");
like($j->{error_detail}, qr{no answer}, "detail: $j->{error_detail}");
unlike(join(' ', $j->{error}, $j->{error_detail}), qr/\Q@{[ $stripe->key ]}\E/,
       'the key is not in the row');

$stripe->control(down => { down => JSON::PP::false });
$j = wait_job($id);
is($j->{status}, 'done', 'Stripe back: done');
like(decode_json($j->{result})->{url}, qr{/checkout/cs_test_}, 'with its url');
is(scalar(grep { ($_->{metadata}{user_id} // '') eq $u3 }
          $stripe->objects('customers')), 1,
   'one customer, whatever the attempts saw');

# SIGTERM while Stripe does not answer: the job is given back, uncounted
$stripe->control('reset');
$stripe->control(down => { down => JSON::PP::true });
$id = add_job($u3, { action => 'portal' });
ok(wait_until(sub { scalar $stripe->requests('POST', '/v1/billing_portal') },
              timeout => 10), 'a portal job meets Stripe down');
is($t->stop_proc('billing', 'TERM'), 0, 'SIGTERM: the worker exits 0');
like(slurp("$dir/billing.log"), qr/job $id: released \(stopping\)/,
     'it released the job');
is(sql("SELECT status || ' ' || attempts FROM jobs WHERE id = '$id'"),
   'queued 0', 'queued again, the attempt not counted');
$stripe->control(down => { down => JSON::PP::false });
$t->start_worker('billing');
is(wait_job($id)->{status}, 'done', 'the next worker does it');

# --- a 400 from Stripe: failed at once ---------------------------------------

sql("INSERT INTO plans (id, name, audience, price_cents, stripe_price_id,"
    . " position) VALUES ('gold', 'Gold', 'viewer', 999, 'price_gold_x', 70)");
$stripe->control('reset');
$j = run_job($u3, { action => 'checkout', plan => 'gold' });
is($j->{status}, 'failed', 'a price Stripe does not know: failed');
is($j->{attempts}, 1, 'no retry');
is(scalar $stripe->requests('POST', '/v1/checkout/sessions'), 1,
   'one request, not tried again');
like($j->{error}, qr/^the payment service refused the request \(400: No such price: 'price_gold_x'\); this is a problem on our side/,
     "readable: $j->{error}");

# a wrong key: 401, failed at once; the key file is read per job
open(my $fh, '>', $stripe->key_file) or die;
print $fh "sk_test_wrong0000000000000\n";
close $fh;
$j = run_job($u1, { action => 'checkout', plan => 'basic' });
is($j->{status}, 'failed', 'a wrong key: failed');
like($j->{error}, qr/refused the request \(401: Invalid API Key provided: sk_test_\*+0000\)/,
     "(Stripe's redaction): $j->{error}");
open($fh, '>', $stripe->key_file) or die;
print $fh $stripe->key, "\n";
close $fh;

# --- refusals --------------------------------------------------------------

my %refused = (
    'no plan' => [ { action => 'checkout' }, qr/^a checkout needs a "plan"/ ],
    'unknown plan' => [ { action => 'checkout', plan => 'nope' },
                        qr/^there is no plan "nope"/ ],
    'free plan' => [ { action => 'checkout', plan => 'free' },
                     qr/^the plan "Free" is free/ ],
    'portal without a customer' => [ { action => 'portal' },
                                     qr/^no subscription to manage/ ],
    'unknown action' => [ { action => 'refund' },
                          qr/^unknown billing action "refund"/ ],
    'event not stored' => [ { action => 'event', event => 'evt_nothere' },
                            qr/^the Stripe event evt_nothere is not stored/ ],
    'bad event id' => [ { action => 'event', event => '../x' },
                        qr/^an event job needs "event"/ ],
);
my $u4 = $t->signup('four@example.com')->{user}{id};
for my $name (sort keys %refused) {
    my ($payload, $re) = @{ $refused{$name} };
    $j = run_job($u4, $payload);
    is("$j->{status} $j->{attempts}", 'failed 1', "$name: failed at once");
    like($j->{error}, $re, "$name: $j->{error}");
}

# --- paying: the events make the user 'basic' ---------------------------------

my $u5 = $t->signup('five@example.com')->{user}{id};
$j = run_job($u5, { action => 'checkout', plan => 'basic' });
$url = decode_json($j->{result})->{url};

my ($st, $h, $body) = $stripe->page(GET => $url);
is($st, 200, 'the checkout page');
like($body, qr/price_basic_monthly.*Pay/s, 'shows the price and Pay');

my $seen = () = $stripe->events;
($st, $h) = $stripe->page(POST => $url, {});
is($st, 303, 'Pay');
is($h->{location}, 'http://127.0.0.1:' . $t->port('http')
   . '/#pricing?checkout=success', 'back to the success url');

my @ev = ($stripe->events)[$seen .. $seen + 2];
is_deeply([ map { $_->{type} } @ev ], [ 'checkout.session.completed',
          'customer.subscription.created', 'invoice.paid' ],
          'three events');
ok($stripe->signature_ok($_->{body}, $_->{signature}),
   "$_->{type}: signed as Stripe signs") for @ev;
ok(!$stripe->signature_ok($ev[0]{body} . ' ', $ev[0]{signature}),
   'a changed body does not verify');

is(sql("SELECT plan FROM users WHERE id = '$u5'"), 'free',
   'before the events: free');

$j = apply_event($ev[0]);
is($j->{status}, 'done', 'checkout.session.completed applied');
my $sub = decode_json($ev[1]{body})->{data}{object}{id};
is(sql("SELECT plan FROM users WHERE id = '$u5'"), 'basic',
   "the user is 'basic'");
is(sql("SELECT status || ' ' || plan_id || ' ' || cancel_at_period_end ||"
       . " ' ' || (current_period_end > now() + interval '29 days')"
       . " FROM subscriptions WHERE id = '$sub'"),
   'active basic false true', 'the subscription is stored: active, its period');
is(sql("SELECT applied_at IS NOT NULL FROM billing_events WHERE id = '$ev[0]{id}'"),
   't', 'the event is marked applied');
is_deeply(decode_json($j->{result}), { event => $ev[0]{id}, subscription => $sub,
          status => 'active', plan => 'basic', creator_plan => 'starter' },
          'jobs.result says what was applied');
ok(scalar($stripe->requests('GET', "/v1/subscriptions/$sub")),
   'the subscription was read from Stripe');

is(apply_event($_)->{status}, 'done', "$_->{type} applied") for @ev[1, 2];
is(sql("SELECT plan FROM users WHERE id = '$u5'"), 'basic', 'still basic');

$j = run_job($u5, { action => 'checkout', plan => 'premium' });
is("$j->{status} $j->{attempts}", 'failed 1',
   'a second viewer subscription is refused');
like($j->{error}, qr/^you already subscribe to Basic; change or cancel it in the billing portal/,
     $j->{error});

# --- the same event twice -------------------------------------------------------

$stripe->control('reset');
$j = apply_event($ev[1]);
is($j->{status}, 'done', 'the same event again: done');
is(decode_json($j->{result})->{applied}, 'before', 'known as applied');
is(scalar $stripe->requests, 0, 'nothing asked of Stripe');
is(sql("SELECT count(*) FROM subscriptions WHERE user_id = '$u5'"), 1,
   'one subscription row');

# two jobs for one event not yet applied, at once
my @two = $stripe->control(send_event => { type => 'customer.subscription.updated',
                                           subscription => $sub });
store_event($two[0]);
my @ids = map { add_job(undef, { action => 'event', event => $two[0]{id} }) } 1 .. 2;
is_deeply([ map { wait_job($_)->{status} } @ids ], [ 'done', 'done' ],
          'two jobs for one event: both done');
is(sql("SELECT plan || ' ' || (SELECT count(*) FROM subscriptions"
       . " WHERE user_id = '$u5') FROM users WHERE id = '$u5'"), 'basic 1',
   'the same outcome');

# --- out of order: updated before created ---------------------------------------

my $u6 = $t->signup('six@example.com')->{user}{id};
$j = run_job($u6, { action => 'checkout', plan => 'basic' });
$seen = () = $stripe->events;
$stripe->page(POST => decode_json($j->{result})->{url}, {});
my @paid = ($stripe->events)[$seen .. $seen + 2];
my $sub6 = decode_json($paid[1]{body})->{data}{object}{id};

# switched to premium in the portal before any event arrived
$j = run_job($u6, { action => 'portal' });
is($j->{status}, 'done', 'portal job done');
my $portal = decode_json($j->{result})->{url};
like($portal, qr{^\Q@{[ $stripe->url ]}\E/portal/bps_\w+$}, "portal url: $portal");
my ($pp) = $stripe->requests('POST', '/v1/billing_portal/sessions');
is($pp->{params}{return_url}, 'http://127.0.0.1:' . $t->port('http') . '/#pricing',
   'return_url from media_public_url');
like($pp->{idempotency_key}, qr/^ngx_media-$j->{id}-portal$/, 'its Idempotency-Key');

$seen = () = $stripe->events;
($st, $h) = $stripe->page(POST => "$portal/switch",
                          { subscription => $sub6, price => 'price_premium_monthly' });
is($st, 303, 'switched to premium in the portal');
my ($updated) = ($stripe->events)[$seen];
is($updated->{type}, 'customer.subscription.updated', 'subscription.updated');

is(apply_event($updated)->{status}, 'done', 'updated applied first');
is(sql("SELECT plan FROM users WHERE id = '$u6'"), 'premium', 'premium');
is(apply_event($paid[1])->{status}, 'done', 'then created (which says basic)');
is(apply_event($paid[0])->{status}, 'done', 'then checkout.session.completed');
is(sql("SELECT plan FROM users WHERE id = '$u6'"), 'premium',
   'still premium: Stripe is asked, the event\'s copy is not trusted');
is(sql("SELECT plan_id FROM subscriptions WHERE id = '$sub6'"), 'premium',
   'the subscription row too');

# --- invoice.payment_failed: past_due, the plan kept ---------------------------

my @failed = @{ $stripe->control(payment_failed => { subscription => $sub6 }) };
is($failed[0]{type}, 'invoice.payment_failed', 'a payment fails');
is(apply_event($failed[0])->{status}, 'done', 'invoice.payment_failed applied');
is(sql("SELECT status FROM subscriptions WHERE id = '$sub6'"), 'past_due',
   'the subscription is past_due');
is(sql("SELECT plan FROM users WHERE id = '$u6'"), 'premium',
   'the plan is kept while Stripe retries');

# --- cancel at period end, then it ends; cancel now ------------------------------

$j = run_job($u5, { action => 'portal' });
$portal = decode_json($j->{result})->{url};
($st, $h, $body) = $stripe->page(GET => $portal);
like($body, qr/\Q$sub\E.*Cancel at period end.*Cancel now/s, 'the portal page');

$seen = () = $stripe->events;
$stripe->page(POST => "$portal/cancel", { subscription => $sub });
my ($at_end) = ($stripe->events)[$seen];
is(apply_event($at_end)->{status}, 'done', 'cancel at period end applied');
is(sql("SELECT cancel_at_period_end || ' ' || status FROM subscriptions"
       . " WHERE id = '$sub'"), 'true active', 'cancel_at_period_end, active');
is(sql("SELECT plan FROM users WHERE id = '$u5'"), 'basic',
   'basic until the period ends');

my ($ended) = @{ $stripe->control(advance => { subscription => $sub }) };
is($ended->{type}, 'customer.subscription.deleted', 'the period ends');
is(apply_event($ended)->{status}, 'done', 'subscription.deleted applied');
is(sql("SELECT plan FROM users WHERE id = '$u5'"), 'free', "back to 'free'");
is(sql("SELECT status FROM subscriptions WHERE id = '$sub'"), 'canceled',
   'the subscription is canceled');

$seen = () = $stripe->events;
($st) = $stripe->page(POST => "$portal/cancel_now", { subscription => $sub6 });
is($st, 404, "(the fake's portal does not touch another customer's "
   . 'subscription)');
$j = run_job($u6, { action => 'portal' });
$stripe->page(POST => decode_json($j->{result})->{url} . '/cancel_now',
              { subscription => $sub6 });
my ($deleted) = grep { $_->{type} eq 'customer.subscription.deleted' }
                ($stripe->events)[$seen .. scalar($stripe->events) - 1];
ok($deleted, 'cancel now in the portal: subscription.deleted');
is(apply_event($deleted)->{status}, 'done', 'applied');
is(sql("SELECT plan FROM users WHERE id = '$u6'"), 'free',
   "premium to 'free'");

# an old event after the end changes nothing: Stripe says canceled
is(apply_event($failed[1])->{status}, 'done', 'a stale subscription.updated');
is(sql("SELECT plan FROM users WHERE id = '$u6'"), 'free', "still 'free'");

# a creator plan is the other column; the viewer plan an admin gave stays
sql("UPDATE users SET plan = 'premium' WHERE id = '$u2'");
my @cp = grep { $_->{customer} eq sql("SELECT stripe_customer_id FROM users"
                                      . " WHERE id = '$u2'") }
         $stripe->objects('checkout_sessions');
$seen = () = $stripe->events;
$stripe->page(POST => $cp[0]{url}, {});
my @cev = ($stripe->events)[$seen .. $seen + 2];
is(apply_event($_)->{status}, 'done', "creator: $_->{type} applied") for @cev;
is(sql("SELECT plan || ' ' || creator_plan FROM users WHERE id = '$u2'"),
   'premium creator', 'a creator subscription sets creator_plan alone');

# switched across audiences: both plans follow
my $csub = decode_json($cev[1]{body})->{data}{object}{id};
$j = run_job($u2, { action => 'portal' });
$seen = () = $stripe->events;
$stripe->page(POST => decode_json($j->{result})->{url} . '/switch',
              { subscription => $csub, price => 'price_basic_monthly' });
is(apply_event(($stripe->events)[$seen])->{status}, 'done',
   'creator to basic applied');
is(sql("SELECT plan || ' ' || creator_plan FROM users WHERE id = '$u2'"),
   'basic starter', 'basic, and the creator plan back to starter');

# --- events we do not act on ------------------------------------------------------

my ($other) = $stripe->control(send_event => { type => 'customer.created',
    object => { id => 'cus_x', object => 'customer' } });
$j = apply_event($other);
is($j->{status}, 'done', 'customer.created: done');
like(decode_json($j->{result})->{ignored}, qr/does not act on/, 'ignored');
is(sql("SELECT applied_at IS NOT NULL FROM billing_events WHERE id = '$other->{id}'"),
   't', 'and marked applied');

# --- Stripe gone altogether ---------------------------------------------------------

$t->stop_proc('stripe');
$id = add_job($u5, { action => 'portal' });
ok(wait_until(sub { (sql("SELECT attempts FROM jobs WHERE id = '$id'") || 0) >= 1
                    && sql("SELECT status FROM jobs WHERE id = '$id'") eq 'queued' },
              timeout => 30), 'Stripe stopped: the portal job waits for a retry');
like(job($id)->{error}, qr/^Stripe, the payment service, could not be reached \(Failed to connect to 127\.0\.0\.1 port \d+ .*\); it will be tried again shortly \(attempt 1 of 5\)$/,
     job($id)->{error});

# --- the secret key --------------------------------------------------------------

my $logs = join '', map { slurp($_) } glob("$dir/*.log");
unlike($logs, qr/\Q@{[ $stripe->key ]}\E/, 'the secret key is in no log');
like(slurp("$dir/billing.log"), qr/stripe: POST \/v1\/checkout\/sessions: try 1 of 3: answered 500/,
     'the worker logs what Stripe answered');

$t->finish;
done_testing();


# --- helpers -------------------------------------------------------------------

sub sql {
    my ($q) = @_;
    my $r = $t->psql('media', $q);
    die "sql failed: $q" unless defined $r;
    chomp $r;
    return $r;
}

sub q_ { my ($s) = @_; $s =~ s/'/''/g; return "'$s'" }

# a billing job as the module queues it
sub add_job {
    my ($user, $payload) = @_;
    my $id = sql("INSERT INTO jobs (type, user_id, payload) VALUES ('billing', "
                 . (defined $user ? "'$user'" : 'NULL') . ', '
                 . q_(encode_json($payload)) . ") RETURNING id");
    $t->redis('XADD', 'media:billing', '*', 'job', $id);
    return $id;
}

sub job {
    my ($id) = @_;
    my $row = sql("SELECT row_to_json(j) FROM (SELECT id, status, attempts,"
                  . " coalesce(error, '') AS error,"
                  . " coalesce(error_detail, '') AS error_detail,"
                  . " result::text AS result FROM jobs WHERE id = '$id') j");
    return decode_json($row);
}

sub wait_job {
    my ($id) = @_;
    wait_until(sub { job($id)->{status} =~ /^(done|failed|dead)$/ },
               timeout => 60);
    return job($id);
}

sub run_job { wait_job(add_job(@_)) }

# a webhook's event as the module stores it, then its job
sub store_event {
    my ($ev) = @_;
    my $e = decode_json($ev->{body});
    sql("INSERT INTO billing_events (id, type, created, payload) VALUES ("
        . q_($e->{id}) . ', ' . q_($e->{type}) . ", $e->{created}, "
        . q_($ev->{body}) . ") ON CONFLICT (id) DO NOTHING");
}

sub apply_event {
    my ($ev) = @_;
    store_event($ev);
    return run_job(undef, { action => 'event', event => $ev->{id} });
}
