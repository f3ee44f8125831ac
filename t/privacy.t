# The privacy walk: two users, each with public, unlisted, private and
# deleted media, and every route that lists or shows media walked as an
# anonymous visitor, as the other user and as the owner.  Private and
# deleted media never show to anyone but (for private) their owner;
# unlisted media play by link and are never listed.  A taken-down media
# (status blocked) is gone from every listing but its owner's library
# (marked there), and its pages, oEmbed and playback say it was removed
# (451).
#
# Two tables drive it, so that a room adding a listing (the feed, search,
# the catalogue, trending, playlists...) adds one line:
#   @listings: routes that list media; [name, path, who may call it]
#   @direct:   routes that show one media; [name, path, how it says no]
# A path may name %handle% (the profile's owner), %id% (the media).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(encode_json);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

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
    media_url_key %%DIR%%/url.key;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
        location /m/ {
            media_pages;
        }
        location /embed/ {
            media_pages;
        }
        location /u/ {
            media_pages;
        }
    }
}
EOF
open(my $k, '>', "$dir/url.key") or die;
print $k unpack('H*', join('', map { chr(int(rand(256))) } 1 .. 24)), "\n";
close $k;
$t->jwt_key;
$t->migrate;
$t->start_nginx;

my %user;
for my $name (qw(ann bob)) {
    $user{$name} = $t->signup("$name\@example.com");
    my $r = api(PATCH => '/api/v1/me', $user{$name}, { handle => "${name}_h" });
    die "handle: $r->{status}" unless $r->{status} == 200;
}

# each user's media: one of each privacy, a deleted public one, and a
# public one made private after it was listed once
my %media;    # id -> {owner, privacy, deleted}
my $age = 0;
for my $name (qw(ann bob)) {
    for my $p (qw(public unlisted private)) {
        add($name, $p, 0);
    }
    add($name, 'public', 1);
    # a draft meant to be public: its owner's only until published
    add($name, 'public', 0, 'draft');
}

# --- the tables ------------------------------------------------------------

# who: 'anyone' (walked as anonymous, the other user and the owner),
# 'signed-in' (as each user: their own view), 'follower' (as the other
# user, who follows the owner; the owner also reposted every media of
# theirs and of the follower, whatever its privacy, as if each had been
# public when reposted).  A path may name %owner% (the owner's name, in each title).
my @listings = (
    [ 'GET /api/v1/media (a library)', '/api/v1/media?limit=100', 'signed-in' ],
    [ 'GET /api/v1/users/{handle}', '/api/v1/users/%handle%?limit=100', 'anyone' ],
    [ '/u/{handle} page', '/u/%handle%', 'anyone' ],
    [ 'GET /api/v1/activity', '/api/v1/activity?limit=100', 'signed-in' ],
    [ 'GET /api/v1/library/purchases', '/api/v1/library/purchases', 'signed-in' ],
    [ 'GET /api/v1/search', '/api/v1/search?type=media&q=%owner%&limit=50',
      'anyone' ],
    [ 'GET /api/v1/catalog', '/api/v1/catalog?kind=video&limit=50', 'anyone' ],
    [ 'GET /api/v1/trending', '/api/v1/trending', 'anyone' ],
    [ 'GET /api/v1/feed', '/api/v1/feed?limit=50', 'follower' ],
);

# refusal: the status a viewer who may not see the media gets
my @direct = (
    [ 'share page /m/{id}', 'GET', '/m/%id%', 404 ],
    [ 'embed page /embed/{id}', 'GET', '/embed/%id%', 404 ],
    [ 'oEmbed', 'GET', '/api/v1/oembed?format=json&url=%url%', 404 ],
    [ 'playback token', 'POST', '/api/v1/media/%id%/playback', 404 ],
    [ 'GET /api/v1/media/{id}', 'GET', '/api/v1/media/%id%', 404, 'owner-only' ],
);

# the feed's material: ann and bob follow each other, and each reposted
# every media there is (rows written as they would have been while public)
my %uid = map { $_ => $user{$_}{user}{id} } qw(ann bob);
$t->psql('media', "INSERT INTO follows (follower_id, followee_id) VALUES"
         . " ('$uid{ann}', '$uid{bob}'), ('$uid{bob}', '$uid{ann}')");
$t->psql('media', "INSERT INTO reposts (user_id, media_id)"
         . " SELECT u.id, m.id FROM users u, media m");

# --- the walk ----------------------------------------------------------------

# every media played once (private, unlisted and deleted ones too), and the
# trending table made from that as the sweeper makes it
$t->psql('media', "INSERT INTO plays (media_id, viewer) SELECT id, 'a:x'"
         . " FROM media");
$t->psql('media', 'SELECT media_trending_refresh()');

walk('before');

# a public media made private: gone from every listing at once
my ($was) = grep { $media{$_}{owner} eq 'ann' && $media{$_}{privacy} eq 'public'
                   && !$media{$_}{deleted} } sort keys %media;
is(api(PATCH => "/api/v1/media/$was", $user{ann}, { privacy => 'private' })->{status},
   200, 'a public media made private');
$media{$was}{privacy} = 'private';
walk('after a public media was made private');

