# Search and the catalogue: PATCH media's description and tags (and every
# refusal), GET /api/v1/search over media, users and playlists (accents,
# the prefix being typed, ranking, what the caller may see, cursor pages,
# every refusal) and GET /api/v1/catalog (kind, tag, new and popular,
# cursor pages, refusals).  Media are uploaded through the API and marked
# ready as the transcoder would; handles, playlists and play counts are
# written as their rooms write them (sql/015).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use JSON::PP;
use List::Util qw(max);
use Time::HiRes ();
use Test::More;
use MediaTest qw(slurp wait_until);

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
    # shorter than the default 30 s: the test waits for a page to age out
    media_public_cache 5s;
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
# more media than the free creator plan's ten
sql("UPDATE users SET creator_plan = 'professional'");
my $clip = slurp($t->make_media('tone.wav',
                                '-f lavfi -i sine=frequency=440:duration=0.2'));

# --- PATCH: description and tags -------------------------------------------

my $m = upload($ann, title => 'Halo (live)');
my $r = api(PATCH => "/api/v1/media/$m", $ann,
            { description => "Recorded live.\nSecond line.\tTabbed.",
              tags => [' Jazz ', 'LIVE', 'jazz', "\x{c9}t\x{e9}"] });
is($r->{status}, 200, 'PATCH description and tags: 200') or diag($r->{content});
is($r->{json}{media}{description}, "Recorded live.\nSecond line.\tTabbed.",
   '  the description, lines kept');
is_deeply($r->{json}{media}{tags}, ['jazz', 'live', "\x{e9}t\x{e9}"],
          '  tags trimmed, lower-cased (accented too), duplicates dropped');
$r = api(GET => "/api/v1/media/$m", $ann);
is_deeply($r->{json}{media}{tags}, ['jazz', 'live', "\x{e9}t\x{e9}"],
          '  GET media shows them');
is($r->{json}{media}{title}, 'Halo (live)', '  the title left as it was');

$r = api(PATCH => "/api/v1/media/$m", $ann, { tags => [] });
is_deeply($r->{json}{media}{tags}, [], 'tags [] clears them');
$r = api(PATCH => "/api/v1/media/$m", $ann,
         { description => 'x' x 5000, tags => [map { "t$_" . 'x' x 30 } 1 .. 20] });
is($r->{status}, 200, '5,000 characters and 20 tags: 200');
$r = api(PATCH => "/api/v1/media/$m", $ann, { tags => ['y' x 40] });
is($r->{status}, 200, 'a 40-character tag: 200');
$r = api(PATCH => "/api/v1/media/$m", $ann, { description => "\x{e9}" x 5000 });
is($r->{status}, 200, '5,000 two-byte characters: 200 (characters, not bytes)');

for my $case (
    [ { description => 5 }, 'description', 'a number' ],
    [ { description => undef }, 'description', 'null' ],
    [ { description => 'x' x 5001 }, 'description', '5,001 characters' ],
    [ { description => "bell\x07" }, 'description', 'a control character' ],
    [ { tags => 'jazz' }, 'tags', 'a string, not an array' ],
    [ { tags => [map { "t$_" } 1 .. 21] }, 'tags', '21 tags' ],
    [ { tags => [''] }, 'tags', 'an empty tag' ],
    [ { tags => ['   '] }, 'tags', 'a blank tag' ],
    [ { tags => ['z' x 41] }, 'tags', 'a 41-character tag' ],
    [ { tags => [7] }, 'tags', 'a number as a tag' ],
    [ { tags => ["a\x01b"] }, 'tags', 'a control character in a tag' ],
) {
    my ($body, $field, $what) = @$case;
    $r = api(PATCH => "/api/v1/media/$m", $ann, $body);
    is($r->{status}, 422, "PATCH $field, $what: 422");
    is($r->{json}{error}{field}, $field, "  names $field")
        or diag($r->{content});
}
like(api(PATCH => "/api/v1/media/$m", $ann, { tags => ['ok', ''] })
         ->{json}{error}{message}, qr/tag 2 /, 'the message says which tag');
