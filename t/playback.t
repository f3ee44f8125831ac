# Playback: signed HLS.  The playback route decides who may watch; the
# token then authorizes every playlist and segment by HMAC and time alone,
# so they are served with PostgreSQL and Redis both down.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP qw(decode_json);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;

my $conf = <<'EOF';
%%MAIN%%
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;
    media_url_key KEYS;
    media_url_ttl TTL;
    EXTRA

    log_format tok '$uri $status $media_token_status';

    server {
        listen 127.0.0.1:%%PORT%%;

        location /api/ {
            media_api;
        }

        location /hls/ {
            media_hls /_media_files/;
            access_log %%DIR%%/hls.log tok;
        }

        location /_media_files/ {
            internal;
            alias %%DIR%%/storage/hls/;
            types {
                application/vnd.apple.mpegurl m3u8;
                video/mp2t ts;
            }
            add_header Cache-Control "public, max-age=31536000, immutable";
            access_log %%DIR%%/hls.log tok;
        }
    }
}
EOF

key('a.key');
key('b.key');
key('c.key');
config("$dir/a.key", '1h');
$t->jwt_key;
$t->migrate;
$t->start_nginx;
$t->start_worker('transcoder');

my $ann = $t->signup('ann@example.com');
my $bob = $t->signup('bob@example.com');

$t->make_media('hd.mp4', '-f lavfi -i testsrc2=size=1920x1080:rate=30:duration=4'
               . ' -f lavfi -i sine=duration=4 -c:v libx264 -preset ultrafast'
               . ' -pix_fmt yuv420p -c:a aac -shortest');
my $id = upload($ann, 'hd.mp4');
is(wait_ready($ann, $id), 'ready', 'media ready');

# --- the playback URL -------------------------------------------------------

my $r = api(POST => "/api/v1/media/$id/playback", $ann);
is($r->{status}, 200, 'owner: playback URL');
my $url = $r->{json}{url};
like($url, qr{^/hls/[A-Za-z0-9_-]{56}\.[A-Za-z0-9_-]{43}/$id/master\.m3u8$},
     "token in the path: $url");
