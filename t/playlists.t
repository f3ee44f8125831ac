# Playlists (ngx_http_media_playlists.c): create, list, read, rename, set
# privacy, add, remove and reorder items, delete; who sees which playlist
# and which of its items (private and unlisted media of others never
# listed); the limits (500 items, 200 playlists); every refusal.
# nginx runs from nginx.conf.example, as `make run` does.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX ();
use Test::More;
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_worker('transcoder');
$t->start_nginx;

my $clip = $t->make_media('tone.wav',
                          '-f lavfi -i sine=frequency=440:duration=1');

my $ann = $t->signup('ann@example.com');
my $bob = $t->signup('bob@example.com');

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

# a real, transcoded upload
sub upload {
    my ($user, $privacy) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => slurp($clip),
                     headers => { 'Content-Type' => 'audio/wav',
                                  Authorization => "Bearer $user->{access_token}" });
    die "upload: $r->{status}" unless $r->{status} == 202;
    my $id = $r->{json}{media}{id};
    my $status = '';
    wait_until(sub {
        $status = api(GET => "/api/v1/media/$id", $user)->{json}{media}{status}
                  // '';
        $status =~ /^(ready|failed)$/;
    }, timeout => 60, interval => 0.3);
    die "transcode: $status" unless $status eq 'ready';
    api(PATCH => "/api/v1/media/$id", $user, { privacy => $privacy });
    return $id;
}

# a media row as the transcoder leaves it, for what needs many of them
sub fixture {
    my ($user, $privacy, $title) = @_;
    return sql("INSERT INTO media (owner_id, title, kind, status, privacy,"
               . " duration_ms) VALUES ('$user->{user}{id}', '$title', 'audio',"
               . " 'ready', '$privacy', 1000) RETURNING id");
}

sub error_is {
    my ($r, $status, $code, $field, $name) = @_;
    is($r->{status}, $status, "$name: $status")
        or diag($r->{content});
    is($r->{json}{error}{code}, $code, "  code $code") if $code;
    is($r->{json}{error}{field}, $field, "  field $field") if $field;
}

# runs each sub in a process of its own while a psql session holds the
# lock $lock takes, lets it go once at least two of them wait on it (or
# 10 s passed); {HTTP status => count}
sub behind_lock {
    my ($lock, @subs) = @_;
    my $session = $t->psql_session;
    print $session "BEGIN;\n$lock;\n";
    wait_until(sub {
        sql("SELECT count(*) FROM pg_stat_activity"
            . " WHERE state = 'idle in transaction'") >= 1
    }, timeout => 10) or die 'the lock was not taken';

    my @pids;
    for my $f (@subs) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my $status = $f->();
            POSIX::_exit($status >= 200 && $status < 455 ? $status - 200 : 255);
        }
        push @pids, $pid;
    }
    wait_until(sub {
        sql("SELECT count(*) FROM pg_stat_activity"
            . " WHERE wait_event_type = 'Lock'") >= 2
    }, timeout => 10);
    print $session "COMMIT;\n";
    close $session;

    my %got;
    for my $pid (@pids) {
        waitpid($pid, 0);
        $got{ ($? >> 8) + 200 }++;
    }
    return %got;
}

sub item_ids {
    return [ map { $_->{media}{id} } @{ $_[0]->{json}{items} || [] } ];
}

my $a_pub = upload($ann, 'public');
my $b_pub = upload($bob, 'public');
my $a_unl = fixture($ann, 'unlisted', 'ann unlisted');
my $a_prv = fixture($ann, 'private', 'ann private');
my $b_prv = fixture($bob, 'private', 'bob private');
my $nobody = '00000000-0000-4000-8000-000000000000';

# --- create: refusals, then one ---------------------------------------------

error_is(api(POST => '/api/v1/playlists', undef, { title => 'x' }),
         401, undef, undef, 'anonymous create');
error_is(api(POST => '/api/v1/playlists', $ann, {}),
         422, 'invalid_field', 'title', 'no title');
error_is(api(POST => '/api/v1/playlists', $ann, { title => 7 }),
         422, 'invalid_field', 'title', 'a number as title');
error_is(api(POST => '/api/v1/playlists', $ann, { title => '' }),
         422, 'invalid_field', 'title', 'an empty title');
