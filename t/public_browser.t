# An anonymous visitor opens a share link in a real browser (Debian's
# chromium, headless, through playwright-core; t/browser/share.js) against
# nginx configured from nginx.conf.example: the page made by the module,
# Play, an anonymous playback token, hls.js, and the video plays; its
# poster shows.  A song's page shows its cover and draws its waveform
# (wavesurfer.js, from waveform.json) before anything plays; a click on
# the waveform plays from there; a comment at 0:03 shows as a mark on the
# waveform at 3 s.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json encode_json);
use MediaTest qw(wait_until slurp);

my $driver = "$FindBin::Bin/browser/share.js";
MediaTest::need_browser();

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_worker('transcoder');
$t->start_nginx;

my $file = $t->make_media('clip.mp4',
    '-f lavfi -i testsrc2=size=640x360:rate=25:duration=8'
    . ' -f lavfi -i sine=frequency=300:duration=8 -c:v libx264'
    . ' -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest');

$t->make_media('art.png', '-f lavfi -i color=c=orange:size=400x400 -frames:v 1');
my $song_file = $t->make_media('song.mp3', "-f lavfi -i sine=frequency=220:duration=8"
    . " -i $dir/media/art.png -map 0 -map 1 -c:a libmp3lame -c:v png"
    . " -disposition:v attached_pic -id3v2_version 3");

my $password = 'a good long password';
my $user = $t->signup('creator@example.com', $password);
api(PATCH => '/api/v1/me', $user, { handle => 'the_creator',
                                     display_name => 'The Creator' });
my $r = $t->http(POST => '/api/v1/media', body => slurp($file),
                 headers => { 'Content-Type' => 'video/mp4',
                              Authorization => "Bearer $user->{access_token}" });
is($r->{status}, 202, 'uploaded');
my $id = $r->{json}{media}{id};
api(PATCH => "/api/v1/media/$id", $user, { title => 'A shared clip',
                                           privacy => 'unlisted' });

$r = $t->http(POST => '/api/v1/media', body => slurp($song_file),
              headers => { 'Content-Type' => 'audio/mpeg',
                           Authorization => "Bearer $user->{access_token}" });
my $song = $r->{json}{media}{id};
api(PATCH => "/api/v1/media/$song", $user, { title => 'A shared song',
                                             privacy => 'public' });

for my $m ($id, $song) {
    my $s = '';
    wait_until(sub {
        $s = api(GET => "/api/v1/media/$m", $user)->{json}{media}{status} // '';
        $s =~ /^(ready|failed)$/;
    }, timeout => 120, interval => 0.5);
    is($s, 'ready', 'transcoded');
}

# a comment at 0:03 of the song's 8 s: a mark on its waveform
$r = api(POST => "/api/v1/media/$song/comments", $user, { body => 'the drop', at_ms => 3000 });
is($r->{status}, 201, 'a comment on the song at 0:03');

