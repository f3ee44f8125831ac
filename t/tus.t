# Resumable uploads, tus 1.0 at /api/v1/uploads (ngx_http_media_tus.c):
# OPTIONS tells the capabilities; an upload cut at 40% and resumed from
# HEAD's offset ends byte-identical and transcodes; creation-with-upload;
# termination; an expired upload is 410, and 404 once the sweeper took it
# and its file; every refusal (401, 400, 402, 404, 409, 412, 413, 415, 423).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Encode qw(encode_utf8);
use MIME::Base64 qw(encode_base64);
use Test::More;
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;

$t->write_conf(<<'EOF');
%%MAIN%%
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;
    media_upload_max_size 4m;
    media_tus_expires 2h;
    media_url_key %%DIR%%/jwt.key;
    media_sweep_interval 1s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
    }
}
EOF
$t->jwt_key;
$t->migrate;
$t->start_nginx;

my $clip = $t->make_media('clip.mp4', '-f lavfi -i testsrc=size=320x240:rate=25'
                          . ' -f lavfi -i sine=frequency=440 -t 2 -c:v libx264'
                          . ' -preset ultrafast -c:a aac -shortest');
my $bytes = slurp($clip);
my $len = length $bytes;

my $ann = $t->signup('ann@example.com');
my $bob = $t->signup('bob@example.com');

sub tus {
    my ($method, $path, $who, $headers, $body) = @_;
    return $t->http($method => $path,
                    headers => { 'Tus-Resumable' => '1.0.0',
                                 ($who ? (Authorization =>
                                          "Bearer $who->{access_token}") : ()),
                                 %{ $headers || {} } },
                    (defined $body ? (body => $body) : ()));
}

sub meta {
    my (%kv) = @_;
    return join ',', map { "$_ " . encode_base64(encode_utf8($kv{$_}), '') } sort keys %kv;
}

sub create {
    my ($who, $length, %h) = @_;
    return tus(POST => '/api/v1/uploads', $who,
               { 'Upload-Length' => $length,
                 'Upload-Metadata' => meta(filename => 'clip.mp4',
                                           filetype => 'video/mp4'),
                 %h });
}

sub patch {
    my ($who, $loc, $offset, $chunk, %h) = @_;
    return tus(PATCH => $loc, $who,
               { 'Upload-Offset' => $offset,
                 'Content-Type' => 'application/offset+octet-stream', %h },
               $chunk);
}

sub sql { my $v = $t->psql('media', $_[0]); chomp $v; return $v }

sub upload_id { ($_[0] =~ m{([0-9a-f-]{36})$})[0] }

# --- OPTIONS --------------------------------------------------------------------

my $r = $t->http(OPTIONS => '/api/v1/uploads');
is($r->{status}, 204, 'OPTIONS: 204, no sign-in needed');
is($r->{headers}{'tus-version'}, '1.0.0', '  Tus-Version');
is($r->{headers}{'tus-resumable'}, '1.0.0', '  Tus-Resumable');
is($r->{headers}{'tus-extension'},
   'creation,creation-with-upload,termination,expiration', '  Tus-Extension');
is($r->{headers}{'tus-max-size'}, 4 * 1024 * 1024,
   '  Tus-Max-Size is media_upload_max_size');

# --- cut at 40%, resumed from HEAD's offset --------------------------------------

$r = create($ann, $len);
is($r->{status}, 201, 'POST /uploads: 201');
my $loc = $r->{headers}{location} // '';
like($loc, qr{^/api/v1/uploads/[0-9a-f-]{36}$}, '  Location of the upload');
my $id = upload_id($loc);
is($r->{headers}{'upload-offset'}, 0, '  Upload-Offset 0');
like($r->{headers}{'upload-expires'} // '',
     qr/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/,
     '  Upload-Expires, an HTTP-date');
is(sql("SELECT round(extract(epoch FROM expires_at - now())"
                     . " / 3600) FROM uploads WHERE id = '$id'"),
   2, '  media_tus_expires 2h');

my $cut = int($len * 0.4);

# a PATCH whose connection drops mid-body adds nothing
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $t->port('http')) or die $!;
print $s "PATCH $loc HTTP/1.1\r\nHost: localhost\r\n"
    . "Authorization: Bearer $ann->{access_token}\r\nTus-Resumable: 1.0.0\r\n"
    . "Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
    . "Content-Length: $len\r\n\r\n" . substr($bytes, 0, $cut);
