# Uploads and the library API: raw and multipart bodies streamed to disk,
# refusals (401, 404, 413, 415, 422), the media and job rows and the
# stream entry written together, cursor pages, edit and delete.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use JSON::PP;
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
    media_upload_max_size 2m;
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

my $json = JSON::PP->new;
my $wav = $t->make_media('tone.wav', '-f lavfi -i sine=frequency=440:duration=1');
my $wav_bytes = slurp($wav);

my $ann = $t->signup('ann@example.com');
my $bob = $t->signup('bob@example.com');

# --- raw body ----------------------------------------------------------------

my $r = upload($ann, $wav_bytes, 'audio/wav');
is($r->{status}, 202, 'raw wav upload: 202');
my $media = $r->{json}{media};
my $job = $r->{json}{job};
like($media->{id}, qr/^[0-9a-f-]{36}$/, 'media id');
is($media->{status}, 'queued', 'media queued');
is($job->{status}, 'queued', 'job queued');
is($job->{progress}, 0, 'job progress 0');

ok(-s "$dir/storage/uploads/$media->{id}" == length $wav_bytes,
   'the body is in storage/uploads/<id>, byte for byte');
is(scalar(() = glob("$dir/storage/tmp/*")), 0, 'nothing left in tmp');

my $entry = $t->redis('XRANGE', 'media:transcode', '-', '+');
like($entry, qr/\bjob\n$job->{id}\b/, 'the stream entry points at the job row');

is($t->psql('media', "SELECT count(*) FROM jobs WHERE media_id = '$media->{id}'"
                      . " AND type = 'transcode' AND status = 'queued'") + 0,
   1, 'one queued transcode job row');

# --- multipart -----------------------------------------------------------------

my $boundary = '----ngxmediaXYZ';
my $body = "--$boundary\r\n"
    . "Content-Disposition: form-data; name=\"file\"; filename=\"tone.wav\"\r\n"
    . "Content-Type: audio/wav\r\n\r\n$wav_bytes\r\n"
    . "--$boundary\r\n"
    . "Content-Disposition: form-data; name=\"title\"\r\n\r\nMy tone\r\n"
    . "--$boundary--\r\n";
$r = upload($ann, $body, "multipart/form-data; boundary=$boundary");
is($r->{status}, 202, 'multipart upload, title after the file: 202');
is($r->{json}{media}{title}, 'My tone', 'title from the field');
my $m2 = $r->{json}{media}{id};
is(-s "$dir/storage/uploads/$m2", length $wav_bytes,
   'only the file part is stored');

$body =~ s/--$boundary\r\nContent-Disposition: form-data; name="title".*?\r\n(?=--)//s;
$r = upload($ann, $body, "multipart/form-data; boundary=$boundary");
is($r->{json}{media}{title}, 'tone.wav', 'no title field: the file name');

$r = upload($ann, "--$boundary\r\nContent-Disposition: form-data; "
            . "name=\"title\"\r\n\r\nx\r\n--$boundary--\r\n",
            "multipart/form-data; boundary=$boundary");
is($r->{status}, 422, 'multipart without a file: 422');
is($r->{json}{error}{field}, 'file', 'names the field');

$r = upload($ann, "--$boundary\r\nContent-Disposition: form-data; "
            . "name=\"file\"\r\n\r\nRIFF", "multipart/form-data; boundary=$boundary");
is($r->{status}, 400, 'truncated multipart: 400');
like($r->{json}{error}{message}, qr/truncated/, 'says truncated');

# --- refusals --------------------------------------------------------------------

$r = $t->http(POST => '/api/v1/media', body => $wav_bytes,
              headers => { 'Content-Type' => 'audio/wav' });
is($r->{status}, 401, 'no token: 401');

$r = upload($ann, "hello, I am text\n" x 10, 'video/mp4');
is($r->{status}, 415, 'a text file sent as video/mp4: 415');
is($r->{json}{error}{code}, 'not_media', 'says it is not media');

$r = upload($ann, $wav_bytes, 'text/plain');
is($r->{status}, 415, 'text/plain body: 415');
like($r->{json}{error}{message}, qr/audio\/\* or video\/\*/, 'says what to send');

$r = upload($ann, 'x' x (3 * 1024 * 1024), 'video/mp4');
is($r->{status}, 413, 'over media_upload_max_size: 413');
like($r->{json}{error}{message}, qr/at most 2097152 \(media_upload_max_size\)/,
     'names the limit');

$r = upload($ann, '', 'audio/wav');
is($r->{status}, 400, 'empty body: 400');

my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port('http'))
    or die $!;
