# The listening side (ngx_http_media_history.c, sql/018): watch progress
# and history; plays counted when a playback token is issued, once per
# viewer per media per 30 minutes, with media.plays_count; a creator's
# stats for 90 days; trending, refreshed by the sweeper (trending.c);
# every refusal.  nginx runs from nginx.conf.example, as `make run` does.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX qw(strftime);
use Test::More;
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
{
    # the sweeper refreshes trending every media_sweep_interval when that is
    # shorter than its 5 minutes
    my $c = slurp($t->conf_file);
    $c =~ s/media_sweep_interval 10m;/media_sweep_interval 1s;/
        or die 'no media_sweep_interval in nginx.conf.example';
    open(my $fh, '>', $t->conf_file) or die $!;
    print $fh $c;
    close $fh;
}
$t->migrate;
$t->start_worker('sweeper');
$t->start_nginx;

my $ann = $t->signup('ann@example.com');     # the creator
my $bob = $t->signup('bob@example.com');     # a listener
my $cat = $t->signup('cat@example.com');

sub api {
    my ($method, $path, $user, $body) = @_;
    return $t->http($method => $path,
        headers => { ($user ? (Authorization => "Bearer $user->{access_token}")
                            : ()),
                     (defined $body ? ('Content-Type' => 'application/json')
                                    : ()) },
        (defined $body ? (body => ref $body ? encode_json($body) : $body)
                       : ()));
}

sub sql {
    my $out = $t->psql('media', $_[0]);
    die "sql failed: $_[0]" unless defined $out;
    chomp $out;
    return $out;
}

# a media row as the transcoder leaves it (a playback token needs no file)
sub fixture {
    my ($user, $privacy, $title, $status) = @_;
    $status //= 'ready';
    return sql("INSERT INTO media (owner_id, title, kind, status, privacy,"
               . " duration_ms) VALUES ('$user->{user}{id}', '$title', 'audio',"
               . " '$status', '$privacy', 60000) RETURNING id");
}

sub error_is {
    my ($r, $status, $code, $field, $name) = @_;
    is($r->{status}, $status, "$name: $status")
        or diag($r->{content});
    is($r->{json}{error}{code}, $code, "  code $code") if $code;
    is($r->{json}{error}{field}, $field, "  field $field") if $field;
}

# Plays reach PostgreSQL in batches, about a second after their tokens
# (sql/040): settled() returns once every play asked for so far is
# counted.  It plays a probe, an unlisted media of its own owner (in no
# stats of ann's and never trending), and waits for that play to count:
# nginx runs one worker here, which sends its plays in order, so the
# plays before the probe's are in its batch or an earlier one.
my $dan = $t->signup('dan@example.com');
my $probes = 0;
sub settled {
    my $probe = sql("INSERT INTO media (owner_id, title, kind, status,"
                    . " privacy, duration_ms) VALUES ('$dan->{user}{id}',"
                    . " 'Probe " . ++$probes . "', 'audio', 'ready',"
                    . " 'unlisted', 60000) RETURNING id");
    $t->http(POST => "/api/v1/media/$probe/playback")->{status} == 200
        or die 'the probe plays';
    wait_until(sub { sql("SELECT plays_count FROM media"
                         . " WHERE id = '$probe'") == 1 },
               timeout => 10, interval => 0.1)
        or die 'the probe\'s play is never counted';
}

sub plays { settled(); sql("SELECT plays_count FROM media WHERE id = '$_[0]'") }

my $a_pub = fixture($ann, 'public', 'Alpha');
my $b_pub = fixture($ann, 'public', 'Beta');
my $a_unl = fixture($ann, 'unlisted', 'Unlisted');
my $a_prv = fixture($ann, 'private', 'Private');
my $a_new = fixture($ann, 'public', 'Processing', 'processing');
my $nobody = '00000000-0000-4000-8000-000000000000';

# --- watch progress ---------------------------------------------------------

my $p = "/api/v1/media/$a_pub/progress";
error_is(api(PUT => $p, undef, { position_ms => 1 }),
         401, undef, undef, 'anonymous progress');
for my $bad ([ {}, 'none' ], [ { position_ms => -1 }, '-1' ],
             [ { position_ms => 1.5 }, '1.5' ],
             [ { position_ms => '10' }, 'a string' ],
             [ { position_ms => 2**31 }, '2^31' ])
{
    error_is(api(PUT => $p, $bob, $bad->[0]), 422, 'invalid_field',
             'position_ms', "position_ms $bad->[1]");
}
my $r = api(PUT => $p, $bob, { position_ms => 60001 });
error_is($r, 422, 'invalid_field', 'position_ms', 'past the end');
like($r->{json}{error}{message}, qr/60000 ms/, '  the message gives the length');
error_is(api(PUT => "/api/v1/media/$a_prv/progress", $bob, { position_ms => 1 }),
         404, 'not_found', undef, 'ann\'s private media');
