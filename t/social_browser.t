# The player's social panel (www/social.js) in a real browser
# (t/browser/social.js: Debian's chromium, headless, through
# playwright-core) against nginx configured from nginx.conf.example, with
# the transcoder: a comment made at 0:03 shows as a mark at 3 s of the
# timeline; a comment from the page's box lands at the player's current
# time; the like button shows the server's count.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json encode_json);
use MediaTest qw(wait_until slurp);

my $driver = "$FindBin::Bin/browser/social.js";
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
                          '-f lavfi -i sine=frequency=440:duration=5');

my $password = 'a good long password';
my $ann = $t->signup('ann@example.com', $password);
my $bob = $t->signup('bob@example.com');

my $r = $t->http(POST => '/api/v1/media', body => slurp($file),
                 headers => { 'Content-Type' => 'audio/wav',
                              Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 202, 'ann uploads a 5 s tone');
my $id = $r->{json}{media}{id};
my $s = '';
wait_until(sub {
    $s = api(GET => "/api/v1/media/$id", $ann)->{json}{media}{status} // '';
    $s =~ /^(ready|failed)$/;
}, timeout => 120, interval => 0.5);
is($s, 'ready', '  transcoded');
is(api(PATCH => "/api/v1/media/$id", $ann,
       { title => 'Tone', privacy => 'public' })->{status}, 200,
   '  titled and made public');
my $dur = $t->psql('media', "SELECT duration_ms FROM media WHERE id = '$id'") + 0;

is(api(POST => "/api/v1/media/$id/comments", $bob,
       { body => 'here it turns', at_ms => 3000 })->{status}, 201,
   'bob comments at 0:03');

local $ENV{EMAIL} = 'ann@example.com';
local $ENV{PASSWORD} = $password;
my $seen = $t->browser($driver, 120, $t->url('/'), 'Tone');
is_deeply($seen->{steps}, [ 'launch', 'log in', 'the mark at 0:03',
                            'comment at 0:01', 'like' ],
          'every step done') or diag("stopped at: " . ($seen->{error} // ''));

my $pct = 3000 / $dur * 100;
my ($m3) = @{ $seen->{before} // [] };
is($m3->{at_ms}, 3000, 'a mark for the comment at 0:03');
my ($left) = ($m3->{left} // '') =~ /^([\d.]+)%$/;
ok(defined $left && abs($left - $pct) < 0.01,
   sprintf('  placed at %.2f%% of the timeline (3 s of %d ms)', $pct, $dur))
    or diag($m3->{left});
ok(abs(($m3->{drawn} // 0) - $pct / 100) < 0.02,
   sprintf('  and drawn there (%.3f of the width)', $m3->{drawn} // 0));
like($m3->{title} // '', qr/^0:03 here it turns$/, '  its title: time and text');
is($seen->{likes}, '0', 'the like count shown: 0');
ok($seen->{follow_hidden}, 'no Follow on one\'s own media');

is($seen->{button}, 'Comment at 0:01', 'the box says where it will comment');
my @after = sort { $a->{at_ms} <=> $b->{at_ms} } @{ $seen->{after} // [] };
ok(@after == 2 && $after[0]{at_ms} >= 1000 && $after[0]{at_ms} < 1100,
   "the comment from the page: at the player's time ($after[0]{at_ms} ms)");
my $row = $t->psql('media', "SELECT at_ms FROM comments WHERE body = 'from the page'");
is($row + 0, $after[0]{at_ms}, '  as stored');
is(scalar @{ $seen->{listed} // [] }, 2, 'both comments listed');
like($seen->{listed}[0] // '', qr/^0:01 .*from the page/, '  by moment');

is($seen->{liked}, '1', 'liked: the count the server answered');
is($t->psql('media', "SELECT likes_count FROM media WHERE id = '$id'") + 0, 1,
   '  media.likes_count 1');
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