like($r->{json}{expires_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'expires_at');

is(api(POST => "/api/v1/media/$id/playback", $bob)->{status}, 404,
   "someone else's private media: 404");
is(api(POST => "/api/v1/media/$id/playback")->{status}, 404,
   'anonymous, private media: 404');
api(PATCH => "/api/v1/media/$id", $ann, '{"privacy":"unlisted"}');
is(api(POST => "/api/v1/media/$id/playback", $bob)->{status}, 200,
   'unlisted: others may watch');
is(api(POST => "/api/v1/media/$id/playback")->{status}, 200,
   'unlisted: anonymous may watch');

# --- master, variants, segments --------------------------------------------

$r = $t->http(GET => $url);
is($r->{status}, 200, 'master: 200');
is($r->{headers}{'content-type'}, 'application/vnd.apple.mpegurl',
   'master: HLS type');
my $master = $r->{content};
# each rung in the transcode's generation (progressive publishing)
my @variants = $master =~ /^(g\d+\/\w+)\/index\.m3u8$/mg;
is_deeply([ map { s{^g\d+/}{}r } @variants ], [qw(480p 360p 720p)],
          'free plan: rungs up to 720p, 1080p left out; 480p first (players '
          . 'start on the first), then from the lowest bandwidth up');
like($master, qr/#EXT-X-STREAM-INF:BANDWIDTH=\d+,AVERAGE-BANDWIDTH=\d+,CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2",RESOLUTION=1280x720,FRAME-RATE=30\.000/,
     'master: measured BANDWIDTH, AVERAGE-BANDWIDTH, CODECS, RESOLUTION, FRAME-RATE');
unlike($master, qr{^/}m, 'master: relative URIs');
like($master, qr/^#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS$/m,
     'master: version 3, and independent segments for every playlist');

(my $base = $url) =~ s/master\.m3u8$//;
my ($segs, $ok) = (0, 0);
for my $v (@variants) {
    $r = $t->http(GET => "$base$v/index.m3u8");
    is($r->{status}, 200, "$v playlist: 200");
    like($r->{content}, qr/^#EXT-X-VERSION:3$/m,
         "$v playlist: EXT-X-VERSION 3, as it uses nothing past it");
    for my $seg ($r->{content} =~ /^(seg_\d+\.ts)$/mg) {
        my $s = $t->http(GET => "$base$v/$seg");
        $segs++;
        $ok++ if $s->{status} == 200 && $s->{headers}{'content-type'} eq 'video/mp2t'
                 && length $s->{content} > 1000;
    }
}
ok($segs >= 3, "segments listed: $segs");
is($ok, $segs, 'every segment 200, video/mp2t, served as a file');

my $first = "$base$variants[0]/seg_00000.ts";
$r = $t->http(GET => $first, headers => { Range => 'bytes=0-187' });
is($r->{status}, 206, 'byte ranges: 206');
is(length $r->{content}, 188, 'one TS packet');
like($r->{headers}{'cache-control'} // '', qr/immutable/, 'cache headers from the file location');

my $d = `ffprobe -v error -show_entries format=duration -of csv=p=0 '@{[ $t->url($url) ]}' 2>/dev/null`;
ok($d =~ /^([\d.]+)/ && abs($1 - 4) < 1, "ffprobe reads the whole stream from the master URL ($d)");

# --- refusals ---------------------------------------------------------------

is($t->http(GET => "${base}1080p/index.m3u8")->{status}, 403, 'over-rung: 403');
# a character of the signed payload (the expiry), not the version byte
my $tampered = $url;
substr($tampered, 5 + 4, 1) = substr($url, 5 + 4, 1) eq 'A' ? 'B' : 'A';
is($t->http(GET => $tampered)->{status}, 403, 'tampered token: 403');
(my $other = $url) =~ s/$id/00000000-0000-4000-8000-000000000000/;
is($t->http(GET => $other)->{status}, 403, 'another media under this token: 403');
is($t->http(GET => "/hls/short/$id/master.m3u8")->{status}, 403, 'malformed token: 403');
is($t->http(GET => "${base}720p/..%2f..%2fx")->{status}, 400, 'path escape: 400');
is($t->http(GET => "${base}720p/SEG.TS")->{status}, 400, 'unexpected characters: 400');
is($t->http(GET => "/_media_files/$id/720p/index.m3u8")->{status}, 404,
   'the file location is internal only');

# only playback files: master.m3u8, the allowed rungs' index.m3u8 and
# seg_N.ts, poster.jpg, waveform.json; nothing else in the media's
# directory, and never the internal location
my ($token) = $url =~ m{^/hls/([^/]+)/};
my $hls = "$dir/storage/hls";
mkdir "$hls/.$id.4242";
mkdir "$hls/.$id.4242/720p";
for my $f ("$hls/$id/.hidden", "$hls/$id/g1/720p/notes.txt",
           "$hls/.$id.4242/720p/index.m3u8")
{
    open(my $fh, '>', $f) or die "$f: $!";
    print $fh "not for viewers\n";
    close $fh;
}

for my $case (
    [ "${base}rungs.txt", 'rungs.txt (the bitrates of every rung)' ],
    [ "${base}1080p", 'a bare rung directory above the token' ],
    [ "${base}720p", 'a bare rung directory' ],
    [ "${base}720p/", 'a rung directory with a slash' ],
    [ "${base}720p/notes.txt", 'another file in a rung directory' ],
    [ "${base}g1/720p/notes.txt", "another file in a generation's rung" ],
    [ "${base}g1/rungs.txt", 'a file in a generation' ],
    [ "${base}g1/done", "a generation's end marker" ],
    [ "${base}g1/720p/index.m3u8.tmp", 'a playlist being written' ],
    [ "${base}g1/720p/seg_00000.ts.tmp", 'a segment being written' ],
    [ "${base}index.m3u8", 'an unknown name' ],
    [ "${base}720p/seg_00000.mp4", 'an unknown segment name' ],
    [ "${base}.hidden", 'a dotfile' ],
    [ "${base}720p/.hidden", 'a dotfile in a rung' ],
    [ "/hls/$token/.$id.4242/720p/index.m3u8", "the transcoder's work directory" ],
    [ "/hls/$token/$id.old.4242/master.m3u8", 'an old directory' ],
    [ "${base}720p/seg_" . ('0' x 300) . '.ts', 'an over-long segment name' ],
    [ $base . ('a' x 200), 'an over-long name' ],
    [ '/hls/' . ('A' x 200) . "/$id/master.m3u8", 'an over-long token' ],
)
{
    my ($path, $name) = @$case;
    my $r = get_raw($path);
    ok($r->{status} == 400 && ($r->{json}{error}{code} // '') eq 'bad_path',
       "$name: 400 bad_path") or diag("$r->{status} $path");
    my $all = join("\n", $r->{content} // '',
                   map { ref $_ ? @$_ : $_ } values %{ $r->{headers} });
    unlike($all, qr/_media_files|storage/, "$name: no internal path in the answer");
    ok(!defined $r->{headers}{location}, "$name: no Location");
}

$r = get_raw("${base}720p");
like($r->{json}{error}{message} // '', qr/expected master\.m3u8, \[g<N>\/\]<rung>\/index\.m3u8, \[g<N>\/\]<rung>\/seg_N\.ts, poster\.jpg, cover-512\.jpg, cover-128\.jpg, thumbs\.jpg, thumbs\.vtt or waveform\.json/,
     'the refusal says which files there are');

# a rung above the token: 403, whichever file
$r = $t->http(GET => "${base}1080p/seg_00000.ts");
is($r->{status}, 403, 'over-rung segment: 403');
like($r->{json}{error}{message} // '', qr/allows rungs up to 720p/,
     '... saying up to which rung');
ok(-e "$hls/$id/g1/1080p/seg_00000.ts", '... although the file is there');

# the id as issued, lowercase: an uppercase one is refused, never a 404
# after a valid signature
my $upper = uc $id;
for my $rest ('master.m3u8', '720p/index.m3u8', '720p/seg_00000.ts') {
    $r = $t->http(GET => "/hls/$token/$upper/$rest");
    is($r->{status}, 400, "uppercase media id, $rest: 400");
    like($r->{json}{error}{message} // '', qr/lowercase/, '... saying it must be lowercase');
}

# whatever the API makes of an uppercase id (lowercase it or refuse it),
# a playback URL it issues carries the lowercase id, and plays
$r = api(POST => "/api/v1/media/$upper/playback", $ann);
ok($r->{status} != 200
   || (index($r->{json}{url}, "/$id/") > 0
       && $t->http(GET => $r->{json}{url})->{status} == 200),
   "playback for an uppercase id: refused, or a lowercase URL that plays ($r->{status})");
$r = api(POST => "/api/v1/media/$upper/playback", $ann, '{"mode":"cookie"}');
ok($r->{status} != 200 || $r->{json}{url} eq "/hls/c/$id/master.m3u8",
   "cookie mode, uppercase id: refused, or the lowercase URL ($r->{status})");

ok(wait_until(sub { slurp("$dir/hls.log") =~ m{/_media_files/$id/g1/720p/seg_00000\.ts 206 ok} },
              timeout => 5), '$media_token_status in the access log after the redirect');
ok(logged(qr/ 403 bad_signature$/m), '... and bad_signature');
ok(logged(qr/ 403 over_rung$/m), '... and over_rung');

# --- signed-cookie mode, for a CDN that caches by path ---------------------

my ($curl, $cookie);
for my $user ($ann, $bob) {
    $r = api(POST => "/api/v1/media/$id/playback", $user, '{"mode":"cookie"}');
    is($r->{status}, 200, 'cookie mode: 200');
    ok(!defined $curl || $curl eq $r->{json}{url},
       'cookie mode: the same URL for every viewer (one cache entry)');
    $curl = $r->{json}{url};
    ($cookie) = map { /^(media_play=[^;]+)/ ? $1 : () }
                (ref $r->{headers}{'set-cookie'} ? @{ $r->{headers}{'set-cookie'} }
                                                 : ($r->{headers}{'set-cookie'} // ''));
}
is($curl, "/hls/c/$id/master.m3u8", "cookie mode URL: $curl");
like($r->{headers}{'set-cookie'}, qr{Path=/hls/c/$id/; Max-Age=\d+; HttpOnly; SameSite=Lax},
     'the token cookie: scoped to this media, HttpOnly');

$r = $t->http(GET => $curl, headers => { Cookie => $cookie });
is($r->{status}, 200, 'cookie mode: master with the cookie');
my ($cv) = $r->{content} =~ /^(g\d+\/\w+)\/index\.m3u8$/m;
is($t->http(GET => "/hls/c/$id/$cv/index.m3u8", headers => { Cookie => $cookie })->{status},
   200, 'cookie mode: variant');
is($t->http(GET => "/hls/c/$id/$cv/seg_00000.ts", headers => { Cookie => $cookie })->{status},
   200, 'cookie mode: segment');
is($t->http(GET => $curl)->{status}, 403, 'cookie mode without the cookie: 403');
ok(logged(qr/ 403 no_cookie$/m), 'no_cookie');
(my $stray = $curl) =~ s/$id/00000000-0000-4000-8000-000000000000/;
is($t->http(GET => $stray, headers => { Cookie => $cookie })->{status}, 403,
   "another media's path with this media's cookie: 403");

# --- no database, no Redis on this path ------------------------------------

$t->stop_postgres;
$t->stop_redis;
is($t->http(GET => $url)->{status}, 200, 'PostgreSQL and Redis down: master 200');
is($t->http(GET => $first)->{status}, 200, 'PostgreSQL and Redis down: segment 200');
$t->pg_ctl('start');
$t->start_redis;
ok(wait_until(sub { $t->http(GET => '/api/v1/healthz')->{status} == 200 }, timeout => 10),
   'back up');

# --- key rotation and expiry ----------------------------------------------

config("$dir/b.key $dir/a.key", '1h');
$t->reload_nginx;
ok(wait_until(sub { $t->http(GET => $url)->{status} == 200 }, timeout => 10),
   'after rotation: a URL signed with the previous key still plays');
sleep 1;
my $new = api(POST => "/api/v1/media/$id/playback", $ann)->{json}{url};
is($t->http(GET => $new)->{status}, 200, 'a URL signed with the new key plays');

config("$dir/c.key", '2s');
$t->reload_nginx;
ok(wait_until(sub { $t->http(GET => $url)->{status} == 403 }, timeout => 10),
   'signed with neither key: 403');
ok(logged(qr/ 403 unknown_key$/m), 'unknown_key');

my $short = api(POST => "/api/v1/media/$id/playback", $ann)->{json}{url};
is($t->http(GET => $short)->{status}, 200, 'a 2 s URL plays at first');
ok(wait_until(sub { $t->http(GET => $short)->{status} == 403 }, timeout => 10),
   'and is refused once expired');
ok(logged(qr/ 403 expired$/m), 'expired');

# --- the viewer's plan decides the highest rung ---------------------------

# media_free_rung is obsolete: accepted, ignored, and nginx says so
config("$dir/c.key", '1h', 'media_free_rung 480;');
$t->reload_nginx;
ok(wait_until(sub { slurp("$dir/error.log") =~ /media_free_rung is obsolete and ignored: the viewer's plan decides/ },
              timeout => 10), 'media_free_rung: a warning says where it went');

# the default viewer plan caps anonymous viewers and free accounts alike
$t->psql('media', "UPDATE plans SET max_rung = 480 WHERE id = 'free'");
my @low = rungs(api(POST => "/api/v1/media/$id/playback")->{json}{url});
is_deeply(\@low, [qw(480p 360p)],
          'free plan at 480: anonymous viewers get rungs up to 480p');
my $low = api(POST => "/api/v1/media/$id/playback")->{json}{url};
(my $lbase = $low) =~ s/master\.m3u8$//;
is($t->http(GET => "${lbase}720p/index.m3u8")->{status}, 403,
   'free plan at 480: 720p playlist 403');
is($t->http(GET => "${lbase}720p/seg_00000.ts")->{status}, 403,
   'free plan at 480: 720p segment 403');
is($t->http(GET => "${lbase}480p/seg_00000.ts")->{status}, 200,
   'free plan at 480: 480p segment 200');
is_deeply([rungs(api(POST => "/api/v1/media/$id/playback", $ann)->{json}{url})],
          [qw(480p 360p)], 'a free account too');

# an upgrade counts from the next token
$t->psql('media', "UPDATE users SET plan = 'premium' WHERE id = '$ann->{user}{id}'");
my $paid = api(POST => "/api/v1/media/$id/playback", $ann)->{json}{url};
is_deeply([rungs($paid)], [qw(1080p 720p 480p 360p)],
          'premium (no cap): every rung, 1080p included');
$t->psql('media', "UPDATE users SET plan = 'basic' WHERE id = '$ann->{user}{id}'");
is_deeply([rungs(api(POST => "/api/v1/media/$id/playback", $ann)->{json}{url})],
          [qw(1080p 720p 480p 360p)], 'basic (1080): every rung up to 1080p');

# a downgrade while a token is live: that token keeps what it was signed
# for until it expires (segments never ask the database); the next is capped
$t->psql('media', "UPDATE users SET plan = 'free' WHERE id = '$ann->{user}{id}'");
(my $pbase = $paid) =~ s/master\.m3u8$//;
is($t->http(GET => "${pbase}1080p/seg_00000.ts")->{status}, 200,
   'downgraded: the live premium token still plays 1080p until it expires');
is_deeply([rungs(api(POST => "/api/v1/media/$id/playback", $ann)->{json}{url})],
          [qw(480p 360p)], 'downgraded: the next token is capped at 480p');
$t->psql('media', "UPDATE plans SET max_rung = 720 WHERE id = 'free'");

# --- not ready -----------------------------------------------------------------

$t->stop_proc('transcoder');
my $wait = upload($ann, 'hd.mp4');
$r = api(POST => "/api/v1/media/$wait/playback", $ann);
is($r->{status}, 409, 'not ready: 409');
like($r->{json}{error}{message}, qr/queued/, 'says its status');

$t->finish;
done_testing;


# no redirect followed: a 301 would be what we look for
sub get_raw {
    my ($path) = @_;
    my $r = HTTP::Tiny->new(timeout => 10, max_redirect => 0)
                      ->get($t->url($path));
    $r->{json} = eval { decode_json($r->{content}) }
        if ($r->{headers}{'content-type'} // '') =~ m{^application/json};
    return $r;
}

# nginx logs a request after answering it: wait (bounded) for the line
sub logged {
    my ($re) = @_;
    return wait_until(sub { slurp("$dir/hls.log") =~ $re }, timeout => 5);
}

sub key {
    my ($name) = @_;
    open(my $in, '<:raw', '/dev/urandom') or die;
    read($in, my $b, 24);
    open(my $out, '>', "$dir/$name") or die;
    print $out unpack('H*', $b), "\n";
    close $out;
}

# the rungs a playback URL's master lists
sub rungs {
    my ($url) = @_;
    # the rungs listed, highest first (their order in the master is
    # checked once, in t/playback.t)
    return sort { ($b =~ /(\d+)/)[0] <=> ($a =~ /(\d+)/)[0] }
        $t->http(GET => $url)->{content} =~ /^(?:g\d+\/)?(\w+)\/index\.m3u8$/mg;
}

sub config {
    my ($keys, $ttl, $extra) = @_;
    (my $c = $conf) =~ s/KEYS/$keys/;
    $c =~ s/TTL/$ttl/;
    $c =~ s/EXTRA/$extra \/\/ ''/e;
    $t->write_conf($c);
}

sub api {
    my ($method, $path, $user, $body) = @_;
    return $t->http($method => $path,
                    headers => { ($user ? (Authorization => "Bearer $user->{access_token}") : ()),
                                 ($body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => $body) : ()));
}

sub upload {
    my ($user, $name) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => slurp("$dir/media/$name"),
                     headers => { 'Content-Type' => 'video/mp4',
                                  Authorization => "Bearer $user->{access_token}" });
    die "upload: $r->{status}" unless $r->{status} == 202;
    return $r->{json}{media}{id};
}

sub wait_ready {
    my ($user, $id) = @_;
    my $s = '';
    wait_until(sub {
        $s = api(GET => "/api/v1/media/$id", $user)->{json}{media}{status} // '';
        $s =~ /^(ready|failed)$/;
    }, timeout => 120, interval => 0.5);
    return $s;
}
