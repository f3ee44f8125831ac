# Billing from end to end, every part real but Stripe's remote end
# (t/stripe-fake), with nginx configured from nginx.conf.example as
# `make run` does: a user signs up and sees the plans; the free plan plays
# up to 720p and refuses an upload over its quota with a 402 that says what
# to do; the user upgrades through the checkout (the module's route, the
# billing worker over libcurl, the fake's checkout page); Stripe's signed
# webhooks reach the module, which stores and queues them, and the worker
# applies them after re-reading the subscription; the next playback URL
# carries 1080p; cancelling in the portal brings the free plan back.

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
my $stripe = StripeFake->start($t, webhook_url => $t->url('/api/v1/webhooks/stripe'));
$t->start_worker('transcoder');
$t->start_worker('billing');
$t->start_nginx;

my $clip = $t->make_media('hd.mp4',
    '-f lavfi -i testsrc2=size=1920x1080:rate=25:duration=2'
    . ' -f lavfi -i sine=frequency=440:duration=2 -c:v libx264'
    . ' -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest');

# --- a new user, the plans, the free plan ----------------------------------

my $ann = $t->signup('ann@example.com');
my %plans = map { $_->{id} => $_ }
            @{ api(GET => '/api/v1/plans')->{json}{plans} };
ok($plans{basic} && $plans{premium}, 'the plans are listed');

my $id = upload($ann)->{json}{media}{id};
is(wait_ready($id), 'ready', 'a 1080p upload is transcoded');
is_deeply([rungs($ann, $id)], [qw(720p 480p 360p)],
          'the free plan plays up to 720p');

$t->psql('media', "UPDATE plans SET media_count = 1 WHERE id = 'starter'");
my $r = upload($ann);
is($r->{status}, 402, 'a second upload over the Starter quota: 402');
like($r->{json}{error}{message}, qr/delete one, or upgrade to the creator plan/,
     'saying what to do');
$t->psql('media', "UPDATE plans SET media_count = 10 WHERE id = 'starter'");

# --- the upgrade ------------------------------------------------------------

$r = api(POST => '/api/v1/billing/checkout', $ann, { plan => 'basic' });
my $url = $r->{json}{url};
if ($r->{status} == 202) {
    my $job = $r->{json}{job}{id};
    wait_until(sub {
        $url = api(GET => "/api/v1/jobs/$job", $ann)->{json}{job}{result}{url};
    }, timeout => 20);
}
like($url // '', qr{^\Q${\ $stripe->url}\E/checkout/cs_\w+$},
     "checkout: the billing worker's session, on Stripe's (the fake's) page");

# the success page alone grants nothing
is(api(GET => '/api/v1/subscription', $ann)->{json}{subscription}{viewer}{plan},
   'free', 'before paying: still free');

my $pay = HTTP::Tiny->new(timeout => 10, max_redirect => 0)->post($url);
ok($pay->{status} == 303 || $pay->{status} == 302 || $pay->{status} == 200,
   "paying on the checkout page: $pay->{status}");
like($pay->{headers}{location} // '', qr{^\Q${\ $t->url('/')}\E},
     'and back to our site');

my $sub;
ok(wait_until(sub {
    $sub = api(GET => '/api/v1/subscription', $ann)->{json}{subscription}{viewer};
    $sub->{plan} eq 'basic' && $sub->{status} eq 'active';
}, timeout => 30), "Stripe's webhooks applied: the viewer plan is basic, active")
    or diag(explain($sub), slurp("$dir/billing.log"));
like($sub->{subscription_id} // '', qr/^sub_\w+$/, "Stripe's subscription id");
ok($sub->{current_period_end}, 'with its period end');

my $events = $t->psql('media', 'SELECT type || \' \' || (applied_at IS NOT NULL)'
                               . ' FROM billing_events ORDER BY type');
like($events, qr/^checkout\.session\.completed true$/m,
     'checkout.session.completed: verified, stored, applied');
like($events, qr/^customer\.subscription\.created true$/m,
     'customer.subscription.created too');
like($events, qr/^invoice\.paid true$/m, 'and invoice.paid');

ok(wait_until(sub { (rungs($ann, $id))[0] eq '1080p' }, timeout => 5),
   'the next playback URL carries 1080p');

# --- the portal: cancel now -------------------------------------------------

$r = api(POST => '/api/v1/billing/portal', $ann, {});
$url = $r->{json}{url};
if ($r->{status} == 202) {
    my $job = $r->{json}{job}{id};
    wait_until(sub {
        $url = api(GET => "/api/v1/jobs/$job", $ann)->{json}{job}{result}{url};
    }, timeout => 20);
}
like($url // '', qr{^\Q${\ $stripe->url}\E/portal/\w+$}, 'the customer portal');
my $cancel = HTTP::Tiny->new(timeout => 10, max_redirect => 0)
    ->post_form("$url/cancel_now", { subscription => $sub->{subscription_id} });
ok($cancel->{status} =~ /^(200|302|303)$/, "cancel now: $cancel->{status}");

ok(wait_until(sub {
    $sub = api(GET => '/api/v1/subscription', $ann)->{json}{subscription}{viewer};
    $sub->{plan} eq 'free';
}, timeout => 30), 'customer.subscription.deleted applied: back to free')
    or diag(explain($sub));
is($sub->{status}, 'canceled', "the subscription's status: canceled");
is_deeply([rungs($ann, $id)], [qw(720p 480p 360p)],
          'the next playback URL is capped at 720p again');

is($t->psql('media', "SELECT count(*) FROM jobs WHERE type = 'billing'"
                     . " AND status <> 'done'"), "0\n",
   'every billing job done');

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

sub upload {
    my ($user) = @_;
    return $t->http(POST => '/api/v1/media', body => slurp($clip),
                    headers => { 'Content-Type' => 'video/mp4',
                                 Authorization => "Bearer $user->{access_token}" });
}

sub wait_ready {
    my ($media) = @_;
    my $s = '';
    wait_until(sub {
        $s = api(GET => "/api/v1/media/$media", $ann)->{json}{media}{status} // '';
        $s =~ /^(ready|failed)$/;
    }, timeout => 120, interval => 0.5);
    return $s;
}

# the rungs a fresh playback URL's master lists
sub rungs {
    my ($user, $media) = @_;
    my $u = api(POST => "/api/v1/media/$media/playback", $user, {})->{json}{url}
        // return ();
    # the rungs listed, highest first (their order in the master is
    # checked once, in t/playback.t)
    return sort { ($b =~ /(\d+)/)[0] <=> ($a =~ /(\d+)/)[0] }
        $t->http(GET => $u)->{content} =~ /^(?:g\d+\/)?(\w+)\/index\.m3u8$/mg;
}
