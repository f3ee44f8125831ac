# The listening side of the web client (www/listening.js) in a real
# browser (t/browser/listening.js: Debian's chromium, headless, through
# playwright-core) against nginx configured from nginx.conf.example, with
# the transcoder: a playlist made with the form; one reordered and played
# through (the next item starts when one ends); a media left part-way and
# resumed there; the history and the stats chart.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json encode_json);
use MediaTest qw(wait_until slurp);

my $driver = "$FindBin::Bin/browser/listening.js";
MediaTest::need_browser();

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_worker('transcoder');
$t->start_nginx;

my $file = $t->make_media('tone.wav',
                          '-f lavfi -i sine=frequency=330:duration=8');

my $password = 'a good long password';
my $user = $t->signup('listener@example.com', $password);
my $one = upload($user, $file, 'Song one');
my $two = upload($user, $file, 'Song two');
is(wait_ready($user, $one), 'ready', 'song one is transcoded');
is(wait_ready($user, $two), 'ready', 'song two is transcoded');

my $r = api(POST => '/api/v1/playlists', $user, { title => 'Mix' });
is($r->{status}, 201, 'a playlist');
my $pl = $r->{json}{id};
for my $m ($one, $two) {
    is(api(PUT => "/api/v1/playlists/$pl/items/$m", $user)->{status}, 204,
       '  an item');
}

local $ENV{EMAIL} = 'listener@example.com';
local $ENV{PASSWORD} = $password;
my $seen = $t->browser($driver, 150, $t->url('/'), $pl);
is_deeply($seen->{steps}, [ 'launch', 'log in', 'make a playlist',
                            'open and reorder', 'play through',
                            'leave part-way', 'come back and resume',
                            'history and stats' ],
          'every step done') or diag("stopped at: " . ($seen->{error} // ''));

is_deeply([ sort @{ $seen->{playlists} // [] } ], [ 'Made in the page', 'Mix' ],
          'the form made a playlist');
is($t->psql('media', "SELECT privacy FROM playlists"
                     . " WHERE title = 'Made in the page'"), "private\n",
   '  private, as the form chose by default');
is_deeply($seen->{before}, [ 'Song one', 'Song two' ], 'the order added');
is($seen->{order_status}, 204, 'Down: PUT order answered 204');
is_deeply($seen->{after}, [ 'Song two', 'Song one' ], '  the new order');

is($seen->{first}{title}, 'Song two', 'Play all starts with the first item');
like($seen->{first}{queue}, qr/1 of 2/, '  "1 of 2"');
is($seen->{second}{title}, 'Song one', 'when it ends, the next one plays');
like($seen->{second}{queue}, qr/2 of 2/, '  "2 of 2"');

is($seen->{saved}{status}, 200, 'pause sent the position');
cmp_ok($seen->{saved}{body}{position_ms} // 0, '>=', 4300, '  past 4.3 s');
# where pause found it: 4.3 s or more, later on a loaded machine (CI's
# paused at 5 s once)
my $paused = sprintf('Resume at 0:%02d',
                     ($seen->{saved}{body}{position_ms} // 0) / 1000);
is($seen->{offer}, $paused, "played again: \"$paused\", where it paused");
is($seen->{queue_after}, '', '  the playlist is no longer playing');
cmp_ok($seen->{resumed}{t} // 0, '>=', 4, 'Resume: on from 4 s');

is_deeply($seen->{history}, [ 'Song one', 'Song two' ],
          'the history, newest first');
like($seen->{history_text} // '', qr/^stopped at 0:0\d of 0:08$/,
     "  where it stopped: $seen->{history_text}");
like($seen->{totals} // '', qr/^[1-9]\d* plays, 0 likes/,
     "the stats: $seen->{totals}");
is($seen->{bars}, 1, '  one bar of plays: today');

is_deeply([ grep { !/status of 401 \(Unauthorized\)/ } @{ $seen->{console} // [] } ],
          [], 'no other errors in the console')
    or diag(explain($seen->{console}));

$t->finish;
done_testing;


sub api {
    my ($method, $path, $u, $body) = @_;
    return $t->http($method => $path,
        headers => { Authorization => "Bearer $u->{access_token}",
                     (defined $body ? ('Content-Type' => 'application/json')
                                    : ()) },
        (defined $body ? (body => encode_json($body)) : ()));
}

sub upload {
    my ($u, $path, $title) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => slurp($path),
                     headers => { 'Content-Type' => 'audio/wav',
                                  Authorization => "Bearer $u->{access_token}" });
    die "upload: $r->{status}" unless $r->{status} == 202;
    my $id = $r->{json}{media}{id};
    api(PATCH => "/api/v1/media/$id", $u, { title => $title });
    return $id;
}

sub wait_ready {
    my ($u, $id) = @_;
    my $s = '';
    wait_until(sub {
        $s = api(GET => "/api/v1/media/$id", $u)->{json}{media}{status} // '';
        $s =~ /^(ready|failed)$/;
    }, timeout => 120, interval => 0.5);
    return $s;
}