print $s "POST /api/v1/media HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
         . "Authorization: Bearer $ann->{access_token}\r\n"
         . "Content-Type: audio/wav\r\nTransfer-Encoding: chunked\r\n\r\n"
         . "4\r\nRIFF\r\n0\r\n\r\n";
my ($status, $rbody) = $t->http_finish($s, 10);
is($status, 411, 'chunked upload: 411');
like($rbody, qr/Content-Length/, '411 says what to send');

is(scalar(() = glob("$dir/storage/uploads/*")), 3,
   'refused uploads leave no files behind');
is(scalar(() = glob("$dir/storage/tmp/*")), 0, 'nor temp files');

# --- reading -----------------------------------------------------------------

$r = get($ann, "/api/v1/media/$media->{id}");
is($r->{status}, 200, 'GET media: 200');
is($r->{json}{media}{status}, 'queued', 'GET media: status');
is($r->{json}{media}{progress}, 0, 'GET media: progress');
is_deeply($r->{json}{media}{renditions}, [], 'GET media: no renditions yet');

is(get($bob, "/api/v1/media/$media->{id}")->{status}, 404,
   "someone else's media: 404");
is(get($ann, '/api/v1/media/not-a-uuid')->{status}, 404, 'malformed id: 404');
is(get($ann, '/api/v1/media/00000000-0000-4000-8000-000000000000')->{status},
   404, 'unknown id: 404');

$r = get($ann, "/api/v1/jobs/$job->{id}");
is($r->{status}, 200, 'GET job: 200');
is($r->{json}{job}{type}, 'transcode', 'GET job: type');
is($r->{json}{job}{attempts}, 0, 'GET job: attempts');
is(get($bob, "/api/v1/jobs/$job->{id}")->{status}, 404, "someone else's job: 404");

# cursor pages, newest first
$r = get($ann, '/api/v1/media?limit=2');
is(scalar @{ $r->{json}{items} }, 2, 'page 1: two items');
ok($r->{json}{next_cursor}, 'page 1: a next cursor');
my @ids = map { $_->{id} } @{ $r->{json}{items} };
$r = get($ann, "/api/v1/media?limit=2&cursor=$r->{json}{next_cursor}");
is(scalar @{ $r->{json}{items} }, 1, 'page 2: the last item');
is($r->{json}{next_cursor}, undef, 'page 2: no next cursor');
is($r->{json}{items}[0]{id}, $media->{id}, 'the oldest comes last');
ok(!grep({ $_ eq $media->{id} } @ids), 'pages do not overlap');
is(scalar @{ get($bob, '/api/v1/media')->{json}{items} }, 0,
   "bob sees none of ann's media");
is(get($ann, '/api/v1/media?limit=0')->{status}, 422, 'limit 0: 422');

# --- the media row carries its renditions and its latest job's progress ---
# (sql/006_media_read.sql: triggers keep them, so a read is one row)

{
    my $id = $media->{id};
    $t->psql('media', "INSERT INTO renditions (media_id, name, width, height,"
             . " frame_rate, bandwidth, average_bandwidth, codecs) VALUES"
             . " ('$id', '360p', 640, 360, 30, 900000, 800000, 'avc1.4d401e'),"
             . " ('$id', '720p', 1280, 720, 30, 2600000, 2500000, 'avc1.64001f')");
    my $m = get($ann, "/api/v1/media/$id")->{json}{media};
    is_deeply([map { $_->{name} } @{ $m->{renditions} }], ['720p', '360p'],
              'renditions appear on the media, highest first');
    is($m->{renditions}[1]{average_bandwidth}, 800000,
       'a rendition carries its measured bandwidth');

    $t->psql('media', "UPDATE renditions SET bandwidth = 3000000"
                      . " WHERE media_id = '$id' AND name = '360p'");
    is(get($ann, "/api/v1/media/$id")->{json}{media}{renditions}[0]{name},
       '360p', 'an edited rendition is seen at once');

    $t->psql('media', "UPDATE jobs SET progress = 42 WHERE id = '$job->{id}'");
    is(get($ann, "/api/v1/media/$id")->{json}{media}{progress}, 42,
       "the job's progress is the media's");
    is(get($ann, '/api/v1/media?limit=20')->{json}{items}[-1]{progress}, 42,
       'the list shows it too');

    chomp(my $newer = $t->psql('media', "INSERT INTO jobs (type, media_id,"
        . " user_id, progress) VALUES ('transcode', '$id', '$ann->{user}{id}',"
        . " 7) RETURNING id"));
    $m = get($ann, "/api/v1/media/$id")->{json}{media};
    is($m->{job_id}, $newer, 'a new transcode job becomes the latest');
    is($m->{progress}, 7, "and its progress is shown");
    $t->psql('media', "UPDATE jobs SET progress = 99 WHERE id = '$job->{id}'");
    is(get($ann, "/api/v1/media/$id")->{json}{media}{progress}, 7,
       'an older job moving does not change it');
    $t->psql('media', "INSERT INTO jobs (type, media_id, user_id)"
                      . " VALUES ('sweep', '$id', '$ann->{user}{id}')");
    is(get($ann, "/api/v1/media/$id")->{json}{media}{job_id}, $newer,
       'a job of another type does not either');

    # put things back as the rest of the file expects them
    $t->psql('media', "DELETE FROM jobs WHERE media_id = '$id'"
                      . " AND id <> '$job->{id}'");
    $t->psql('media', "UPDATE jobs SET progress = 0 WHERE id = '$job->{id}'");
    $t->psql('media', "UPDATE media SET job_id = '$job->{id}', progress = 0"
                      . " WHERE id = '$id'");
    $t->psql('media', "DELETE FROM renditions WHERE media_id = '$id'");
    is_deeply(get($ann, "/api/v1/media/$id")->{json}{media}{renditions}, [],
              'deleted renditions are gone from the media');
}