error_is(api(POST => '/api/v1/playlists', $ann, { title => 'é' x 201 }),
         422, 'invalid_field', 'title', '201 characters');
error_is(api(POST => '/api/v1/playlists', $ann, { title => "a\x01b" }),
         422, 'invalid_field', 'title', 'a control character');
error_is(api(POST => '/api/v1/playlists', $ann,
             { title => 'x', privacy => 'secret' }),
         422, 'invalid_field', 'privacy', 'an unknown privacy');
error_is(api(POST => '/api/v1/playlists', $ann, { title => 'x', privacy => 1 }),
         422, 'invalid_field', 'privacy', 'a number as privacy');

my $r = api(POST => '/api/v1/playlists', $ann, { title => 'é' x 200 });
is($r->{status}, 201, '200 characters: created');
is($r->{json}{privacy}, 'private', '  private by default');
is($r->{json}{items_count}, 0, '  empty');
is($r->{json}{owner}{id}, $ann->{user}{id}, '  ann owns it');
my $pl = $r->{json}{id};

# --- who sees a private playlist ---------------------------------------------

is(api(GET => "/api/v1/playlists/$pl", $ann)->{status}, 200, 'ann reads it');
error_is(api(GET => "/api/v1/playlists/$pl", $bob),
         404, 'not_found', undef, 'bob reads ann\'s private playlist');
error_is(api(GET => "/api/v1/playlists/$pl", undef),
         404, 'not_found', undef, 'anonymous reads it');
error_is(api(GET => '/api/v1/playlists/not-a-uuid', $ann),
         404, 'not_found', undef, 'not a uuid');
error_is(api(GET => "/api/v1/playlists/$nobody", $ann),
         404, 'not_found', undef, 'no such playlist');
error_is(api(PATCH => "/api/v1/playlists/$pl", $bob, { title => 'mine' }),
         404, 'not_found', undef, 'bob renames ann\'s private playlist');
error_is(api(PUT => "/api/v1/playlists/$pl/items/$b_pub", $bob),
         404, 'not_found', undef, 'bob adds to it');
error_is(api(DELETE => "/api/v1/playlists/$pl", $bob),
         404, 'not_found', undef, 'bob deletes it');

$r = api(GET => '/api/v1/playlists', $bob);
is(scalar @{ $r->{json}{items} }, 0, 'bob lists no playlist');
error_is(api(GET => '/api/v1/playlists', undef), 401, undef, undef,
         'anonymous lists');
for my $route ([ PATCH => 'not-a-uuid', { title => 'x' } ],
               [ DELETE => 'not-a-uuid' ],
               [ PUT => "not-a-uuid/items/$a_pub" ],
               [ PUT => "not-a-uuid/order", { media_ids => [] } ],
               [ PATCH => $nobody, { title => 'x' } ],
               [ DELETE => $nobody ],
               [ PUT => "$nobody/items/$a_pub" ],
               [ DELETE => "$nobody/items/$a_pub" ],
               [ PUT => "$nobody/order", { media_ids => [] } ])
{
    error_is(api($route->[0] => "/api/v1/playlists/$route->[1]", $ann,
                 $route->[2]),
             404, 'not_found', undef, "$route->[0] $route->[1]");
}
error_is(api(POST => '/api/v1/playlists', $ann, '{"title":'),
         400, undef, undef, 'a body that is not JSON');
error_is(api(PATCH => "/api/v1/playlists/$pl", $ann, '[1]'),
         400, undef, undef, 'a body that is not an object');

# --- rename, make public -----------------------------------------------------

error_is(api(PATCH => "/api/v1/playlists/$pl", $ann, {}),
         422, 'invalid_field', 'title', 'PATCH with nothing');
error_is(api(PATCH => "/api/v1/playlists/$pl", $ann, { privacy => 'open' }),
         422, 'invalid_field', 'privacy', 'PATCH privacy open');
$r = api(PATCH => "/api/v1/playlists/$pl", $ann,
         { title => 'Road trip', privacy => 'public' });
is($r->{status}, 200, 'ann renames it and makes it public');
is($r->{json}{title}, 'Road trip', '  the new title');
is($r->{json}{privacy}, 'public', '  public');