select(undef, undef, undef, 0.5);
close $s;

ok(wait_until(sub { !glob("$dir/storage/tmp/*") }, timeout => 5),
   'a PATCH cut mid-body: its temp file is gone');
$r = tus(HEAD => $loc, $ann);
is($r->{status}, 200, 'HEAD: 200');
is($r->{headers}{'upload-offset'}, 0, '  offset still 0: nothing counted');
is($r->{headers}{'upload-length'}, $len, '  Upload-Length');
is($r->{headers}{'cache-control'}, 'no-store', '  Cache-Control: no-store');
like($r->{headers}{'upload-metadata'} // '', qr/filename Y2xpcC5tcDQ=/,
     '  Upload-Metadata as sent');

# the first 40% as a chunk, then the connection is gone
$r = patch($ann, $loc, 0, substr($bytes, 0, $cut));
is($r->{status}, 204, 'PATCH of 40%: 204');
is($r->{headers}{'upload-offset'}, $cut, '  Upload-Offset moved');
is(-s "$dir/storage/uploads/$id.tus", $cut, '  the part is on disk');

$r = tus(HEAD => $loc, $ann);
is($r->{headers}{'upload-offset'}, $cut, 'HEAD after the cut: 40%');

$r = patch($ann, $loc, 0, substr($bytes, 0, 10));
is($r->{status}, 409, 'PATCH at a stale offset: 409');
is($r->{json}{error}{code}, 'tus_offset', '  tus_offset');
like($r->{json}{error}{message}, qr/Upload-Offset is 0 but the upload is at $cut/,
     '  says where it is');

$r = patch($ann, $loc, $cut, substr($bytes, $cut) . 'x');
is($r->{status}, 413, 'PATCH past Upload-Length: 413');

$r = patch($ann, $loc, $cut, substr($bytes, $cut));
is($r->{status}, 204, 'the rest from HEAD\'s offset: 204');
is($r->{headers}{'upload-offset'}, $len, '  Upload-Offset is the length');
my $media = $r->{headers}{'media-id'} // '';
like($media, qr/^[0-9a-f-]{36}$/, '  Media-Id');
is($r->{headers}{location}, "/api/v1/media/$media", '  Location of the media');

ok(slurp("$dir/storage/uploads/$media") eq $bytes,
   'the stored upload is byte-identical');
ok(!-e "$dir/storage/uploads/$id.tus", '  the part file was moved');
is(sql("SELECT count(*) FROM uploads WHERE id = '$id'"), 0,
   '  the upload row is gone with its reservation');
is(sql("SELECT source_name || ' ' || content_type || ' '"
                     . " || source_size || ' ' || title FROM media"
                     . " WHERE id = '$media'"),
   "clip.mp4 video/mp4 $len clip.mp4", '  the media row: name, type, size');

is(tus(HEAD => $loc, $ann)->{status}, 404, 'HEAD of a finished upload: 404');