# a draft made public by PATCH stays a draft (private); published, it lists
my ($draft) = grep { $media{$_}{owner} eq 'ann' && $media{$_}{title} =~ /draft/ }
              sort keys %media;
my $r = api(PATCH => "/api/v1/media/$draft", $user{ann}, { privacy => 'public' });
is($r->{status}, 200, 'a draft PATCHed to public');
is($r->{json}{media}{privacy} // $r->{json}{privacy}, 'private',
   '  stays private: a draft is published by POST .../publish');
walk('after a draft was PATCHed to public');
$r = api(POST => "/api/v1/media/$draft/publish", $user{ann}, {});
is($r->{status}, 200, 'the draft published');
is($r->{json}{media}{privacy}, 'public', '  as public, what it was to be');
$media{$draft}{privacy} = 'public';
$t->psql('media', 'SELECT media_trending_refresh()');
walk('after a draft was published');

# --- taken down -----------------------------------------------------------------

# bob's public media and ann's unlisted one; ann follows bob, and has
# watched, bought and listed (in a public playlist) bob's public media
my ($bp) = grep { $media{$_}{owner} eq 'bob' && $media{$_}{privacy} eq 'public'
                  && !$media{$_}{deleted} } sort keys %media;
my ($au) = grep { $media{$_}{owner} eq 'ann' && $media{$_}{privacy} eq 'unlisted' }
           sort keys %media;
my $ann_id = $user{ann}{user}{id};
$t->psql('media', "INSERT INTO watch_progress (user_id, media_id, position_ms)"
         . " VALUES ('$ann_id', '$bp', 1000)");
$t->psql('media', "INSERT INTO entitlements (user_id, media_id, source)"
         . " VALUES ('$ann_id', '$bp', 'grant')");
chomp(my $pl = $t->psql('media', "INSERT INTO playlists (owner_id, title, privacy)"
                        . " VALUES ('$ann_id', 'all of it', 'public') RETURNING id"));
$t->psql('media', "INSERT INTO playlist_items (playlist_id, media_id, position)"
         . " SELECT '$pl', id, row_number() OVER () FROM media"
         . " WHERE deleted_at IS NULL");
$t->psql('media', "INSERT INTO follows (follower_id, followee_id)"
         . " VALUES ('$ann_id', '$user{bob}{user}{id}')");