error_is(api(PUT => "/api/v1/media/$nobody/progress", $bob, { position_ms => 1 }),
         404, 'not_found', undef, 'no such media');
error_is(api(PUT => '/api/v1/media/abc/progress', $bob, { position_ms => 1 }),
         404, 'not_found', undef, 'not a media id');
error_is(api(GET => "/api/v1/media/$a_prv/progress", $bob),
         404, 'not_found', undef, 'GET: ann\'s private media');

$r = api(GET => $p, $bob);
is($r->{status}, 200, 'never played: 200');
is($r->{json}{position_ms}, 0, '  position 0');
ok(!defined $r->{json}{updated_at}, '  updated_at null');
is($r->{json}{duration_ms}, 60000, '  the duration');

$r = api(PUT => $p, $bob, { position_ms => 5000 });
is($r->{status}, 200, 'bob stops at 5 s');
is($r->{json}{position_ms}, 5000, '  position 5000');
is(api(PUT => $p, $bob, { position_ms => 60000 })->{status}, 200,
   '  the very end is fine');
api(PUT => $p, $bob, { position_ms => 12345 });
$r = api(GET => $p, $bob);
is($r->{json}{position_ms}, 12345, 'GET: where he stopped last');
ok($r->{json}{updated_at}, '  and when');
is(api(GET => $p, $cat)->{json}{position_ms}, 0, 'cat has her own: 0');
is(api(PUT => "/api/v1/media/$a_prv/progress", $ann, { position_ms => 1 })
   ->{status}, 200, 'ann keeps progress on her private media');

# --- history ------------------------------------------------------------------

api(PUT => "/api/v1/media/$a_unl/progress", $bob, { position_ms => 700 });
$r = api(GET => '/api/v1/history', $bob);
is_deeply([ map { $_->{media}{id} } @{ $r->{json}{items} } ], [ $a_unl, $a_pub ],
          'bob\'s history, newest first');
is($r->{json}{items}[1]{position_ms}, 12345, '  with where he stopped');
is($r->{json}{items}[1]{media}{title}, 'Alpha', '  and the media');

api(PUT => $p, $bob, { position_ms => 20000 });
$r = api(GET => '/api/v1/history?limit=1', $bob);
is_deeply([ map { $_->{media}{id} } @{ $r->{json}{items} } ], [ $a_pub ],
          'played again: first; one a page');
$r = api(GET => "/api/v1/history?limit=1&cursor=$r->{json}{next_cursor}", $bob);
is_deeply([ map { $_->{media}{id} } @{ $r->{json}{items} } ], [ $a_unl ],
          '  the next page');
ok(!defined $r->{json}{next_cursor}, '  and the last');
for my $bad ('abc', '123', '123.abc', '1234567890123456789.' . $a_pub,
             "x.$a_pub")
{
    error_is(api(GET => "/api/v1/history?cursor=$bad", $bob),
             422, 'invalid_field', 'cursor', "cursor $bad");
}
error_is(api(GET => '/api/v1/history', undef), 401, undef, undef,
         'anonymous history');

api(PATCH => "/api/v1/media/$a_unl", $ann, { privacy => 'private' });
$r = api(GET => '/api/v1/history', $bob);
is_deeply([ map { $_->{media}{id} } @{ $r->{json}{items} } ], [ $a_pub ],
          'made private: gone from bob\'s history');
api(PATCH => "/api/v1/media/$a_unl", $ann, { privacy => 'unlisted' });

# --- plays ----------------------------------------------------------------------

sub play {
    my ($user, $id) = @_;
    return api(POST => "/api/v1/media/$id/playback", $user)->{status};
}

is(plays($a_pub), 0, 'no play yet');
is(play($bob, $a_pub), 200, 'bob gets a playback URL');
is(plays($a_pub), 1, '  a play');
is(play($bob, $a_pub), 200, 'and another');
is(plays($a_pub), 1, '  within 30 minutes: the same play');
is(play(undef, $a_pub), 200, 'an anonymous visitor');
is(plays($a_pub), 2, '  a second play');
play(undef, $a_pub);
is(plays($a_pub), 2, '  once per address');
play($ann, $a_pub);
is(plays($a_pub), 3, 'the owner\'s play counts too');
settled();
is(sql("SELECT string_agg(left(viewer, 2), ',' ORDER BY created_at)"
       . " FROM plays WHERE media_id = '$a_pub'"), 'u:,a:,u:',
   '  viewers by user and by address');

