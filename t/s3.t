# Renditions in object storage (media_storage s3://bucket/prefix), against
# a real S3-compatible server running here: s3rver (t/s3/, from npm), which
# checks every SigV4 signature, the workers' (libcurl's CURLOPT_AWS_SIGV4)
# and the module's presigned URLs alike.  Objects are looked at with the
# curl command's own SigV4 signing, not with our code.
#
# A video and an audio file are transcoded into the bucket (nothing left
# in the spool), played through nginx (master built from the bucket's
# rungs.txt, variants and segments proxied, the bytes the bucket holds); a
# refused token never reaches the bucket; a cover uploaded later goes
# there too, and avatars (served by media_avatars, a replaced one deleted),
# and an export, served by a download link; with the bucket down a master
# says so (502) and a transcode fails its attempt with a clear error and
# ends ready once the bucket is back (the job is not lost); a deleted
# media's objects are deleted by the sweeper, and so are those of a
# deleted account's media (the lifecycle's purge).  Originals go too, in parts
# when large (MEDIA_TEST_S3_PART_SIZE makes "large" 64 KB here).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MediaTest qw(wait_until slurp);

my $s3rver = "$FindBin::Bin/s3/node_modules/\@20minutes/s3rver";
plan(skip_all => "s3rver is not installed (make tools)") unless -d $s3rver;

my $t = MediaTest->new;
my $dir = $t->dir;
my $bucket = 'media';
my $prefix = 'site1';
my $s3port = $t->port('s3');

$t->start_postgres;
$t->start_redis;

sub start_s3 {
    $t->spawn('s3rver', {}, 'node', "$FindBin::Bin/s3/s3rver.js",
              "$dir/s3data", $s3port, $bucket);
    wait_until(sub { slurp("$dir/s3rver.log") =~ /listening/ },
               timeout => 30)
        or die 's3rver did not start: ' . slurp("$dir/s3rver.log");
}

# the bucket as another S3 client sees it: curl's own SigV4
sub s3 {
    my ($path) = @_;
    my $out = `curl -s --aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' 'http://127.0.0.1:$s3port/$bucket$path'`;
    return $out;
}

sub s3_keys {
    my ($under) = @_;
    (my $p = "$prefix/$under") =~ s{/}{%2F}g;
    my $xml = s3("?list-type=2&prefix=$p");
    return [ sort $xml =~ m{<Key>\Q$prefix\E/([^<]+)</Key>}g ];
}

start_s3();

open(my $fh, '>', "$dir/s3.credentials") or die $!;
print $fh "[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n";
close $fh;

my $conf = <<'EOF';
%%MAIN%%
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_url_key %%DIR%%/url.key;
    media_download_key %%DIR%%/dl.key;
    media_cookie_secure off;
    media_job_retry 1s;
    media_sweep_interval 1s;
    S3CONF

    log_format tok '$uri $status $media_token_status';
    log_format files '$uri $status $upstream_cache_status';

    # nginx's cache in front of the bucket, as the README shows it
    proxy_cache_path %%DIR%%/cache levels=1:2 keys_zone=media:1m
                     max_size=100m inactive=1d use_temp_path=off;
    map $uri $media_rungs {
        ~/rungs\.txt$  1;
        default        0;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /api/ {
            media_api;
        }

        location /dl/ {
            media_download /_media_dl/;
        }

        # the bucket's root: exports/ and uploads/ for download links
        location /_media_dl/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_s3%%/media/site1/;
            # presigned for GET: a HEAD goes as a GET, its body dropped
            proxy_method GET;
            proxy_set_header Authorization "";
            proxy_set_header Cookie "";
            proxy_hide_header Cache-Control;
        }

        location /hls/ {
            media_hls /_media_files/;
            access_log %%DIR%%/hls.log tok;
        }

        # avatars: public, the bucket's avatars/, presigned by the module
        location /avatars/ {
            media_avatars /_media_avatars/;
        }

        location /_media_avatars/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_s3%%/media/site1/avatars/;
            # presigned for GET: a HEAD goes as a GET, its body dropped
            proxy_method GET;
            proxy_set_header Authorization "";
            proxy_set_header Cookie "";
            proxy_hide_header Cache-Control;
            add_header Cache-Control "public, max-age=31536000, immutable";
            access_log %%DIR%%/avatars.log files;
        }

        # the bucket's hls/, presigned by the module; no client header
        # that would change what S3 signs or answers goes along
        location /_media_files/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_s3%%/media/site1/hls/;
            proxy_method GET;
            proxy_set_header Authorization "";
            proxy_set_header Cookie "";
            proxy_buffer_size 8k;
            proxy_hide_header Cache-Control;
            add_header Cache-Control $media_cache_control;
            proxy_cache media;
            proxy_cache_key $uri;
            proxy_cache_valid 200 206 7d;
            proxy_cache_bypass $media_rungs;
            proxy_no_cache $media_rungs;
            access_log %%DIR%%/files.log files;
        }
    }
}
EOF

