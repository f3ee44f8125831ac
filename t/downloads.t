# Limited-use download links, against nginx configured from
# nginx.conf.example: who may make one (owner, buyer, subscriber with
# downloads left; else 404), every 422, the /dl/ path (uses counted
# atomically in Redis: 20 concurrent downloads of a 3-use link are three
# 200s; a Range resumption from the same client spends none; HEAD spends
# none), an audit row per download, expired, forged, revoked, deleted
# assets, and Content-Disposition for Japanese and emoji titles.
#
# Exports are made as rows and files here (the exports worker is built
# elsewhere); originals by the normal upload.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP qw(decode_json encode_json);
use Digest::SHA qw(hmac_sha256 sha256);
use MIME::Base64 qw(encode_base64);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_nginx;

my $ann = $t->signup('ann@example.com');
my $bob = $t->signup('bob@example.com');
my $cat = $t->signup('cat@example.com');

$t->make_media('tone.wav', '-f lavfi -i sine=frequency=440:duration=3');
my $wav = slurp("$dir/media/tone.wav");

# 夜明けの歌 and 🎸 riff, as UTF-8 bytes in JSON
my $ja = "\x{591c}\x{660e}\x{3051}\x{306e}\x{6b4c}";
my $emoji = "\x{1f3b8} riff";

my $m1 = upload($ann, title => $ja);                 # private
my $m2 = upload($ann, title => $emoji, privacy => 'public');
my $m3 = upload($ann, title => 'gone soon');

# --- making a link ------------------------------------------------------------

my $r = api(POST => '/api/v1/downloads', $ann, { media_id => $m1 });
is($r->{status}, 201, 'owner: 201') or diag($r->{content});
my $l1 = $r->{json};
like($l1->{url}, qr{^/dl/[A-Za-z0-9_-]{75}\.[A-Za-z0-9_-]{43}/}, 'url: /dl/<token>/<name>');
is($l1->{max_uses}, 3, 'max_uses defaults to 3');
is($l1->{grant}, 'owner', 'grant: owner');
is($l1->{filename}, "$ja", 'filename: the title (no extension known)');
my $ttl = iso_epoch($l1->{expires_at}) - time();
ok($ttl > 3500 && $ttl <= 3600, "expires in an hour by default ($ttl s)");

$r = api(POST => '/api/v1/downloads', undef, { media_id => $m1 });
is($r->{status}, 401, 'signed out: 401');

# the 422s, each naming its field
for my $case (
    [ { media_id => $m1, export_id => $m1 }, 'export_id', 'both ids' ],
    [ {}, 'media_id', 'neither id' ],
    [ { media_id => 'nope' }, 'media_id', 'media_id not a uuid' ],
    [ { media_id => 5 }, 'media_id', 'media_id a number' ],
    [ { export_id => 'x' x 36 }, 'export_id', 'export_id not a uuid' ],
    [ { media_id => $m1, ttl_s => 59 }, 'ttl_s', 'ttl_s 59' ],
    [ { media_id => $m1, ttl_s => 604801 }, 'ttl_s', 'ttl_s over 7 days' ],
    [ { media_id => $m1, ttl_s => '600' }, 'ttl_s', 'ttl_s a string' ],
    [ { media_id => $m1, ttl_s => 60.5 }, 'ttl_s', 'ttl_s a fraction' ],
    [ { media_id => $m1, max_uses => 0 }, 'max_uses', 'max_uses 0' ],
    [ { media_id => $m1, max_uses => 101 }, 'max_uses', 'max_uses 101' ],
    [ { media_id => $m1, max_uses => 'all' }, 'max_uses', 'max_uses a string' ],
) {
    my ($body, $field, $name) = @$case;
    $r = api(POST => '/api/v1/downloads', $ann, $body);
    is($r->{status}, 422, "422: $name");
    is($r->{json}{error}{field}, $field, "  names $field")
        or diag($r->{content});
}