# an existing library gets its rows filled in when 006 is applied
{
    $t->psql_admin('postgres', 'CREATE DATABASE media_006 OWNER media');
    my $sql = "$t->{root}/sql";
    $t->psql('media_006', slurp($_)) // die "$_ does not apply"
        for grep { !/006_/ } sort glob("$sql/00[1-5]_*.sql");
    $t->psql('media_006', "INSERT INTO users (id, email, password_hash)"
        . " VALUES ('00000000-0000-4000-8000-000000000001', 'old\@example.com', 'x');"
        . " INSERT INTO media (id, owner_id) VALUES"
        . " ('00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-000000000001');"
        . " INSERT INTO renditions (media_id, name, bandwidth, average_bandwidth, codecs)"
        . " VALUES ('00000000-0000-4000-8000-00000000000a', 'a64', 64000, 60000, 'mp4a.40.2');"
        . " INSERT INTO jobs (type, media_id, progress, created_at) VALUES"
        . " ('transcode', '00000000-0000-4000-8000-00000000000a', 100, now() - interval '1 hour'),"
        . " ('transcode', '00000000-0000-4000-8000-00000000000a', 35, now())")
        // die 'old rows';
    ok(defined $t->psql('media_006', slurp("$sql/006_media_read.sql")),
       '006 applies to a database with media in it');
    is($t->psql('media_006', "SELECT progress || ' ' || (renditions->0->>'name')"
                . " FROM media"), "35 a64\n",
       "006 fills in the latest job's progress and the renditions");
}

# --- edit and delete ---------------------------------------------------------

$r = patch($ann, "/api/v1/media/$media->{id}", { title => 'Renamed', privacy => 'unlisted' });
is($r->{status}, 200, 'PATCH: 200');
is($r->{json}{media}{title}, 'Renamed', 'PATCH: title');
is($r->{json}{media}{privacy}, 'unlisted', 'PATCH: privacy');
is(patch($ann, "/api/v1/media/$media->{id}", { privacy => 'secret' })->{status},
   422, 'PATCH bad privacy: 422');
is(patch($ann, "/api/v1/media/$media->{id}", { title => 'x' x 201 })->{status},
   422, 'PATCH long title: 422');
