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
# not failed (MediaTest::played_while_transcoding).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json);
use MediaTest qw(played_while_transcoding);

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
    '-f lavfi -i testsrc2=size=640x360:rate=25:duration=24'
    . ' -f lavfi -i sine=frequency=440:duration=24 -c:v libx264'
    . ' -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest');

my $seen = $t->browser($driver, 240, $t->url('/'), $video, $hold);
played_while_transcoding($seen, $hold, 24);

# what the player fetched besides: the ended playlists and segments
# long-lived within the token's life, nothing from elsewhere
my @hls = @{ $seen->{responses} // [] };
ok((grep { $_->{path} =~ /index\.m3u8$/ && ($_->{cache} // '') =~ /immutable/ } @hls),
   'and then the ended one');
ok(!(grep { $_->{path} =~ /\.ts$/ && ($_->{cache} // '') !~ /^public, max-age=\d+, immutable$/ } @hls),
   'segments: public, max-age, immutable');
is_deeply($seen->{offsite} // [], [], 'nothing from another origin');

$t->finish;
done_testing;
