# The free tier's ads: admins mark media as ads (weight, date range),
# viewers whose plan carries ads get a schedule with their playback URL
# (a pre-roll; mid-rolls every 10 minutes for content over 20), each ad
# with its own signed URL, drawn by weight among the live ones; players
# count impressions per day.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
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
    media_url_key %%DIR%%/url.key;
    media_cookie_secure off;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
        location /hls/ {
            media_hls /_media_files/;
        }
        location /_media_files/ {
            internal;
            alias %%DIR%%/storage/hls/;
        }
    }
}
EOF
$t->jwt_key;
open(my $k, '>', "$dir/url.key") or die;
print $k 'u' x 40, "\n";
close $k;

$t->migrate;
$t->start_nginx;

my $ann = $t->signup('ann@example.com');       # admin
my $vic = $t->signup('vic@example.com');       # a free viewer
my $pam = $t->signup('pam@example.com');       # a premium viewer
$t->psql('media', "UPDATE users SET role = 'admin' WHERE id = '$ann->{user}{id}'");
$t->psql('media', "UPDATE users SET plan = 'premium' WHERE id = '$pam->{user}{id}'");
ok(wait_until(sub { api(GET => '/api/v1/admin/ads', $ann)->{status} == 200 },
              timeout => 5), 'the admin is an admin');

# media made ready by hand: ads and content need rows, not files, here
my $long = media('a film', 25 * 60_000, 'public');
my $short = media('a clip', 5 * 60_000, 'public');
my $ad1 = media('ad one', 15_000, 'private');
my $ad9 = media('ad nine', 20_000, 'private');

# --- marking ads -------------------------------------------------------------

# no ad live: an anonymous viewer's row (the free plan's, with ads) is
# kept in media_public_cache as one with none, and marking an ad makes
# the node forget it: the next anonymous token draws at once
is_deeply(api(POST => "/api/v1/media/$short/playback")->{json}{ads}, [],
          'no ad live: an anonymous token with none (its row kept)');
my $r = api(PUT => "/api/v1/admin/ads/$ad1", $ann, {});
is($r->{status}, 200, 'PUT an ad: 200');
is_deeply([ map { $_->{id} }
            @{ api(POST => "/api/v1/media/$short/playback")->{json}{ads} } ],
          [$ad1], '  the kept row forgotten: the next anonymous token has it');
is($r->{json}{ad}{weight}, 1, 'weight 1 by default');
ok($r->{json}{ad}{live}, 'live: ready, no date range');
is_deeply($r->{json}{ad}{impressions}, [], 'no impressions yet');

$r = api(PUT => "/api/v1/admin/ads/$ad9", $ann, { weight => 9 });
is($r->{json}{ad}{weight}, 9, 'weight 9');

for my $bad ([ { weight => 0 }, 'weight' ], [ { weight => 1001 }, 'weight' ],
             [ { weight => '2' }, 'weight' ], [ { weight => 2.5 }, 'weight' ],
             [ { starts_at => 5 }, 'starts_at' ],
             [ { ends_at => 'next tuesday-ish' }, 'ends_at' ],
             [ { starts_at => '2026-12-24T00:00:00Z',
                 ends_at => '2026-12-01T00:00:00Z' }, 'ends_at' ])
{
    $r = api(PUT => "/api/v1/admin/ads/$ad1", $ann, $bad->[0]);
    ok($r->{status} == 422 && $r->{json}{error}{field} eq $bad->[1],
       'PUT ' . encode_json($bad->[0]) . ": 422 naming $bad->[1]")
        or diag explain $r->{json};
}
is(api(PUT => '/api/v1/admin/ads/00000000-0000-4000-8000-000000000000', $ann,
       {})->{status}, 404, 'an ad of no media: 404');
is(api(PUT => "/api/v1/admin/ads/$ad1", $vic, {})->{status}, 403,
   'not an admin: 403');
is(api(PUT => "/api/v1/admin/ads/$ad1", undef, {})->{status}, 401,
   'signed out: 401');

