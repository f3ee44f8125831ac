# Avatars: PUT /api/v1/me/avatar (a JPEG or PNG, sniffed, at most 10 MB
# and 8000x8000, as covers), made by the transcoder's cover job into
# avatars/<key>-256.jpg and -64.jpg (checked by decoding what nginx
# serves), shown on /u/<handle>, in GET /api/v1/users/<handle> and next
# to comments; a new upload is a new key and the old files go.  Each
# refusal with its status.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP qw(decode_json encode_json);
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

    server {
        listen 127.0.0.1:%%PORT%%;
        client_max_body_size 64m;

        location /api/ {
            media_api;
        }
        location /u/ {
            media_pages;
        }
        location /avatars/ {
            alias %%DIR%%/storage/avatars/;
            types {
                image/jpeg jpg;
            }
        }
    }
}
EOF
$t->jwt_key;
$t->migrate;
$t->start_nginx;
$t->start_worker('transcoder');

my $ann = $t->signup('ann@example.com');
my $bob = $t->signup('bob@example.com');
api(PATCH => '/api/v1/me', $ann, encode_json({ handle => 'ann' }));

$t->make_media('face.png', '-f lavfi -i color=c=blue:size=400x300 -frames:v 1');
$t->make_media('face.jpg', '-f lavfi -i color=c=green:size=300x300 -frames:v 1');

is(api(GET => '/api/v1/users/ann')->{json}{user}{avatar}, undef,
   'no avatar yet: null');

# --- an upload, made into its two sizes ------------------------------------

my $r = avatar($ann, slurp("$dir/media/face.png"), 'image/png');
is($r->{status}, 202, 'PUT /me/avatar with a PNG: 202');
is($r->{json}{job}{status}, 'queued', '  a queued job');
ok(!exists $r->{json}{media_id}, '  of no media');
is(wait_job($ann, $r->{json}{job}{id})->{status}, 'done', '  the job is done');

