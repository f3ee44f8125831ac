# Pictures: an audio file's cover art (its attached picture, or one its
# owner uploads) at 512 and 128 pixels; a video's poster and thumbnail
# strip (a sprite and its WebVTT track); the audio ladder at 44.1 kHz (or
# media_audio_sample_rate).  All served on the playback token path, their
# URLs in media answers and the playback answer under a pictures-only
# token; every size checked by decoding what nginx serves.  Cover uploads:
# sniffed, at most 10 MB and 8000x8000, each refusal with its status.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP qw(decode_json);
use Test::More;
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
    media_url_key %%DIR%%/url.key;
    RATE

    server {
        listen 127.0.0.1:%%PORT%%;
        client_max_body_size 64m;

        location /api/ {
            media_api;
        }

        location /hls/ {
            media_hls /_media_files/;
        }

        location /_media_files/ {
            internal;
            alias %%DIR%%/storage/hls/;
            types {
                application/vnd.apple.mpegurl m3u8;
                video/mp2t ts;
                image/jpeg jpg;
                text/vtt vtt;
                application/json json;
            }
        }
    }
}
EOF

open(my $k, '>', "$dir/url.key") or die;
print $k unpack('H*', join('', map { chr(int(rand(256))) } 1 .. 24)), "\n";
close $k;

config('');
$t->jwt_key;
$t->migrate;
$t->start_nginx;
$t->start_worker('transcoder');

my $ann = $t->signup('ann@example.com');
my $bob = $t->signup('bob@example.com');
$t->psql('media', "UPDATE users SET creator_plan = 'professional'");

# --- an mp3 with its cover attached: 300x200, not square -----------------

$t->make_media('art.png', '-f lavfi -i color=c=red:size=300x200 -frames:v 1');
$t->make_media('song.mp3', "-f lavfi -i sine=duration=4 -i $dir/media/art.png"
               . ' -map 0 -map 1 -c:a libmp3lame -c:v png'
               . ' -disposition:v attached_pic -id3v2_version 3');
# an m4a with a JPEG cover
$t->make_media('art.jpg', '-f lavfi -i color=c=blue:size=640x640 -frames:v 1');
$t->make_media('song.m4a', "-f lavfi -i sine=duration=3 -i $dir/media/art.jpg"
               . ' -map 0 -map 1 -c:a aac -c:v mjpeg -disposition:v attached_pic');
$t->make_media('plain.wav', '-f lavfi -i sine=duration=3');
$t->make_media('clip.mp4', '-f lavfi -i testsrc2=size=640x360:rate=25:duration=12'
               . ' -f lavfi -i sine=duration=12 -c:v libx264 -preset ultrafast'
               . ' -pix_fmt yuv420p -c:a aac -shortest');

my %id;
$id{'song.mp3'} = upload($ann, 'song.mp3', 'audio/mpeg');
$id{'song.m4a'} = upload($ann, 'song.m4a', 'audio/mp4');
$id{'plain.wav'} = upload($ann, 'plain.wav', 'audio/wav');
$id{'clip.mp4'} = upload($ann, 'clip.mp4', 'video/mp4');

my %m = map { $_ => wait_ready($ann, $id{$_}) } keys %id;
is($m{$_}{status}, 'ready', "$_: ready") for sort keys %m;

for my $name ('song.mp3', 'song.m4a') {
    my $p = $m{$name}{pictures};
    ok($p && $p->{cover_512} && $p->{cover_128}, "$name: cover URLs in the media answer");
    is(size(get($p->{cover_512})), '512x512', "$name: cover_512 decodes as 512x512");
    is(size(get($p->{cover_128})), '128x128', "$name: cover_128 decodes as 128x128");
    ok($p->{waveform} && decode_json(get($p->{waveform}))->{version} == 2,
       "$name: the waveform by its URL");
    is($p->{poster}, undef, "$name: no poster for audio");
}

# red stays red: the picture is the attached one, cropped, not stretched
like(`ffmpeg -v error -i '@{[ save(get($m{'song.mp3'}{pictures}{cover_128}), 'c.jpg') ]}' -vf crop=8:8:60:60,scale=1:1 -f rawvideo -pix_fmt rgb24 - | od -An -tu1`,
     qr/^\s*2[0-5]\d\s+\d\s+\d\s*$/, 'song.mp3: the cover is the attached picture (red)');