# an ad whose date range has passed, and one not ready, are never drawn
my $old = media('old ad', 10_000, 'private');
$r = api(PUT => "/api/v1/admin/ads/$old", $ann,
         { starts_at => '2020-01-01T00:00:00Z',
           ends_at => '2020-02-01T00:00:00Z' });
is($r->{status}, 200, 'an ad with a past date range');
ok(!$r->{json}{ad}{live}, 'is not live');
is($r->{json}{ad}{ends_at}, '2020-02-01T00:00:00.000000Z', 'its end');
my $raw = media('raw ad', 10_000, 'private', 'processing');
api(PUT => "/api/v1/admin/ads/$raw", $ann, { weight => 1000 });

$r = api(GET => '/api/v1/admin/ads', $ann);
is_deeply([map { $_->{title} } @{ $r->{json}{ads} }],
          ['ad one', 'ad nine', 'old ad', 'raw ad'], 'GET admin/ads: all four');

# --- the schedule ------------------------------------------------------------

$r = api(POST => "/api/v1/media/$long/playback", $vic, {});
is($r->{status}, 200, 'a free viewer: playback 200');
my @ads = @{ $r->{json}{ads} // [] };
is_deeply([map { $_->{offset_ms} } @ads], [0, 600_000, 1_200_000],
          '25 minutes: a pre-roll and mid-rolls at 10 and 20 minutes');
ok(!grep({ $_->{id} ne $ad1 && $_->{id} ne $ad9 } @ads),
   'only live ads are drawn');
is($ads[0]{skippable_after_ms}, 5000, 'skippable after 5 s');
like($ads[0]{url}, qr{^/hls/[A-Za-z0-9_.-]+/$ads[0]{id}/master\.m3u8$},
     "each ad with its own URL");
isnt($t->http(GET => $ads[0]{url})->{status}, 403,
     "whose token the HLS location takes");
(my $tok) = $ads[0]{url} =~ m{^/hls/([^/]+)/};
is($t->http(GET => "/hls/$tok/$long/master.m3u8")->{status}, 403,
   "an ad's token opens the ad, not the content");

$r = api(POST => "/api/v1/media/$short/playback", $vic, {});
is_deeply([map { $_->{offset_ms} } @{ $r->{json}{ads} }], [0],
          '5 minutes: a pre-roll only');
is_deeply([map { $_->{offset_ms} }
           @{ api(POST => "/api/v1/media/$short/playback")->{json}{ads} }],
          [0], 'anonymous viewers have the free plan: ads');

$r = api(POST => "/api/v1/media/$long/playback", $pam, {});
is($r->{status}, 200, 'a premium viewer: playback 200');
ok(!exists $r->{json}{ads}, 'and no ads');

# weights: 9 to 1, over 200 pre-rolls
my (%n, %urls);
for (1 .. 200) {
    my $pre = api(POST => "/api/v1/media/$short/playback", $vic, {})
                ->{json}{ads}[0] // {};
    my $a = $pre->{id} // 'none';
    $n{$a}++;
    push @{ $urls{$a} }, $pre->{url};
}

ok($n{$ad9} >= 160 && $n{$ad9} <= 196,
   "weight 9 against 1: the heavy ad $n{$ad9} times of 200 (180 expected)")
    or diag explain \%n;

# --- impressions -------------------------------------------------------------

# an impression names the ad's URL from a playback answer: each showing
# counts once (per address: tokens drawn in the same second for the same
# rung are the same text), and nothing else counts.  Four showings of the
# light ad, made heavy for this, in four different seconds:
api(PUT => "/api/v1/admin/ads/$ad1", $ann, { weight => 1000 });
my @shown;
for (1 .. 40) {
    last if @shown >= 4;
    my $pre = api(POST => "/api/v1/media/$short/playback", $vic, {})
                ->{json}{ads}[0] // {};
    push @shown, $pre->{url}
        if ($pre->{id} // '') eq $ad1 && !grep { $_ eq $pre->{url} } @shown;
    select(undef, undef, undef, 0.3);
}
api(PUT => "/api/v1/admin/ads/$ad1", $ann, {});
is(scalar @shown, 4, 'four showings of an ad, four URLs');
is(api(POST => "/api/v1/ads/$ad1/impressions", undef, { url => $_ })
     ->{status}, 204, 'an impression with the ad\'s URL: 204, signed out too')
    for @shown[0 .. 2];
is(api(POST => "/api/v1/ads/$ad1/impressions", undef, { url => $shown[0] })
     ->{status}, 204, 'the same showing again: 204 ...');
$r = api(POST => "/api/v1/ads/$ad1/impressions", undef, {});
ok($r->{status} == 422 && $r->{json}{error}{field} eq 'url',
   'no url: 422 naming url') or diag explain $r;
(my $tok9) = $urls{$ad9}[0] =~ m{^/hls/([^/]+)/};
for my $bad (["/hls/$tok9/$ad1/master.m3u8", 'another ad\'s token'],
             [$urls{$ad9}[0], 'another ad\'s URL'],
             [do { (my $u = $shown[3]) =~ s{^/hls/(.)}{'/hls/'
                                             . ($1 eq 'A' ? 'B' : 'A')}e; $u },
              'a forged token'],
             ["/hls/x/$ad1/master.m3u8", 'a garbled token'],
             ["/elsewhere/$ad1/master.m3u8", 'no playback URL at all'])
{
    $r = api(POST => "/api/v1/ads/$ad1/impressions", undef,
             { url => $bad->[0] });
    ok($r->{status} == 403 && $r->{json}{error}{code} eq 'impression_refused'
       && $r->{json}{error}{field} eq 'url',
       "$bad->[1]: 403 impression_refused") or diag explain $r;
}
my $content = api(POST => "/api/v1/media/$long/playback", $vic, {})
                ->{json}{url};
is(api(POST => "/api/v1/ads/$long/impressions", undef, { url => $content })
     ->{status}, 404, 'content that is no ad, with its own URL: 404');
is(api(POST => "/api/v1/ads/$ad1/impressions", undef,
       { url => "http://127.0.0.1$shown[3]" })->{status}, 204,
   'an absolute URL: 204');
my ($one) = grep { $_->{id} eq $ad1 }
            @{ api(GET => '/api/v1/admin/ads', $ann)->{json}{ads} };
is($one->{impressions}[0]{impressions}, 4,
   '... counted once for today: four showings');
like($one->{impressions}[0]{day}, qr/^\d{4}-\d\d-\d\d$/, 'per day');

# --- unmarking ---------------------------------------------------------------

is(api(DELETE => "/api/v1/admin/ads/$ad9", $ann)->{status}, 204,
   'DELETE an ad: 204');
is(api(DELETE => "/api/v1/admin/ads/$ad9", $ann)->{status}, 404,
   'again: 404');
my %seen;
$seen{ api(POST => "/api/v1/media/$short/playback", $vic, {})
         ->{json}{ads}[0]{id} }++ for 1 .. 20;
is_deeply([keys %seen], [$ad1], 'no longer drawn');
api(DELETE => "/api/v1/admin/ads/$_", $ann) for ($ad1, $old, $raw);
is_deeply(api(POST => "/api/v1/media/$short/playback", $vic, {})->{json}{ads},
          [], 'no live ads: an empty schedule');

$t->finish;
done_testing;


sub api {
    my ($method, $path, $user, $body) = @_;
    return $t->http($method => $path,
        headers => { ($user ? (Authorization => "Bearer $user->{access_token}")
                            : ()),
                     (defined $body ? ('Content-Type' => 'application/json')
                                    : ()) },
        (defined $body ? (body => encode_json($body)) : ()));
}

sub media {
    my ($title, $ms, $privacy, $status) = @_;
    $status //= 'ready';
    chomp(my $id = $t->psql('media', "INSERT INTO media (owner_id, title,"
        . " kind, status, privacy, duration_ms) VALUES ('$ann->{user}{id}',"
        . " '$title', 'video', '$status', '$privacy', $ms) RETURNING id"));
    return $id;
}