is(api(PATCH => "/api/v1/media/$m", $bob, { tags => ['mine'] })->{status},
   404, 'someone else\'s media: 404');

# --- search: accents, prefixes, ranking --------------------------------------

my $beyonce = ready(upload($ann, title => "Halo \x{2014} Beyonc\x{e9}",
                           privacy => 'public'));
my $plain = ready(upload($ann, title => 'Beyonce unplugged',
                         privacy => 'public'));

is_deeply(bag(@{ ids(search('beyon')) }), bag($beyonce, $plain),
          '"beyon" finds "Beyonc\x{e9}" and "Beyonce" (a prefix, accents off)');
is_deeply(bag(@{ ids(search('BEYONC%C3%89')) }), bag($beyonce, $plain),
          '"BEYONC\x{c9}": case and accents off');
is_deeply(ids(search('halo+beyon')), [$beyonce], 'two words: both needed');
is_deeply(ids(search('beyonce+halo')), [$beyonce],
          'word order does not matter');
is_deeply(ids(search('beyo+')), [], 'a trailing blank: "beyo" is a whole '
          . 'word, no prefix');
is_deeply(ids(search('%21%21%21')), [], 'only punctuation: nothing, 200');
is_deeply(ids(search('b')), [], 'one letter is matched whole, not as a '
          . 'prefix of nearly everything');
is_deeply(bag(@{ ids(search('be')) }), bag($beyonce, $plain),
          'two letters are a prefix');

my $in_title = ready(upload($ann, title => 'Zebra crossing', privacy => 'public'));
my $in_tags = ready(upload($ann, title => 'Stripes', privacy => 'public',
                           tags => ['zebra']));
my $in_desc = ready(upload($ann, title => 'Savanna', privacy => 'public',
                           description => 'A long walk past a zebra herd.'));
is_deeply(ids(search('zebr')), [$in_title, $in_tags, $in_desc],
          'ranked: the title, then a tag, then the description');
$r = search('zebr');
is($r->{json}{items}[0]{owner}{id}, $ann->{user}{id}, 'an item names its owner');
is($r->{json}{items}[0]{kind}, 'audio', '  and its kind');
ok(!exists $r->{json}{items}[0]{owner}{email}, '  never the owner\'s email');

# the statement is prepared once per connection: the plan PostgreSQL
# keeps after five runs (a generic one) answers the same
is_deeply(ids(search('zebr')), [$in_title, $in_tags, $in_desc],
          "run $_: the same") for 1 .. 6;

# --- search: what the caller may see -----------------------------------------

my $private = ready(upload($ann, title => 'Secret ocelot',
                           privacy => 'private'));
my $unlisted = ready(upload($ann, title => 'Unlisted ocelot',
                            privacy => 'unlisted'));
my $gone = ready(upload($ann, title => 'Deleted ocelot', privacy => 'public'));
is(api(DELETE => "/api/v1/media/$gone", $ann)->{status}, 204, 'one deleted');
my $queued = upload($ann, title => 'Queued ocelot', privacy => 'public');
my $public = ready(upload($ann, title => 'Public ocelot', privacy => 'public'));

is_deeply(ids(search('ocelot', $bob)), [$public],
          'another user finds only the public, ready media');
is_deeply(ids(search('ocelot')), [$public], 'so does a visitor signed out');
is_deeply(bag(@{ ids(search('ocelot', $ann)) }),
          bag($public, $private, $unlisted, $queued),
          'the owner finds their own, private and unlisted too; never the '
          . 'deleted');
is_deeply(ids(search('secret', $bob)), [], 'a private title: nothing for bob');
# the public page of "ocelot" is in the cache now (media_public_cache):
# a PATCH makes the cache forget it
is(api(PATCH => "/api/v1/media/$public", $ann, { privacy => 'private' })
   ->{status}, 200, 'made private');
is_deeply(ids(search('ocelot', $bob)), [], 'made private: gone from search');
is_deeply(ids(search('ocelot')), [], '  for a visitor too, at once');

# renamed: found by its new words only (sql/032 keeps the words' index)
is(api(PATCH => "/api/v1/media/$in_title", $ann, { title => 'Giraffe crossing' })
   ->{status}, 200, 'a title renamed');
