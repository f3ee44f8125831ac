# GET /api/v1/activity: a user's uploads, exports, downloads (one item per
# use of their links) and purchases, newest first, in cursor pages that
# neither skip nor repeat an item, events at the same microsecond
# included; nobody else's; and the refusals (limit, made-up cursors,
# signed out).  Uploads go through the API; the other kinds are written
# as their rooms write them (their tables, sql/010).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;

$t->start_postgres;
$t->start_redis;
$t->write_conf(<<'EOF');
%%MAIN%%
worker_processes 1;
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;
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

my $ann = $t->signup('ann@example.com');
my $bob = $t->signup('bob@example.com');
my ($a_id, $b_id) = ($ann->{user}{id}, $bob->{user}{id});
my $clip = $t->make_media('tone.wav', '-f lavfi -i sine=frequency=440:duration=1');

my $r = api(GET => '/api/v1/activity', $ann);
is($r->{status}, 200, 'a new user: 200');
is_deeply($r->{json}, { items => [], next_cursor => undef }, '  nothing yet');

# ann uploads two media, bob one
my $m1 = upload($ann);
my $m2 = upload($ann);
my $mb = upload($bob);

# an export of m1, two uses of a link to it, a purchase of bob's media: at
# set times, two of them at the very same microsecond
my $x = sql("INSERT INTO exports (media_id, user_id, format, codec, status,"
            . " created_at) VALUES ('$m1', '$a_id', 'flac', 'flac', 'ready',"
            . " now() + interval '1 minute') RETURNING id");
my $link = sql("INSERT INTO download_links (user_id, media_id, export_id,"
               . " grant_kind, filename, max_uses, expires_at) VALUES"
               . " ('$a_id', '$m1', '$x', 'owner', 'a.flac', 3,"
               . " now() + interval '1 hour') RETURNING id");
# one statement: both uses at the same now(), the same microsecond
sql("INSERT INTO download_uses (link_id, user_id, media_id, export_id, status,"
    . " range, created_at) VALUES"
    . " ('$link', '$a_id', '$m1', '$x', 200, NULL, now() + interval '2 minutes'),"
    . " ('$link', '$a_id', '$m1', '$x', 206, 'bytes=0-99',"
    . "  now() + interval '2 minutes')");
sql("UPDATE media SET price_cents = 300, currency = 'usd', privacy = 'public'"
    . " WHERE id = '$mb'");
sql("INSERT INTO entitlements (user_id, media_id, stripe_session, amount_cents,"
    . " currency, created_at) VALUES ('$a_id', '$mb', 'cs_test_x', 300, 'usd',"
    . " now() + interval '3 minutes')");

$r = api(GET => '/api/v1/activity', $ann);
is($r->{status}, 200, 'GET /api/v1/activity: 200');
my @items = @{ $r->{json}{items} };
is_deeply([ map { $_->{type} } @items ],
          [qw(purchase download download export upload upload)],
          'every kind, newest first');
ok(!defined $r->{json}{next_cursor}, 'one page holds them all');

my ($p, $d1, $d2, $e, $u2, $u1) = @items;
is($p->{media}{id}, $mb, 'the purchase: the media bought');
is($p->{amount_cents}, 300, '  the amount');
is($p->{currency}, 'usd', '  the currency');
is($u2->{media}{id}, $m2, 'uploads: the newest first');
is($u1->{media}{id}, $m1, '  then the older');
is($u1->{media}{status}, 'queued', '  with the media status');
ok($u1->{size} > 0, '  and the size');
is($e->{export}{id}, $x, 'the export');
is($e->{export}{format}, 'flac', '  its format');
is($e->{media}{id}, $m1, '  of which media');
is_deeply([ sort map { $_->{status} } $d1, $d2 ], [ 200, 206 ],
          'a download item per use, with its status');
is($d1->{at}, $d2->{at}, '  (both at the same microsecond)');
is($d1->{link_id}, $link, '  and its link');
is(scalar(grep { defined $_->{range} } $d1, $d2), 1, '  and the range asked');
like($p->{at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'times in RFC 3339');

my @theirs = map { $_->{type} } @{ api(GET => '/api/v1/activity', $bob)->{json}{items} };
is_deeply(\@theirs, ['upload'], "bob sees his upload only, not ann's activity");

# --- pages ---------------------------------------------------------------------

my $json = JSON::PP->new->canonical;
for my $limit (1, 2, 4) {
    my (@seen, $cursor, $pages);
    while (1) {
        my $q = "/api/v1/activity?limit=$limit"
                . (defined $cursor ? "&cursor=$cursor" : '');
        my $page = api(GET => $q, $ann);
        last unless $page->{status} == 200 && ++$pages <= 10;
        push @seen, @{ $page->{json}{items} };
        $cursor = $page->{json}{next_cursor} // last;
    }
    is_deeply([ map { $json->encode($_) } @seen ],
              [ map { $json->encode($_) } @items ],
              "pages of $limit: every item once, in order ($pages pages)");
}

# --- refusals --------------------------------------------------------------------

is($t->http(GET => '/api/v1/activity')->{status}, 401, 'signed out: 401');
for my $bad ('limit=0', 'limit=101', 'limit=x') {
    $r = api(GET => "/api/v1/activity?$bad", $ann);
    is($r->{status}, 422, "$bad: 422");
    is($r->{json}{error}{field}, 'limit', '  naming limit');
}
for my $bad ('x', '123', '123.upload', '123.bogus.1', 'a1.upload.1',
             '1.upload.zz', '1234567890123456789.upload.1',
             "1.upload.$m1'", '1.upload.' . '9' x 19, '.upload.1') {
    $r = api(GET => "/api/v1/activity?cursor=$bad", $ann);
    is($r->{status}, 422, "a made-up cursor \"$bad\": 422");
    is($r->{json}{error}{field}, 'cursor', '  naming cursor');
}

$t->finish;
done_testing;


sub api {
    my ($method, $path, $user) = @_;
    return $t->http($method => $path,
        headers => { Authorization => "Bearer $user->{access_token}" });
}

sub upload {
    my ($user) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => slurp($clip),
                     headers => { 'Content-Type' => 'audio/wav',
                                  Authorization => "Bearer $user->{access_token}" });
    die "upload: $r->{status}" unless $r->{status} == 202;
    return $r->{json}{media}{id};
}

sub sql {
    my ($q) = @_;
    my $out = $t->psql('media', $q) // die "psql failed: $q";
    $out =~ s/\n.*//s;
    return $out;
}