$r = api(POST => '/api/v1/downloads', $ann, { media_id => $m1, ttl_s => 60, max_uses => 100 });
is($r->{status}, 201, 'ttl_s 60 and max_uses 100: the bounds are allowed');
$r = api(POST => '/api/v1/downloads', $ann, { media_id => $m1, ttl_s => 604800, max_uses => 1 });
is($r->{status}, 201, 'ttl_s 7 days and max_uses 1 too');

# who may: the 404s
$r = api(POST => '/api/v1/downloads', $ann, { media_id => '00000000-0000-4000-8000-000000000000' });
is($r->{status}, 404, 'an unknown media: 404');
$r = api(POST => '/api/v1/downloads', $bob, { media_id => $m1 });
is($r->{status}, 404, 'someone else\'s private media: 404');
is($r->{json}{error}{code}, 'not_found', '  not_found, as if it did not exist');
$r = api(POST => '/api/v1/downloads', $ann, { export_id => '00000000-0000-4000-8000-000000000000' });
is($r->{status}, 404, 'an unknown export: 404');

# exports of ann's: of her private media, and of her public one
my $e0 = export_row($m1, $ann, 'mp3', 'ready');
my $p0 = export_row($m2, $ann, 'flac', 'ready');

# a buyer: grant purchase, for exports; the original is the owner's only
sql("INSERT INTO entitlements (user_id, media_id) VALUES ('$bob->{user}{id}', '$m1')");
$r = api(POST => '/api/v1/downloads', $bob, { media_id => $m1 });
is($r->{status}, 404, 'a buyer asking for the original upload: 404 (the owner\'s only)');
# an original the sweeper removed (media_source_retention): 410
sql("UPDATE media SET source_removed_at = now() WHERE id = '$m1'");
$r = api(POST => '/api/v1/downloads', $ann, { media_id => $m1 });
is($r->{status}, 410, 'the owner, an original no longer kept: 410');
is($r->{json}{error}{code}, 'asset_gone', '  asset_gone');
sql("UPDATE media SET source_removed_at = NULL WHERE id = '$m1'");
$r = api(POST => '/api/v1/downloads', $bob, { export_id => $e0 });
is($r->{status}, 201, 'a buyer, an export of what they bought: 201');
is($r->{json}{grant}, 'purchase', '  grant: purchase');
is(sql("SELECT count(*) FROM usage_counters WHERE user_id = '$bob->{user}{id}'"), 0,
   '  not counted against the plan');

# a subscriber, public media: grant subscription, counted
$r = api(POST => '/api/v1/downloads', $cat, { export_id => $p0 });
is($r->{status}, 201, 'a viewer, an export of a public media: 201');
is($r->{json}{grant}, 'subscription', '  grant: subscription');
is($r->{json}{filename}, "$emoji.flac", '  named after the title, .flac');
is(sql("SELECT used FROM usage_counters WHERE user_id = '$cat->{user}{id}'"
       . " AND quantity = 'downloads'"), 1, '  one download counted this month');
$r = api(POST => '/api/v1/downloads', $cat, { media_id => $m2 });
is($r->{status}, 404, 'a viewer asking for a public media\'s original: 404');
$r = api(POST => '/api/v1/downloads', $cat, { export_id => $e0 });
is($r->{status}, 404, 'a viewer, an export of a private media: 404');
# what is for sale is had by buying it: no subscription download
sql("UPDATE media SET price_cents = 499, currency = 'eur' WHERE id = '$m2'");
$r = api(POST => '/api/v1/downloads', $cat, { export_id => $p0 });
is($r->{status}, 404, 'a viewer, an export of a priced public media: 404');
is(sql("SELECT used FROM usage_counters WHERE user_id = '$cat->{user}{id}'"
       . " AND quantity = 'downloads'"), 1, '  not counted');