is_deeply(ids(search('giraf')), [$in_title], '  found by its new title');
is_deeply(ids(search('zebra+cross')), [], '  no longer by its old');

# --- search: cursor pages ----------------------------------------------------

my @page_ids = map { ready(upload($bob, title => "Pager tune $_",
                                  privacy => 'public')) } 1 .. 12;
my (@seen, $cursor, $pages);
for my $i (1 .. 5) {
    $r = api(GET => '/api/v1/search?q=pager&limit=5'
                    . ($cursor ? "&cursor=$cursor" : ''), $ann);
    is($r->{status}, 200, "page $i: 200");
    push @seen, map { $_->{id} } @{ $r->{json}{items} };
    $pages++;
    $cursor = $r->{json}{next_cursor} or last;
}
is($pages, 3, '12 results in pages of 5: three pages');
is_deeply([sort @seen], [sort @page_ids], '  every one once, none twice');

# a prefix matching more than 100 media: 100 of them are ranked (sql/032),
# the same ones on every page
sql("INSERT INTO media (owner_id, title, kind, status, privacy)"
    . " SELECT '$bob->{user}{id}', 'Capword ' || g, 'audio', 'ready', 'public'"
    . " FROM generate_series(1, 1100) g");
my %capped;
($cursor, $pages) = (undef, 0);
for my $i (1 .. 30) {
    $r = api(GET => '/api/v1/search?q=capw&limit=50'
                    . ($cursor ? "&cursor=$cursor" : ''));
    $capped{$_}++ for @{ ids($r) };
    $pages++;
    $cursor = $r->{json}{next_cursor} or last;
}
# so broad a query (most of the most played match) is ranked among the
# most played public media: the first 100 matches in that order
my $top = sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM (SELECT id FROM"
    . " (SELECT id, title FROM media"
    . " WHERE deleted_at IS NULL AND privacy = 'public' AND status = 'ready'"
    . " ORDER BY plays_count DESC, id DESC LIMIT 5000) x"
    . " WHERE title LIKE 'Capword %' LIMIT 100) y");
is(scalar(keys %capped), 100, '1,100 matches: 100 ranked and listed');
is(join(',', sort keys %capped), $top, '  the 100 most played of them');
ok(!grep({ $_ > 1 } values %capped), '  none twice across the pages');
is($pages, 2, '  in pages of 50');

# so broad a query ranks the most played matches (a btree, no GIN
# bitmap): the caller's own private ones join them, nobody else's
my $own = sql("INSERT INTO media (owner_id, title, kind, status, privacy)"
    . " VALUES ('$bob->{user}{id}', 'Capword own', 'audio', 'ready', 'private')"
    . " RETURNING id");
ok(!$capped{$own}, '  (made after that walk)');
my %mine;
($cursor, $pages) = (undef, 0);
for my $i (1 .. 30) {
    $r = api(GET => '/api/v1/search?q=capw&limit=50'
                    . ($cursor ? "&cursor=$cursor" : ''), $bob);
    $mine{$_}++ for @{ ids($r) };
    $cursor = $r->{json}{next_cursor} or last;
}
ok($mine{$own}, 'a broad query, signed in: the own private match is ranked too');
$r = api(GET => '/api/v1/search?q=capword+own', $ann);
is_deeply(ids($r), [], '  and nobody else finds it');
sql("DELETE FROM media WHERE title LIKE 'Capword %'");

# --- users and playlists ------------------------------------------------------

sql("UPDATE users SET handle = 'queen_b', display_name = 'Beyonc\x{e9} K'"
    . " WHERE id = '$ann->{user}{id}'");
sql("UPDATE users SET display_name = 'Beyonce Fan' WHERE id = '$bob->{user}{id}'");
$r = api(GET => '/api/v1/search?type=users&q=beyon');
is_deeply(ids($r), [$ann->{user}{id}],
          'users: "beyon" finds the display name; bob has no handle, no '
          . 'profile, not listed');
is_deeply([map { $_->{handle} } @{ $r->{json}{items} }], ['queen_b'],
          '  with the handle');
