# The lowest rung's head start, in a browser: a two-rung video (480p and
# 360p) is offered for play while it transcodes, its first master lists
# the 360p rung alone (its own pass ran ahead; the 480p pass had not
# started), and hls.js plays it from the start to its end without a stall
# where the media was listed (MediaTest::stalls_where_listed) while the job
# runs, the 480p rung listed after it.
# Debian's chromium, headless, driven by playwright-core with the same
# driver as t/progressive_browser.t (t/browser/progressive.js) against
# nginx configured from nginx.conf.example.  The transcoder reads at most
# 2 s of source per second (MEDIA_TEST_TRANSCODE_PACE, test-only), each
# pass, and holds at 16 s until the video plays (MEDIA_TEST_TRANSCODE_HOLD,
# test-only, as in t/progressive_browser.t), so that the 30 s clip is still
# transcoding while it plays however late a busy machine starts the player.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MediaTest qw(slurp stalls_where_listed);

my $chromium = '/usr/bin/chromium';
my $driver = "$FindBin::Bin/browser/progressive.js";
plan skip_all => "$chromium is missing (make deps installs it)" unless -x $chromium;
plan skip_all => 'playwright-core is missing (make tools installs it)'
    unless -e "$FindBin::Bin/browser/node_modules/playwright-core/package.json";

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$ENV{MEDIA_TEST_TRANSCODE_PACE} = 2;
my $hold = $t->hold_transcode(16000);
$t->start_worker('transcoder');
$t->start_nginx;

my $video = $t->make_media('early.mp4',
    '-f lavfi -i testsrc2=size=854x480:rate=25:duration=30'
    . ' -f lavfi -i sine=frequency=440:duration=30 -c:v libx264'
    . ' -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest');

my $seen = $t->browser($driver, 240, $t->url('/'), $video, $hold);
is_deeply($seen->{steps}, [
    'launch', 'sign up', 'upload', 'Play shows while it transcodes',
    'play from the start to the end',
], 'every step done') or diag("stopped at: " . ($seen->{error} // ''));

my $log = slurp("$dir/transcoder.log") // '';
like($log, qr/g1\/360p head start pass done/, 'the 360p rung had a pass of its own');
like($log, qr/g1\/360p listed, playable.*g1\/480p listed/s,
     'listed first, the 480p rung after');

my @hls = @{ $seen->{responses} // [] };
my ($variant) = grep { $_->{path} =~ /\/\d+p\/index\.m3u8$/ } @hls;
like($variant->{path} // '', qr/\/g1\/360p\/index\.m3u8$/,
     'the player started on the 360p rung (the first master listed it alone)');

is($seen->{status_at_play}, 'processing', 'Play was offered while processing');
ok(($seen->{played_while_processing} // 0) > 0,
   "it played while the library still said processing ($seen->{played_while_processing} samples)");
ok($seen->{play}{ended}, 'it played to the end')
    or diag(explain($seen->{last}));
ok(abs(($seen->{last}{d} // 0) - 30) < 1, "the whole clip: $seen->{last}{d} s");
ok(defined $seen->{play}{first} && $seen->{play}{first} < 1,
   "from the start ($seen->{play}{first})");
stalls_where_listed($seen);
is_deeply([ grep { $_->{fatal} } @{ $seen->{hls_errors} // [] } ], [],
          'no fatal hls.js error');
is_deeply([ grep { $_->{status} != 200 } @hls ], [], 'every /hls/ answer 200');
ok((grep { $_->{path} =~ /index\.m3u8$/ && ($_->{cache} // '') eq 'no-cache' } @hls),
   'a growing playlist was read (no-cache)');
is_deeply([ grep { /pageerror|Content Security Policy/ } @{ $seen->{console} // [] } ], [],
          'no script error, no CSP report');

$t->finish;
done_testing;