sql("UPDATE plays SET created_at = created_at - interval '31 minutes'"
    . " WHERE media_id = '$a_pub' AND user_id = '$bob->{user}{id}'");
play($bob, $a_pub);
is(plays($a_pub), 4, '31 minutes later bob plays again: counted');

is(play($bob, $a_prv), 404, 'ann\'s private media: 404');
is(play($bob, $a_new), 409, 'a media still processing: 409');
settled();
is(sql("SELECT count(*) FROM plays WHERE media_id IN ('$a_prv', '$a_new')"),
   0, '  neither counted');
is(play($ann, $a_prv), 200, 'ann plays her private media');
is(plays($a_prv), 1, '  counted');

# cat asks for five tokens at once: one play
my @kids;
for (1 .. 5) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        my $s = play($cat, $b_pub);
        POSIX::_exit($s == 200 ? 0 : 1);
    }
    push @kids, $pid;
}
my $fine = 0;
for my $pid (@kids) {
    waitpid($pid, 0);
    $fine++ if $? == 0;
}
is($fine, 5, 'cat: five playback URLs at once');
is(plays($b_pub), 1, '  one play');

# a batch PostgreSQL refuses is sent again: media_plays_add() gone for a
# while (as if PostgreSQL were away), then back
my $c_pub = fixture($dan, 'unlisted', 'Gamma');
my $log_at = -s $t->dir . '/error.log';
sql('ALTER FUNCTION media_plays_add(text[], uuid[], text[], uuid[],'
    . ' bigint[]) RENAME TO media_plays_away');
is(play($cat, $c_pub), 200, 'a play while its batch cannot be sent');
ok(wait_until(sub { substr(slurp($t->dir . '/error.log'), $log_at)
                    =~ /media plays: 1 plays not sent/ },
              timeout => 10, interval => 0.1),
   '  the refusal is logged');
sql('ALTER FUNCTION media_plays_away(text[], uuid[], text[], uuid[],'
    . ' bigint[]) RENAME TO media_plays_add');
is(plays($c_pub), 1, '  and counted once the batch is taken');

# a reload: the old worker sends what it holds before it exits
my $d_pub = fixture($dan, 'unlisted', 'Delta');
is(play($cat, $d_pub), 200, 'a play just before a reload');
$t->reload_nginx_settled;
ok(wait_until(sub { sql("SELECT plays_count FROM media"
                        . " WHERE id = '$d_pub'") == 1 },
              timeout => 10, interval => 0.1),
   '  counted: the old worker sent it as it quit');

# --- stats ---------------------------------------------------------------------

my $today = strftime('%Y-%m-%d', gmtime);
my $ten = strftime('%Y-%m-%d', gmtime(time - 10 * 86400));

# ten days ago: two plays; a hundred days ago: one, outside the window
sql("INSERT INTO plays (media_id, viewer, created_at) VALUES"
    . " ('$b_pub', 'a:1', now() - interval '10 days'),"
    . " ('$b_pub', 'a:2', now() - interval '10 days'),"
    . " ('$b_pub', 'a:3', now() - interval '100 days')");
# the social room's rows: likes, comments, follows
sql("INSERT INTO likes (user_id, media_id) VALUES"
    . " ('$bob->{user}{id}', '$a_pub'), ('$cat->{user}{id}', '$a_pub'),"
    . " ('$bob->{user}{id}', '$b_pub'), ('$cat->{user}{id}', '$b_pub')");
sql("INSERT INTO comments (media_id, user_id, body, at_ms) VALUES"
    . " ('$a_pub', '$bob->{user}{id}', 'nice', 3000)");
sql("INSERT INTO comments (media_id, user_id, body, at_ms, deleted_at) VALUES"
    . " ('$a_pub', '$bob->{user}{id}', 'gone', 3000, now())");
sql("INSERT INTO follows (follower_id, followee_id) VALUES"
    . " ('$bob->{user}{id}', '$ann->{user}{id}'),"
    . " ('$cat->{user}{id}', '$ann->{user}{id}')");

error_is(api(GET => '/api/v1/stats', undef), 401, undef, undef,
         'anonymous stats');