ok(!exists $r->{json}{items}[0]{email}, '  and no email');
is_deeply(ids(api(GET => '/api/v1/search?type=users&q=queen')),
          [$ann->{user}{id}], '  the handle\'s words too');

my $pl_pub = sql("INSERT INTO playlists (owner_id, title, privacy) VALUES"
                 . " ('$ann->{user}{id}', 'Caf\x{e9} mornings', 'public')"
                 . " RETURNING id");
my $pl_priv = sql("INSERT INTO playlists (owner_id, title, privacy) VALUES"
                  . " ('$ann->{user}{id}', 'Cafe nights', 'private')"
                  . " RETURNING id");
my $pl_unl = sql("INSERT INTO playlists (owner_id, title, privacy) VALUES"
                 . " ('$ann->{user}{id}', 'Cafe noon', 'unlisted')"
                 . " RETURNING id");
is_deeply(ids(api(GET => '/api/v1/search?type=playlists&q=cafe', $bob)),
          [$pl_pub], 'playlists: bob finds the public one only');
is_deeply(bag(@{ ids(api(GET => '/api/v1/search?type=playlists&q=caf', $ann)) }),
          bag($pl_pub, $pl_priv, $pl_unl), '  ann finds all of hers');
is_deeply(ids(api(GET => '/api/v1/search?type=playlists&q=cafe+morn', $bob)),
          [$pl_pub], '  by two words, the last being typed');
# renamed: found by its new words only (sql/037 keeps the words' index)
sql("UPDATE playlists SET title = 'Tea evenings' WHERE id = '$pl_pub'");
is_deeply(ids(api(GET => '/api/v1/search?type=playlists&q=evening', $bob)),
          [$pl_pub], '  renamed: found by its new title');
is_deeply(ids(api(GET => '/api/v1/search?type=playlists&q=mornings', $bob)),
          [], '  no longer by its old');

# --- search: refusals --------------------------------------------------------

for my $case (
    [ '', 'q', 'no q' ],
    [ '?q=', 'q', 'an empty q' ],
    [ '?q=+%20+', 'q', 'a blank q' ],
    [ '?q=' . ('a' x 201), 'q', '201 characters' ],
    [ '?q=%FF', 'q', 'not UTF-8' ],
    [ '?q=a%00b', 'q', 'a NUL' ],
    [ '?q=a&type=songs', 'type', 'an unknown type' ],
    [ '?q=a&limit=0', 'limit', 'limit 0' ],
    [ '?q=a&limit=51', 'limit', 'limit 51' ],
    [ '?q=a&cursor=nope', 'cursor', 'a made-up cursor' ],
    [ '?q=a&cursor=9999999999999999999.' . $beyonce, 'cursor',
      'a cursor with 19 digits' ],
) {
    my ($args, $field, $what) = @$case;
    $r = api(GET => "/api/v1/search$args");
    is($r->{status}, 422, "search, $what: 422");
    is($r->{json}{error}{field}, $field, "  names $field") or diag($r->{content});
}
is(api(GET => '/api/v1/search?q=' . ('a' x 200))->{status}, 200,
   '200 characters: 200');

# --- the catalogue -------------------------------------------------------------

sql("UPDATE media SET deleted_at = now() WHERE deleted_at IS NULL");
my $v1 = ready(upload($ann, title => 'Film one', privacy => 'public',
                      tags => ['Drama']), 'video');
my $v2 = ready(upload($ann, title => 'Film two', privacy => 'public',
                      tags => ['comedy']), 'video');
my $v3 = ready(upload($bob, title => 'Film three', privacy => 'public',
                      tags => ['drama', 'noir']), 'video');
my $a1 = ready(upload($bob, title => 'Song', privacy => 'public',
                      tags => ['drama']));
ready(upload($bob, title => 'Private film', privacy => 'private',
             tags => ['drama']), 'video');
ready(upload($bob, title => 'Unlisted film', privacy => 'unlisted',
             tags => ['drama']), 'video');
my $vq = upload($bob, title => 'Queued film', privacy => 'public',
                tags => ['drama']);