is(api(GET => "/api/v1/playlists/$pl", undef)->{status}, 200,
   'anonymous reads the public playlist');
error_is(api(PATCH => "/api/v1/playlists/$pl", $bob, { title => 'mine' }),
         403, 'forbidden', undef, 'bob renames ann\'s public playlist');
error_is(api(DELETE => "/api/v1/playlists/$pl", $bob),
         403, 'forbidden', undef, 'bob deletes it');

# --- items -------------------------------------------------------------------

for my $m ($a_pub, $a_unl, $a_prv, $b_pub) {
    is(api(PUT => "/api/v1/playlists/$pl/items/$m", $ann)->{status}, 204,
       "ann adds $m");
}
is(api(PUT => "/api/v1/playlists/$pl/items/\U$a_pub", $ann)->{status}, 204,
   'adding it again (the id in capitals): 204');
error_is(api(PUT => "/api/v1/playlists/$pl/items/$b_prv", $ann),
         404, 'not_found', 'media_id', 'bob\'s private media');
error_is(api(PUT => "/api/v1/playlists/$pl/items/$nobody", $ann),
         404, 'not_found', 'media_id', 'no such media');
error_is(api(PUT => "/api/v1/playlists/$pl/items/xyz", $ann),
         404, 'not_found', 'media_id', 'not a media id');
error_is(api(PUT => "/api/v1/playlists/$pl/items/$b_pub", $bob),
         403, 'forbidden', undef, 'bob adds to ann\'s public playlist');
error_is(api(PUT => "/api/v1/playlists/$pl/items/$a_pub", undef),
         401, undef, undef, 'anonymous adds');

$r = api(GET => "/api/v1/playlists/$pl", $ann);
is_deeply(item_ids($r), [ $a_pub, $a_unl, $a_prv, $b_pub ],
          'ann sees her four items in the order added');
is($r->{json}{playlist}{items_count}, 4, '  items_count 4');
is_deeply([ map { $_->{position} } @{ $r->{json}{items} } ], [ 1, 2, 3, 4 ],
          '  positions 1 to 4');

$r = api(GET => "/api/v1/playlists/$pl", $bob);
is_deeply(item_ids($r), [ $a_pub, $b_pub ],
          'bob sees the public ones, not ann\'s unlisted or private');
is($r->{json}{playlist}{items_count}, 2, '  items_count 2');
$r = api(GET => "/api/v1/playlists/$pl", undef);
is_deeply(item_ids($r), [ $a_pub, $b_pub ], 'so does anonymous');

# --- order -------------------------------------------------------------------

my $order = "/api/v1/playlists/$pl/order";
error_is(api(PUT => $order, $ann, {}),
         422, 'invalid_field', 'media_ids', 'no media_ids');
error_is(api(PUT => $order, $ann, { media_ids => $a_pub }),
         422, 'invalid_field', 'media_ids', 'media_ids a string');
error_is(api(PUT => $order, $ann, { media_ids => [ $a_pub, 5 ] }),
         422, 'invalid_field', 'media_ids', 'a number in media_ids');
error_is(api(PUT => $order, $ann, { media_ids => [ 'zzz' ] }),
         422, 'invalid_field', 'media_ids', 'not an id in media_ids');
error_is(api(PUT => $order, $ann, { media_ids => [ ($a_pub) x 501 ] }),
         422, 'invalid_field', 'media_ids', '501 ids');
$r = api(PUT => $order, $ann, { media_ids => [ $b_pub, $a_pub, $a_unl ] });
error_is($r, 422, 'invalid_field', 'media_ids', 'one item missing');
like($r->{json}{error}{message}, qr/4 items/, '  the message says 4 items');
error_is(api(PUT => $order, $ann,
             { media_ids => [ $b_pub, $a_pub, $a_unl, $b_prv ] }),
         422, 'invalid_field', 'media_ids', 'an id not in the playlist');
error_is(api(PUT => $order, $ann,
             { media_ids => [ $b_pub, $a_pub, $a_unl, $a_unl ] }),
         422, 'invalid_field', 'media_ids', 'an id twice');
error_is(api(PUT => $order, $ann,
             { media_ids => [ $b_pub, $a_pub, $a_unl, $a_prv, $nobody ] }),
         422, 'invalid_field', 'media_ids', 'one id more');
