# The public side (ngx_http_media_pages.c): the share page /m/<id> and the
# embed player /embed/<id> (HTML with OpenGraph and Twitter cards, every
# text escaped), oEmbed, profiles (/u/<handle> and GET /api/v1/users/
# <handle> with cursor pages), PATCH /api/v1/me, and anonymous playback
# tokens limited per address.  Private, deleted, failed and unfinished
# media: 404 everywhere.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json encode_json);
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
    # this file lays out each case by changing rows behind the module's
    # back; the cache of public answers is switched on at its end
    media_public_cache off;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
        location /m/ {
            media_pages;
        }
        # the embed player's script and style from a web client that
        # lives under /app/
        location /embed/ {
            media_pages /app/;
        }
        location /app/ {
            alias %%WWW%%/;
        }
        location /u/ {
            media_pages;
        }
        location /hls/ {
            media_hls /_media_files/;
        }
        location /_media_files/ {
            internal;
            alias %%DIR%%/hls/;
            types {
                image/jpeg jpg;
                application/json json;
            }
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

my $ann = $t->signup('ann@example.com');
my $bob = $t->signup('bob@example.com');
my ($a_id, $b_id) = ($ann->{user}{id}, $bob->{user}{id});

# --- PATCH /api/v1/me ------------------------------------------------------

my $r = api(PATCH => '/api/v1/me', $ann,
            { handle => 'Ann_Lee', display_name => 'Ann <b>Lee</b> & co',
              bio => "Songs \"and\" <script>alert(1)</script>\nsecond line" });
is($r->{status}, 200, 'PATCH /me: 200');
is($r->{json}{handle}, 'ann_lee', '  the handle kept in lowercase');
is($r->{json}{display_name}, 'Ann <b>Lee</b> & co', '  the display name as sent');
is($r->{json}{url}, '/u/ann_lee', '  and the profile URL');

$r = api(PATCH => '/api/v1/me', $bob, { handle => 'ANN_LEE' });
is($r->{status}, 409, 'a handle taken, in other capitals: 409');
is($r->{json}{error}{code}, 'handle_taken', '  handle_taken');
is($r->{json}{error}{field}, 'handle', '  naming the field');

for my $case ([ { handle => 'ab' }, 'handle', 'a handle of 2' ],
              [ { handle => 'ann lee' }, 'handle', 'a handle with a space' ],
              [ { handle => 'x' x 31 }, 'handle', 'a handle of 31' ],
              [ { handle => 42 }, 'handle', 'a handle that is a number' ],
              [ { display_name => 'x' x 81 }, 'display_name', 'a display name of 81' ],
              [ { display_name => "two\nlines" }, 'display_name', 'a display name of two lines' ],
              [ { bio => 'é' x 1001 }, 'bio', 'a bio of 1001 characters' ],
              [ { bio => [] }, 'bio', 'a bio that is a list' ],
              [ {}, 'handle', 'nothing to change' ])
{
    my ($body, $field, $name) = @$case;
    $r = api(PATCH => '/api/v1/me', $bob, $body);
    is($r->{status}, 422, "$name: 422");
    is($r->{json}{error}{field}, $field, "  naming $field");
}
is(api(PATCH => '/api/v1/me', undef, { handle => 'bob' })->{status}, 401,
   'signed out: 401');
$r = api(PATCH => '/api/v1/me', $bob, { handle => 'bob_b', bio => 'é' x 1000 });
is($r->{status}, 200, 'a bio of 1000 two-byte characters: 200');
$r = api(PATCH => '/api/v1/me', $bob, { bio => '' });
is($r->{json}{bio}, undef, '"" clears the bio');
is($r->{json}{handle}, 'bob_b', '  and leaves the handle');

# --- media of every kind --------------------------------------------------

my $evil = q{<script>alert("x")</script> & 'quotes'};
my $pub = media($a_id, 'video', 'ready', 'public', $evil,
                'A <i>description</i> "quoted"', 1);
my $unl = media($a_id, 'audio', 'ready', 'unlisted', 'Unlisted song', '', 2);
my $priv = media($a_id, 'video', 'ready', 'private', 'Private clip', '', 3);
my $gone = media($a_id, 'video', 'ready', 'public', 'Deleted clip', '', 4);
sql("UPDATE media SET deleted_at = now() WHERE id = '$gone'");
my $failed = media($a_id, 'video', 'failed', 'public', 'Failed clip', '', 5);
my $queued = media($a_id, 'video', 'queued', 'public', 'Queued clip', '', 6);
my $bobs = media($b_id, 'audio', 'ready', 'public', 'Bob song', '', 7);

# --- the share page ---------------------------------------------------------

$r = $t->http(GET => "/m/$pub");
is($r->{status}, 200, 'share page of a public video: 200');
like($r->{headers}{'content-type'}, qr{^text/html; charset=utf-8}, '  HTML, UTF-8');
my $html = $r->{content};
unlike($html, qr/<script>alert|<i>description|<b>Lee/, '  no text of theirs as markup');
like($html, qr{<h1>&lt;script&gt;alert\(&quot;x&quot;\)&lt;/script&gt; &amp; &#39;quotes&#39;</h1>},
     '  the title escaped');
like($html, qr{<meta property="og:title" content="&lt;script&gt;alert\(&quot;x&quot;\)},
     '  og:title, escaped for the attribute');
like($html, qr{<meta property="og:description" content="A &lt;i&gt;description&lt;/i&gt; &quot;quoted&quot;">},
     '  og:description');
like($html, qr{<meta property="og:type" content="video.other">}, '  og:type video.other');
my $host = '127.0.0.1:' . $t->port('http');
like($html, qr{<meta property="og:url" content="http://\Q$host\E/m/$pub">}, '  og:url');
like($html, qr{<meta property="og:video" content="http://\Q$host\E/embed/$pub">},
     '  og:video: the embed player');
like($html, qr{<meta name="twitter:card" content="player">}, '  twitter:card player');
like($html, qr{<meta name="twitter:player" content="http://\Q$host\E/embed/$pub">},
     '  twitter:player');
like($html, qr{<link rel="alternate" type="application/json\+oembed" href="http://\Q$host\E/api/v1/oembed\?format=json&amp;url=http%3A%2F%2F},
     '  the oEmbed discovery link');
like($html, qr{<a href="/u/ann_lee">Ann &lt;b&gt;Lee&lt;/b&gt; &amp; co</a>},
     '  the creator: profile link, display name escaped');
like($html, qr{<p class="description">A &lt;i&gt;description}, '  the description');
like($html, qr{<video id="player"}, '  a video player');
like($html, qr{<section id="comments" data-media="$pub">}, "  the comments' place");
like($html, qr{<script type="module" src="/share.js">}, '  its ES module');

$r = $t->http(GET => "/m/$unl");
is($r->{status}, 200, 'share page of an unlisted song: 200');
like($r->{content}, qr{<meta property="og:audio" content="http://\Q$host\E/embed/$unl">},
     '  og:audio');
like($r->{content}, qr{<audio id="player"}, '  an audio player');
like($r->{content}, qr{<meta property="og:type" content="music.song">}, '  music.song');

$r = $t->http(HEAD => "/m/$pub");
is($r->{status}, 200, 'HEAD: 200');
is($r->{content} // '', '', '  no body');

$r = $t->http(GET => "/embed/$pub");
is($r->{status}, 200, 'embed player: 200');

# media_pages /app/: every script and style the page names is the web
# client's, under /app/, and there
my @assets = $r->{content} =~ /<(?:script[^>]*\ssrc|link rel="stylesheet" href)="([^"]+)"/g;
is_deeply([ grep { !m{^/app/} } @assets ], [],
          '  with the web client under /app/: its assets from there: @assets');
ok(@assets >= 3 && !(grep { $t->http(GET => $_)->{status} != 200 } @assets),
   '  and each answers 200');
like($r->{content}, qr{<body class="embed">.*<video id="player"}s, '  a player');
unlike($r->{content}, qr{<h1>}, '  and no page around it');

for my $case ([ $priv, 'private' ], [ $gone, 'deleted' ], [ $failed, 'failed' ],
              [ $queued, 'still queued' ],
              [ '00000000-0000-4000-8000-000000000000', 'never existed' ])
{
    my ($id, $name) = @$case;
    for my $page ('m', 'embed') {
        $r = $t->http(GET => "/$page/$id");
        is($r->{status}, 404, "/$page/ of a $name media: 404");
        like($r->{content}, qr{<h1>Not found</h1>}, '  the 404 page');
        unlike($r->{content}, qr/Private clip|Deleted clip|Failed clip|Queued clip/,
               '  saying nothing of it');
    }
}
is($t->http(GET => '/m/not-a-uuid')->{status}, 404, 'a malformed id: 404');
is($t->http(GET => "/m/$pub/x")->{status}, 404, 'more path: 404');
$r = $t->http(POST => "/m/$pub");
is($r->{status}, 405, 'POST: 405');
is($r->{headers}{allow}, 'GET, HEAD', '  Allow: GET, HEAD');

# --- oEmbed ---------------------------------------------------------------

my $share = "http://$host/m/$pub";
$r = oembed($share);
is($r->{status}, 200, 'oEmbed of a public video: 200');
my $o = $r->{json};
is($o->{version}, '1.0', '  version 1.0');
is($o->{type}, 'video', '  type video');
is($o->{title}, $evil, '  title (JSON, not escaped for HTML)');
is($o->{author_name}, 'Ann <b>Lee</b> & co', '  author_name');
is($o->{author_url}, "http://$host/u/ann_lee", '  author_url');
is($o->{provider_name}, 'ngx_media', '  provider_name');
is($o->{width}, 640, '  width');
is($o->{height}, 360, '  height');
like($o->{html}, qr{^<iframe src="http://\Q$host\E/embed/$pub" width="640" height="360" },
     '  html: the embed iframe');
like($o->{html}, qr{title="&lt;script&gt;}, '  its title attribute escaped');
unlike($o->{html}, qr{<script}, '  no markup of theirs in html');
# every member oEmbed 1.0 requires of a video (section 2.3.4)
ok(!grep({ !defined $o->{$_} } qw(version type html width height)),
   '  every required member present');

$r = oembed("http://$host/embed/" . uc($unl) . '?t=3');
is($r->{status}, 200, 'oEmbed of an embed link to an unlisted song: 200');
is($r->{json}{type}, 'rich', '  type rich');
is($r->{json}{height}, 120, '  an audio player\'s height');

(my $q = $share) =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
$r = $t->http(GET => "/api/v1/oembed?url=$q&maxwidth=320");
is($r->{status}, 200, 'maxwidth=320 (no format: json)');
is("$r->{json}{width}x$r->{json}{height}", '320x180', '  the player made to fit: 320x180');
like($r->{json}{html}, qr/width="320" height="180"/, '  the iframe too');
$r = $t->http(GET => "/api/v1/oembed?url=$q&maxheight=90");
is("$r->{json}{width}x$r->{json}{height}", '160x90', 'maxheight=90: 160x90');
$r = $t->http(GET => "/api/v1/oembed?url=$q&maxwidth=wide");
is($r->{status}, 422, 'maxwidth=wide: 422');
is($r->{json}{error}{field}, 'maxwidth', '  naming maxwidth');
ok(!exists $o->{thumbnail_url}, 'a video without a poster: no thumbnail');

for my $case ([ $priv, 'private' ], [ $gone, 'deleted' ], [ $failed, 'failed' ]) {
    is(oembed("http://$host/m/$case->[0]")->{status}, 404,
       "oEmbed of a $case->[1] media: 404");
}
$r = oembed($share, 'xml');
is($r->{status}, 501, 'format=xml: 501');
is($r->{json}{error}{field}, 'format', '  naming format');
$r = $t->http(GET => '/api/v1/oembed?format=json');
is($r->{status}, 400, 'no url: 400');
is($r->{json}{error}{field}, 'url', '  naming url');
is(oembed('javascript:alert(1)')->{status}, 400, 'a javascript: url: 400');
is(oembed("ftp://$host/m/$pub")->{status}, 400, 'an ftp url: 400');
$r = oembed("https://other.example/m/$pub");
is($r->{status}, 422, 'another site: 422');
is($r->{json}{error}{code}, 'foreign_url', '  foreign_url');
is(oembed("http://$host/u/ann_lee")->{status}, 422, 'a profile url: 422');

# --- pictures on the cards: URLs an unfurler fetches without signing in --

# as the transcoder leaves them: files in hls/<id>/, the row's bits
# (1 cover, 2 poster, 8 waveform) and the cover's version
my $jpeg = "\xff\xd8\xff\xe0" . ('x' x 60) . "\xff\xd9";
for my $m ([ $pub, 2, 'poster.jpg' ], [ $unl, 9, 'cover-512.jpg', 'waveform.json' ],
           [ $priv, 3, 'poster.jpg', 'cover-512.jpg' ])
{
    my ($id, $bits, @files) = @$m;
    mkdir "$dir/hls";
    mkdir "$dir/hls/$id";
    for my $f (@files) {
        open(my $fh, '>', "$dir/hls/$id/$f") or die "$f: $!";
        print $fh $f =~ /json$/
            ? '{"version":2,"channels":1,"sample_rate":44100,'
              . '"samples_per_pixel":441,"bits":8,"length":2,"data":[-5,9,-64,100]}'
            : $jpeg;
        close $fh;
    }
    sql("UPDATE media SET pictures = $bits, cover_version = 3,"
        . " renditions = '[{\"width\": 1280, \"height\": 720}]' WHERE id = '$id'");
}

$html = $t->http(GET => "/m/$pub")->{content};
my ($img) = $html =~ m{<meta property="og:image" content="http://\Q$host\E(/hls/[^"]+/$pub/poster\.jpg)">};
ok($img, "a video's og:image: its poster, an absolute URL") or diag($html);
like($html, qr{<meta name="twitter:image" content="http://\Q$host\E\Q$img\E">},
     '  twitter:image the same');
like($html, qr{<video id="player" [^>]*poster="http://\Q$host\E\Q$img\E"}, '  and the player\'s poster');
$r = $t->http(GET => $img // '/none');
is($r->{status}, 200, '  fetched without signing in: 200');
is($r->{content}, $jpeg, '  the poster');
(my $master = $img // '') =~ s{poster\.jpg$}{master.m3u8};
$r = $t->http(GET => $master);
is($r->{status}, 403, '  its token opens no playlist: 403');
(my $other = $img // '') =~ s{/$pub/}{/$unl/};
is($t->http(GET => $other)->{status}, 403, '  nor another media\'s pictures');
unlike($html, qr{data-waveform}, '  no waveform for a video');

$html = $t->http(GET => "/m/$unl")->{content};
($img) = $html =~ m{<meta property="og:image" content="http://\Q$host\E(/hls/[^"]+/$unl/cover-512\.jpg\?v=3)">};
ok($img, "an audio's og:image: its 512 px cover, of this version") or diag($html);
like($html, qr{<img id="cover" [^>]*src="http://\Q$host\E\Q$img\E">}, '  shown above the player');
is($t->http(GET => $img // '/none')->{content}, $jpeg, '  fetched without signing in');
my ($wave) = $html =~ m{<main id="share" [^>]*data-waveform="(/hls/[^"]+/$unl/waveform\.json)">};
ok($wave, '  the waveform\'s URL for share.js');
like($html, qr{<div id="waveform"></div>.*<script src="/vendor/wavesurfer\.min\.js">}s,
     '  its place, and wavesurfer.js');
is(decode_json($t->http(GET => $wave // '/none')->{content} // '{}')->{length}, 2,
   '  the peaks fetched without signing in');
like($t->http(GET => "/embed/$unl")->{content}, qr{data-waveform="/hls/},
     '  the embed player draws it too');

$o = oembed("http://$host/m/$unl")->{json};
like($o->{thumbnail_url} // '', qr{^http://\Q$host\E/hls/[^"]+/$unl/cover-512\.jpg\?v=3$},
     "oEmbed's thumbnail of a song: its cover");
is(($o->{thumbnail_width} // '') . 'x' . ($o->{thumbnail_height} // ''), '512x512',
   '  512x512');
$o = oembed("http://$host/m/$pub")->{json};
like($o->{thumbnail_url} // '', qr{/$pub/poster\.jpg$}, "oEmbed's thumbnail of a video: its poster");
is("$o->{thumbnail_width}x$o->{thumbnail_height}", '1280x720', '  the top rung\'s size');

# a private media's pictures: no page names them, and a playback token
# of its owner's is no pictures URL for anyone else
$r = $t->http(GET => "/m/$priv");
is($r->{status}, 404, 'a private media with a poster: still 404');
unlike($r->{content}, qr{/hls/}, '  no picture URL in it');
is(oembed("http://$host/m/$priv")->{status}, 404, '  and no oEmbed');
sql("UPDATE media SET privacy = 'private' WHERE id = '$unl'");
$r = $t->http(GET => "/m/$unl");
unlike($r->{content}, qr{/hls/}, 'made private: its page names no picture at once');
sql("UPDATE media SET privacy = 'unlisted' WHERE id = '$unl'");

# --- profiles -------------------------------------------------------------

my @more = map { media($a_id, 'audio', 'ready', 'public', "Song $_", '', 10 + $_) } 1 .. 3;
sql("INSERT INTO playlists (owner_id, title, privacy) VALUES"
    . " ('$a_id', 'Open list', 'public'), ('$a_id', 'Hidden list', 'unlisted'),"
    . " ('$a_id', 'My list', 'private')");
sql("INSERT INTO follows (follower_id, followee_id) VALUES ('$b_id', '$a_id')");

$r = $t->http(GET => '/api/v1/users/ANN_LEE');
is($r->{status}, 200, 'GET /users/{handle}, any case: 200');
my $u = $r->{json};
is($u->{user}{handle}, 'ann_lee', '  handle');
is($u->{user}{display_name}, 'Ann <b>Lee</b> & co', '  display_name');
like($u->{user}{bio}, qr/^Songs "and"/, '  bio');
is($u->{user}{followers_count}, 1, '  followers_count');
is($u->{user}{following_count}, 0, '  following_count');
is_deeply([ map { $_->{id} } @{ $u->{media} } ], [ reverse(@more), $pub ],
          '  public media only, newest first');
is_deeply([ map { $_->{title} } @{ $u->{playlists} } ], [ 'Open list' ],
          '  public playlists only');
ok(!defined $u->{next_cursor}, '  one page');
ok(!exists $u->{user}{email} && !exists $u->{user}{id}, '  no email, no id');

my (@seen, $cursor, $pages);
while (($pages // 0) < 10) {
    $r = $t->http(GET => '/api/v1/users/ann_lee?limit=1'
                  . (defined $cursor ? "&cursor=$cursor" : ''));
    last unless $r->{status} == 200;
    $pages++;
    push @seen, map { $_->{id} } @{ $r->{json}{media} };
    $cursor = $r->{json}{next_cursor} // last;
}
is_deeply(\@seen, [ reverse(@more), $pub ], "pages of 1: every media once ($pages pages)");
is($t->http(GET => '/api/v1/users/ann_lee?limit=0')->{status}, 422, 'limit=0: 422');
is($t->http(GET => '/api/v1/users/ann_lee?cursor=xyz')->{status}, 422, 'a made-up cursor: 422');
is($t->http(GET => '/api/v1/users/nobody_here')->{status}, 404, 'no such handle: 404');
is($t->http(GET => '/api/v1/users/a')->{status}, 404, 'not a handle: 404');

$r = $t->http(GET => '/u/Ann_Lee');
is($r->{status}, 200, 'the profile page: 200');
$html = $r->{content};
like($html, qr{<h1>Ann &lt;b&gt;Lee&lt;/b&gt; &amp; co</h1>}, '  display name escaped');
like($html, qr{<p class="bio">Songs &quot;and&quot; &lt;script&gt;}, '  bio escaped');
like($html, qr{<span id="followers">1</span> followers}, '  counts');
like($html, qr{<a href="/m/$pub">&lt;script&gt;}, '  its public media, escaped');
unlike($html, qr/$unl|$priv|$gone|Unlisted song|Private clip/, '  no other media');
unlike($html, qr/og:image|twitter:image/, '  no avatar: no og:image');
is($t->http(GET => '/u/nobody_here')->{status}, 404, 'no such profile: 404');

# an avatar (t/avatars.t makes one): the card's picture, an absolute URL
my $face = 'ab' x 16;
$t->psql('media', "UPDATE users SET avatar_key = '$face' WHERE handle = 'ann_lee'");
$html = $t->http(GET => '/u/ann_lee')->{content};
like($html, qr{<meta property="og:image" content="http://\Q$host\E/avatars/$face-256\.jpg">},
     'with an avatar: og:image, its 256 px file');
like($html, qr{<meta property="og:image:width" content="256">\n<meta property="og:image:height" content="256">},
     '  256x256');
like($html, qr{<meta name="twitter:image" content="http://\Q$host\E/avatars/$face-256\.jpg">},
     '  twitter:image');
like($html, qr{<img id="avatar" class="avatar" [^>]*src="/avatars/$face-256\.jpg">},
     '  and the page shows it');
$t->psql('media', "UPDATE users SET avatar_key = NULL WHERE handle = 'ann_lee'");

# --- published_at: first made public or unlisted, never reset -------------

# made two hours ago, private: not published
my $late = media($a_id, 'audio', 'ready', 'private', 'Late bloomer', '', -120);
is(sql("SELECT published_at IS NULL FROM media WHERE id = '$late'"), 't',
   'a private media: no published_at');
my $born = sql("SELECT published_at = created_at FROM media WHERE id = '$pub'");
is($born, 't', 'inserted ready and public: published as made');
# the others were made in the future (created_at now + N minutes): back
# them to yesterday
sql("UPDATE media SET published_at = now() - interval '1 day'"
    . " WHERE published_at IS NOT NULL");
$r = api(PATCH => "/api/v1/media/$late", $ann, { privacy => 'public' });
is($r->{status}, 200, 'made public by PATCH');
my $first = sql("SELECT published_at FROM media WHERE id = '$late'");
is(sql("SELECT published_at > now() - interval '1 minute' AND published_at > created_at"
       . " FROM media WHERE id = '$late'"), 't', '  published_at: now, not its upload time');

$r = $t->http(GET => '/api/v1/catalog?sort=new&kind=audio');
is($r->{json}{items}[0]{id}, $late, 'catalog?sort=new: the newest published first, made two hours ago');
ok($r->{json}{items}[0]{published_at}, '  with its published_at');
$r = api(GET => '/api/v1/feed', $bob);
is($r->{json}{items}[0]{media}{id}, $late, 'the feed of a follower: it comes first too')
    or diag(explain($r->{json}{items}[0]));

api(PATCH => "/api/v1/media/$late", $ann, { privacy => 'private' });
is(sql("SELECT published_at FROM media WHERE id = '$late'"), $first,
   'made private: published_at kept');
select(undef, undef, undef, 0.05);
api(PATCH => "/api/v1/media/$late", $ann, { privacy => 'unlisted' });
api(PATCH => "/api/v1/media/$late", $ann, { privacy => 'public' });
is(sql("SELECT published_at FROM media WHERE id = '$late'"), $first,
   '  and public again: not reset (it does not come back to the top)');
sql("UPDATE media SET published_at = NULL WHERE id = '$late'");
is(sql("SELECT published_at FROM media WHERE id = '$late'"), $first,
   '  nor cleared by a statement');

# an upload made public before it is ready: published when it is
my $early = media($a_id, 'video', 'processing', 'public', 'Still cooking', '', -60);
is(sql("SELECT published_at IS NULL FROM media WHERE id = '$early'"), 't',
   'public but processing: not published');
sql("UPDATE media SET status = 'ready' WHERE id = '$early'");
is(sql("SELECT published_at > created_at FROM media WHERE id = '$early'"), 't',
   '  ready (the transcoder\'s UPDATE): published then');
sql("DELETE FROM media WHERE id IN ('$late', '$early')");

# --- anonymous playback: limited per address ----------------------------

# a fresh window: the requests above took tokens (the counts live in
# nginx's shared memory, which a restart empties)
$t->stop_nginx;
$t->start_nginx;
my @codes = map { api(POST => "/api/v1/media/$pub/playback")->{status} } 1 .. 30;
is_deeply([ grep { $_ != 200 } @codes ], [], '30 anonymous tokens a minute: 200');
$r = api(POST => "/api/v1/media/$pub/playback");
is($r->{status}, 429, 'the 31st: 429');
is($r->{json}{error}{code}, 'rate_limited', '  rate_limited');
ok(($r->{headers}{'retry-after'} // 0) >= 1, "  Retry-After: $r->{headers}{'retry-after'}");
is(api(POST => "/api/v1/media/$pub/playback", $bob)->{status}, 200,
   'a signed-in viewer is not limited by it');
is(api(POST => "/api/v1/media/$priv/playback", $ann)->{status}, 200,
   '  nor the owner of a private media');

# --- the share page's row, kept (media_public_cache) -------------------------

{
    my $c = slurp($t->conf_file);
    $c =~ s/media_public_cache off;/media_public_cache 5s;/ or die 'conf';
    open(my $fh, '>', $t->conf_file) or die $!;
    print $fh $c;
    close $fh;
    # a restart: the anonymous token limit above starts again too
    $t->stop_nginx;
    $t->start_nginx;
}
my $kept = media($a_id, 'audio', 'ready', 'public', 'Kept page', '', 9);
like($t->http(GET => "/m/$kept")->{content}, qr/Kept page/,
     'a share page, cache on');
sql("UPDATE media SET title = 'Renamed page' WHERE id = '$kept'");
like($t->http(GET => "/m/$kept")->{content}, qr/Kept page/,
     '  asked again at once: its row kept, not read again');
like($t->http(GET => "/embed/$kept")->{content}, qr/Kept page/,
     '  the embed player shows the same kept row');
ok(wait_until(sub { $t->http(GET => "/m/$kept")->{content} =~ /Renamed page/ },
              timeout => 15, interval => 0.5),
   '  the change shows once the row is read again (within twice 5 s)');
is(api(PATCH => "/api/v1/media/$kept", $ann, { privacy => 'private' })
   ->{status}, 200, 'made private through the API');
is($t->http(GET => "/m/$kept")->{status}, 404, '  its page: 404 at once');
# an anonymous viewer's playback row is kept the same way: a media made
# private through the API gives no token from then on
my $shared = media($a_id, 'audio', 'ready', 'public', 'Shared song', '', 11);
is(api(POST => "/api/v1/media/$shared/playback")->{status}, 200,
   'an anonymous token, its row now kept (the free plan has ads, none live)');
{
    my $lock = $t->lock_table('media');
    my $again = api(POST => "/api/v1/media/$shared/playback");
    is($again->{status}, 200,
       '  and another from the kept row, the media table locked')
        or diag($again->{content});
    is_deeply($again->{json}{ads}, [], '  with no ad');
    print $lock "COMMIT;\n";
    close $lock;
}
is(api(PATCH => "/api/v1/media/$shared", $ann, { privacy => 'private' })
   ->{status}, 200, '  made private through the API');
is(api(POST => "/api/v1/media/$shared/playback")->{status}, 404,
   '  no anonymous token at once: 404');
is(api(POST => "/api/v1/media/$shared/playback", $ann)->{status}, 200,
   '  its owner still plays it');

my $none = media($a_id, 'audio', 'processing', 'public', 'Not yet', '', 10);
is($t->http(GET => "/m/$none")->{status}, 404, 'a media not ready: 404');
sql("UPDATE media SET status = 'ready' WHERE id = '$none'");
is($t->http(GET => "/m/$none")->{status}, 200,
   '  ready: its page at once (a missing page is never kept)');

$t->finish;
done_testing;


sub sql {
    my ($q) = @_;
    chomp(my $v = $t->psql('media', $q));
    return $v;
}

# a media row as the transcoder leaves it, created $age minutes apart
sub media {
    my ($owner, $kind, $status, $privacy, $title, $desc, $age) = @_;
    my $q = "INSERT INTO media (owner_id, kind, status, privacy, title,"
            . " description, created_at) VALUES ('$owner', '$kind', '$status',"
            . " '$privacy', " . lit($title) . ', ' . lit($desc)
            . ", now() + interval '$age minutes') RETURNING id";
    return sql($q);
}

sub lit {
    (my $s = $_[0]) =~ s/'/''/g;
    return "'$s'";
}

sub oembed {
    my ($url, $format) = @_;
    (my $q = $url) =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
    return $t->http(GET => "/api/v1/oembed?url=$q&format=" . ($format // 'json'));
}

sub api {
    my ($method, $path, $user, $body) = @_;
    return $t->http($method => $path,
                    headers => { ($user ? (Authorization => "Bearer $user->{access_token}") : ()),
                                 (defined $body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => encode_json($body)) : ()));
}