sql("UPDATE media SET kind = 'video' WHERE id = '$vq'");
sql("UPDATE media SET created_at = now() - (n || ' minutes')::interval FROM"
    . " (VALUES ('$v1'::uuid, 4), ('$v2', 3), ('$v3', 2), ('$a1', 1)) v(id, n)"
    . " WHERE media.id = v.id");
sql("UPDATE media SET plays_count = n FROM (VALUES ('$v1'::uuid, 5),"
    . " ('$v2', 50), ('$v3', 20), ('$a1', 99)) v(id, n) WHERE media.id = v.id");

is_deeply(ids(api(GET => '/api/v1/catalog', $bob)), [$a1, $v3, $v2, $v1],
          'catalog: public ready media, newest first; never private, '
          . 'unlisted or not ready, even for their owner');
is_deeply(ids(api(GET => '/api/v1/catalog?kind=video')), [$v3, $v2, $v1],
          'kind=video');
is_deeply(ids(api(GET => '/api/v1/catalog?kind=audio')), [$a1], 'kind=audio');
is_deeply(ids(api(GET => '/api/v1/catalog?kind=video&tag=DRAMA')), [$v3, $v1],
          'tag=DRAMA: tags compare lower-case');
is_deeply(ids(api(GET => '/api/v1/catalog?kind=video&sort=popular')),
          [$v2, $v3, $v1], 'sort=popular: most played first');
is_deeply(ids(api(GET => '/api/v1/catalog?tag=nothing+here')), [],
          'an unused tag: none');

for my $sort (qw(new popular)) {
    my (@got, $c);
    for (1 .. 5) {
        $r = api(GET => "/api/v1/catalog?sort=$sort&limit=1"
                        . ($c ? "&cursor=$c" : ''));
        push @got, @{ ids($r) };
        $c = $r->{json}{next_cursor} or last;
    }
    is_deeply(\@got, $sort eq 'new' ? [$a1, $v3, $v2, $v1] : [$a1, $v2, $v3, $v1],
              "sort=$sort in pages of one: each once, in order");
}

# by tag, newest first: sql/042's rows of each listed media's tags
for my $kind ('', 'kind=audio&') {
    my (@got, $c);
    for (1 .. 5) {
        $r = api(GET => "/api/v1/catalog?${kind}tag=drama&limit=1"
                        . ($c ? "&cursor=$c" : ''));
        is($r->{status}, 200, "tag=drama, ${kind}page: 200") or last;
        push @got, @{ ids($r) };
        $c = $r->{json}{next_cursor} or last;
    }
    is_deeply(\@got, $kind ? [$a1] : [$a1, $v3, $v1],
              "tag=drama ${kind}in pages of one: each once, in order");
}
sql("UPDATE media SET published_at = now() - interval '10 minutes'"
    . " WHERE id = '$a1'");
is_deeply(ids(api(GET => '/api/v1/catalog?tag=drama')), [$v3, $v1, $a1],
          '  a media listed earlier moves down its tag\'s pages');
is(api(PATCH => "/api/v1/media/$v3", $bob, { tags => ['noir'] })->{status},
   200, 'a tag taken off through PATCH');
is_deeply(ids(api(GET => '/api/v1/catalog?tag=drama')), [$v1, $a1],
          '  gone from that tag at once');
is_deeply(ids(api(GET => '/api/v1/catalog?tag=noir')), [$v3],
          '  still under the tag it kept');
is(api(PATCH => "/api/v1/media/$v1", $ann, { privacy => 'private' })->{status},
   200, 'a tagged media made private');
is_deeply(ids(api(GET => '/api/v1/catalog?tag=drama')), [$a1],
          '  gone from its tag');
is(api(PATCH => "/api/v1/media/$v1", $ann, { privacy => 'public' })->{status},
   200, '  public again');
is_deeply(ids(api(GET => '/api/v1/catalog?tag=drama')), [$v1, $a1],
          '  back under its tag, in its place');
is(api(DELETE => "/api/v1/media/$a1", $bob)->{status}, 204,
   'a tagged media deleted');