sql("UPDATE media SET price_cents = NULL, currency = NULL WHERE id = '$m2'");
sql("UPDATE usage_counters SET used = 10 WHERE user_id = '$cat->{user}{id}'");
$r = api(POST => '/api/v1/downloads', $cat, { export_id => $p0 });
is($r->{status}, 402, 'a viewer with the plan\'s 10 downloads used: 402');
is($r->{json}{error}{code}, 'quota_exceeded', '  quota_exceeded')
    or diag($r->{content});
like($r->{content}, qr/downloads/, '  naming downloads');
is(sql("SELECT used FROM usage_counters WHERE user_id = '$cat->{user}{id}'"
       . " AND quantity = 'downloads'"), 10, '  and not counted');

# --- 20 at once on a 3-use link: three 200s --------------------------------

my @socks = map { $t->http_start(GET => $l1->{url}) } 1 .. 20;
my %status;
my @bodies;
for my $s (@socks) {
    my ($st, $body) = $t->http_finish($s, 20);
    $status{$st // 'none'}++;
    push @bodies, $body if ($st // 0) == 200;
}
is($status{200}, 3, '20 concurrent downloads of a 3-use link: three 200s');
is($status{410}, 17, '  and seventeen 410s') or diag(explain(\%status));
is(scalar(grep { $_ eq $wav } @bodies), 3, '  each 200 the whole file');
is(sql("SELECT count(*) FROM download_uses WHERE link_id = '$l1->{id}'"), 3,
   '  three audit rows');
is(sql("SELECT uses FROM download_links WHERE id = '$l1->{id}'"), 3,
   '  the row says 3 uses');
is(sql("SELECT count(*) FROM download_uses WHERE link_id = '$l1->{id}'"
       . " AND status = 200 AND user_id = '$ann->{user}{id}'"
       . " AND address = '127.0.0.1' AND media_id = '$m1'"), 3,
   '  each with user, address, status');
ok(!defined $t->psql('media', "UPDATE download_uses SET status = 500"
                               . " WHERE link_id = '$l1->{id}'")
   && !defined $t->psql('media', "DELETE FROM download_uses"
                                . " WHERE link_id = '$l1->{id}'"),
   '  append-only: UPDATE and DELETE refused, as the service\'s role');

# $media_download_status in the example's access log, kept across the
# internal redirect
my $url_re = quotemeta($l1->{url});
my @logged;
wait_until(sub {
    @logged = map { decode_json($_) } grep { /$url_re/ }
              split /\n/, slurp("$dir/media.log");
    @logged >= 20;
}, timeout => 5);
is(scalar(grep { $_->{status} == 200 && $_->{download_status} eq 'ok' }
          @logged), 3, 'access log (JSON lines): three downloads "ok"');
is(scalar(grep { $_->{status} == 410
                 && $_->{download_status} eq 'link_spent' } @logged), 17,
   '  seventeen "link_spent"') or diag(explain(\@logged));

$r = get($l1->{url});
is($r->{status}, 410, 'spent: 410');
is($r->{json}{error}{code}, 'link_spent', '  link_spent');
like($r->{json}{error}{message}, qr/3 downloads are used up/, '  saying so');

# PostgreSQL is the truth: Redis losing its counts starts them again from
# the row, so a spent link stays spent
$t->redis('FLUSHALL');
$r = get($l1->{url});
is($r->{status}, 410, 'Redis flushed: the spent link is still spent (410)');
is($r->{json}{error}{code}, 'link_spent', '  link_spent, counted from the row');

# --- the file as nginx serves it ---------------------------------------------

my $l = link_for($ann, { media_id => $m1, max_uses => 2 });
$r = get($l->{url}, 'HEAD');
is($r->{status}, 200, 'HEAD: 200');
is($r->{headers}{'content-length'}, length($wav), '  Content-Length');
ok($r->{headers}{etag}, '  ETag');
is($r->{headers}{'accept-ranges'}, 'bytes', '  Accept-Ranges: bytes');
is(sql("SELECT uses FROM download_links WHERE id = '$l->{id}'"), 0, '  no use spent');

$r = get($l->{url});
is($r->{status}, 200, 'GET: 200');
is($r->{content}, $wav, '  the upload\'s bytes');
is($r->{headers}{'content-disposition'},
   "attachment; filename=\"_____\"; filename*=UTF-8''%E5%A4%9C%E6%98%8E%E3%81%91%E3%81%AE%E6%AD%8C",
   '  Content-Disposition for a Japanese title: ASCII fallback and RFC 8187');
like($r->{headers}{'cache-control'} // '', qr/private/, '  Cache-Control: private');
my $etag = $r->{headers}{etag};

# --- Range resumption spends no use ------------------------------------------

$l = link_for($ann, { media_id => $m2, max_uses => 1 });
$r = get($l->{url}, GET => { Range => 'bytes=0-999' });
is($r->{status}, 206, 'a 1-use link, bytes=0-999: 206');
is($r->{content}, substr($wav, 0, 1000), '  the first 1000 bytes');
is($r->{headers}{'content-disposition'},
   "attachment; filename=\"_ riff\"; filename*=UTF-8''%F0%9F%8E%B8%20riff",
   '  Content-Disposition for an emoji title');
$r = get($l->{url}, GET => { Range => 'bytes=1000-' });
is($r->{status}, 206, 'the same client resumes at 1000: 206');
is($r->{content}, substr($wav, 1000), '  the rest');
$r = get($l->{url}, GET => { Range => 'bytes=1000-', 'If-Range' => $r->{headers}{etag} });
is($r->{status}, 206, '  again, with If-Range of the current ETag: 206');
# nginx would send the whole file for these: each is a download, not a
# resumption, and the link's one use is spent
for my $whole ([ { Range => 'bytes=1000-', 'If-Range' => '"stale"' },
                 'If-Range of another ETag' ],
               [ { Range => 'bytes=1000-',
                   'If-Range' => 'Thu, 01 Jan 1998 00:00:00 GMT' },
                 'If-Range of another date' ],
               [ { Range => 'bytes=1-,0-1' }, 'several ranges' ],
               [ { Range => 'bytes=1000-999' }, 'a backwards range' ])
{
    $r = get($l->{url}, GET => $whole->[0]);
    is($r->{status}, 410, "  $whole->[1]: 410, not the whole file again");
}
is(sql("SELECT uses FROM download_links WHERE id = '$l->{id}'"), 1,
   '  still one use spent');
is(sql("SELECT count(*) FROM download_uses WHERE link_id = '$l->{id}'"), 3,
   '  an audit row for each request served');
$url_re = quotemeta($l->{url});
ok(wait_until(sub { grep { /$url_re.*"status":206,.*"download_status":"resumed"/ }
                    split /\n/, slurp("$dir/media.log") }, timeout => 5),
   '  logged as "resumed"');
$r = get($l->{url}, GET => { Range => 'bytes=1000-', 'User-Agent' => 'another/1.0' });
is($r->{status}, 410, 'another client resuming: 410 (it spent no use)');
$r = get($l->{url});
is($r->{status}, 410, 'a fresh download from the same client: 410');
$r = get($l->{url}, GET => { Range => 'bytes=0-' });
is($r->{status}, 410, 'bytes=0- is a fresh download: 410');

# --- expired, forged -----------------------------------------------------------

my $secret = slurp("$dir/download.key");
$secret =~ s/\n\z//;
$l = link_for($ann, { media_id => $m1 });
(my $name = $l->{url}) =~ s{^/dl/[^/]+/}{};

$r = get('/dl/' . mint($secret, $l->{id}, $ann->{user}{id}, $m1, 0, 1, time() - 5) . "/$name");
is($r->{status}, 410, 'expired link: 410');
is($r->{json}{error}{code}, 'link_expired', '  link_expired');
like($r->{json}{error}{message}, qr/expired at \d{4}-\d\d-\d\dT/, '  saying when');

$r = get('/dl/' . mint($secret, $l->{id}, $ann->{user}{id}, $m1, 0, 1, time() + 600) . "/$name");
is($r->{status}, 200, 'the same link re-signed with the key and a later expiry: 200 (the test\'s signer is right)');

$r = get('/dl/' . mint('another secret, another secret', $l->{id}, $ann->{user}{id}, $m1, 0, 1,
                       time() + 600) . "/$name");
is($r->{status}, 403, 'signed with another key: 403');
is($r->{json}{error}{code}, 'invalid_link', '  invalid_link');

$r = get('/dl/' . mint($secret, $l->{id}, $bob->{user}{id}, $m1, 0, 1, time() + 600) . "/$name");
is($r->{status}, 410, 'signed, but for another user than the link\'s: 410, no such link');

(my $forged = $l->{url}) =~ s{^(/dl/.{80})(.)}{$1 . ($2 eq 'A' ? 'B' : 'A')}e;
$r = get($forged);
is($r->{status}, 403, 'one character of the signature changed: 403');
(my $short = $l->{url}) =~ s{^(/dl/.{100}).{19}}{$1};
$r = get($short);
is($r->{status}, 403, 'a token cut short: 403');
$r = get('/dl/' . ('A' x 119));
is($r->{status}, 404, 'no file name: 404');
$r = get($l->{url}, 'POST');
is($r->{status}, 405, 'POST: 405');
is($r->{headers}{allow}, 'GET, HEAD', '  Allow: GET, HEAD');

# --- revoke --------------------------------------------------------------------

$l = link_for($ann, { media_id => $m1, max_uses => 5 });
is(get($l->{url})->{status}, 200, 'a link works');
$r = api(DELETE => "/api/v1/downloads/$l->{id}", $bob);
is($r->{status}, 404, 'another user revoking it: 404');
$r = api(DELETE => "/api/v1/downloads/$l->{id}", $ann);
is($r->{status}, 204, 'its owner revokes it: 204');
$r = get($l->{url});
is($r->{status}, 410, 'revoked: 410 at once');
is($r->{json}{error}{code}, 'link_revoked', '  link_revoked');
is($t->redis("EXISTS", "media:dl:{$l->{id}}:r"), 1, '  Redis told');
$r = api(DELETE => "/api/v1/downloads/$l->{id}", $ann);
is($r->{status}, 204, 'revoked again: 204');
$r = api(DELETE => '/api/v1/downloads/not-an-id', $ann);
is($r->{status}, 404, 'revoking a malformed id: 404');

# --- exports and deleted assets ------------------------------------------------

my $e1 = export_row($m1, $ann, 'mp3', 'ready');
$r = api(POST => '/api/v1/downloads', $ann, { export_id => $e1 });
is($r->{status}, 201, 'an export: 201') or diag($r->{content});
$l = $r->{json};
is($l->{filename}, "$ja.mp3", '  named title.mp3');
is($l->{export_id}, $e1, '  export_id');
$r = get($l->{url});
is($r->{status}, 200, '  downloaded');
is($r->{content}, "mp3 bytes of $e1", '  the export\'s file');
is($r->{headers}{'content-type'}, 'audio/mpeg', '  audio/mpeg');
like($r->{headers}{'content-disposition'}, qr/filename\*=UTF-8''%E5.*%AD%8C\.mp3$/,
     '  Content-Disposition with .mp3');

$r = api(POST => '/api/v1/downloads', $bob, { export_id => $e1 });
is($r->{status}, 201, 'a buyer downloads the owner\'s export');

my $e2 = export_row($m1, $ann, 'flac', 'processing');
$r = api(POST => '/api/v1/downloads', $ann, { export_id => $e2 });
is($r->{status}, 409, 'an export still processing: 409');
is($r->{json}{error}{code}, 'not_ready', '  not_ready');

unlink("$dir/storage/exports/$e1.mp3");
$r = get($l->{url});
is($r->{status}, 410, 'the export\'s file gone: 410');
is($r->{json}{error}{code}, 'asset_gone', '  asset_gone');
is(sql("SELECT uses FROM download_links WHERE id = '$l->{id}'"), 1, '  no use spent on it');

my $e3 = export_row($m1, $ann, 'ogg', 'ready');
$l = link_for($ann, { export_id => $e3 });
sql("UPDATE exports SET deleted_at = now(), status = 'deleted' WHERE id = '$e3'");
$r = get($l->{url});
is($r->{status}, 410, 'the export deleted: 410');
$r = api(POST => '/api/v1/downloads', $ann, { export_id => $e3 });
is($r->{status}, 404, '  and no new link for it: 404');

$l = link_for($ann, { media_id => $m3 });
is(api(DELETE => "/api/v1/media/$m3", $ann)->{status}, 204, 'a media deleted');
$r = get($l->{url});
is($r->{status}, 410, '  its link: 410');
is($r->{json}{error}{code}, 'asset_gone', '  asset_gone');

# --- the list -----------------------------------------------------------------

$r = api(GET => '/api/v1/downloads', $ann);
is($r->{status}, 200, 'GET /api/v1/downloads: 200');
my %by = map { $_->{id} => $_ } @{ $r->{json}{downloads} };
is($by{$l1->{id}}{uses_left}, 0, '  the 20-request link: none left');
is($by{$l1->{id}}{state}, 'spent', '  spent');
ok(!defined $by{$l1->{id}}{url}, '  and no url');
is($by{$l->{id}}{state}, 'gone', '  the deleted media\'s link: gone');
my ($active) = grep { $_->{state} eq 'active' && $_->{uses} == 0 } values %by;
ok($active && $active->{url} =~ m{^/dl/}, 'an active link: its url again');
is(get($active->{url}, 'HEAD')->{status}, 200, '  which works');
ok(!grep({ $_->{id} eq $l1->{id} } @{ api(GET => '/api/v1/downloads', $bob)->{json}{downloads} }),
   'bob\'s list: not ann\'s links');

# Redis away: a download is refused with 503, not served uncounted
$l = link_for($ann, { media_id => $m1 });
$t->stop_redis;
$r = get($l->{url});
is($r->{status}, 503, 'Redis down: 503');
is($r->{json}{error}{code}, 'unavailable', '  unavailable, try again');
is(sql("SELECT count(*) FROM download_uses WHERE link_id = '$l->{id}'"), 0,
   '  no audit row');

# --- the uses sealed into the audit trail (sql/028), as the sweeper does --

my $uses = sql("SELECT count(*) FROM download_uses");
is(sql("SELECT count(*) FROM audit_log WHERE action = 'download.seal'"), 0,
   'no seal yet');
is(sql("SELECT media_download_seal(10000) IS NULL"), 't',
   'uses under a minute old are not sealed yet (a use with a smaller id '
   . 'may still commit)');
my $seal = sql("SELECT media_download_seal(10000, '0 seconds')");
like($seal, qr/^\d+$/, "sealed: audit row $seal");
is(sql("SELECT after->>'from_id' || '-' || (after->>'count')"
       . " FROM audit_log WHERE id = $seal"),
   sql("SELECT min(id) FROM download_uses") . "-$uses",
   "  every use so far, from the first ($uses)");
is(sql("SELECT media_download_seal(10000, '0 seconds') IS NULL"), 't',
   '  sealed once: nothing left for a second seal');
is(sql("SELECT count(*) FROM media_audit_verify()") + 0
   + sql("SELECT count(*) FROM media_download_verify()"), 0,
   '  the chain and the seal hold');

# a superuser alters a sealed use: the seal says so
$t->psql_admin('media', 'ALTER TABLE download_uses DISABLE TRIGGER'
               . ' download_uses_append_only; UPDATE download_uses SET'
               . " status = 206 WHERE id = (SELECT max(id) FROM download_uses);"
               . ' ALTER TABLE download_uses ENABLE TRIGGER'
               . ' download_uses_append_only') // die 'alter failed';
like(sql("SELECT id || ' ' || problem FROM media_download_verify()"),
     qr/^$seal the download uses \d+ to \d+ no longer match their seal \($uses now, $uses sealed\)$/,
     'a sealed use altered by a superuser: media_download_verify names the seal');
my $out = `'@{[ $t->build_path('media-admin') ]}' -c '@{[ $t->conf_file ]}' audit verify 2>&1`;
isnt($? >> 8, 0, 'media-admin audit verify fails');
like($out, qr/^row $seal: the download uses .* no longer match their seal/m,
     "  naming the seal: $out");

$t->finish;
done_testing();

# --- helpers ---------------------------------------------------------------

sub api {
    my ($method, $path, $user, $body) = @_;
    return $t->http($method => $path,
                    headers => { ($user ? (Authorization => "Bearer $user->{access_token}") : ()),
                                 ($body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => encode_json($body)) : ()));
}

sub get {
    my ($path, $method, $headers) = @_;
    my $r = HTTP::Tiny->new(timeout => 10, agent => 'downloads.t/1.0')
        ->request($method // 'GET', $t->url($path), { headers => $headers // {} });
    $r->{json} = eval { decode_json($r->{content}) }
        if ($r->{headers}{'content-type'} // '') =~ m{^application/json};
    return $r;
}

sub sql {
    my $out = $t->psql('media', $_[0]);
    die "psql: $_[0]" unless defined $out;
    chomp $out;
    return $out;
}

sub upload {
    my ($user, %patch) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => $wav,
                     headers => { 'Content-Type' => 'audio/wav',
                                  Authorization => "Bearer $user->{access_token}" });
    die "upload: $r->{status} $r->{content}" unless $r->{status} == 202;
    my $id = $r->{json}{media}{id};
    $r = api(PATCH => "/api/v1/media/$id", $user, \%patch);
    die "patch: $r->{status} $r->{content}" unless $r->{status} == 200;
    return $id;
}

sub link_for {
    my ($user, $body) = @_;
    my $r = api(POST => '/api/v1/downloads', $user, $body);
    die "link: $r->{status} $r->{content}" unless $r->{status} == 201;
    return $r->{json};
}

# an export row and its file, as the exports worker would leave them
sub export_row {
    my ($media, $user, $format, $status) = @_;
    my $id = sql("INSERT INTO exports (media_id, user_id, format, codec, status, size,"
                 . " expires_at) VALUES ('$media', '$user->{user}{id}', '$format', 'x',"
                 . " '$status', 20, now() + interval '1 day') RETURNING id");
    $id =~ s/\s.*//s;
    if ($status eq 'ready') {
        open(my $fh, '>', "$dir/storage/exports/$id.$format") or die $!;
        print $fh "$format bytes of $id";
        close $fh;
    }
    return $id;
}

# a token as the module signs it (media_dltoken.h), for expiry and keys
sub mint {
    my ($key, $link, $user, $asset, $kind, $grant, $exp) = @_;
    my $uuid = sub { (my $h = $_[0]) =~ s/-//g; pack('H32', $h) };
    my $payload = pack('CCN', 0xd1, unpack('C', sha256($key)), $exp)
                  . $uuid->($link) . $uuid->($user) . $uuid->($asset)
                  . pack('CC', $kind, $grant);
    return b64url($payload) . '.' . b64url(hmac_sha256($payload, $key));
}

sub b64url {
    (my $s = encode_base64($_[0], '')) =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

sub iso_epoch {
    my ($s) = @_;
    require Time::Local;
    my @t = $s =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)Z$/ or return 0;
    return Time::Local::timegm($t[5], $t[4], $t[3], $t[2], $t[1] - 1, $t[0]);
}