$t->start_worker('transcoder');
my $m;
ok(wait_until(sub {
       $m = $t->http(GET => "/api/v1/media/$media",
                     headers => { Authorization => "Bearer $ann->{access_token}" })
              ->{json}{media};
       ($m->{status} // '') =~ /^(ready|failed)$/;
   }, timeout => 120, interval => 0.5), 'the job ends');
is($m->{status}, 'ready', '  and the media is ready (it transcoded)');
$r = $t->http(POST => "/api/v1/media/$media/playback",
              headers => { Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 200, '  and plays');

# --- creation-with-upload, and a text file ----------------------------------------

$r = tus(POST => '/api/v1/uploads', $ann,
         { 'Upload-Length' => $len, 'Content-Type'
               => 'application/offset+octet-stream',
           'Upload-Metadata' => meta(filename => 'whole.mp4') }, $bytes);
is($r->{status}, 201, 'creation-with-upload, the whole file: 201');
is($r->{headers}{'upload-offset'}, $len, '  Upload-Offset');
like($r->{headers}{'media-id'} // '', qr/^[0-9a-f-]{36}$/, '  Media-Id');
like($r->{headers}{location} // '', qr{^/api/v1/uploads/},
     '  Location stays the upload');

$r = tus(POST => '/api/v1/uploads', $ann,
         { 'Upload-Length' => 1000, 'Content-Type'
               => 'application/offset+octet-stream' },
         "plain text\n" x 90 . 'abcdefghij');
is($r->{status}, 415, 'a text file, once whole: 415');
is($r->{json}{error}{code}, 'not_media', '  not_media');
is(sql("SELECT count(*) FROM uploads WHERE user_id = "
                     . "'$ann->{user}{id}'"), 0, '  its upload is gone');

# --- termination -----------------------------------------------------------------

$r = create($ann, $len);
$loc = $r->{headers}{location};
$id = upload_id($loc);
patch($ann, $loc, 0, substr($bytes, 0, 100));
is(tus(DELETE => $loc, $bob)->{status}, 404, 'DELETE of another\'s upload: 404');
is(tus(DELETE => $loc, $ann)->{status}, 204, 'DELETE: 204');
ok(!-e "$dir/storage/uploads/$id.tus", '  its file is gone');
is(tus(HEAD => $loc, $ann)->{status}, 404, '  HEAD: 404');
is(sql("SELECT count(*) FROM storage_reservations WHERE user_id"
                     . " = '$ann->{user}{id}'"), 0, '  its storage is free');

# --- expiry: 410, then the sweeper, then 404 ---------------------------------------

$r = create($ann, $len);
$loc = $r->{headers}{location};
$id = upload_id($loc);
patch($ann, $loc, 0, substr($bytes, 0, 100));
sql("UPDATE uploads SET expires_at = now() - interval '1 second'"
                  . " WHERE id = '$id'");
$r = patch($ann, $loc, 100, substr($bytes, 100, 100));
is($r->{status}, 410, 'PATCH of an expired upload: 410');
is($r->{json}{error}{code}, 'tus_expired', '  tus_expired');
is(tus(HEAD => $loc, $ann)->{status}, 410, '  HEAD: 410');

$t->start_worker('sweeper');
ok(wait_until(sub { !-e "$dir/storage/uploads/$id.tus" }, timeout => 20),
   'the sweeper removes its file');
ok(wait_until(sub { tus(HEAD => $loc, $ann)->{status} == 404 }, timeout => 10),
   '  and its row: 404');
is(sql("SELECT count(*) FROM storage_reservations WHERE user_id"
                     . " = '$ann->{user}{id}'"), 0, '  and its reservation');

# --- refusals --------------------------------------------------------------------

$r = create(undef, $len);
is($r->{status}, 401, 'no token: 401');

$r = $t->http(POST => '/api/v1/uploads',
              headers => { Authorization => "Bearer $ann->{access_token}",
                           'Upload-Length' => $len });
is($r->{status}, 412, 'no Tus-Resumable: 412');
is($r->{headers}{'tus-version'}, '1.0.0', '  with Tus-Version');
$r = create($ann, $len, 'Tus-Resumable' => '0.2.2');
is($r->{status}, 412, 'Tus-Resumable 0.2.2: 412');

$r = tus(POST => '/api/v1/uploads', $ann, {});
is($r->{status}, 400, 'no Upload-Length: 400');
is($r->{json}{error}{field}, 'Upload-Length', '  names it');
is(create($ann, '-5')->{status}, 400, 'Upload-Length -5: 400');
is(create($ann, 0)->{status}, 400, 'Upload-Length 0: 400');
is(create($ann, $len, 'Upload-Defer-Length' => 1)->{status}, 400,
   'Upload-Defer-Length: 400');

$r = create($ann, 5 * 1024 * 1024);
is($r->{status}, 413, 'over media_upload_max_size: 413');
like($r->{json}{error}{message}, qr/at most 4194304 \(media_upload_max_size\)/,
     '  names the limit');

$r = create($ann, $len, 'Upload-Metadata' => 'filename !!!');
is($r->{status}, 400, 'metadata not base64: 400');
like($r->{json}{error}{message}, qr/"filename" is not base64/, '  says which');
$r = create($ann, $len, 'Upload-Metadata' => meta(filetype => 'text/plain'));
is($r->{status}, 415, 'filetype text/plain: 415');

$r = tus(POST => '/api/v1/uploads', $ann,
         { 'Upload-Length' => $len, 'Content-Type' => 'video/mp4' }, 'abc');
is($r->{status}, 415, 'creation-with-upload, wrong Content-Type: 415');

my $used = sql("SELECT storage_used FROM users"
                             . " WHERE id = '$ann->{user}{id}'");
sql("UPDATE plans SET storage_bytes = " . ($used + 1000)
                  . " WHERE id = 'starter'");
$r = create($ann, 1001);
is($r->{status}, 402, 'past the plan\'s storage: 402');
is($r->{json}{error}{limit}, 'storage', '  names storage');
$r = create($ann, 1000);
is($r->{status}, 201, '  at the limit: 201');
tus(DELETE => $r->{headers}{location}, $ann);
sql("UPDATE plans SET storage_bytes = 5368709120"
                  . " WHERE id = 'starter'");

$r = create($ann, $len);
$loc = $r->{headers}{location};
$id = upload_id($loc);
is(tus(HEAD => $loc, $bob)->{status}, 404, 'HEAD of another\'s upload: 404');
is(patch($bob, $loc, 0, 'abc')->{status}, 404, 'PATCH of another\'s: 404');
is(tus(HEAD => '/api/v1/uploads/nope', $ann)->{status}, 404,
   'HEAD of a malformed id: 404');
$r = patch($ann, $loc, 0, 'abc', 'Content-Type' => 'application/octet-stream');
is($r->{status}, 415, 'PATCH, wrong Content-Type: 415');
$r = tus(PATCH => $loc, $ann, { 'Content-Type'
                                => 'application/offset+octet-stream' }, 'abc');
is($r->{status}, 400, 'PATCH without Upload-Offset: 400');
is(patch($ann, $loc, 'x', 'abc')->{status}, 400, 'Upload-Offset x: 400');
$r = patch($ann, $loc, 0, 'abc', 'Tus-Resumable' => '');
is($r->{status}, 412, 'PATCH with an empty Tus-Resumable: 412');

# a suspended account may look, not write
$r = create($bob, $len);
my $bloc = $r->{headers}{location};
sql("UPDATE users SET suspended_until = now() + interval '1 hour'"
    . " WHERE id = '$bob->{user}{id}'");
sleep 1.2;    # the user cache reads the row again after a second
$r = create($bob, $len);
is($r->{status}, 403, 'a suspended account\'s POST: 403');
is($r->{json}{error}{code}, 'suspended', '  suspended');
is(patch($bob, $bloc, 0, 'abc')->{status}, 403, '  its PATCH: 403');
is(tus(DELETE => $bloc, $bob)->{status}, 403, '  its DELETE: 403');
is(tus(HEAD => $bloc, $bob)->{status}, 200, '  its HEAD: 200');
sql("UPDATE users SET suspended_until = NULL WHERE id = '$bob->{user}{id}'");

# a filename is kept as the media keeps it: 300 Japanese characters, cut
# to 255 whole ones
$r = create($ann, $len, 'Upload-Metadata'
            => meta(filename => "\x{65e5}" x 300));
is($r->{status}, 201, 'a 300-character filename: 201');
is(sql("SELECT length(filename) || ' ' || octet_length(filename) FROM uploads"
       . " WHERE id = '" . upload_id($r->{headers}{location}) . "'"),
   '255 765', '  kept as 255 whole characters');

# a lease held by another PATCH
sql("UPDATE uploads SET lease = gen_random_uuid(),"
                  . " lease_until = now() + interval '1 minute' WHERE id = '$id'");
$r = patch($ann, $loc, 0, 'abc');
is($r->{status}, 423, 'PATCH while another appends: 423');
is($r->{json}{error}{code}, 'tus_locked', '  tus_locked');
is(tus(DELETE => $loc, $ann)->{status}, 423, 'DELETE meanwhile: 423');
is(tus(HEAD => $loc, $ann)->{status}, 200, 'HEAD meanwhile: 200');
sql("UPDATE uploads SET lease_until = now() WHERE id = '$id'");
is(patch($ann, $loc, 0, 'abc')->{status}, 204, 'once the lease ran out: 204');

# the directive's value
my $bad = "$dir/bad.conf";
open(my $fh, '>', $bad) or die "$bad: $!";
print $fh slurp($t->conf_file) =~ s/media_tus_expires 2h;/media_tus_expires soon;/r;
close $fh;
my ($ok, $out) = $t->nginx_test($bad);
ok(!$ok, 'nginx -t refuses "media_tus_expires soon"');
like(slurp("$dir/nginx-t.err") . $out, qr/media_tus_expires/, '  naming it');

$t->finish;
done_testing;