is_deeply(ids(api(GET => '/api/v1/catalog?tag=drama')), [$v1],
          '  gone from its tag');
is(sql("SELECT count(*) FROM media_tags WHERE media_id IN ('$a1', '$vq')"),
   0, '  no tag rows for a deleted or unready media');

for my $case (
    [ '?kind=film', 'kind', 'an unknown kind' ],
    [ '?sort=old', 'sort', 'an unknown sort' ],
    [ '?tag=' . ('t' x 41), 'tag', 'a 41-character tag' ],
    [ '?tag=+', 'tag', 'a blank tag' ],
    [ '?tag=%FF', 'tag', 'a tag not UTF-8' ],
    [ '?cursor=12.x', 'cursor', 'a made-up cursor' ],
    [ '?limit=100', 'limit', 'limit 100' ],
) {
    my ($args, $field, $what) = @$case;
    $r = api(GET => "/api/v1/catalog$args");
    is($r->{status}, 422, "catalog, $what: 422");
    is($r->{json}{error}{field}, $field, "  names $field") or diag($r->{content});
}

# --- the cache of what everyone may see -------------------------------------

# a page is kept media_public_cache (5 s): a title changed behind the
# module's back (not through its API, which makes the cache forget) shows
# once the page has aged out
my $kept = ready(upload($ann, title => 'Kept wombat', privacy => 'public'));
my $mine = upload($ann, title => 'Draft wombat', privacy => 'private');
my $later = upload($ann, title => 'Draft koala', privacy => 'private');
is_deeply(ids(search('wombat')), [$kept], 'a page asked for: "wombat"');
sql("UPDATE media SET title = 'Kept quokka' WHERE id = '$kept'");
sql("UPDATE media SET title = 'Draft wombat too' WHERE id = '$later'");
is_deeply(ids(search('wombat')), [$kept],
          '  asked again at once: the page kept, not read again');
is_deeply(bag(@{ ids(search('wombat', $ann)) }), bag($kept, $mine, $later),
          '  its owner: the kept page and her own drafts, read at once');
ok(wait_until(sub { !@{ ids(search('wombat')) } },
              timeout => 15, interval => 0.5),
   '  the kept page ages out: the change shows within twice its 5 s');
is_deeply(ids(search('quokka')), [$kept], '  found by its new title');

# her own rows age the same way: past their time (a time between half of
# 5 s and 5 s, varied by key) and within twice it, served as kept while
# they are read anew in the background; the caller never waits for
# PostgreSQL: here it could not answer (the media table locked).  The time
# depends on the key, so she asks every 0.25 s from 2.4 s on: every answer
# is her kept row, and the first one past its time starts the read anew
# that waits for the lock (each ask well within twice the time, >= 5 s)
my $tapir = upload($ann, title => 'Draft tapir', privacy => 'private');
my $t0 = Time::HiRes::time();
is_deeply(ids(search('tapir', $ann)), [$tapir], 'her own draft: "tapir"');
sql("UPDATE media SET title = 'Draft okapi' WHERE id = '$tapir'");
my $lock = lock_media();
Time::HiRes::sleep(max(0, $t0 + 2.4 - Time::HiRes::time()));
my (@stale, $blocked);
for (1 .. 40) {
    push @stale, api(GET => '/api/v1/search?q=tapir', $ann);
    last if ($blocked = blocked_queries() >= 1);
    last if Time::HiRes::time() > $t0 + 7.5;
    Time::HiRes::sleep(0.25);
}
is_deeply([ map { $_->{status} } @stale ], [ (200) x @stale ],
          '  past its time, PostgreSQL locked out: answered (' . @stale
          . sprintf(' asks, the last at %.1f s)', Time::HiRes::time() - $t0))
    or diag(join("\n", map { $_->{content} } @stale));
is_deeply([ map { ids($_) } @stale ], [ ([$tapir]) x @stale ],
          '  with her rows as kept');
ok($blocked, '  and read anew in the background (waiting for the lock)');
print $lock "COMMIT;\n";
close $lock;
ok(wait_until(sub { !@{ ids(search('tapir', $ann)) } }, timeout => 5,
              interval => 0.2),
   '  read anew meanwhile: the change shows');
