# Ads in a real browser (t/browser/ads.js: Debian's chromium through
# playwright-core) against nginx configured from nginx.conf.example: an
# admin's upload marked as an ad plays before a free viewer's video, with a
# Skip button that opens after 5 s; skipping starts the content; the
# impression is counted.  Both media are transcoded by the real worker.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json encode_json);
use MediaTest qw(wait_until slurp);

my $driver = "$FindBin::Bin/browser/ads.js";
MediaTest::need_browser();

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_worker('transcoder');
$t->start_nginx;

my $ad_file = $t->make_media('ad.mp4',
    '-f lavfi -i testsrc2=size=640x360:rate=25:duration=10'
    . ' -f lavfi -i sine=frequency=880:duration=10 -c:v libx264'
    . ' -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest');
my $film_file = $t->make_media('film.mp4',
    '-f lavfi -i smptebars=size=640x360:rate=25:duration=8'
    . ' -f lavfi -i sine=frequency=440:duration=8 -c:v libx264'
    . ' -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest');

my $password = 'a good long password';
my $admin = $t->signup('admin@example.com', $password);
my $viewer = $t->signup('viewer@example.com', $password);
$t->psql('media', "UPDATE users SET role = 'admin'"
                  . " WHERE id = '$admin->{user}{id}'");

my $ad = upload($admin, $ad_file, 'An advert');
my $film = upload($viewer, $film_file, 'My film');
is(wait_ready($admin, $ad), 'ready', 'the ad is transcoded');
is(wait_ready($viewer, $film), 'ready', 'the film is transcoded');
ok(wait_until(sub { api(PUT => "/api/v1/admin/ads/$ad", $admin, {})
                        ->{status} == 200 }, timeout => 5),
   'the admin marks it as an ad');

local $ENV{EMAIL} = 'viewer@example.com';
local $ENV{PASSWORD} = $password;
my $seen = $t->browser($driver, 120, $t->url('/'), 'My film');
is_deeply($seen->{steps}, ['launch', 'log in', 'play: the pre-roll first',
                           'skip opens after 5 s', 'skip: the content plays'],
          'every step done') or diag("stopped at: " . ($seen->{error} // ''));

ok($seen->{ad_first}{shown}, 'the ad box shows before the film');
ok($seen->{ad_first}{skip_disabled}, 'Skip is closed at first');
like($seen->{ad_first}{skip_text} // '', qr/^Skip in [45]$/,
     'and counts down') or diag($seen->{ad_first}{skip_text});
ok(($seen->{ad_playing}{ad_time} // 0) > 0.5, 'the ad plays');
is($seen->{ad_playing}{content_time}, 0, 'while the film waits');
cmp_ok($seen->{skip_after_ms} // 0, '>=', 4500, 'Skip opens after 5 s')
    or diag($seen->{skip_after_ms});
cmp_ok($seen->{skip_after_ms} // 1e9, '<', 8000, 'not much later');
is($seen->{ad_skippable}{skip_text}, 'Skip ad', 'and says "Skip ad"');
ok(($seen->{content}{content_time} // 0) > 1.5, 'after the skip the film plays');
ok(!$seen->{content}{shown}, 'and the ad box is gone');

my @adreq = grep { $_->{path} =~ m{^/hls/[^/]+/\Q$ad\E/} }
             @{ $seen->{hls} // [] };
ok(@adreq && !grep({ $_->{status} != 200 } @adreq),
   scalar(@adreq) . " requests for the ad's HLS, all 200") or diag(explain(\@adreq));
my ($imp) = grep { $_->{path} eq "/api/v1/ads/$ad/impressions" }
            @{ $seen->{hls} // [] };
is($imp->{status}, 204, 'the player counted the impression');
my ($row) = grep { $_->{id} eq $ad }
            @{ api(GET => '/api/v1/admin/ads', $admin)->{json}{ads} };
is($row->{impressions}[0]{impressions}, 1, 'the admin sees it, today');
# (the signed-out page asks /auth/me and /auth/refresh first: two 401s)
is_deeply([grep { !/status of 401 \(Unauthorized\)/ } @{ $seen->{console} }],
          [], 'no other errors in the console')
    or diag(explain($seen->{console}));

$t->finish;
done_testing;


sub api {
    my ($method, $path, $user, $body) = @_;
    return $t->http($method => $path,
        headers => { Authorization => "Bearer $user->{access_token}",
                     (defined $body ? ('Content-Type' => 'application/json')
                                    : ()) },
        (defined $body ? (body => encode_json($body)) : ()));
}

sub upload {
    my ($user, $file, $title) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => slurp($file),
                     headers => { 'Content-Type' => 'video/mp4',
                                  Authorization => "Bearer $user->{access_token}" });
    die "upload: $r->{status}" unless $r->{status} == 202;
    my $id = $r->{json}{media}{id};
    api(PATCH => "/api/v1/media/$id", $user, { title => $title });
    return $id;
}

sub wait_ready {
    my ($user, $id) = @_;
    my $s = '';
    wait_until(sub {
        $s = api(GET => "/api/v1/media/$id", $user)->{json}{media}{status} // '';
        $s =~ /^(ready|failed)$/;
    }, timeout => 120, interval => 0.5);
    return $s;
}
