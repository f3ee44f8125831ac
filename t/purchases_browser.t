# Paid media in a real browser (t/browser/purchases.js: Debian's chromium,
# headless, through playwright-core) against nginx configured from
# nginx.conf.example, the real billing worker and t/stripe-fake sending its
# webhooks: a price set in the library (and one refused), the buy link,
# Stripe's (the fake's) checkout page, the success page waiting for the
# webhook and then showing the purchase, the activity list, and buying
# again refused with the server's sentence.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json encode_json);
use MediaTest qw(wait_until slurp);
use StripeFake;

my $driver = "$FindBin::Bin/browser/purchases.js";
MediaTest::need_browser();

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
my $stripe = StripeFake->start($t,
                               webhook_url => $t->url('/api/v1/webhooks/stripe'));
$t->start_worker('transcoder');
$t->start_worker('billing');
$t->start_nginx;

# the seller and a ready, public media, through the API
my $ann = $t->signup('seller@example.com');
my $clip = $t->make_media('tone.wav', '-f lavfi -i sine=frequency=440:duration=1');
my $r = $t->http(POST => '/api/v1/media', body => slurp($clip),
                 headers => { 'Content-Type' => 'audio/wav',
                              Authorization => "Bearer $ann->{access_token}" });
my $media = $r->{json}{media}{id};
ok(wait_until(sub {
    ($t->psql('media', "SELECT status FROM media WHERE id = '$media'") // '')
        eq "ready\n" }, timeout => 60, interval => 0.3), 'the media is ready');
$t->http(PATCH => "/api/v1/media/$media",
         headers => { 'Content-Type' => 'application/json',
                      Authorization => "Bearer $ann->{access_token}" },
         body => encode_json({ title => 'Tone', privacy => 'public' }));

local $ENV{HOME} = $dir;
local $ENV{SELLER} = 'seller@example.com';
local $ENV{PASSWORD} = 'a good password';
local $ENV{MEDIA} = $media;

my $out = `timeout 200 node '$driver' '${\ $t->url('/')}' 2>'$dir/browser.err'`;
my $rc = $? >> 8;
my $seen = eval { decode_json($out) } // {};

is($rc, 0, 'the browser run completed')
    or diag("exit $rc: " . ($seen->{error} // '(no JSON)') . "\n"
            . slurp("$dir/browser.err") . slurp("$dir/billing.log"));
is_deeply($seen->{steps}, ['launch', 'seller prices the media',
                           'seller refused a bad price', 'buyer signs up',
                           'buy', 'pay', 'activity', 'buy again'],
          'every step done')
    or diag('stopped at: ' . ($seen->{error} // '') . "\nthe form said: "
            . ($seen->{auth_error} // '(nothing)') . "\nthe last API answers: "
            . join(', ', map { "$_->{method} $_->{path} $_->{status}" }
                         grep { defined } @{ $seen->{responses} // [] }[-12 .. -1]));

is($seen->{buy_link}, "#buy/$media", 'a priced public media shows its buy link');
like($seen->{bad_price} // '', qr/price_cents must be from 50/,
     "a price under the smallest charge: the server's sentence");
like($seen->{checkout_items} // '', qr/Tone: 4\.99 EUR/,
     "Stripe's page sells it by title, at the seller's price");
ok(($seen->{slow_scripts} // 0) >= 2,
   'the return from Stripe loaded its later scripts slowly (held 1.5 s)');
like($seen->{confirming} // '', qr/waiting for Stripe to confirm/,
     'back from Stripe, the page waits for the confirmation, although '
     . '/auth/me answered before the scripts that draw it had run');
like($seen->{confirmed} // '', qr/Thank you: Tone is yours/,
     'and says so once the webhook is applied');
like(join('|', @{ $seen->{owned} // [] }), qr/Tone.*4\.99/,
     'the purchase is listed with what was paid');
is($t->psql('media', 'SELECT count(*) FROM entitlements'), "1\n",
   'one entitlement');
my ($bought) = grep { $_->{type} eq 'purchase' } @{ $seen->{activity} // [] };
like($bought->{text} // '', qr/^Bought Tone for .*4\.99/, 'the activity lists the purchase');
ok($seen->{library_hidden}, 'the activity view replaces the library');
like($seen->{again} // '', qr/you bought this media already/,
     "buying again: the server's refusal shown");
ok(!$seen->{again_button}, 'and the button usable again');

# the API's refusals are expected; so is the fake's missing favicon
my $fake = $stripe->url;
my @console = grep { !/^error: Failed to load resource: the server responded with a status of (401|409|422)\b/
                     && !/status of 404 .* at \Q$fake\E\/favicon\.ico$/ }
              @{ $seen->{console} // [] };
is_deeply(\@console, [], 'console: no script error or CSP violation');

$t->finish;
done_testing;