is_deeply(ids(search('okapi', $ann)), [$tapir], '  found by its new title');

# other nodes forget too: a write through the API that takes something out
# of public view publishes "~" on media:blocked, and every node's
# subscriber, this one's included, moves its kept answers' key on.  With
# media_public_cache 60s a page would be kept 30 s at least: a change
# seen within a few seconds was forgotten, not aged out
{
    my $c = slurp($t->conf_file);
    $c =~ s/media_public_cache 5s;/media_public_cache 60s;/ or die 'conf';
    open(my $fh, '>', $t->conf_file) or die $!;
    print $fh $c;
    close $fh;
    my $reloads = sub { scalar(() = slurp($t->dir . '/error.log')
                                     =~ /media blocked reload:/g) };
    my $before = $reloads->();
    $t->stop_nginx;
    $t->start_nginx;
    # the subscriber's first load of the set moves its version: after it
    wait_until(sub { $reloads->() > $before }, timeout => 10)
        or die 'no blocked set reload after the restart';
}
is_deeply(ids(search('quokka')), [$kept], 'media_public_cache 60s: kept');
sql("UPDATE media SET title = 'Kept numbat' WHERE id = '$kept'");
is_deeply(ids(search('quokka')), [$kept], '  renamed behind its back: kept');
cmp_ok($t->redis('PUBLISH', 'media:blocked', '~'), '>=', 1,
       '  "~" published as another node would: heard');
ok(wait_until(sub { !@{ ids(search('quokka')) } }, timeout => 5,
              interval => 0.2),
   '  the kept page forgotten: the change shows');
is_deeply(ids(search('numbat')), [$kept], '  found by its new title');

# a signed-in caller's own rows are kept too, under a version of theirs
# that each of their writes through the API renews, on every node
my $draft = upload($ann, title => 'Draft dingo', privacy => 'private');
my $other = upload($ann, title => 'Other song', privacy => 'private');
is_deeply(ids(search('dingo', $ann)), [$draft], 'her own draft found');
sql("UPDATE media SET title = 'Draft dhole' WHERE id = '$draft'");
is_deeply(ids(search('dingo', $ann)), [$draft],
          '  renamed behind its back: her own rows kept');
is(api(PATCH => "/api/v1/media/$other", $ann, { title => 12 })->{status},
   422, '  a write of hers refused');
is_deeply(ids(search('dingo', $ann)), [$draft], '  kept still');
is(api(PATCH => "/api/v1/media/$other", $ann, { title => 'Other tune' })
   ->{status}, 200, '  a write of hers to another media');
is_deeply(ids(search('dingo', $ann)), [],
          '  her own rows read again at once');
is_deeply(ids(search('dhole', $ann)), [$draft], '  found by the new title');
sql("UPDATE media SET title = 'Draft dingo' WHERE id = '$draft'");
is_deeply(ids(search('dhole', $ann)), [$draft], '  kept again');
cmp_ok($t->redis('PUBLISH', 'media:blocked', "~o $ann->{user}{id}"), '>=', 1,
       '  "~o <her id>" published as another node would after her write');
ok(wait_until(sub { !@{ ids(search('dhole', $ann)) } }, timeout => 5,
              interval => 0.2),
   '  her own rows read again');
is_deeply(ids(search('dhole', $bob)), [], '  never anyone else\'s');

my $sub = subscribe('media:blocked');
is(api(PATCH => "/api/v1/media/$kept", $ann, { privacy => 'private' })
   ->{status}, 200, 'made private through the API');
my $forget = next_message($sub, 5) // '';
like($forget, qr/^~ [0-9a-f]{16}\z/,
     '  "~ <node>" published for the other nodes');
like(next_message($sub, 5) // '', qr/^~o \Q$ann->{user}{id}\E [0-9a-f]{16}\z/,
     '  and "~o <her id> <node>": she wrote');
close $sub;

