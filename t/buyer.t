# What a buyer does with what they bought, with the real workers: the
# media's owner never exported it, so the buyer exports it (in the format
# they want, counted against their own plan), makes a download link to
# that export (grant "purchase") and downloads it.  Without the
# entitlement, the same requests are 404: nothing says the media exists.
# The purchase itself (Stripe, the webhook, the entitlement) is
# t/purchases.t's; here the entitlement is a row.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(encode_json);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_nginx;
$t->start_worker('transcoder');
$t->start_worker('exporter');

my $ann = $t->signup('ann@example.com');     # sells
my $bob = $t->signup('bob@example.com');     # buys
my $cat = $t->signup('cat@example.com');     # does not

$t->make_media('tone.wav', '-f lavfi -i sine=frequency=440:duration=3');

my $r = $t->http(POST => '/api/v1/media', body => slurp("$dir/media/tone.wav"),
                 headers => { 'Content-Type' => 'audio/wav',
                              Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 202, 'the seller uploads');
my $m = $r->{json}{media}{id};
ok(wait_until(sub {
    (api(GET => "/api/v1/media/$m", $ann)->{json}{media}{status} // '')
        eq 'ready' }, timeout => 90, interval => 0.3), 'and it is ready');
is(api(PATCH => "/api/v1/media/$m", $ann,
       { title => 'Sunrise', privacy => 'public', price_cents => 500,
         currency => 'eur' })->{status}, 200, 'priced at 5 EUR, public');

# --- not bought: nothing ---------------------------------------------------

is(api(POST => "/api/v1/media/$m/exports", $cat, { format => 'mp3' })
     ->{status}, 404, 'not bought: export 404');
is(api(GET => "/api/v1/media/$m/exports", $cat)->{status}, 404,
   'not bought: export list 404');
is(api(POST => '/api/v1/downloads', $bob, { media_id => $m })->{status}, 404,
   'not bought yet: the original 404');

# --- bought ----------------------------------------------------------------

$t->psql('media', "INSERT INTO entitlements (user_id, media_id, amount_cents,"
         . " currency) VALUES ('$bob->{user}{id}', '$m', 500, 'eur')");

$r = api(POST => "/api/v1/media/$m/exports", $bob,
         { format => 'flac', enhance => ['loudness'] });
is($r->{status}, 202, 'bought: the buyer exports it') or diag($r->{content});
my $x = $r->{json}{export}{id};
my $e = {};
wait_until(sub {
    $e = api(GET => "/api/v1/exports/$x", $bob)->{json}{export} // {};
    ($e->{status} // '') =~ /^(ready|failed)$/;
}, timeout => 90, interval => 0.3);
is($e->{status}, 'ready', 'the export is ready') or diag explain $e;
is(api(GET => "/api/v1/exports/$x", $ann)->{status}, 404,
   "the buyer's export is the buyer's: the seller gets 404");
is(scalar @{ api(GET => "/api/v1/media/$m/exports", $bob)->{json}{items} },
   1, "listed among the buyer's exports of it");
is($t->psql('media', "SELECT used FROM usage_counters WHERE user_id ="
            . " '$bob->{user}{id}' AND quantity = 'exports'"), "1\n",
   "counted against the buyer's plan");

$r = api(POST => '/api/v1/downloads', $bob, { export_id => $x, max_uses => 1 });
is($r->{status}, 201, 'a download link to it') or diag($r->{content});
is($r->{json}{grant}, 'purchase', 'granted by the purchase');
is($r->{json}{filename}, 'Sunrise.flac', 'named after the title');

my $got = $t->http(GET => $r->{json}{url});
is($got->{status}, 200, 'downloaded');
like($got->{headers}{'content-disposition'} // '',
     qr/^attachment; filename="Sunrise\.flac"/, 'as an attachment');
is(length $got->{content}, $e->{size}, "the whole file ($e->{size} bytes)");
is(substr($got->{content}, 0, 4), 'fLaC', 'a FLAC file');
is($t->http(GET => $r->{json}{url})->{status}, 410, 'its one use spent: 410');

is(api(POST => '/api/v1/downloads', $cat, { export_id => $x })->{status}, 404,
   "someone else cannot link the buyer's export: 404");
is(api(POST => '/api/v1/downloads', $bob, { media_id => $m })->{status}, 404,
   'the original stays the seller\'s: 404');

$t->finish;
done_testing;


sub api {
    my ($method, $path, $u, $body) = @_;
    return $t->http($method => $path,
                    headers => { ($u ? (Authorization => "Bearer $u->{access_token}") : ()),
                                 ($body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => encode_json($body)) : ()));
}
