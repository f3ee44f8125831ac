# The social room: comments on a moment (every refusal: 422 per field, 401,
# 403, 404, 409, 429), listed by moment in cursor pages, deleted by author
# or owner; likes and reposts, idempotent, with counts kept by triggers;
# follows; the feed of whom one follows, newest first, in cursor pages; and
# private media of others reachable through none of it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_worker('transcoder');
$t->start_nginx;

my $clip = $t->make_media('tone.wav',
                          '-f lavfi -i sine=frequency=440:duration=5');

my $ann = $t->signup('ann@example.com');     # makes media
my $bob = $t->signup('bob@example.com');     # listens, comments
my $cat = $t->signup('cat@example.com');     # another listener
my ($ann_id, $bob_id, $cat_id) = map { $_->{user}{id} } $ann, $bob, $cat;
sql("UPDATE users SET handle = 'ann' WHERE id = '$ann_id'");

# one media made for real (its duration measured by the transcoder) ...
my $r = $t->http(POST => '/api/v1/media', body => slurp($clip),
                 headers => { 'Content-Type' => 'audio/wav',
                              Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 202, 'ann uploads a 5 s clip');
my $pub = $r->{json}{media}{id};
my $status = '';
wait_until(sub {
    $status = api(GET => "/api/v1/media/$pub", $ann)->{json}{media}{status} // '';
    $status =~ /^(ready|failed)$/;
}, timeout => 60, interval => 0.3);
is($status, 'ready', '  transcoded');
is(api(PATCH => "/api/v1/media/$pub", $ann, { privacy => 'public' })->{status},
   200, '  and made public');
my $dur = sql("SELECT duration_ms FROM media WHERE id = '$pub'");
ok($dur >= 4900 && $dur <= 5100, "  it lasts about 5 s ($dur ms)");

# ... and the others as rows: what matters here is their privacy and state
my $priv = media_row($ann_id, 'private', 'ready', 5000);
my $unl  = media_row($ann_id, 'unlisted', 'ready', 5000);
my $busy = media_row($ann_id, 'public', 'processing', undef);
my $gone = media_row($ann_id, 'public', 'ready', 5000);
sql("UPDATE media SET deleted_at = now() WHERE id = '$gone'");
my $nobody = '00000000-0000-4000-8000-000000000000';

# --- comments: refusals -------------------------------------------------

my $cpath = "/api/v1/media/$pub/comments";

$r = api(POST => $cpath, undef, { body => 'hi', at_ms => 1000 });
is($r->{status}, 401, 'comment without signing in: 401');
like($r->{headers}{'www-authenticate'} // '', qr/^Bearer/, '  WWW-Authenticate: Bearer');

for my $bad (
    [ { at_ms => 1000 }, 'body', qr/body is required/, 'no body' ],
    [ { body => 42, at_ms => 1000 }, 'body', qr/body is required/,
      'a body that is a number' ],
    [ { body => '', at_ms => 1000 }, 'body', qr/body is empty/, 'empty' ],
    [ { body => " \n\t ", at_ms => 1000 }, 'body', qr/body is empty/,
      'only white space' ],
    [ { body => "\x{65e5}" x 1001, at_ms => 1000 }, 'body',
      qr/body is 1001 characters; a comment may hold at most 1000/,
      '1001 characters' ],
    [ { body => "a\x{1b}[31mred", at_ms => 1000 }, 'body',
      qr/control character/, 'an escape character' ],
    [ { body => 'hi' }, 'at_ms', qr/at_ms is required/, 'no at_ms' ],
    [ { body => 'hi', at_ms => undef }, 'at_ms', qr/at_ms is required/,
      'at_ms null' ],
    [ { body => 'hi', at_ms => -1 }, 'at_ms', qr/whole number/,
      'at_ms negative' ],
    [ { body => 'hi', at_ms => 1.5 }, 'at_ms', qr/whole number/,
      'at_ms not whole' ],
    [ { body => 'hi', at_ms => '1000' }, 'at_ms', qr/whole number/,
      'at_ms a string' ],
    [ { body => 'hi', at_ms => 2**31 }, 'at_ms', qr/whole number/,
      'at_ms past 32 bits' ],
    [ { body => 'hi', at_ms => $dur + 1 }, 'at_ms',
      qr/at_ms is ${\($dur + 1)}; this media lasts $dur ms, so at_ms may be 0 to $dur/,
      'at_ms after the end' ],
) {
    my ($body, $field, $msg, $what) = @$bad;
    $r = api(POST => $cpath, $bob, $body);
    is($r->{status}, 422, "comment refused, $what: 422");
    is($r->{json}{error}{field}, $field, "  names $field");
    like($r->{json}{error}{message}, $msg, '  and says why')
        or diag($r->{content});
}

for my $case ([ "/api/v1/media/not-a-uuid/comments", 'not an id' ],
              [ "/api/v1/media/$nobody/comments", 'no such media' ],
              [ "/api/v1/media/$priv/comments", 'ann\'s private media' ],
              [ "/api/v1/media/$gone/comments", 'a deleted media' ]) {
    $r = api(POST => $case->[0], $bob, { body => 'hi', at_ms => 0 });
    is($r->{status}, 404, "comment on $case->[1]: 404");
    is($r->{json}{error}{code}, 'not_found', '  not_found');
}

$r = api(POST => "/api/v1/media/$busy/comments", $bob, { body => 'hi', at_ms => 0 });
is($r->{status}, 409, 'comment on a media still processing: 409');
is($r->{json}{error}{code}, 'not_ready', '  not_ready');
is(sql("SELECT count(*) FROM comments"), 0, 'no refused comment was written');

# --- comments: made, listed, counted ----------------------------------

$r = api(POST => $cpath, $bob, { body => 'the drop', at_ms => 3000 });
is($r->{status}, 201, 'bob comments at 0:03: 201');
my $c3 = $r->{json};
is($c3->{at_ms}, 3000, '  at 3000 ms');
is($c3->{body}, 'the drop', '  its body');
is($c3->{user}{id}, $bob_id, '  by bob');
like($c3->{created_at}, qr/^\d{4}-\d\d-\d\dT/, '  with its time');

my $long = "\x{65e5}" x 1000;
$r = api(POST => $cpath, $cat, { body => $long, at_ms => 4000 });
is($r->{status}, 201, '1000 characters in 3000 bytes: taken (characters, not bytes)');
is($r->{json}{body}, $long, '  kept whole');
my $c4 = $r->{json};
$r = api(POST => $cpath, $cat, { body => "two\nlines", at_ms => 1000 });
is($r->{status}, 201, 'a line feed is allowed');
my $c1 = $r->{json};
$r = api(POST => $cpath, $ann, { body => 'thanks', at_ms => 3000 });
is($r->{status}, 201, 'the owner comments too');
my $c3b = $r->{json};
$r = api(POST => $cpath, $bob, { body => 'the end', at_ms => $dur });
is($r->{status}, 201, 'at_ms equal to the duration: taken');
my $cend = $r->{json};
is(api(POST => "/api/v1/media/$priv/comments", $ann, { body => 'note', at_ms => 10 })->{status},
   201, 'the owner comments on her private media');
is(api(POST => "/api/v1/media/$unl/comments", $bob, { body => 'by link', at_ms => 10 })->{status},
   201, 'an unlisted media takes comments from whoever has its link');

my @by_moment = sort { $a->{at_ms} <=> $b->{at_ms} || $a->{id} cmp $b->{id} }
                $c3, $c4, $c1, $c3b, $cend;
$r = api(GET => $cpath, undef);
is($r->{status}, 200, 'anyone lists a public media\'s comments, signed in or not');
is_deeply([ map { $_->{id} } @{ $r->{json}{items} } ],
          [ map { $_->{id} } @by_moment ], '  by moment, then id');
ok(!defined $r->{json}{next_cursor}, '  one page: no next_cursor');
is(sql("SELECT comments_count FROM media WHERE id = '$pub'"), 5,
   'media.comments_count: 5');

my @pages;
my $cursor;
for my $i (1 .. 10) {
    $r = api(GET => "$cpath?limit=2" . ($cursor ? "&cursor=$cursor" : ''), undef);
    is($r->{status}, 200, "page $i") or last;
    push @pages, [ map { $_->{id} } @{ $r->{json}{items} } ];
    $cursor = $r->{json}{next_cursor} or last;
}
is_deeply([ map { @$_ } @pages ], [ map { $_->{id} } @by_moment ],
          'pages of 2 give every comment once, in order');
is_deeply([ map { scalar @$_ } @pages ], [ 2, 2, 1 ], '  in pages of 2, 2, 1');

$r = api(GET => "$cpath?cursor=nonsense", undef);
is($r->{status}, 422, 'a cursor that is not one: 422');
is($r->{json}{error}{field}, 'cursor', '  names cursor');
$r = api(GET => "$cpath?limit=0", undef);
is($r->{status}, 422, 'limit 0: 422');
is($r->{json}{error}{field}, 'limit', '  names limit');

is(api(GET => "/api/v1/media/$unl/comments", undef)->{status}, 200,
   'an unlisted media\'s comments: anyone with the link');
for my $who ([ undef, 'anonymous' ], [ $bob, 'bob' ]) {
    $r = api(GET => "/api/v1/media/$priv/comments", $who->[0]);
    is($r->{status}, 404, "ann's private media's comments, $who->[1]: 404");
}
$r = api(GET => "/api/v1/media/$priv/comments", $ann);
is(scalar @{ $r->{json}{items} }, 1, 'ann sees hers');
is(api(GET => "/api/v1/media/$busy/comments", undef)->{json}{items} ? 1 : 0, 1,
   'a media with no comment: an empty page, not 404');
is(api(GET => "/api/v1/media/$gone/comments", undef)->{status}, 404,
   'a deleted media\'s comments: 404');

# --- comments: deleted ----------------------------------------------------

$r = api(DELETE => "/api/v1/comments/$c3->{id}", undef);
is($r->{status}, 401, 'delete without signing in: 401');
$r = api(DELETE => "/api/v1/comments/$c3->{id}", $cat);
is($r->{status}, 403, 'cat deletes bob\'s comment: 403 (she can see it)');
is($r->{json}{error}{code}, 'forbidden', '  forbidden');
my $pc = api(GET => "/api/v1/media/$priv/comments", $ann)->{json}{items}[0]{id};
is(api(DELETE => "/api/v1/comments/$pc", $bob)->{status}, 404,
   'bob deletes a comment on ann\'s private media: 404, not 403');
is(api(DELETE => "/api/v1/comments/$nobody", $bob)->{status}, 404,
   'no such comment: 404');
is(api(DELETE => "/api/v1/comments/x", $bob)->{status}, 404, 'not an id: 404');
is(api(DELETE => "/api/v1/comments/$c3->{id}", $bob)->{status}, 204,
   'bob deletes his own: 204');
is(api(DELETE => "/api/v1/comments/$c3->{id}", $bob)->{status}, 404,
   '  and again: 404, it is gone');
is(api(DELETE => "/api/v1/comments/$c4->{id}", $ann)->{status}, 204,
   'ann deletes cat\'s comment on her media: 204');
is(sql("SELECT comments_count FROM media WHERE id = '$pub'"), 3,
   'media.comments_count: 3');
$r = api(GET => $cpath, undef);
is_deeply([ map { $_->{id} } @{ $r->{json}{items} } ],
          [ map { $_->{id} } grep { $_ != $c3 && $_ != $c4 } @by_moment ],
          'the deleted ones are not listed');

# --- comments: the rate ---------------------------------------------------

# a fixed window of 10 s: at most 10 in one, so a 429 comes by the 21st
my $dan = $t->signup('dan@example.com');
my ($limited, $made) = (undef, 0);
for my $i (1 .. 21) {
    $r = api(POST => "/api/v1/media/$unl/comments", $dan,
             { body => "c$i", at_ms => 0 });
    if ($r->{status} == 429) { $limited = $r; last }
    $made++ if $r->{status} == 201;
}
ok($limited, "dan's comments: 429 after $made");
ok($made >= 10 && $made <= 20, '  not before the tenth');
is($limited->{json}{error}{code}, 'rate_limited', '  rate_limited');
like($limited->{json}{error}{message}, qr/10 comments in 10 seconds/, '  says the rate');
my $after = $limited->{headers}{'retry-after'} // 0;
ok($after >= 1 && $after <= 10, "  Retry-After $after, within the window");
is(api(POST => "/api/v1/media/$unl/comments", $bob,
         { body => 'mine still', at_ms => 0 })->{status},
   201, '  another user is not held by it');

# --- likes and reposts ----------------------------------------------------

for my $kind ([ 'like', 'liked', 'likes_count' ],
              [ 'repost', 'reposted', 'reposts_count' ]) {
    my ($what, $state, $count) = @$kind;
    my $path = "/api/v1/media/$pub/$what";

    is(api(PUT => $path, undef)->{status}, 401, "$what without signing in: 401");
    $r = api(PUT => $path, $bob);
    is($r->{status}, 200, "bob's $what: 200");
    is_deeply($r->{json}, { $state => JSON::PP::true, $count => 1 },
              "  {$state: true, $count: 1}");
    $r = api(PUT => $path, $bob);
    is_deeply($r->{json}, { $state => JSON::PP::true, $count => 1 },
              "  again: still one (idempotent)");
    is(api(PUT => $path, $cat)->{json}{$count}, 2, "  cat's too: 2");
    is(sql("SELECT $count FROM media WHERE id = '$pub'"), 2,
       "  media.$count: 2");
    is(sql("SELECT count(*) FROM ${what}s WHERE media_id = '$pub'"), 2,
       "  two rows");
    $r = api(DELETE => $path, $cat);
    is_deeply($r->{json}, { $state => JSON::PP::false, $count => 1 },
              "  cat takes hers back: {$state: false, $count: 1}");
    $r = api(DELETE => $path, $cat);
    is_deeply($r->{json}, { $state => JSON::PP::false, $count => 1 },
              "  again: still one");
    is(sql("SELECT $count FROM media WHERE id = '$pub'"), 1,
       "  media.$count: 1");

    for my $case ([ $priv, 'ann\'s private media' ], [ $nobody, 'no media' ],
                  [ $gone, 'a deleted media' ], [ 'x', 'not an id' ]) {
        for my $m (qw(PUT DELETE)) {
            $r = api($m => "/api/v1/media/$case->[0]/$what", $bob);
            is($r->{status}, 404, "  $m $what of $case->[1]: 404");
        }
    }
    is(api(PUT => "/api/v1/media/$priv/$what", $ann)->{status}, 200,
       "  ann's own private media: hers to $what");
    is(api(PUT => "/api/v1/media/$unl/$what", $bob)->{status}, 200,
       "  an unlisted media: by its link");
}

$r = api(GET => "/api/v1/media/$pub/social", $bob);
is($r->{status}, 200, 'the social state of a media, for bob');
is($r->{json}{likes_count}, 1, '  likes_count');
is($r->{json}{reposts_count}, 1, '  reposts_count');
is($r->{json}{comments_count}, 3, '  comments_count');
ok($r->{json}{liked} && $r->{json}{reposted}, '  bob liked and reposted it');
ok(!$r->{json}{following}, '  and does not follow ann yet');
is($r->{json}{owner}{handle}, 'ann', '  the owner, by handle');
$r = api(GET => "/api/v1/media/$pub/social", undef);
ok($r->{status} == 200 && !$r->{json}{liked}, '  anonymous: counts, liked false');
is(api(GET => "/api/v1/media/$priv/social", $bob)->{status}, 404,
   '  ann\'s private media: 404');

# --- follows -----------------------------------------------------------------

my $fpath = "/api/v1/users/$ann_id/follow";
is(api(PUT => $fpath, undef)->{status}, 401, 'follow without signing in: 401');
$r = api(PUT => "/api/v1/users/$bob_id/follow", $bob);
is($r->{status}, 422, 'bob follows himself: 422');
is($r->{json}{error}{field}, 'id', '  names id');
like($r->{json}{error}{message}, qr/cannot follow yourself/, '  says why');
is(api(PUT => "/api/v1/users/\U$bob_id\E/follow", $bob)->{status}, 422,
   '  his id in capitals too');
is(api(PUT => "/api/v1/users/$nobody/follow", $bob)->{status}, 404,
   'no such user: 404');
is(api(DELETE => "/api/v1/users/$nobody/follow", $bob)->{status}, 404,
   '  DELETE too');
is(api(PUT => '/api/v1/users/x/follow', $bob)->{status}, 404, 'not an id: 404');
$r = api(PUT => $fpath, $bob);
is_deeply($r->{json}, { following => JSON::PP::true, followers_count => 1 },
          'bob follows ann: {following: true, followers_count: 1}');
$r = api(PUT => $fpath, $bob);
is($r->{json}{followers_count}, 1, '  again: still one');
is(api(PUT => $fpath, $cat)->{json}{followers_count}, 2, 'cat follows ann: 2');
$r = api(DELETE => $fpath, $cat);
is_deeply($r->{json}, { following => JSON::PP::false, followers_count => 1 },
          'cat unfollows: 1');
is(api(DELETE => $fpath, $cat)->{json}{followers_count}, 1, '  again: 1');
ok(api(GET => "/api/v1/media/$pub/social", $bob)->{json}{following},
   'the social state says bob follows ann');

# --- the feed -----------------------------------------------------------------

# bob follows ann and cat.  Times are set so the order is known:
#   ann's public media a1 (t-50 min), a2 (t-40), cat reposts a1 (t-30),
#   cat reposts unlisted (t-25, not shown), ann's private and unlisted and
#   processing media (not shown), cat's public p1 (t-20), dan reposts a2
#   (t-10, dan is not followed), cat reposts ann's private-then media that
#   is made private (not shown)
is(api(PUT => "/api/v1/users/$cat_id/follow", $bob)->{status}, 200,
   'bob follows cat');
sql("UPDATE media SET created_at = now() - interval '1 day',"
    . " published_at = now() - interval '1 day'"
    . " WHERE id IN ('$pub', '$priv', '$unl', '$busy', '$gone')");
sql("DELETE FROM reposts");
my $a1 = media_row($ann_id, 'public', 'ready', 5000, '50 minutes');
my $a2 = media_row($ann_id, 'public', 'ready', 5000, '40 minutes');
my $p1 = media_row($cat_id, 'public', 'ready', 5000, '20 minutes');
my $later_private = media_row($ann_id, 'public', 'ready', 5000, '45 minutes');
repost($cat, $a1, '30 minutes');
repost($cat, $unl, '25 minutes');
repost($dan, $a2, '10 minutes');
repost($cat, $later_private, '5 minutes');
sql("UPDATE media SET privacy = 'private' WHERE id = '$later_private'");

is(api(GET => '/api/v1/feed', undef)->{status}, 401, 'the feed without signing in: 401');
$r = api(GET => '/api/v1/feed', $bob);
is($r->{status}, 200, 'bob\'s feed');
my @want = ([ 'upload', $p1, $cat_id ], [ 'repost', $a1, $cat_id ],
            [ 'upload', $a2, $ann_id ], [ 'upload', $a1, $ann_id ],
            [ 'upload', $pub, $ann_id ]);
is_deeply([ map { [ $_->{type}, $_->{media}{id}, $_->{by}{id} ] } @{ $r->{json}{items} } ],
          \@want, '  newest first: uploads and reposts of whom he follows, public only')
    or diag(explain($r->{json}));
my ($rep) = grep { $_->{repost} } @{ $r->{json}{items} };
is($rep->{by}{id}, $cat_id, '  a repost says by whom');
is($rep->{media}{owner}{id}, $ann_id, '  and whose media');
is($rep->{media}{owner}{handle}, 'ann', '  by handle');

my @seen;
$cursor = undef;
my $n = 0;
for my $i (1 .. 10) {
    $r = api(GET => '/api/v1/feed?limit=2' . ($cursor ? "&cursor=$cursor" : ''), $bob);
    is($r->{status}, 200, "feed page $i") or last;
    $n++;
    push @seen, map { [ $_->{type}, $_->{media}{id}, $_->{by}{id} ] } @{ $r->{json}{items} };
    $cursor = $r->{json}{next_cursor} or last;
}
is_deeply(\@seen, \@want, 'feed pages of 2 give every item once, in order');
is($n, 3, '  in 3 pages');

# a cursor whose item is gone still says where the next page starts
$r = api(GET => '/api/v1/feed?limit=2', $bob);
$cursor = $r->{json}{next_cursor};
sql("DELETE FROM reposts WHERE user_id = '$cat_id' AND media_id = '$a1'");
$r = api(GET => "/api/v1/feed?limit=2&cursor=$cursor", $bob);
is_deeply([ map { $_->{media}{id} } @{ $r->{json}{items} } ], [ $a2, $a1 ],
          'the cursor\'s own item unreposted: the next page is still right');

for my $bad ('x', '1.u.' . $a1, "01.u.$a1.$ann_id", "1.z.$a1.$ann_id",
             "1.u.\U$a1\E.$ann_id") {
    $r = api(GET => "/api/v1/feed?cursor=$bad", $bob);
    is($r->{status}, 422, "feed cursor '$bad': 422");
    is($r->{json}{error}{field}, 'cursor', '  names cursor');
}
is(scalar @{ api(GET => '/api/v1/feed', $dan)->{json}{items} }, 0,
   'dan follows no one: an empty feed');

# --- private media of others: nowhere ---------------------------------------

for my $req ([ GET => "/api/v1/media/$priv/comments" ],
             [ POST => "/api/v1/media/$priv/comments", { body => 'x', at_ms => 0 } ],
             [ GET => "/api/v1/media/$priv/social" ],
             [ PUT => "/api/v1/media/$priv/like" ],
             [ DELETE => "/api/v1/media/$priv/like" ],
             [ PUT => "/api/v1/media/$priv/repost" ],
             [ DELETE => "/api/v1/media/$priv/repost" ]) {
    my ($m, $p, $b) = @$req;
    $r = api($m => $p, $cat, $b);
    is($r->{status}, 404, "cat: $m $p: 404");
    unlike($r->{content}, qr/note/, '  nothing of it in the answer');
}
ok(!grep({ $_->{media}{id} eq $priv } @{ api(GET => '/api/v1/feed', $bob)->{json}{items} }),
   'nor in a feed');

# counts follow a media's rows when it goes for good
sql("DELETE FROM media WHERE id = '$unl'");
is(sql("SELECT count(*) FROM comments WHERE media_id = '$unl'"), 0,
   'a media removed for good takes its comments along');

$t->finish;
done_testing();

# --- helpers -----------------------------------------------------------------

sub api {
    my ($method, $path, $user, $body) = @_;
    return $t->http($method => $path,
        headers => { ($user ? (Authorization => "Bearer $user->{access_token}")
                            : ()),
                     (defined $body ? ('Content-Type' => 'application/json')
                                    : ()) },
        (defined $body ? (body => encode_json($body)) : ()));
}

sub sql {
    my $out = $t->psql('media', $_[0]);
    die "psql: $_[0]" unless defined $out;
    chomp $out;
    return $out;
}

# a media row as the transcoder leaves it; created $ago before now
sub media_row {
    my ($owner, $privacy, $status, $duration, $ago) = @_;
    $duration //= 'NULL';
    $ago //= '0 seconds';
    return sql("INSERT INTO media (owner_id, title, kind, status, privacy,"
               . " duration_ms, created_at, published_at) VALUES ('$owner',"
               . " 'made', 'audio', '$status', '$privacy', $duration,"
               . " now() - interval '$ago', now() - interval '$ago')"
               . " RETURNING id");
}

# a repost through the API, then dated
sub repost {
    my ($user, $media, $ago) = @_;
    my $r = api(PUT => "/api/v1/media/$media/repost", $user);
    die "repost: $r->{status} $r->{content}" unless $r->{status} == 200;
    sql("UPDATE reposts SET created_at = now() - interval '$ago'"
        . " WHERE user_id = '$user->{user}{id}' AND media_id = '$media'");
}