is($m{'plain.wav'}{pictures}{cover_512}, undef, 'a wav without a picture: no cover');

# 44.1 kHz, the default, in every audio rung
my $url = api(POST => "/api/v1/media/$id{'song.mp3'}/playback", $ann)->{json}{url};
for my $rung (qw(a64 a128 a256)) {
    (my $pl = $url) =~ s/master\.m3u8$/$rung\/index.m3u8/;
    is(rate($t->url($pl)), 44100, "$rung: 44.1 kHz (ffprobe)");
}

# --- a video: poster and thumbnail strip ---------------------------------

my $v = $m{'clip.mp4'}{pictures};
is(size(get($v->{poster})), '640x360', 'the poster, at the top rung\'s size');
my $vtt = get($v->{thumbnails});
like($vtt, qr/^WEBVTT\n/, 'thumbs.vtt is WebVTT');
my @cues = $vtt =~ /^(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\nthumbs\.jpg#xywh=(\d+),(\d+),(\d+),(\d+)$/mg;
is(scalar(@cues) / 6, 3, 'a cue every 5 s of 12: three tiles');
is_deeply([ @cues[0 .. 5] ], [ '00:00:00.000', '00:00:05.000', 0, 0, 160, 90 ],
          'the first tile: 0-5 s at 0,0, 160x90');
is_deeply([ @cues[12 .. 17] ], [ '00:00:10.000', '00:00:12.000', 320, 0, 160, 90 ],
          'the last: to the end, third in the row');
is(size(get($v->{thumbnails_sprite})), '480x90', 'the sprite decodes as 3 x 160x90');
is($v->{cover_512}, undef, 'a video has no cover until one is uploaded');

# the playback answer carries the same
my $pb = api(POST => "/api/v1/media/$id{'clip.mp4'}/playback", $ann)->{json};
is($pb->{pictures}{thumbnails}, $v->{thumbnails},
   'the playback answer: the same thumbnails URL (an hour\'s token)');

# a pictures-only token plays nothing
(my $master = $v->{poster}) =~ s/poster\.jpg$/master.m3u8/;
my $r = $t->http(GET => $master);
is($r->{status}, 403, 'a picture URL\'s token opens no playlist');
is($r->{json}{error}{code}, 'pictures_only', '... pictures_only');
(my $seg = $v->{poster}) =~ s/poster\.jpg$/360p\/seg_00000.ts/;
is($t->http(GET => $seg)->{status}, 403, '... nor a segment');

# someone else's private media: no pictures for them
is(api(GET => "/api/v1/media/$id{'song.mp3'}", $bob)->{status}, 404,
   'another user: 404, no picture URLs');

# --- uploaded covers -----------------------------------------------------

$t->make_media('up.png', '-f lavfi -i color=c=green:size=1000x800 -frames:v 1');
$t->make_media('up.jpg', '-f lavfi -i color=c=green:size=700x700 -frames:v 1');

$r = cover($ann, $id{'plain.wav'}, slurp("$dir/media/up.png"), 'image/png');
is($r->{status}, 202, 'a PNG cover: 202') or diag($r->{content});
ok($r->{json}{job}{id}, '... with its job');
my $job = wait_job($ann, $r->{json}{job}{id});
is($job->{status}, 'done', 'the cover job is done');
my $p = api(GET => "/api/v1/media/$id{'plain.wav'}", $ann)->{json}{media}{pictures};
like($p->{cover_512} // '', qr/cover-512\.jpg\?v=1$/, 'the cover URL, version 1');
is(size(get($p->{cover_512})), '512x512', 'the uploaded cover at 512x512');
is(size(get($p->{cover_128})), '128x128', 'and 128x128');

# a JPEG sent as application/octet-stream: told by its bytes
$r = cover($ann, $id{'song.mp3'}, slurp("$dir/media/up.jpg"), 'application/octet-stream');
is($r->{status}, 202, 'a JPEG whatever its Content-Type: 202');
wait_job($ann, $r->{json}{job}{id});
$p = api(GET => "/api/v1/media/$id{'song.mp3'}", $ann)->{json}{media}{pictures};
like($p->{cover_512}, qr/\?v=1$/, 'an uploaded cover replaces the attached one (v=1)');
like(`ffmpeg -v error -i '@{[ save(get($p->{cover_128}), 'g.jpg') ]}' -vf crop=8:8:60:60,scale=1:1 -f rawvideo -pix_fmt rgb24 - | od -An -tu1`,
     qr/^\s*\d{1,2}\s+1[0-9]\d\s+\d{1,2}\s*$/, '... and is green now');
is($t->psql('media', "SELECT cover_source FROM media WHERE id = '$id{'song.mp3'}'"),
   "upload\n", 'cover_source upload');

# refusals
$r = cover($ann, $id{'plain.wav'}, "GIF89a" . ("\0" x 100), 'image/png');
is($r->{status}, 415, 'a GIF labelled PNG: 415');
is($r->{json}{error}{code}, 'unsupported_media_type', '... unsupported_media_type');
like($r->{json}{error}{message}, qr/JPEG or PNG/, '... saying what a cover is');

my $huge_png = "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR" . pack('NN', 8001, 600)
               . "\x08\x02\0\0\0" . ("\0" x 64);
$r = cover($ann, $id{'plain.wav'}, $huge_png, 'image/png');
is($r->{status}, 422, 'an 8001x600 PNG: 422');
is($r->{json}{error}{code}, 'picture_too_large', '... picture_too_large');
like($r->{json}{error}{message}, qr/8001x600 pixels; at most 8000x8000/, '... naming both sizes');

$r = cover($ann, $id{'plain.wav'}, "\xff\xd8\xff\xda\0\x04\0\0", 'image/jpeg');
is($r->{status}, 422, 'a JPEG with no frame header: 422');
is($r->{json}{error}{code}, 'unreadable_picture', '... unreadable_picture');

$r = cover($ann, $id{'plain.wav'}, 'x' x (10 * 1024 * 1024 + 1), 'image/jpeg');
is($r->{status}, 413, 'over 10 MB: 413');
is($r->{json}{error}{code}, 'cover_too_large', '... cover_too_large');

$r = cover($ann, $id{'plain.wav'}, '', 'image/jpeg');
is($r->{status}, 400, 'an empty body: 400');

$r = cover($bob, $id{'plain.wav'}, slurp("$dir/media/up.png"), 'image/png');
is($r->{status}, 404, 'someone else\'s media: 404');
$r = cover(undef, $id{'plain.wav'}, slurp("$dir/media/up.png"), 'image/png');
is($r->{status}, 401, 'signed out: 401');
$r = cover($ann, '00000000-0000-0000-0000-000000000000', slurp("$dir/media/up.png"), 'image/png');
is($r->{status}, 404, 'no such media: 404');

# a damaged PNG whose header is fine: the job fails with a sentence
$r = cover($ann, $id{'clip.mp4'}, substr(slurp("$dir/media/up.png"), 0, 33)
                                   . ("\xff" x 200), 'image/png');
is($r->{status}, 202, 'a PNG broken past its header: accepted');
$job = wait_job($ann, $r->{json}{job}{id});
is($job->{status}, 'failed', '... its job fails');
like($job->{error} // '', qr/^the cover picture cannot be read/, '... saying so');

# a video takes an uploaded cover too, and keeps its poster
$r = cover($ann, $id{'clip.mp4'}, slurp("$dir/media/up.jpg"), 'image/jpeg');
is(wait_job($ann, $r->{json}{job}{id})->{status}, 'done', 'a video\'s cover job');
$p = api(GET => "/api/v1/media/$id{'clip.mp4'}", $ann)->{json}{media}{pictures};
is(size(get($p->{cover_512})), '512x512', 'a video\'s uploaded cover at 512x512');
is(size(get($p->{poster})), '640x360', '... its poster kept');

# a new transcode of each (a new ladder, say) keeps the uploaded covers:
# the video's, and the song's over its attached picture
for my $name ('clip.mp4', 'song.mp3') {
    my $job_id = $t->psql('media', "INSERT INTO jobs (type, media_id, user_id, payload)"
        . " SELECT 'transcode', media_id, user_id, payload FROM jobs"
        . " WHERE media_id = '$id{$name}' AND type = 'transcode' RETURNING id");
    ($job_id) = $job_id =~ /([0-9a-f-]{36})/;
    $t->redis('XADD', 'media:transcode', '*', 'job', $job_id);
    is(wait_job($ann, $job_id)->{status}, 'done', "$name: transcoded again");
    $p = api(GET => "/api/v1/media/$id{$name}", $ann)->{json}{media}{pictures};
    like(`ffmpeg -v error -i '@{[ save(get($p->{cover_128}), 'g.jpg') ]}' -vf crop=8:8:60:60,scale=1:1 -f rawvideo -pix_fmt rgb24 - | od -An -tu1`,
         qr/^\s*\d{1,2}\s+1[0-9]\d\s+\d{1,2}\s*$/, "$name: still the uploaded (green) cover");
}

# --- deleted: the uploaded cover goes with the media ----------------------

$t->start_worker('sweeper');
ok(-e "$dir/storage/covers/$id{'plain.wav'}", 'the uploaded cover is kept');
is(api(DELETE => "/api/v1/media/$id{'plain.wav'}", $ann)->{status}, 204, 'delete');
ok(wait_until(sub { !-e "$dir/storage/covers/$id{'plain.wav'}" }, timeout => 30),
   'the sweeper removes covers/<id>');

# --- media_audio_sample_rate 48000 ---------------------------------------

config('media_audio_sample_rate 48000;');
$t->reload_nginx;
$t->stop_proc('transcoder');
$t->start_worker('transcoder');
my $id48 = upload($ann, 'plain.wav', 'audio/wav');
is(wait_ready($ann, $id48)->{status}, 'ready', '48 kHz: ready');
$url = api(POST => "/api/v1/media/$id48/playback", $ann)->{json}{url};
(my $pl = $url) =~ s/master\.m3u8$/a128\/index.m3u8/;
is(rate($t->url($pl)), 48000, 'media_audio_sample_rate 48000: 48 kHz');

# a wrong value stops nginx -t
config('media_audio_sample_rate 22050;');
my ($conf_ok, $out) = $t->nginx_test;
ok(!$conf_ok, 'media_audio_sample_rate 22050: nginx -t fails');
like($out, qr/invalid media_audio_sample_rate "22050": expected 44100 or 48000/,
     '... naming the value and what it may be');

$t->finish;
done_testing;


sub config {
    my ($rate) = @_;
    (my $c = $conf) =~ s/RATE/$rate/;
    $t->write_conf($c);
}

sub api {
    my ($method, $path, $user, $body) = @_;
    return $t->http($method => $path,
                    headers => { ($user ? (Authorization => "Bearer $user->{access_token}") : ()),
                                 ($body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => $body) : ()));
}

sub cover {
    my ($user, $id, $body, $type) = @_;
    return $t->http(PUT => "/api/v1/media/$id/cover", body => $body,
                    headers => { 'Content-Type' => $type,
                                 ($user ? (Authorization => "Bearer $user->{access_token}") : ()) });
}

sub upload {
    my ($user, $name, $type) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => slurp("$dir/media/$name"),
                     headers => { 'Content-Type' => $type,
                                  Authorization => "Bearer $user->{access_token}" });
    die "upload $name: $r->{status} $r->{content}" unless $r->{status} == 202;
    return $r->{json}{media}{id};
}

sub wait_ready {
    my ($user, $id) = @_;
    my $m;
    wait_until(sub {
        $m = api(GET => "/api/v1/media/$id", $user)->{json}{media};
        $m && $m->{status} =~ /^(ready|failed)$/;
    }, timeout => 120, interval => 0.5);
    return $m;
}

sub wait_job {
    my ($user, $id) = @_;
    my $j;
    wait_until(sub {
        $j = api(GET => "/api/v1/jobs/$id", $user)->{json}{job};
        $j && $j->{status} =~ /^(done|failed|dead)$/;
    }, timeout => 60, interval => 0.3);
    return $j;
}

# a URL's body (the URLs in answers are paths on this server)
sub get {
    my ($path) = @_;
    my $r = $t->http(GET => $path);
    return $r->{status} == 200 ? $r->{content} : '';
}

sub save {
    my ($data, $name) = @_;
    open(my $f, '>:raw', "$dir/$name") or die;
    print $f $data;
    close $f;
    return "$dir/$name";
}

# WxH of a picture, by decoding it
sub size {
    my ($data) = @_;
    return '' unless length $data;
    my $f = save($data, 'probe.jpg');
    my $s = `ffprobe -v error -show_entries stream=width,height -of csv=p=0:s=x '$f'`;
    chomp $s;
    return $s;
}

sub rate {
    my ($url) = @_;
    my $r = `ffprobe -v error -select_streams a:0 -show_entries stream=sample_rate -of csv=p=0 '$url'`;
    my ($hz) = $r =~ /^(\d+)$/m;
    return $hz // '';
}
