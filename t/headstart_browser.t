# The lowest rung's head start, in a browser: a two-rung video (480p and
# 360p) is offered for play while it transcodes, its first master lists
# the 360p rung alone (its own pass ran ahead; the 480p pass had not
# started), and hls.js plays it from the start to its end without a stall
# where the media was listed (MediaTest::played_while_transcoding) while the job
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
use MediaTest qw(slurp played_while_transcoding);

my $driver = "$FindBin::Bin/browser/progressive.js";
MediaTest::need_browser();

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
played_while_transcoding($seen, $hold, 30);

my $log = slurp("$dir/transcoder.log") // '';
like($log, qr/g1\/360p head start pass done/, 'the 360p rung had a pass of its own');
like($log, qr/g1\/360p listed, playable.*g1\/480p listed/s,
     'listed first, the 480p rung after');

my @hls = @{ $seen->{responses} // [] };
my ($variant) = grep { $_->{path} =~ /\/\d+p\/index\.m3u8$/ } @hls;
like($variant->{path} // '', qr/\/g1\/360p\/index\.m3u8$/,
     'the player started on the 360p rung (the first master listed it alone)');

$t->finish;
done_testing;