# the card's picture: the poster, by a URL that opens nothing else
my $page = $t->http(GET => "/m/$id")->{content};
my ($image) = $page =~ m{<meta property="og:image" content="http://[^/]+(/hls/[^"]+/poster\.jpg)">};
ok($image, 'og:image: the poster') or diag($page);
$r = $t->http(GET => $image // '/none');
is($r->{status}, 200, '  it opens');
is($r->{headers}{'content-type'}, 'image/jpeg', '  a JPEG');
(my $rung = $image // '') =~ s{poster\.jpg$}{360p/index.m3u8};
is($t->http(GET => $rung)->{status}, 403, '  its token opens no rung');

(my $q = $t->url("/m/$id")) =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
my $o = $t->http(GET => "/api/v1/oembed?format=json&url=$q")->{json} // {};
is("$o->{width}x$o->{height}", '640x360', 'oEmbed: a 16:9 player');
is("$o->{thumbnail_width}x$o->{thumbnail_height}", '640x360',
   '  the thumbnail: the top rung\'s picture');
my ($thumb) = ($o->{thumbnail_url} // '') =~ m{^http://[^/]+(/hls/.*)$};
is($t->http(GET => $thumb // '/none')->{headers}{'content-type'}, 'image/jpeg',
   '  it opens: a JPEG');

local $ENV{EMAIL} = 'creator@example.com';
local $ENV{PASSWORD} = $password;
my $seen = $t->browser($driver, 140, $t->url("/m/$id"), $t->url("/embed/$id"), $t->url("/m/$song"));
is_deeply($seen->{steps}, [ 'launch', 'the library links it', 'open the share link', 'play',
                            'embed', 'the song\'s page', 'click on the waveform' ],
          'every step done') or diag("stopped at: " . ($seen->{error} // ''));
like($seen->{library_link} // '', qr{^/m/($id|$song)$}, "the library's Share link: the page");
is($seen->{title}, 'A shared clip', 'the page shows the title');
like($seen->{by} // '', qr/The Creator\s+\@the_creator/, '  and the creator');
is($seen->{cookies}, 0, 'the visitor has no session');
is_deeply($seen->{requests}, [ ({ url => "/api/v1/media/$id/playback", status => 200 }) x 2,
                               { url => "/api/v1/media/$song/playback", status => 200 } ],
          'one anonymous playback token for each player, and the song')
    or diag(explain($seen->{requests}));
is_deeply($seen->{poster}, { w => 640, h => 360 }, 'the video\'s poster shows: 640x360')
    or diag(explain($seen->{poster}));
ok(($seen->{time} // 0) > 0.5, "it plays: at " . ($seen->{time} // '-') . ' s');
ok(($seen->{embed_time} // 0) > 0.5, "the embed player in another site's iframe plays: at "
   . ($seen->{embed_time} // '-') . ' s');
my $so = $seen->{song} // {};
is_deeply($so->{cover}, { w => 512, h => 512, shown => JSON::PP::true,
                          file => 'cover-512.jpg?v=0' },
          'the song\'s page shows its 512 px cover') or diag(explain($so->{cover}));
is($so->{bars}, 800, '  its waveform from waveform.json: 8 s at 100 a second');
ok(($so->{canvases} // 0) >= 1 && ($so->{inked} // 0) > 1000,
   "  drawn by wavesurfer.js ($so->{canvases} canvases, $so->{inked} pixels)");
is_deeply([ map { "$_->{at_ms} $_->{title}" } @{ $so->{marks} // [] } ],
          [ '3000 0:03 the drop' ], 'the comment: a mark on the waveform')
    or diag(explain($so->{marks}));
ok(abs(($so->{marks}[0]{at_s} // 0) - 3) <= 0.2,
   '  at 3 s of 8: at ' . ($so->{marks}[0]{at_s} // '-') . ' s');
is($so->{played_before_click}, 0,
   '  before a token is asked for or any audio fetched');
ok(($so->{at} // 0) > 3.5, 'a click in its middle plays from there: at '
   . ($so->{at} // '-') . ' s');
# the comments hook asks the social room's route; a 404 from it (a build
# without that room) is no error
my @other = grep { !m{^404 /api/v1/media/[^/]+/comments$} } @{ $seen->{failed} // [] };
my @errors = grep { !/status of 404/ } @{ $seen->{console} // [] };
ok(!@other && !@errors
   && grep({ /status of 404/ } @{ $seen->{console} // [] })
      <= @{ $seen->{failed} // [] },
   'no errors in the console but the comments hook\'s 404')
    or diag(explain($seen->{console}, $seen->{failed}));

$t->finish;
done_testing;


sub api {
    my ($method, $path, $u, $body) = @_;
    return $t->http($method => $path,
                    headers => { ($u ? (Authorization => "Bearer $u->{access_token}") : ()),
                                 (defined $body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => encode_json($body)) : ()));
}