error_is(api(PUT => $order, $bob,
             { media_ids => [ $b_pub, $a_prv, $a_unl, $a_pub ] }),
         403, 'forbidden', undef, 'bob reorders');

is(api(PUT => $order, $ann, { media_ids => [ $b_pub, $a_prv, $a_unl, $a_pub ] })
   ->{status}, 204, 'ann reorders');
is_deeply(item_ids(api(GET => "/api/v1/playlists/$pl", $ann)),
          [ $b_pub, $a_prv, $a_unl, $a_pub ], '  the new order');

# --- remove --------------------------------------------------------------------

is(api(DELETE => "/api/v1/playlists/$pl/items/$a_unl", $ann)->{status}, 204,
   'ann removes her unlisted media');
is(api(DELETE => "/api/v1/playlists/$pl/items/$a_unl", $ann)->{status}, 204,
   '  again: 204');
error_is(api(DELETE => "/api/v1/playlists/$pl/items/$a_pub", $bob),
         403, 'forbidden', undef, 'bob removes an item');
is_deeply(item_ids(api(GET => "/api/v1/playlists/$pl", $ann)),
          [ $b_pub, $a_prv, $a_pub ], '  three left');

# a deleted media leaves every playlist, and the order is of what is left
is(api(DELETE => "/api/v1/media/$a_prv", $ann)->{status}, 204,
   'ann deletes her private media');
is_deeply(item_ids(api(GET => "/api/v1/playlists/$pl", $ann)),
          [ $b_pub, $a_pub ], '  it is gone from the playlist');
is(api(PUT => $order, $ann, { media_ids => [ $a_pub, $b_pub ] })->{status},
   204, '  and the order is of the two left');

# bob makes his media private: it leaves ann's playlist for everyone but him
api(PATCH => "/api/v1/media/$b_pub", $bob, { privacy => 'private' });
is_deeply(item_ids(api(GET => "/api/v1/playlists/$pl", $ann)), [ $a_pub ],
          'bob\'s media made private: ann no longer sees it');
is_deeply(item_ids(api(GET => "/api/v1/playlists/$pl", $bob)),
          [ $a_pub, $b_pub ], '  bob still does');
api(PATCH => "/api/v1/media/$b_pub", $bob, { privacy => 'public' });

# --- unlisted playlists, list pages ---------------------------------------------

$r = api(POST => '/api/v1/playlists', $ann,
         { title => 'Secret mix', privacy => 'unlisted' });
is($r->{status}, 201, 'an unlisted playlist');
my $pl2 = $r->{json}{id};
is(api(GET => "/api/v1/playlists/$pl2", $bob)->{status}, 200,
   '  bob reads it by its id');

$r = api(GET => '/api/v1/playlists?limit=1', $ann);
is_deeply([ map { $_->{id} } @{ $r->{json}{items} } ], [ $pl2 ],
          'ann\'s list, one a page: the newest');
ok($r->{json}{next_cursor}, '  with a cursor');
$r = api(GET => "/api/v1/playlists?limit=1&cursor=$r->{json}{next_cursor}",
         $ann);
is_deeply([ map { $_->{id} } @{ $r->{json}{items} } ], [ $pl ],
          '  then the first');
is($r->{json}{items}[0]{items_count}, 2, '  with its 2 items');
ok(!defined $r->{json}{next_cursor}, '  and no more');
error_is(api(GET => '/api/v1/playlists?cursor=abc', $ann),
         422, 'invalid_field', 'cursor', 'a made-up cursor');
error_is(api(GET => '/api/v1/playlists?limit=0', $ann),
         422, 'invalid_field', 'limit', 'limit 0');

# --- limits ---------------------------------------------------------------------

sql("INSERT INTO media (owner_id, title, kind, status, privacy)"
    . " SELECT '$ann->{user}{id}', 'bulk ' || g, 'audio', 'ready', 'public'"
    . " FROM generate_series(1, 500) g");
sql("INSERT INTO playlist_items (playlist_id, media_id, position)"
    . " SELECT '$pl2', id, row_number() OVER (ORDER BY title) FROM media"
    . " WHERE title LIKE 'bulk %' AND title <> 'bulk 500'");
