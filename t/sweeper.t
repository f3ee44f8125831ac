# The sweeper's lifecycle pass (workers/sweeper/lifecycle.c), with two
# sweepers running at once: an expired export and one deleted through the
# API lose their files and are marked deleted, a live one stays; download
# links 30 days after they ended lose their row and Redis key while their
# uses' audit stays, and a key whose link is gone is dropped; temporary
# files untouched for a day go unless a queued or running job owns them,
# and published files are never touched; originals stay with
# media_source_retention off (the default) and go with it on, freeing the
# owner's storage count while the renditions stay.  Each removal is logged.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use JSON::PP;
use Test::More;
use MediaTest qw(wait_until slurp log_messages);

my $t = MediaTest->new;
my $dir = $t->dir;
my $storage = "$dir/storage";

$t->start_postgres;
$t->start_redis;

my $conf = <<'EOF';
%%MAIN%%
worker_processes 1;
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;
    media_sweep_interval 1s;
    %%RETENTION%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
    }
}
EOF

sub conf {
    my ($retention) = @_;
    (my $c = $conf) =~ s/%%RETENTION%%/$retention/;
    $t->write_conf($c);
}

conf('');
$t->jwt_key;
$t->migrate;
$t->start_nginx;

# --- the settings -------------------------------------------------------------

my ($ok, $out) = $t->nginx_test;
ok($ok, 'nginx -t accepts media_sweep_interval') or diag($out);

for my $bad ('media_source_retention soon;', 'media_source_retention 0;',
             'media_sweep_interval 0;')
{
    conf($bad);
    my ($ok, $out) = $t->nginx_test;
    ok(!$ok, "nginx -t refuses \"$bad\"");
    like(slurp("$dir/nginx-t.err") . $out, qr/invalid media_\w+ "[^"]*": expected/,
         '  saying what it expects');
    my $w = "$t->{build}/media-sweeper -c $dir/nginx.conf";
    $out = `$w 2>&1`;
    is($? >> 8, 2, '  and the sweeper exits 2');
    $out = log_messages($out);
    like($out, qr/line \d+: invalid media_\w+ "[^"]*": expected/,
         '  naming the line and what it expects');
}
conf('media_source_retention off;');
($ok, $out) = $t->nginx_test;
ok($ok, 'media_source_retention off is accepted') or diag($out);
conf('');

# --- a user, a media, its original ---------------------------------------------

conf('');
$t->start_worker('transcoder');

