# Pictures in a real browser (t/browser/pictures.js: Debian's chromium,
# headless, through playwright-core) against nginx configured from
# nginx.conf.example, with the transcoder: covers and posters in the
# library, the waveform drawn by wavesurfer.js from waveform.json with a
# click seeking, the thumbnail strip on hover, no CSP violation (the
# example's style-src hash matches the vendored wavesurfer.js).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json encode_json);
use MediaTest qw(wait_until slurp);

my $driver = "$FindBin::Bin/browser/pictures.js";
MediaTest::need_browser();

my $t = MediaTest->new;
my $dir = $t->dir;

# the CSP's hash is that of wavesurfer.js's shadow style at pictures.js's
# height: a new wavesurfer.js needs a new hash
my $vendored = $t->build_path('www/vendor/wavesurfer.min.js');
my $hash = `node '$FindBin::Bin/browser/csp-hash.js' '$vendored'`;
chomp $hash;
like(slurp("$FindBin::Bin/../nginx.conf.example"), qr/'sha256-\Q$hash\E'/,
     "nginx.conf.example's style-src names wavesurfer's style ($hash)");

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_worker('transcoder');
$t->start_nginx;

$t->make_media('art.png', '-f lavfi -i color=c=orange:size=400x400 -frames:v 1');
my $song = $t->make_media('song.mp3', "-f lavfi -i sine=frequency=220:duration=8"
    . " -f lavfi -i sine=frequency=440:duration=8 -filter_complex amix"
    . " -i $dir/media/art.png -map 2 -c:a libmp3lame -c:v png"
    . " -disposition:v attached_pic -id3v2_version 3");
my $clip = $t->make_media('clip.mp4',
    '-f lavfi -i testsrc2=size=640x360:rate=25:duration=12'
    . ' -f lavfi -i sine=frequency=300:duration=12 -c:v libx264'
    . ' -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest');

my $password = 'a good long password';
my $user = $t->signup('pictures@example.com', $password);
my $s = upload($user, $song, 'audio/mpeg', 'Orange song');
my $v = upload($user, $clip, 'video/mp4', 'Test clip');
is(wait_ready($user, $s), 'ready', 'the song is transcoded');
is(wait_ready($user, $v), 'ready', 'the clip is transcoded');

local $ENV{EMAIL} = 'pictures@example.com';
local $ENV{PASSWORD} = $password;
my $seen = $t->browser($driver, 150, $t->url('/'), 'Orange song', 'Test clip');
is_deeply($seen->{steps}, [ 'launch', 'log in', 'covers in the library',
                            'the waveform', 'seek on the waveform',
                            'thumbnails on hover' ],
          'every step done') or diag("stopped at: " . ($seen->{error} // ''));

is_deeply($seen->{cover}, { w => 128, h => 128, file => 'cover-128.jpg' },
          'the song\'s cover in the library: 128x128');
is_deeply($seen->{poster}, { w => 640, h => 360, file => 'poster.jpg' },
          'the video\'s poster in the library');

my $w = $seen->{wave} // {};
is($w->{bars}, 800, 'the waveform from waveform.json: 8 s at 100 a second');
ok($w->{canvases} >= 1 && $w->{inked} > 1000,
   "wavesurfer drew it ($w->{canvases} canvases, $w->{inked} pixels)");
like($w->{poster} // '', qr/^cover-512\.jpg/, 'the player shows the cover');
ok(abs(($seen->{seek}{at} // 0) - 4) < 1,
   'a click in the middle of the waveform seeks to ~4 s: '
   . ($seen->{seek}{at} // '?'));
ok(!(grep { m{/(master\.m3u8|index\.m3u8|seg_)} && !m{/hls/T/} } @{ $seen->{requests} // [] }),
   'no audio fetched for decoding: wavesurfer only drew the peaks');
is(scalar(grep { m{/waveform\.json$} } @{ $seen->{requests} // [] }), 1,
   'waveform.json fetched once');

my $th = $seen->{thumb} // {};
is($th->{at}, 5, 'hovering at 75% of 12 s: the 5-10 s tile');
is($th->{position}, '-160px 0px', '... the sprite\'s second tile');
is("$th->{width} $th->{height}", '160px 90px', '... 160x90');
ok($th->{image}, '... from thumbs.jpg');
ok($seen->{hidden_above}, 'away from the controls: hidden');

is_deeply($seen->{csp} // [ 'none seen' ], [], 'no CSP violation');
ok(!(grep { !m{^(/|blob:$|data:$)} } @{ $seen->{requests} // [] }),
   'nothing from another origin')
    or diag(explain([ grep { !m{^(/|blob:$|data:$)} } @{ $seen->{requests} } ]));
is_deeply([ grep { !/status of 401 \(Unauthorized\)/ } @{ $seen->{console} // [] } ],
          [], 'no errors in the console')
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
    my ($u, $path, $type, $title) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => slurp($path),
                     headers => { 'Content-Type' => $type,
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
