# The web client plays a video while it is still transcoding: Play shows in
# the library once a rung is listed (status still "processing"), and the
# video plays from the start to its end without a stall, the playlists
# growing under hls.js.  Debian's chromium, headless, driven by
# playwright-core (t/browser/progressive.js) against nginx configured from
# nginx.conf.example.  The transcoder reads at most 2 s of source per
# second (MEDIA_TEST_TRANSCODE_PACE, test-only), and holds at 16 s (two
# 6 s segments listed) until the video plays (MEDIA_TEST_TRANSCODE_HOLD,
# test-only: the driver removes the file), so that the 24 s clip is still
# transcoding while it plays however late a busy machine starts the player
# (on CI's the transcode once ended first).  A 360p clip (one rung), so
# that the transcode stays ahead of the player on a busy machine too (a
# 480p one with two rungs fell behind at a load average of 18 on 2 cores);
# a stall where the transcode is behind, or the browser starved, is shown,
# not failed (MediaTest::stalls_where_listed).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json);
use MediaTest qw(stalls_where_listed);

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
    '-f lavfi -i testsrc2=size=640x360:rate=25:duration=24'
    . ' -f lavfi -i sine=frequency=440:duration=24 -c:v libx264'
    . ' -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest');


my $seen = $t->browser($driver, 240, $t->url('/'), $video, $hold);
is_deeply($seen->{steps}, [
    'launch', 'sign up', 'upload', 'Play shows while it transcodes',
    'play from the start to the end',
], 'every step done') or diag("stopped at: " . ($seen->{error} // ''));

is($seen->{status_at_play}, 'processing', 'Play was offered while processing');
ok(($seen->{played_while_processing} // 0) > 0,
   "it played while the library still said processing ($seen->{played_while_processing} samples)");
ok($seen->{released} && !-e $hold,
   sprintf('the transcode let go once it played (at %.2f s, %.1f s in)',
           $seen->{released}{t} // 0, ($seen->{released}{at} // 0) / 1000));
ok($seen->{play}{ended}, 'it played to the end')
    or diag(explain($seen->{last}));
ok(abs(($seen->{last}{d} // 0) - 24) < 1, "the whole clip: $seen->{last}{d} s");
ok(defined $seen->{play}{first} && $seen->{play}{first} < 1,
   "from the start ($seen->{play}{first})");
stalls_where_listed($seen);
is_deeply([ grep { $_->{fatal} } @{ $seen->{hls_errors} // [] } ], [],
          'no fatal hls.js error');

# what the player fetched: growing playlists no-cache, then ended ones and
# segments long-lived within the token's life; nothing refused
my @hls = @{ $seen->{responses} // [] };
is_deeply([ grep { $_->{status} != 200 } @hls ], [], 'every /hls/ answer 200');
ok((grep { $_->{path} =~ /index\.m3u8$/ && ($_->{cache} // '') eq 'no-cache' } @hls),
   'a growing playlist was read (no-cache)');
ok((grep { $_->{path} =~ /index\.m3u8$/ && ($_->{cache} // '') =~ /immutable/ } @hls),
   'and then the ended one');
ok(!(grep { $_->{path} =~ /\.ts$/ && ($_->{cache} // '') !~ /^public, max-age=\d+, immutable$/ } @hls),
   'segments: public, max-age, immutable');
is_deeply($seen->{offsite} // [], [], 'nothing from another origin');
is_deeply([ grep { /pageerror|Content Security Policy/ } @{ $seen->{console} // [] } ], [],
          'no script error, no CSP report');

$t->finish;
done_testing;