# a node passes over its own messages (it forgot when it sent them): the
# echo of one does not forget what was kept since
is_deeply(ids(search('numbat')), [], 'made private: gone at once');
my $pub = ready(upload($bob, title => 'Echo numbat', privacy => 'public'));
is_deeply(ids(search('numbat')), [$pub], '  a new page kept');
sql("UPDATE media SET title = 'Echo wombat' WHERE id = '$pub'");
is_deeply(ids(search('numbat')), [$pub], '  renamed behind its back: kept');
cmp_ok($t->redis('PUBLISH', 'media:blocked', $forget), '>=', 1,
       '  this node\'s own "~ <node>" heard again');
$sub = subscribe('media:blocked');
cmp_ok($t->redis('PUBLISH', 'media:blocked', 'x'), '>=', 1, '  and after it');
next_message($sub, 5);
close $sub;
is_deeply(ids(search('numbat')), [$pub], '  the page still kept');

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

sub search {
    my ($q, $user) = @_;
    my $r = api(GET => "/api/v1/search?q=$q", $user);
    die "search $q: $r->{status} $r->{content}" unless $r->{status} == 200;
    return $r;
}

sub ids { [ map { $_->{id} } @{ $_[0]{json}{items} } ] }

# a session holding an exclusive lock on media: every read of it waits
sub lock_media { $t->lock_table('media') }

# the module's queries waiting on a lock
sub blocked_queries {
    my $n = $t->psql('media', "SELECT count(*) FROM pg_stat_activity"
                     . " WHERE application_name = 'ngx_media'"
                     . " AND wait_event_type = 'Lock'");
    return defined $n ? $n + 0 : -1;
}

# a RESP connection subscribed to a channel, its confirmation read
sub subscribe {
    my ($channel) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->port('redis'),
                                  Timeout => 2) or die "redis: $!";
    print $s "*2\r\n\$9\r\nSUBSCRIBE\r\n\$" . length($channel)
             . "\r\n$channel\r\n";
    my $ok = next_message($s, 5, 'subscribe');
    die "SUBSCRIBE $channel: no confirmation" unless defined $ok;
    return $s;
}

# the payload of the next push of that type within $timeout seconds (what
# came after it is kept for the next call)
our %left;
sub next_message {
    my ($s, $timeout, $type) = @_;
    $type //= 'message';
    my $buf = delete $left{$s} // '';
    my $until = time + $timeout;
    while (1) {
        # *3 $<len> type $<len> channel (:n | $<len> payload)
        while ($buf =~ /\A\*3\r\n\$\d+\r\n(\w+)\r\n\$\d+\r\n[^\r]*\r\n
                        (?::(\d+)|\$\d+\r\n([^\r]*))\r\n/x)
        {
            my ($t0, $n, $payload) = ($1, $2, $3);
            $buf = substr($buf, $+[0]);
            next unless $t0 eq $type;
            $left{$s} = $buf;
            return $payload // $n;
        }
        last if time >= $until;
        my $in = '';
        vec($in, fileno($s), 1) = 1;
        last unless select($in, undef, undef, 0.2) >= 0;
        next unless vec($in, fileno($s), 1);
        sysread($s, $buf, 4096, length $buf) or return undef;
    }
    return undef;
}

# a set: compared sorted
sub bag { [ sort @_ ] }

sub upload {
    my ($user, %patch) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => $clip,
                     headers => { 'Content-Type' => 'audio/wav',
                                  Authorization => "Bearer $user->{access_token}" });
    die "upload: $r->{status} $r->{content}" unless $r->{status} == 202;
    my $id = $r->{json}{media}{id};
    $r = api(PATCH => "/api/v1/media/$id", $user, \%patch);
    die "patch: $r->{status} $r->{content}" unless $r->{status} == 200;
    return $id;
}

# what the transcoder leaves: ready, with a kind
sub ready {
    my ($id, $kind) = @_;
    sql("UPDATE media SET status = 'ready', kind = '" . ($kind // 'audio')
        . "' WHERE id = '$id'");
    return $id;
}

sub sql {
    my $q = $_[0];
    utf8::encode($q);
    my $out = $t->psql('media', $q);
    die "psql: $_[0]" unless defined $out;
    chomp $out;
    return $out;
}