$r = api(GET => '/api/v1/stats', $ann);
is($r->{status}, 200, 'ann\'s stats');
my $s = $r->{json};
is(scalar @{ $s->{days} }, 90, '  90 days');
is($s->{to}, $today, '  to today');
is($s->{days}[-1]{day}, $today, '  the last day today');
my %day = map { $_->{day} => $_ } @{ $s->{days} };
# bob's first play of Alpha was moved 31 minutes back: run in the first
# half hour after midnight (UTC), it is yesterday's
my $moved = sql("SELECT count(*) FROM plays WHERE media_id = '$a_pub'"
                . " AND created_at < date_trunc('day', now() AT TIME ZONE 'UTC')"
                . " AT TIME ZONE 'UTC'");
is($day{$today}{plays}, 6 - $moved,
   "  today: 6 plays (4 + 1 + 1), less $moved moved to yesterday");
is($day{$today}{likes}, 4, '  4 likes');
is($day{$today}{comments}, 1, '  1 comment (the deleted one not counted)');
is($day{$today}{followers}, 2, '  2 new followers');
is($day{$ten}{plays}, 2, '  ten days ago: 2 plays');
is($s->{totals}{plays}, 8, '  in all 8 plays (not the one 100 days ago)');
is($s->{totals}{followers}, 2, '  2 followers');
my %media = map { $_->{id} => $_ } @{ $s->{media} };
is($media{$a_pub}{plays}, 4, '  Alpha: 4 plays');
is($media{$a_pub}{likes}, 2, '  2 likes');
is($media{$b_pub}{plays}, 3, '  Beta: 3 plays');
is(scalar @{ $media{$b_pub}{days} }, 2, '  on 2 days');
ok(!exists $media{$a_unl}, '  no entry for a media without events');

$r = api(GET => '/api/v1/stats', $bob);
is($r->{json}{totals}{plays}, 0, 'bob\'s stats: none of ann\'s plays');
is_deeply($r->{json}{media}, [], '  no media');

# --- trending ------------------------------------------------------------------

# Beta: 1 play today + 2 ten days ago (outside 7 days) + 2 likes today
# = 1 + 6 = 7; Alpha: 4 plays (one 31 minutes back) + 2 likes: about 10;
# the private media, played, is never ranked
my @ids;
wait_until(sub {
    $r = api(GET => '/api/v1/trending', undef);
    @ids = map { $_->{media}{id} } @{ $r->{json}{items} || [] };
    # a refresh between the plays and the likes above ranks both without
    # the likes: wait for one after
    @ids == 2 && ($r->{json}{items}[1]{likes} // 0) == 2;
}, timeout => 20, interval => 0.3);
is($r->{status}, 200, 'trending, anonymous');
is_deeply(\@ids, [ $a_pub, $b_pub ], '  Alpha, then Beta; nothing private');
is($r->{json}{items}[0]{rank}, 1, '  ranked');
is($r->{json}{items}[0]{plays}, 4, '  Alpha\'s 4 plays this week');
is($r->{json}{items}[1]{likes}, 2, '  Beta\'s 2 likes');
cmp_ok($r->{json}{items}[1]{score}, '>', 6.99, '  Beta\'s score about 7');
cmp_ok($r->{json}{items}[1]{score}, '<', 7.01, '  (decay is by the day)');

$r = api(GET => '/api/v1/trending?limit=1', undef);
$r = api(GET => "/api/v1/trending?limit=1&cursor=$r->{json}{next_cursor}",
         undef);
is_deeply([ map { $_->{media}{id} } @{ $r->{json}{items} } ], [ $b_pub ],
          'the second page: Beta');
error_is(api(GET => '/api/v1/trending?cursor=x1', undef),
         422, 'invalid_field', 'cursor', 'a made-up cursor');
error_is(api(GET => '/api/v1/trending?limit=101', undef),
         422, 'invalid_field', 'limit', 'limit 101');

# made private: gone at once, before the sweeper's next refresh
api(PATCH => "/api/v1/media/$a_pub", $ann, { privacy => 'private' });
$r = api(GET => '/api/v1/trending', $bob);
is_deeply([ map { $_->{media}{id} } @{ $r->{json}{items} } ], [ $b_pub ],
          'Alpha made private: gone from trending at once');

# older likes weigh less: two days old, a like counts 3 * 2^-2
sql("UPDATE likes SET created_at = now() - interval '2 days'"
    . " WHERE media_id = '$b_pub'");
wait_until(sub {
    $r = api(GET => '/api/v1/trending', undef);
    ($r->{json}{items}[0]{score} // 99) < 6;
}, timeout => 20, interval => 0.3);
cmp_ok($r->{json}{items}[0]{score}, '<', 2.51, 'likes two days old: '
       . '1 + 2 * 3 * 2^-2 = 2.5');

$t->finish;
done_testing;