my $jp = JSON::PP->new->utf8;
$r = $t->http(PATCH => "/api/v1/media/$media->{id}",
              body => $jp->encode({ title => "\x{65e5}" x 200 }),
              headers => { 'Content-Type' => 'application/json',
                           Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 200, 'PATCH a title of 200 characters (600 bytes): 200');
$r = $t->http(PATCH => "/api/v1/media/$media->{id}",
              body => $jp->encode({ title => "a\nb" }),
              headers => { 'Content-Type' => 'application/json',
                           Authorization => "Bearer $ann->{access_token}" });
ok($r->{status} == 422 && $r->{json}{error}{field} eq 'title',
   'PATCH a title with a control character: 422');

# ids are canonical: an uppercase id is the same media
$r = get($ann, '/api/v1/media/' . uc $media->{id});
ok($r->{status} == 200 && $r->{json}{media}{id} eq $media->{id},
   'an uppercase id: the same media, its id lowercase');
is(patch($ann, '/api/v1/media/' . uc $media->{id}, { title => 'Renamed' })
   ->{status}, 200, 'PATCH by an uppercase id: 200');
is(patch($bob, "/api/v1/media/$media->{id}", { title => 'mine' })->{status},
   404, "PATCH someone else's: 404");

$r = $t->http(DELETE => "/api/v1/media/$media->{id}",
              headers => { Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 204, 'DELETE: 204');
is(get($ann, "/api/v1/media/$media->{id}")->{status}, 404,
   'gone from the API at once');
like($t->redis('XRANGE', 'media:sweep', '-', '+'), qr/\bjob\n[0-9a-f-]{36}/,
     'a sweep job queued for its files');

ok(-e "$dir/storage/uploads/$media->{id}", 'its upload is still on disk');
$t->start_worker('sweeper');
ok(wait_until(sub { !-e "$dir/storage/uploads/$media->{id}" }, timeout => 20),
   'the sweeper removed its files');
ok(-e "$dir/storage/uploads/$m2", "and only that media's");
is($t->psql('media', "SELECT status FROM jobs WHERE type = 'sweep'"), "done\n",
   'the sweep job is done');
$t->stop_proc('sweeper');
is($t->http(DELETE => "/api/v1/media/$media->{id}",
            headers => { Authorization => "Bearer $ann->{access_token}" })->{status},
   404, 'DELETE again: 404');

# --- names and titles: UTF-8, counted in characters, cut whole -------------

sub mp {
    my ($filename, $title) = @_;
    my $b = "--$boundary\r\nContent-Disposition: form-data; name=\"file\"; "
            . "filename=\"$filename\"\r\nContent-Type: audio/wav\r\n\r\n"
            . "$wav_bytes\r\n";
    $b .= "--$boundary\r\nContent-Disposition: form-data; name=\"title\""
          . "\r\n\r\n$title\r\n" if defined $title;
    return upload($ann, "$b--$boundary--\r\n",
                  "multipart/form-data; boundary=$boundary");
}

my $nichi = "\xe6\x97\xa5";      # one character, three bytes
$r = mp($nichi x 70 . '.wav');
is($r->{status}, 202, 'a 70-character Japanese file name (214 bytes): 202');
is(length $r->{json}{media}{title}, 74, 'the title is the whole name');
$r = mp($nichi x 250);
is($r->{status}, 202, 'a 250-character file name: 202');
is(length $r->{json}{media}{title}, 200,
   'its title is cut to 200 characters, whole');
chomp(my $src = $t->psql('media', "SELECT length(source_name) FROM media"
                                  . " WHERE id = '$r->{json}{media}{id}'"));
is($src, 250, 'and the source name keeps 250 characters');

$r = mp("bad\xff\xfename.wav");
is($r->{status}, 202, 'a file name that is not UTF-8: kept safe, 202');
is($r->{json}{media}{title}, 'bad__name.wav', 'bad bytes replaced by _');

$r = mp('tone.wav', "caf\xc3");
ok($r->{status} == 422 && $r->{json}{error}{field} eq 'title',
   'a title that is not UTF-8: 422 naming title');
$r = mp('tone.wav', $nichi x 200);
is($r->{status}, 202, 'a title of 200 three-byte characters: 202');
$r = mp('tone.wav', $nichi x 201);
ok($r->{status} == 422 && $r->{json}{error}{message} =~ /200 characters/,
   'a title of 201 characters: 422, counted in characters');

# HTTP::Tiny will not send such a header: a raw request
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                 PeerPort => $t->port('http'), Timeout => 5)
    or die "connect: $!";
print $sock "POST /api/v1/media HTTP/1.1\r\nHost: localhost\r\n"
    . "Authorization: Bearer $ann->{access_token}\r\n"
    . "Content-Type: audio/wav; name=\xff\xfe\r\n"
    . "Content-Length: " . length($wav_bytes) . "\r\n"
    . "Connection: close\r\n\r\n$wav_bytes";
my ($code, $answer) = $t->http_finish($sock);
ok($code == 422 && $answer =~ /"field":"Content-Type"/,
   'a Content-Type that is not ASCII: 422 naming it')
    or diag($code // "no answer", " ", $answer // "");

$t->finish;
done_testing;


sub upload {
    my ($user, $bytes, $type) = @_;
    return $t->http(POST => '/api/v1/media', body => $bytes,
                    headers => { 'Content-Type' => $type,
                                 Authorization => "Bearer $user->{access_token}" });
}

sub get {
    my ($user, $path) = @_;
    return $t->http(GET => $path,
                    headers => { Authorization => "Bearer $user->{access_token}" });
}

sub patch {
    my ($user, $path, $body) = @_;
    return $t->http(PATCH => $path, body => $json->encode($body),
                    headers => { 'Content-Type' => 'application/json',
                                 Authorization => "Bearer $user->{access_token}" });
}