sub config {
    my ($s3conf) = @_;
    (my $c = $conf) =~ s/S3CONF/$s3conf/;
    $t->write_conf($c);
    # the bucket instead of the harness' directory, which is the spool
    my $text = slurp($t->conf_file);
    $text =~ s{media_storage \S+;}{media_storage s3://$bucket/$prefix spool=$dir/storage;};
    open(my $out, '>', $t->conf_file) or die $!;
    print $out $text;
    close $out;
}

my $good = "media_s3_endpoint http://127.0.0.1:$s3port;\n"
           . "    media_s3_region us-east-1;\n"
           . "    media_s3_credentials $dir/s3.credentials;";

# --- the directives -----------------------------------------------------------

$t->jwt_key;
$t->key('url');
$t->key('dl');

for my $case (
    [ "media_s3_region us-east-1; media_s3_credentials $dir/s3.credentials;",
      qr/needs media_s3_endpoint and media_s3_credentials/, 'no endpoint' ],
    [ "media_s3_endpoint 127.0.0.1:9000; media_s3_credentials $dir/s3.credentials;",
      qr/invalid media_s3_endpoint "127.0.0.1:9000": expected/, 'an endpoint without a scheme' ],
    [ "media_s3_endpoint http://127.0.0.1/x; media_s3_credentials $dir/s3.credentials;",
      qr/with no path/, 'an endpoint with a path' ],
    [ "media_s3_endpoint http://127.0.0.1; media_s3_credentials $dir/jwt.key;",
      qr/invalid media_s3_credentials ".*": expected the lines/, 'a file without the key pair' ],
    [ "media_s3_endpoint http://127.0.0.1; media_s3_region EU; media_s3_credentials $dir/s3.credentials;",
      qr/invalid media_s3_region "EU"/, 'a region in capitals' ],
)
{
    my ($extra, $want, $name) = @$case;
    config($extra);
    my ($ok, $out) = $t->nginx_test;
    ok(!$ok, "nginx -t refuses $name");
    like(slurp("$dir/nginx-t.err") . $out, $want, '  saying why');
}

config($good);
my $text = slurp($t->conf_file);
(my $bad = $text) =~ s{s3://media/site1}{s3://Media/site1};
open($fh, '>', $t->conf_file) or die $!;
print $fh $bad;
close $fh;
my ($ok, $out) = $t->nginx_test;
ok(!$ok, 'nginx -t refuses a bucket name in capitals');
like(slurp("$dir/nginx-t.err") . $out, qr/the bucket name may only have a-z/, '  saying why');
my $w = `$t->{build}/media-transcoder -c $dir/nginx.conf 2>&1`;
is($? >> 8, 2, '  and so does the transcoder (exit 2)');
like($w, qr/invalid media_storage \\"s3:\/\/Media\/site1\\": the bucket name/, '  naming the value');

config($good);
($ok, $out) = $t->nginx_test;
ok($ok, 'nginx -t takes media_storage s3://... with its endpoint, region, credentials')
    or diag($out);

$t->migrate;
$t->start_nginx;
# files over 64 KB in parts of 64 KB (8 MB and 16 MB in production), so
# that the originals below go as multipart uploads
$t->spawn('transcoder', { %{ $t->sanitizer_env(1) }, MEDIA_TEST_S3_PART_SIZE => 65536 },
          $t->build_path('media-transcoder'), '-c', $t->conf_file);
$t->start_worker('sweeper');
$t->start_worker('exporter');

my $ann = $t->signup('ann@example.com');

sub api {
    my ($method, $path, $body) = @_;
    return $t->http($method => $path,
                    headers => { Authorization => "Bearer $ann->{access_token}",
                                 ($body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => $body) : ()));
}

sub upload {
    my ($file, $type) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => slurp($file),
                     headers => { 'Content-Type' => $type,
                                  Authorization => "Bearer $ann->{access_token}" });
    die "upload: $r->{status} $r->{content}" unless $r->{status} == 202;
    return $r->{json}{media}{id};
}

sub wait_ready {
    my ($id, $timeout) = @_;
    my $s = '';
    wait_until(sub {
        $s = api(GET => "/api/v1/media/$id")->{json}{media}{status} // '';
        $s =~ /^(ready|failed)$/;
    }, timeout => $timeout || 120, interval => 0.5);
    return $s;
}

# --- transcoded into the bucket --------------------------------------------

my $video = $t->make_media('clip.mp4',
    '-f lavfi -i testsrc2=size=640x360:rate=25:duration=3 -f lavfi -i sine=duration=3'
    . ' -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest');
my $audio = $t->make_media('tone.wav', '-f lavfi -i sine=frequency=440:duration=3');

my $vid = upload($video, 'video/mp4');
my $aid = upload($audio, 'audio/wav');
is(wait_ready($vid), 'ready', 'the video is ready');
is(wait_ready($aid), 'ready', 'the audio is ready');

my $keys = s3_keys("hls/$vid/");
ok((grep { $_ eq "hls/$vid/rungs.txt" } @$keys), 'the bucket holds the video\'s rungs.txt');
ok((grep { $_ eq "hls/$vid/poster.jpg" } @$keys), '  its poster');
my @segs = grep { m{^hls/$vid/g1/\d+p/seg_\d+\.ts$} } @$keys;
ok(@segs >= 1, '  its segments (' . scalar(@segs) . ')');
ok((grep { m{^hls/$vid/g1/360p/index\.m3u8$} } @$keys), '  its variant playlists');
$keys = s3_keys("hls/$aid/");
ok((grep { $_ eq "hls/$aid/waveform.json" } @$keys), 'the audio\'s waveform.json');
ok((grep { m{^hls/$aid/g1/a\d+/seg_\d+\.ts$} } @$keys), '  and its segments');
ok(!-e "$dir/storage/hls/$vid" && !-e "$dir/storage/hls/$aid",
   'nothing of them is left in the spool');
like(s3("/$prefix/hls/$vid/rungs.txt"), qr/ done$/m, 'rungs.txt says done');

# the originals, in parts (CreateMultipartUpload, UploadPart, Complete)
ok(-s $video > 65536 * 2 && s3("/$prefix/uploads/$vid") eq slurp($video),
   'the video\'s original is in the bucket, whole (' . (-s $video) . ' bytes)');
ok(s3("/$prefix/uploads/$aid") eq slurp($audio), '  and the audio\'s');
like(slurp("$dir/s3rver.log"), qr/partNumber=2&uploadId=/, '  sent in parts');
unlike(s3("?uploads="), qr/<Upload>/, '  with no multipart upload left open');

# --- played through nginx ------------------------------------------------

my $r = api(POST => "/api/v1/media/$vid/playback");
is($r->{status}, 200, 'a playback URL');
my $url = $r->{json}{url};
(my $base = $url) =~ s/master\.m3u8$//;

$r = $t->http(GET => $url);
is($r->{status}, 200, 'master: 200, built from the bucket\'s rungs.txt');
my @variants = $r->{content} =~ /^(g1\/\w+)\/index\.m3u8$/mg;
ok(@variants >= 1, "master lists the rungs (@variants)");

$r = $t->http(GET => "$base$variants[0]/index.m3u8");
is($r->{status}, 200, 'variant playlist: 200');
is($r->{content}, s3("/$prefix/hls/$vid/$variants[0]/index.m3u8"),
   '  the bytes the bucket holds');
like($r->{headers}{'cache-control'} // '', qr/immutable/, '  cached as an ended playlist');
my ($seg) = $r->{content} =~ /^(seg_\d+\.ts)$/m;
$r = $t->http(GET => "$base$variants[0]/$seg");
is($r->{status}, 200, 'segment: 200');
is($r->{headers}{'content-type'}, 'video/mp2t', '  video/mp2t, as uploaded');
ok(length($r->{content}) > 1000
   && $r->{content} eq s3("/$prefix/hls/$vid/$variants[0]/$seg"),
   '  the bytes the bucket holds (' . length($r->{content}) . ')');
$r = $t->http(GET => "$base$variants[0]/$seg");
is($r->{status}, 200, '  again: 200');
like(slurp("$dir/files.log"), qr{^/_media_files/$vid/\Q$variants[0]/$seg\E 200 HIT$}m,
     '  from nginx\'s cache (proxy_cache_key $uri: the presigned query left out)');
$r = $t->http(GET => "$base$variants[0]/$seg", headers => { Range => 'bytes=0-187' });
is($r->{status}, 206, '  a byte range: 206');
is(length $r->{content}, 188, '  of 188 bytes');
$r = $t->http(GET => "${base}poster.jpg");
is($r->{status}, 200, 'poster: 200');
is($r->{headers}{'content-type'}, 'image/jpeg', '  image/jpeg');

# ffmpeg asks for the master with "Range: bytes=0-"
my $d = `ffprobe -v error -show_entries format=duration -of csv=p=0 '@{[ $t->url($url) ]}' 2>&1`;
chomp $d;
ok($d =~ /^([\d.]+)/ && abs($1 - 3) < 1, "ffprobe plays the whole stream ($d)");

# --- a cover uploaded after the publish ----------------------------------------

my $png = $t->make_media('up.png', '-f lavfi -i color=c=green:size=600x600 -frames:v 1');
$r = $t->http(PUT => "/api/v1/media/$aid/cover", body => slurp($png),
              headers => { 'Content-Type' => 'image/png',
                           Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 202, 'a cover for the audio: 202');
my $job;
wait_until(sub {
    $job = api(GET => "/api/v1/jobs/$r->{json}{job}{id}")->{json}{job};
    $job && $job->{status} =~ /^(done|failed|dead)$/;
}, timeout => 60, interval => 0.3);
is($job->{status}, 'done', '  its job is done');
ok((grep { $_ eq "hls/$aid/cover-512.jpg" } @{ s3_keys("hls/$aid/") }),
   '  the covers are in the bucket');
ok(!-e "$dir/storage/hls/$aid", '  and not in the spool');
my $pics = api(GET => "/api/v1/media/$aid")->{json}{media}{pictures};
$r = $t->http(GET => $pics->{cover_128} // '/none');
is($r->{status}, 200, '  served through nginx');
is($r->{content}, s3("/$prefix/hls/$aid/cover-128.jpg"), '  the bytes the bucket holds');

# --- avatars in the bucket ---------------------------------------------------------

sub avatar_put {
    my ($body) = @_;
    my $r = $t->http(PUT => '/api/v1/me/avatar', body => $body,
                     headers => { 'Content-Type' => 'image/png',
                                  Authorization => "Bearer $ann->{access_token}" });
    is($r->{status}, 202, 'an avatar: 202');
    my $j;
    wait_until(sub {
        $j = api(GET => "/api/v1/jobs/$r->{json}{job}{id}")->{json}{job};
        $j && $j->{status} =~ /^(done|failed|dead)$/;
    }, timeout => 60, interval => 0.3);
    is($j->{status}, 'done', '  its job is done');
    chomp(my $key = $t->psql('media', "SELECT avatar_key FROM users"
                             . " WHERE email = 'ann\@example.com'") // '');
    return $key;
}

my $akey = avatar_put(slurp($png));
like($akey, qr/^[0-9a-f]{32}$/, '  a new key');
is_deeply([ grep { /^avatars\/\Q$akey\E-/ } @{ s3_keys('avatars/') } ],
          [ "avatars/$akey-256.jpg", "avatars/$akey-64.jpg" ],
          '  both sizes in the bucket');
ok(!-e "$dir/storage/avatars/$akey-256.jpg" && !-e "$dir/storage/avatars/$akey-64.jpg",
   '  and not in the spool');
$r = $t->http(GET => "/avatars/$akey-64.jpg");
is($r->{status}, 200, '  served through nginx (media_avatars)');
is($r->{headers}{'content-type'}, 'image/jpeg', '  image/jpeg');
is($r->{content}, s3("/$prefix/avatars/$akey-64.jpg"), '  the bytes the bucket holds');
like($r->{headers}{'cache-control'} // '', qr/immutable/, '  cached for good');
is($t->http(GET => "/avatars/$akey-256.jpg")->{status}, 200, '  the 256 px one too');
is($t->http(HEAD => "/avatars/$akey-256.jpg")->{status}, 200, '  HEAD too');

my $s3_lines = s3_log_lines();
for my $bad ("$akey-128.jpg", uc($akey) . '-64.jpg', "$akey-64.jpg.x",
             "$akey-64.jpg/x", "x$akey-64.jpg", '')
{
    is($t->http(GET => "/avatars/$bad")->{status}, 404, "  /avatars/$bad: 404");
}
is($t->http(POST => "/avatars/$akey-64.jpg", body => 'x')->{status}, 405,
   '  POST: 405');
is(s3_log_lines(), $s3_lines,
   '  none of those reached the bucket');
is($t->http(GET => "/_media_avatars/$akey-64.jpg")->{status}, 404,
   '  the proxying location is internal');

my $akey2 = avatar_put(slurp($png));
isnt($akey2, $akey, 'another avatar: another key');
is_deeply([ grep { /^avatars\// } @{ s3_keys('avatars/') } ],
          [ "avatars/$akey2-256.jpg", "avatars/$akey2-64.jpg" ],
          '  the replaced one\'s objects deleted from the bucket');
is($t->http(GET => "/avatars/$akey-64.jpg")->{status}, 404, '  its URL: 404 (from the bucket)');
is($t->http(GET => "/avatars/$akey2-64.jpg")->{status}, 200, '  the new one: 200');

# --- an export, and a download link to it -----------------------------------------

$r = api(POST => "/api/v1/media/$aid/exports", '{"format":"mp3"}');
is($r->{status}, 202, 'an mp3 export: 202') or diag($r->{content});
my $eid = $r->{json}{export}{id};
my $e = {};
wait_until(sub {
    $e = api(GET => "/api/v1/exports/$eid")->{json}{export} // {};
    ($e->{status} // '') =~ /^(ready|failed)$/;
}, timeout => 90, interval => 0.3);
is($e->{status}, 'ready', '  ready') or diag($e->{error});
my $mp3 = s3("/$prefix/exports/$eid.mp3");
ok(length($mp3) > 1000 && $mp3 !~ /<Error>/, '  its file is in the bucket');
ok(!-e "$dir/storage/exports/$eid.mp3", '  and not in the spool');
$r = api(POST => '/api/v1/downloads', qq({"export_id":"$eid"}));
is($r->{status}, 201, 'a download link to it') or diag($r->{content});
my $dl = $r->{json}{download}{url} // $r->{json}{url} // '/none';
$r = $t->http(HEAD => $dl);
is($r->{status}, 200, '  HEAD: 200 (proxied as the GET it is signed for)');
is($r->{headers}{'content-length'}, length(s3("/$prefix/exports/$eid.mp3")),
   '  with the file\'s length');
$r = $t->http(GET => $dl);
is($r->{status}, 200, '  served from the bucket: 200');
is($r->{content}, $mp3, '  the bytes the bucket holds');
like($r->{headers}{'content-disposition'} // '', qr/^attachment/, '  as an attachment');
is($r->{headers}{'content-type'}, 'audio/mpeg', '  audio/mpeg, as uploaded');

# --- refusals never reach the bucket --------------------------------------------

my $before = s3_log_lines();
my $files_before = -s "$dir/files.log";
my $tampered = $url;
substr($tampered, 9, 1) = substr($url, 9, 1) eq 'A' ? 'B' : 'A';
is($t->http(GET => $tampered)->{status}, 403, 'a tampered token: 403');
(my $seg_tampered = "$tampered") =~ s/master\.m3u8$/$variants[0]\/$seg/;
is($t->http(GET => $seg_tampered)->{status}, 403, '  for a segment too');
my $after = s3_log_lines();
is($after, $before, '  and none of them reached the bucket');
is(-s "$dir/files.log", $files_before, '  nor the proxying location');
is($t->http(GET => "/_media_files/$vid/$variants[0]/$seg")->{status}, 404,
   'the proxying location is internal');

# a URL with no valid signature: the bucket refuses it
like(`curl -s 'http://127.0.0.1:$s3port/$bucket/$prefix/hls/$vid/rungs.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=S3RVER%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=00'`,
     qr/AccessDenied|SignatureDoesNotMatch|expired/i,
     'the bucket itself checks presigned URLs');

# --- media-admin check -------------------------------------------------------

sub admin_check {
    return scalar `@{[ $t->build_path('media-admin') ]} -c @{[ $t->conf_file ]} check -d $FindBin::Bin/../sql 2>&1`;
}

like(admin_check(), qr/ok\s+storage: bucket s3:\/\/media\/site1 at http:\/\/127\.0\.0\.1:\d+ takes and deletes objects/,
     'media-admin check: the bucket takes and deletes an object');

# --- the bucket down ------------------------------------------------------

$t->stop_proc('s3rver');

like(admin_check(), qr/FAIL\s+storage: bucket s3:\/\/media\/site1: s3 PUT check\/\d+: .*Couldn't connect.*; check media_s3_endpoint/,
     'media-admin check: FAIL when it is down, with the cause');

$r = $t->http(GET => $url);
is($r->{status}, 502, 'bucket down: master 502 (its rungs.txt is never cached)');
is($r->{json}{error}{code}, 'storage_unavailable', '  storage_unavailable');
is($t->http(GET => "$base$variants[0]/$seg")->{status}, 200,
   '  a cached segment still plays');

my $late = upload($audio, 'audio/wav');
my $err = '';
ok(wait_until(sub {
    $err = $t->psql('media', "SELECT coalesce(error_detail, '') FROM jobs"
                             . " WHERE media_id = '$late' AND type = 'transcode'") // '';
    $err =~ /s3/;
}, timeout => 30, interval => 0.2), 'a transcode with the bucket down fails its attempt');
chomp $err;
like($err, qr/s3 \w+ .*(Couldn't connect|Connection refused|Failed to connect)/i,
     "  with a clear error ($err)");
isnt(api(GET => "/api/v1/media/$late")->{json}{media}{status}, 'failed',
     '  and the media is not failed: the job is retried');

start_s3();
is(wait_ready($late, 120), 'ready', 'the bucket back: the same job ends ready');
ok(scalar(@{ s3_keys("hls/$late/") }) > 3, '  its objects in the bucket');

# --- deleted: the sweeper deletes the objects --------------------------------

is(api(DELETE => "/api/v1/media/$vid")->{status}, 204, 'the video deleted');
ok(wait_until(sub { !@{ s3_keys("hls/$vid/") } }, timeout => 60),
   'the sweeper deleted its objects from the bucket');
ok(!@{ s3_keys("uploads/$vid") }, '  and its original');
ok(scalar(@{ s3_keys("hls/$aid/") }) > 3, 'the audio\'s objects stay');

# an account deleted: its media rows go at once, the lifecycle's purge
# deletes their objects
my $bob = $t->signup('bob@example.com');
$r = $t->http(POST => '/api/v1/media', body => slurp($audio),
              headers => { 'Content-Type' => 'audio/wav',
                           Authorization => "Bearer $bob->{access_token}" });
my $bid = $r->{json}{media}{id};
ok(wait_until(sub { ($t->psql('media', "SELECT status FROM media WHERE id = '$bid'") // '')
                    =~ /ready/ }, timeout => 120), 'bob\'s media is ready');
ok(scalar(@{ s3_keys("hls/$bid/") }) > 3, '  in the bucket');
$r = $t->http(DELETE => '/api/v1/me', body => '{"password":"a good password"}',
              headers => { 'Content-Type' => 'application/json',
                           Authorization => "Bearer $bob->{access_token}" });
is($r->{status}, 204, 'bob deletes his account');
ok(wait_until(sub { !@{ s3_keys("hls/$bid/") } && !@{ s3_keys("uploads/$bid") } },
              timeout => 60),
   '  the purge deleted his media\'s objects and original from the bucket');

$t->finish;
done_testing();


# the lines in s3rver's log once it has written those of the requests
# already answered (it writes a line after its answer has gone): stable
# for 300 ms, at most 5 s
sub s3_log_lines {
    my ($n, $same) = (-1, 0);
    for (1 .. 50) {
        my $now = () = slurp("$dir/s3rver.log") =~ /\n/g;
        $same = $now == $n ? $same + 1 : 0;
        $n = $now;
        last if $same == 3;
        select(undef, undef, undef, 0.1);
    }
    return $n;
}