my $ann = $t->signup('ann@example.com');
my $uid = $ann->{user}{id};
my $clip = $t->make_media('tone.wav', '-f lavfi -i sine=frequency=440:duration=1');
my $r = $t->http(POST => '/api/v1/media', body => slurp($clip),
                 headers => { 'Content-Type' => 'audio/wav',
                              Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 202, 'an upload');
my $media = $r->{json}{media}{id};
ok(wait_until(sub { sql("SELECT status FROM media WHERE id = '$media'") eq 'ready' },
              timeout => 60), 'transcoded');
$t->stop_proc('transcoder');

my $size = -s $clip;
my $used = sql("SELECT storage_used FROM users WHERE id = '$uid'");
ok($used >= $size - 1000 && $used > 0, "storage_used counts the upload ($used)");

# --- exports ---------------------------------------------------------------------

my $base = sql("SELECT storage_used FROM users WHERE id = '$uid'");

my %exp;
for my $e ([ expired => "now() - interval '1 minute'", 'NULL' ],
           [ live => "now() + interval '7 days'", 'NULL' ],
           [ deleted => "now() + interval '7 days'", 'now()' ]) {
    my ($name, $expires, $deleted) = @$e;
    $exp{$name} = sql("INSERT INTO exports (media_id, user_id, format, codec,"
                      . " status, size, expires_at) VALUES ('$media', '$uid',"
                      . " 'mp3', 'mp3', 'ready', 1000, $expires)"
                      . " RETURNING id");
    sql("UPDATE exports SET deleted_at = $deleted WHERE id = '$exp{$name}'")
        if $deleted ne 'NULL';
    write_file("$storage/exports/$exp{$name}.mp3", 'x' x 1000);
}
my $with_exports = sql("SELECT storage_used FROM users WHERE id = '$uid'");

# files the API's DELETE left (its unlink failed): an export deleted, and
# one whose row is gone altogether
my $gone = sql("INSERT INTO exports (media_id, user_id, format, codec, status,"
               . " deleted_at) VALUES ('$media', '$uid', 'wav', 'pcm_s16le',"
               . " 'deleted', now()) RETURNING id");
write_file("$storage/exports/$gone.wav", 'x');
my $no_row = '5d4c3b2a-0000-4111-8222-933344445555';
write_file("$storage/exports/$no_row.ogg", 'x');

# --- links ---------------------------------------------------------------------------

my %link;
for my $l ([ old => "now() - interval '31 days'", 'NULL' ],
           [ recent => "now() - interval '29 days'", 'NULL' ],
           [ revoked => "now() + interval '1 hour'",
             "now() - interval '40 days'" ]) {
    my ($name, $expires, $revoked) = @$l;
    $link{$name} = sql("INSERT INTO download_links (user_id, media_id,"
                       . " grant_kind, filename, max_uses, uses, expires_at,"
                       . " revoked_at) VALUES ('$uid', '$media', 'owner',"
                       . " 'tone.wav', 3, 3, $expires, $revoked) RETURNING id");
    # the keys as the downloads room writes them (media_shared.h)
    $t->redis('SET', "media:dl:{$link{$name}}:n", '3');
    $t->redis('SADD', "media:dl:{$link{$name}}:c", 'client');
    # the uses of the first two are over a minute old: sealed by the pass
    sql("INSERT INTO download_uses (link_id, user_id, media_id, status,"
        . " created_at) VALUES ('$link{$name}', '$uid', '$media', 200, "
        . ($name eq 'revoked' ? 'now()' : "now() - interval '2 minutes'")
        . ')');
}
my $orphan = 'media:dl:{0b5e6f2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b}:n';
$t->redis('SET', $orphan, '1');

# --- temporary files --------------------------------------------------------------

my $day = 24 * 3600;
my $running_job = sql("INSERT INTO jobs (type, media_id, user_id, status)"
                      . " VALUES ('transcode', '$media', '$uid', 'running')"
                      . " RETURNING id");
my %tmp = (
    old_body => [ "$storage/tmp/0000000042", 2 * $day, 'gone' ],
    old_dir => [ "$storage/tmp/abandoned/inner", 2 * $day, 'gone' ],
    fresh => [ "$storage/tmp/0000000043", 3600, 'kept' ],
    work_owned => [ "$storage/hls/.$media.4242/audio/seg.m4s", 2 * $day, 'kept' ],
    work_orphan => [ "$storage/hls/.3f0d1c2b-aaaa-4bbb-8ccc-123456789abc.77/x",
                     2 * $day, 'gone' ],
    export_aside => [ "$storage/exports/.9e8d7c6b-1111-4222-8333-444455556666.mp3",
                      2 * $day, 'gone' ],
    published => [ "$storage/hls/$media/old-file", 2 * $day, 'kept' ],
);
for my $f (values %tmp) {
    write_file($f->[0], 'x');
    age($f->[0], $f->[1]);
}
age("$storage/tmp/abandoned", 2 * $day);
my $upload_file = "$storage/uploads/$media";
ok(-e $upload_file, 'the original is on disk');

# --- uploaded avatars -------------------------------------------------------------

# covers/avatar-<user id>: the upload the transcoder made into avatars/; an
# hour after, with no avatar job of that user still to run, nobody reads it
my $bob = $t->signup('bob@example.com')->{user}{id};
my $carl = $t->signup('carl@example.com')->{user}{id};
sql("INSERT INTO jobs (type, user_id, status, payload) VALUES"
    . " ('cover', '$uid', 'done', '{\"avatar\": \"" . ('a' x 32) . "\"}'),"
    . " ('cover', '$bob', 'queued', '{\"avatar\": \"" . ('b' x 32) . "\"}'),"
    # another user's media cover job: not an avatar job of carl's
    . " ('cover', '$carl', 'queued', '{}')");
my %avatar = (
    done => [ "$storage/covers/avatar-$uid", 2 * 3600, 'gone' ],
    no_user => [ "$storage/covers/avatar-7a6b5c4d-0000-4111-8222-933344445555",
                 2 * 3600, 'gone' ],
    not_avatar_job => [ "$storage/covers/avatar-$carl", 2 * 3600, 'gone' ],
    job_queued => [ "$storage/covers/avatar-$bob", 2 * 3600, 'kept' ],
    fresh => [ "$storage/covers/avatar-1b2c3d4e-0000-4111-8222-933344445555",
               0, 'kept' ],
    media_cover => [ "$storage/covers/$media", 2 * 3600, 'kept' ],
);
for my $f (values %avatar) {
    write_file($f->[0], 'x');
    age($f->[0], $f->[1]) if $f->[1];
}

# --- two sweepers, retention off ----------------------------------------------------

$t->start_worker('sweeper');
$t->spawn('sweeper2', $t->sanitizer_env(1), "$t->{build}/media-sweeper",
          '-c', $t->conf_file);

ok(wait_until(sub { sql("SELECT status FROM exports WHERE id = '$exp{expired}'")
                    eq 'deleted' }, timeout => 20),
   'the expired export is marked deleted') or diag(logs());
ok(!-e "$storage/exports/$exp{expired}.mp3", '  and its file is gone');
ok(sql("SELECT deleted_at IS NOT NULL FROM exports WHERE id = '$exp{expired}'")
   eq 't', '  deleted_at set');
ok(wait_until(sub { !-e "$storage/exports/$exp{deleted}.mp3" }, timeout => 10),
   'an export deleted through the API loses its file');
is(sql("SELECT status FROM exports WHERE id = '$exp{deleted}'"), 'deleted',
   '  and is marked deleted');
ok(wait_until(sub { !-e "$storage/exports/$gone.wav"
                    && !-e "$storage/exports/$no_row.ogg" }, timeout => 10),
   'export files whose export is deleted, or has no row, are removed');
ok(-e "$storage/exports/$exp{live}.mp3", 'a live export keeps its file');
is(sql("SELECT status FROM exports WHERE id = '$exp{live}'"), 'ready',
   '  and its status');

is($with_exports, $base + 3000 - 1000,
   'the exports counted in storage_used while they lived');
ok(wait_until(sub { sql("SELECT storage_used FROM users WHERE id = '$uid'")
                    == $base + 1000 }, timeout => 10),
   'the storage count drops by the swept export');

ok(wait_until(sub { !sql("SELECT count(*) FROM download_links WHERE id IN"
                         . " ('$link{old}', '$link{revoked}')") }, timeout => 10),
   'links 30 days past their end: rows removed');
is($t->redis('EXISTS', "media:dl:{$link{old}}:n", "media:dl:{$link{old}}:c"),
   '0', '  with their Redis keys');
is(sql("SELECT count(*) FROM download_links WHERE id = '$link{recent}'"), '1',
   'a link 29 days past its end is kept');
is($t->redis('EXISTS', "media:dl:{$link{recent}}:n"), '1', '  and its keys');
is(sql('SELECT count(*) FROM download_uses'), '3', "every use's audit row stays");
ok(wait_until(sub { sql("SELECT count(*) FROM audit_log"
                        . " WHERE action = 'download.seal'") eq '1' },
              timeout => 10), 'the uses over a minute old sealed into the '
   . 'audit trail: one seal');
is(sql("SELECT (after->>'count') || ' ' || ((after->>'to_id')::bigint"
       . " - (after->>'from_id')::bigint + 1) FROM audit_log"
       . " WHERE action = 'download.seal'"), '2 2',
   '  covering the two, not the use of a moment ago');
is(sql('SELECT count(*) FROM media_download_verify()') + 0
   + sql('SELECT count(*) FROM media_audit_verify()'), 0,
   '  the seal and the chain hold');
ok(wait_until(sub { $t->redis('EXISTS', $orphan) eq '0' }, timeout => 10),
   "a key of a link that is gone is dropped");

ok(wait_until(sub { !grep { -e $_->[0] && $_->[2] eq 'gone' } values %tmp },
              timeout => 10),
   'temporary files untouched for a day are removed');
ok(!-e "$storage/tmp/abandoned", '  a whole directory too');
for my $k (sort grep { $tmp{$_}[2] eq 'kept' } keys %tmp) {
    ok(-e $tmp{$k}[0], "kept: $k");
}

ok(wait_until(sub { !grep { -e $_->[0] && $_->[2] eq 'gone' } values %avatar },
              timeout => 10),
   'uploaded avatars an hour old with no avatar job to run are removed');
for my $k (sort grep { $avatar{$_}[2] eq 'kept' } keys %avatar) {
    ok(-e $avatar{$k}[0], "kept: avatar $k");
}

sleep 2;    # a pass or two more
ok(-e $upload_file, 'retention off: the original stays');
is(sql("SELECT source_removed_at IS NULL FROM media WHERE id = '$media'"), 't',
   '  not marked removed');

my $log = logs();
like($log, qr/lifecycle: export \Q$exp{expired}\E of user \Q$uid\E expired: removed its file/,
     'the log names the expired export');
like($log, qr/lifecycle: download link \Q$link{old}\E .*bookkeeping removed/,
     'the link');
like($log, qr/lifecycle: removed \Q$storage\E\/tmp\/abandoned: temporary/,
     'and the temporary directory');
like($log, qr/lifecycle: removed \Q$storage\E\/covers\/avatar-\Q$uid\E: an uploaded avatar of user \Q$uid\E/,
     'the avatar');
like($log, qr/lifecycle: download uses sealed into the audit trail: row \d+/,
     'and the seal');
like($log, qr/lifecycle: audit trail head: --head (\d+):[0-9a-f]{64}$/m,
     'and the audit trail\'s head, for a record outside the database');
my @twice = $log =~ /lifecycle: export \Q$exp{expired}\E /g;
is(scalar @twice, 1, 'two sweepers: the export was swept once');
unlike($log, qr/\berror:/, 'no errors in their logs');

# --- retention on ---------------------------------------------------------------------

$t->stop_proc('sweeper');
$t->stop_proc('sweeper2');
sql("UPDATE jobs SET status = 'done' WHERE id = '$running_job'");
sql("UPDATE media SET created_at = now() - interval '2 hours' WHERE id = '$media'");
my $before = sql("SELECT storage_used FROM users WHERE id = '$uid'");
conf('media_source_retention 1h;');
$t->start_worker('sweeper');

ok(wait_until(sub { !-e $upload_file }, timeout => 20),
   'retention 1h: an original 2 hours old is removed') or diag(logs());
ok(wait_until(sub { sql("SELECT source_removed_at IS NOT NULL FROM media"
                        . " WHERE id = '$media'") eq 't' }, timeout => 5),
   '  the media is marked so');
my $after = sql("SELECT storage_used FROM users WHERE id = '$uid'");
is($before - $after, sql("SELECT source_size FROM media WHERE id = '$media'"),
   '  and the storage count drops by its size');
ok(-d "$storage/hls/$media", 'its renditions stay');
like(logs(), qr/lifecycle: original of media \Q$media\E of user \Q$uid\E.*removed/,
     'the log says so');
$r = $t->http(POST => "/api/v1/media/$media/exports",
              body => '{"format":"mp3"}',
              headers => { 'Content-Type' => 'application/json',
                           Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 409, 'its original gone, an export of it: 409');
is($r->{json}{error}{code}, 'source_removed', '  source_removed');

$t->finish;
done_testing;


sub sql {
    my ($q) = @_;
    my $out = $t->psql('media', $q) // die "psql failed: $q";
    $out =~ s/\s+\z//;
    $out =~ s/\n.*//s;      # INSERT ... RETURNING: the value, not the tag
    return $out;
}

sub write_file {
    my ($path, $text) = @_;
    (my $d = $path) =~ s{/[^/]+$}{};
    make_path($d);
    open(my $fh, '>', $path) or die "$path: $!";
    print $fh $text;
    close $fh;
}

# every part of the path under storage, from the file up, this old
sub age {
    my ($path, $secs) = @_;
    my $when = time - $secs;
    while (length $path > length $storage && $path =~ m{^\Q$storage\E/[^/]+/.}) {
        utime($when, $when, $path);
        last if $path =~ m{^\Q$storage\E/(tmp|hls|exports)/[^/]+$};
        $path =~ s{/[^/]+$}{};
    }
}

# the sweepers' JSON lines as "level: message" lines
sub logs {
    return log_messages(join '', map { -e $_ ? slurp($_) : '' }
                                 "$dir/sweeper.log", "$dir/sweeper2.log");
}