my @more = (
    [ 'GET /api/v1/feed', '/api/v1/feed?limit=100', 'ann' ],
    [ 'GET /api/v1/history', '/api/v1/history?limit=100', 'ann' ],
    [ 'GET /api/v1/activity', '/api/v1/activity?limit=100', 'ann' ],
    [ 'GET /api/v1/library/purchases', '/api/v1/library/purchases', 'ann' ],
    [ 'GET /api/v1/playlists/{id} (ann\'s)', "/api/v1/playlists/$pl", 'ann' ],
    [ 'GET /api/v1/playlists/{id} (ann\'s)', "/api/v1/playlists/$pl", 'bob' ],
    [ 'GET /api/v1/playlists/{id} (ann\'s)', "/api/v1/playlists/$pl", undef ],
);
for my $l (@more) {
    my ($name, $path, $as) = @$l;
    my $r = api(GET => $path, $as ? $user{$as} : undef);
    like($r->{content}, qr/\Q$bp\E/, "before: $name as " . ($as // 'anonymous')
         . " lists bob's public media");
}

my $mod = $t->signup('mod@example.com');
for my $id ($bp, $au) {
    chomp(my $did = $t->psql('media', "SELECT media_takedown('$id',"
        . " '$mod->{user}{id}', 'moderator', 'abuse', NULL, NULL)"));
    is($did, $id, "taken down: $media{$id}{owner}'s $media{$id}{privacy}");
    $media{$id}{blocked} = 1;
}
$t->psql('media', 'SELECT media_trending_refresh()');

walk('after two media were taken down');

for my $l (@more) {
    my ($name, $path, $as) = @$l;
    my $r = api(GET => $path, $as ? $user{$as} : undef);
    is($r->{status}, 200, "taken down: $name as " . ($as // 'anonymous') . ': 200');
    unlike($r->{content}, qr/\Q$bp\E/, '  the taken-down media not listed');
}

$t->finish;
done_testing;


sub walk {
    my ($when) = @_;

    # anonymous playback tokens are counted per address (30 a minute, in
    # nginx's shared memory): each walk starts afresh
    $t->stop_nginx;
    $t->start_nginx;

    for my $l (@listings) {
        my ($name, $path, $who) = @$l;
        my @viewers = $who eq 'anyone' ? (undef, 'ann', 'bob') : ('ann', 'bob');

        for my $owner (qw(ann bob)) {
            for my $viewer (@viewers) {
                my $p = $path =~ s/%handle%/${owner}_h/r =~ s/%owner%/$owner/r;
                next if $who eq 'signed-in' && $owner ne $viewer;
                next if $who eq 'follower' && $owner eq $viewer;
                my $r = api(GET => $p, $viewer ? $user{$viewer} : undef);
                my $as = $viewer // 'anonymous';
                is($r->{status}, 200, "$when: $name of $owner as $as: 200")
                    or next;
                my %seen = map { lc($_) => 1 } $r->{content}
                    =~ /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/gi;
                my @wrong = grep { $seen{$_} && !listable($_, $viewer, $name) }
                            sort keys %media;
                ok(!@wrong, "$when: $name of $owner as $as: nothing private,"
                   . ' unlisted or deleted of others')
                    or diag(join(' ', map { "$_ ($media{$_}{owner} $media{$_}{privacy}"
                                          . ($media{$_}{deleted} ? ' deleted' : '')
                                          . ($media{$_}{blocked} ? ' blocked' : '') . ')' }
                                 @wrong));
                # the owner's library shows a taken-down media, marked
                if ($name =~ /a library/) {
                    for my $id (grep { $media{$_}{blocked} && $media{$_}{owner} eq $owner }
                                keys %media) {
                        ok($r->{content} =~ /"id":"\Q$id\E"[^}]*"status":"blocked"/,
                           "$when: $name of $owner: the taken-down media, blocked");
                    }
                }
                # not vacuous: the profile lists the owner's public media
                if ($who eq 'anyone' || $who eq 'follower') {
                    my @missing = grep { $media{$_}{owner} eq $owner
                                         && $media{$_}{privacy} eq 'public'
                                         && !$media{$_}{deleted} && !$media{$_}{blocked}
                                         && !$seen{$_} }
                                  sort keys %media;
                    ok(!@missing, "$when: $name of $owner as $as: the public media listed")
                        or diag("@missing");
                }
            }
        }
    }

    for my $d (@direct) {
        my ($name, $method, $path, $no, $owner_only) = @$d;
        for my $id (sort keys %media) {
            my $m = $media{$id};
            for my $viewer (undef, 'ann', 'bob') {
                my $as = $viewer // 'anonymous';
                my $own = defined $viewer && $viewer eq $m->{owner};
                my $may = $owner_only ? $own && !$m->{deleted}
                        : !$m->{deleted} && ($m->{privacy} ne 'private' || $own);
                # the pages and oEmbed show private media to nobody, the
                # owner included: a page is for sharing
                $may = 0 if $path =~ m{^/(m|embed)/|oembed} && $m->{privacy} eq 'private';
                my $url = "http://127.0.0.1:" . $t->port('http') . "/m/$id";
                $url =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
                my $p = $path =~ s/%id%/$id/r =~ s/%url%/$url/r;
                my $r = api($method => $p, $viewer ? $user{$viewer} : undef,
                            $method eq 'POST' ? {} : undef);
                my $what = "$m->{owner}'s $m->{privacy}" . ($m->{deleted} ? ' deleted' : '');
                # taken down: who could see it is told it was removed
                my $ok = $m->{blocked} && !$owner_only ? 451 : 200;
                $what .= ' blocked' if $m->{blocked};
                if ($may) {
                    is($r->{status}, $ok, "$when: $name of $what as $as: $ok");
                    unlike($r->{content} // '', qr/\Q$m->{title}\E/,
                           '  the title nowhere in the answer')
                        if $ok == 451;
                } else {
                    # a route for signed-in users asks anonymous ones to sign in
                    my $want = $owner_only && !defined $viewer ? 401 : $no;
                    is($r->{status}, $want, "$when: $name of $what as $as: $want");
                    unlike($r->{content} // '', qr/\Q$m->{title}\E/,
                           '  the title nowhere in the answer');
                }
            }
        }
    }
}

# may viewer (undef: anonymous) see media id in a listing?
sub listable {
    my ($id, $viewer, $listing) = @_;
    my $m = $media{$id};
    # taken down: in its owner's library only
    return defined $viewer && $viewer eq $m->{owner}
           && $listing =~ /a library|activity/
        if $m->{blocked};
    return 0 if $m->{deleted} && !(defined $viewer && $viewer eq $m->{owner});
    return 1 if defined $viewer && $viewer eq $m->{owner};
    return $m->{privacy} eq 'public';
}

sub add {
    my ($name, $privacy, $deleted, $draft) = @_;
    my $uid = $user{$name}{user}{id};
    my $title = "$name $privacy" . ($deleted ? ' deleted' : '')
                . ($draft ? ' draft' : '') . ' ' . ++$age;
    chomp(my $id = $t->psql('media', "INSERT INTO media (owner_id, kind, status,"
        . " privacy, title, created_at, deleted_at, draft_privacy) VALUES"
        . " ('$uid', 'video', 'ready', '$privacy', '$title',"
        . " now() + interval '$age minutes', "
        . ($deleted ? 'now()' : 'NULL') . ', '
        . ($draft ? "'$privacy'" : 'NULL') . ") RETURNING id"));
    # a draft is private until published (sql/025), whatever it asks
    $media{$id} = { owner => $name, privacy => $draft ? 'private' : $privacy,
                    deleted => $deleted, title => $title };
}

sub api {
    my ($method, $path, $user, $body) = @_;
    return $t->http($method => $path,
                    headers => { ($user ? (Authorization => "Bearer $user->{access_token}") : ()),
                                 (defined $body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => encode_json($body)) : ()));
}