my $last = sql("SELECT id FROM media WHERE title = 'bulk 500'");
is(api(PUT => "/api/v1/playlists/$pl2/items/$last", $ann)->{status}, 204,
   'the 500th item goes in');
$r = api(PUT => "/api/v1/playlists/$pl2/items/$a_pub", $ann);
error_is($r, 422, 'playlist_full', 'media_id', 'the 501st');
like($r->{json}{error}{message}, qr/500 items/, '  the message says 500');
is(api(PUT => "/api/v1/playlists/$pl2/items/$last", $ann)->{status}, 204,
   '  one already there is still fine (idempotent)');
$r = api(GET => "/api/v1/playlists/$pl2", $ann);
is(scalar @{ $r->{json}{items} }, 500, '  500 items come back');

# ten adds at once to a playlist of 499, held behind a lock on its row
# until all wait: one goes in, nine are refused (media_playlist_add counts
# after the lock, with a snapshot of its own)
$r = api(POST => '/api/v1/playlists', $ann, { title => 'Race' });
my $pl3 = $r->{json}{id};
sql("INSERT INTO media (owner_id, title, kind, status, privacy)"
    . " SELECT '$ann->{user}{id}', 'bulk x' || g, 'audio', 'ready', 'public'"
    . " FROM generate_series(1, 9) g");
sql("INSERT INTO playlist_items (playlist_id, media_id, position)"
    . " SELECT '$pl3', id, n FROM (SELECT id, row_number() OVER (ORDER BY id)"
    . "  AS n FROM media WHERE title LIKE 'bulk %') b WHERE n <= 499");
is(sql("SELECT count(*) FROM playlist_items WHERE playlist_id = '$pl3'"),
   499, 'a playlist of 499');
my @late = split /\n/, sql("SELECT id FROM media WHERE title LIKE 'bulk %'"
                           . " AND id NOT IN (SELECT media_id FROM"
                           . " playlist_items WHERE playlist_id = '$pl3')");
is(scalar @late, 10, '  and ten media to add');
my %got = behind_lock("SELECT 1 FROM playlists WHERE id = '$pl3' FOR UPDATE",
    map { my $m = $_; sub {
        api(PUT => "/api/v1/playlists/$pl3/items/$m", $ann)->{status} } }
    @late);
is_deeply(\%got, { 204 => 1, 422 => 9 }, 'ten adds at once: one 204, nine 422')
    or diag(explain(\%got));
is(sql("SELECT count(*), count(DISTINCT position) FROM playlist_items"
       . " WHERE playlist_id = '$pl3'"), '500|500',
   '  500 items, each in a place of its own');

# ann has 3 playlists; with 196 more, ten creations at once behind a lock
# on her user row: one made
sql("INSERT INTO playlists (owner_id, title)"
    . " SELECT '$ann->{user}{id}', 'p' || g FROM generate_series(1, 196) g");
%got = behind_lock("SELECT 1 FROM users WHERE id = '$ann->{user}{id}'"
                   . " FOR UPDATE",
    map { sub {
        api(POST => '/api/v1/playlists', $ann, { title => 'many' })->{status}
    } } 1 .. 10);
is_deeply(\%got, { 201 => 1, 422 => 9 }, 'ten creations at once: one 201')
    or diag(explain(\%got));
is(sql("SELECT count(*) FROM playlists WHERE owner_id = '$ann->{user}{id}'"),
   200, '  200 playlists');
$r = api(POST => '/api/v1/playlists', $ann, { title => 'one too many' });
error_is($r, 422, 'too_many_playlists', undef, 'the 201st playlist');
like($r->{json}{error}{message}, qr/200 playlists/, '  the message says 200');

# --- delete ----------------------------------------------------------------------

is(api(DELETE => "/api/v1/playlists/$pl", $ann)->{status}, 204,
   'ann deletes her playlist');
error_is(api(GET => "/api/v1/playlists/$pl", $ann),
         404, 'not_found', undef, '  it is gone');
error_is(api(DELETE => "/api/v1/playlists/$pl", $ann),
         404, 'not_found', undef, '  deleting it again');
is(sql("SELECT count(*) FROM playlist_items WHERE playlist_id = '$pl'"), 0,
   '  with its items');

$t->finish;
done_testing;