my $u = api(GET => '/api/v1/users/ann')->{json}{user};
my ($key) = ($u->{avatar}{256} // '') =~ m{^/avatars/([0-9a-f]{32})-256\.jpg$};
ok($key, 'GET /users/ann: avatar.256 /avatars/<key>-256.jpg');
is($u->{avatar}{64}, "/avatars/$key-64.jpg", '  avatar.64');
(my $hex_id = $ann->{user}{id}) =~ s/-//g;
isnt($key // '', $hex_id, '  the key is not the user id');
my $big = $t->http(GET => $u->{avatar}{256} // '/none');
is($big->{status}, 200, '  served without signing in');
is($big->{headers}{'content-type'}, 'image/jpeg', '  a JPEG');
is(size($big->{content}), '256x256', '  256x256 (a 400x300 PNG, centred square)');
is(size($t->http(GET => $u->{avatar}{64} // '/none')->{content}), '64x64', '  and 64x64');

like($t->http(GET => '/u/ann')->{content},
     qr{<img id="avatar" class="avatar" [^>]*src="/avatars/$key-256\.jpg">},
     'the profile page shows it');

# next to comments: the comment's user carries it
my $song = $t->psql('media', "INSERT INTO media (owner_id, kind, status, privacy,"
    . " title, duration_ms) VALUES ('$bob->{user}{id}', 'audio', 'ready', 'public',"
    . " 'Song', 10000) RETURNING id");
$song =~ s/\s.*//s;
$r = api(POST => "/api/v1/media/$song/comments", $ann,
         encode_json({ body => 'nice', at_ms => 3000 }));
is($r->{status}, 201, 'a comment');
$r = api(GET => "/api/v1/media/$song/comments");
is($r->{json}{items}[0]{user}{avatar}{64}, "/avatars/$key-64.jpg",
   '  listed with its author\'s 64 px avatar');
is($r->{json}{items}[0]{user}{avatar}{256}, "/avatars/$key-256.jpg", '  and 256');

# a new one: a new key, the old files removed
$r = avatar($ann, slurp("$dir/media/face.jpg"), 'application/octet-stream');
is($r->{status}, 202, 'a JPEG whatever its Content-Type: 202');
is(wait_job($ann, $r->{json}{job}{id})->{status}, 'done', '  done');
my $new = api(GET => '/api/v1/users/ann')->{json}{user}{avatar}{256} // '';
isnt($new, "/avatars/$key-256.jpg", '  a new URL');
is($t->http(GET => $new)->{status}, 200, '  served');
ok(!-e "$dir/storage/avatars/$key-256.jpg" && !-e "$dir/storage/avatars/$key-64.jpg",
   '  the old files are gone');
is($t->http(GET => "/avatars/$key-256.jpg")->{status}, 404, '  the old URL: 404');

# --- refusals -----------------------------------------------------------

$r = avatar($bob, "GIF89a" . ("\0" x 100), 'image/png');
is($r->{status}, 415, 'a GIF labelled PNG: 415');
is($r->{json}{error}{code}, 'unsupported_media_type', '  unsupported_media_type');
like($r->{json}{error}{message}, qr/an? avatar is a JPEG or PNG/, '  saying what an avatar is');

my $huge_png = "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR" . pack('NN', 600, 8001)
               . "\x08\x02\0\0\0" . ("\0" x 64);
$r = avatar($bob, $huge_png, 'image/png');
is($r->{status}, 422, 'a 600x8001 PNG: 422');
is($r->{json}{error}{code}, 'picture_too_large', '  picture_too_large');
like($r->{json}{error}{message}, qr/avatar is 600x8001 pixels; at most 8000x8000/,
     '  naming both sizes');

$r = avatar($bob, "\xff\xd8\xff\xda\0\x04\0\0", 'image/jpeg');
is($r->{status}, 422, 'a JPEG with no frame header: 422');
is($r->{json}{error}{code}, 'unreadable_picture', '  unreadable_picture');

$r = avatar($bob, 'x' x (10 * 1024 * 1024 + 1), 'image/jpeg');
is($r->{status}, 413, 'over 10 MB: 413');
is($r->{json}{error}{code}, 'avatar_too_large', '  avatar_too_large');

$r = avatar($bob, '', 'image/jpeg');
is($r->{status}, 400, 'an empty body: 400');
is($r->{json}{error}{code}, 'body_required', '  body_required');

$r = avatar(undef, slurp("$dir/media/face.png"), 'image/png');
is($r->{status}, 401, 'signed out: 401');

# broken past its header: the job fails with a sentence, nothing shown
$r = avatar($bob, substr(slurp("$dir/media/face.png"), 0, 33) . ("\xff" x 200),
            'image/png');
is($r->{status}, 202, 'a PNG broken past its header: accepted');
my $job = wait_job($bob, $r->{json}{job}{id});
is($job->{status}, 'failed', '  its job fails');
like($job->{error} // '', qr/cannot be read/, '  saying so');
is($t->psql('media', "SELECT count(*) FROM users WHERE avatar_key IS NOT NULL"),
   "1\n", '  and bob has no avatar');

$t->finish;
done_testing;


sub api {
    my ($method, $path, $user, $body) = @_;
    return $t->http($method => $path,
                    headers => { ($user ? (Authorization => "Bearer $user->{access_token}") : ()),
                                 ($body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => $body) : ()));
}

sub avatar {
    my ($user, $body, $type) = @_;
    return $t->http(PUT => '/api/v1/me/avatar', body => $body,
                    headers => { 'Content-Type' => $type,
                                 ($user ? (Authorization => "Bearer $user->{access_token}") : ()) });
}

sub wait_job {
    my ($user, $id) = @_;
    my $j;
    wait_until(sub {
        $j = api(GET => "/api/v1/jobs/$id", $user)->{json}{job};
        $j && $j->{status} =~ /^(done|failed|dead)$/;
    }, timeout => 60, interval => 0.3);
    return $j // {};
}

# WxH of a picture, by decoding it
sub size {
    my ($data) = @_;
    return '' unless length($data // '');
    open(my $f, '>:raw', "$dir/probe.jpg") or die;
    print $f $data;
    close $f;
    my $s = `ffprobe -v error -show_entries stream=width,height -of csv=p=0:s=x '$dir/probe.jpg'`;
    chomp $s;
    return $s;
}
