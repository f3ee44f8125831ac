# The export dialog (www/exports.js) in a real browser (t/browser/exports.js:
# Debian's chromium, headless, through playwright-core) against nginx
# configured from nginx.conf.example, with the transcoder and the exporter:
# the formats and presets offered, an export whose progress bar moves
# live to 100 and ends "Ready", listed and deleted.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json encode_json);
use MediaTest qw(wait_until slurp);

my $driver = "$FindBin::Bin/browser/exports.js";
MediaTest::need_browser();

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_worker('transcoder');
$t->start_worker('exporter');
$t->start_nginx;

# long enough (20 s, two picture presets) for the bar to move on its way
my $file = $t->make_media('clip.mp4',
    '-f lavfi -i testsrc2=size=640x360:rate=25:duration=20'
    . ' -f lavfi -i sine=frequency=300:duration=20 -c:v libx264'
    . ' -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest');

my $password = 'a good long password';
my $user = $t->signup('exporter@example.com', $password);
my $media = upload($user, $file, 'My clip');
is(wait_ready($user, $media), 'ready', 'the clip is transcoded');

local $ENV{EMAIL} = 'exporter@example.com';
local $ENV{PASSWORD} = $password;
my $seen = $t->browser($driver, 170, $t->url('/'), 'My clip');
is_deeply($seen->{steps}, [ 'launch', 'log in', 'open the dialog',
                            'export with progress', 'listed, then deleted' ],
          'every step done') or diag("stopped at: " . ($seen->{error} // ''));

is_deeply($seen->{formats}, [ qw(mp3 wav flac ogg m4a mp4 webm) ],
          'a video: every format offered');
is($seen->{mp3}{bitrate}, 192000, 'mp3: 192 kb/s chosen at first');
is(scalar @{ $seen->{mp3}{bitrates} // [] }, 14, 'mp3: its 14 bitrates');
ok($seen->{mp3}{sharpen_disabled}, 'mp3: the picture presets are off');
ok(!$seen->{mp3}{audio_only_shown}, 'mp3: no "sound only"');

my @bar = @{ $seen->{bar} // [] };
is($bar[-1], 100, 'the bar ends at 100') or diag("@bar");
ok((grep { $_ > 0 && $_ < 100 } @bar), "it moved on the way: @bar");
is_deeply([ sort { $a <=> $b } @bar ], \@bar, 'never backwards');
like($seen->{status} // '', qr/^Ready: mp4, [\d.]+ (kB|MB), 0:20$/,
     "the dialog says: " . ($seen->{status} // ''));
like($seen->{listed}[0] // '', qr/^mp4 video_denoise, sharpen · ready/,
     'the export is listed with its presets')
    or diag(explain($seen->{listed}));

my $rows = $t->psql('media', "SELECT count(*) FROM exports WHERE media_id = '$media'"
                    . " AND deleted_at IS NULL");
is($rows + 0, 0, 'deleted from the dialog');
is_deeply([ grep { !/status of 401 \(Unauthorized\)/ } @{ $seen->{console} // [] } ],
          [], 'no other errors in the console')
    or diag(explain($seen->{console}));

$t->finish;
done_testing;


sub api {
    my ($method, $path, $u, $body) = @_;
    return $t->http($method => $path,
        headers => { Authorization => "Bearer $u->{access_token}",
                     (defined $body ? ('Content-Type' => 'application/json')
                                    : ()) },
        (defined $body ? (body => encode_json($body)) : ()));
}

sub upload {
    my ($u, $path, $title) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => slurp($path),
                     headers => { 'Content-Type' => 'video/mp4',
                                  Authorization => "Bearer $u->{access_token}" });
    die "upload: $r->{status}" unless $r->{status} == 202;
    my $id = $r->{json}{media}{id};
    api(PATCH => "/api/v1/media/$id", $u, { title => $title });
    return $id;
}

sub wait_ready {
    my ($u, $id) = @_;
    my $s = '';
    wait_until(sub {
        $s = api(GET => "/api/v1/media/$id", $u)->{json}{media}{status} // '';
        $s =~ /^(ready|failed)$/;
    }, timeout => 120, interval => 0.5);
    return $s;
}
