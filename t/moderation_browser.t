# Moderation in a real browser (t/browser/moderation.js: Debian's
# chromium, headless, through playwright-core) against nginx configured
# from nginx.conf.example, with the transcoder: a user reports a media from
# the player (the Report button), a moderator finds the report in the queue
# with the media's player beside it, cannot take it down without a reason,
# takes it down with one, and the report shows actioned; the uploader
# sees the takedown in the banner and dismisses it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json encode_json);
use MediaTest qw(wait_until slurp);

my $driver = "$FindBin::Bin/browser/moderation.js";
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
                          '-f lavfi -i sine=frequency=440:duration=3');

my $password = 'a good long password';
my $ann = $t->signup('ann@example.com', $password);
my $bob = $t->signup('bob@example.com', $password);
my $mod = $t->signup('mod@example.com', $password);
$t->psql('media', "UPDATE users SET role = 'moderator'"
                  . " WHERE id = '$mod->{user}{id}'");

my $r = $t->http(POST => '/api/v1/media', body => slurp($file),
                 headers => { 'Content-Type' => 'audio/wav',
                              Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 202, 'ann uploads a tone');
my $id = $r->{json}{media}{id};
my $s = '';
wait_until(sub {
    $s = api(GET => "/api/v1/media/$id", $ann)->{json}{media}{status} // '';
    $s =~ /^(ready|failed)$/;
}, timeout => 120, interval => 0.5);
is($s, 'ready', '  transcoded');
is(api(PATCH => "/api/v1/media/$id", $ann,
       { title => 'Offending tone', privacy => 'public' })->{status}, 200,
   '  titled and made public');
$r = api(POST => '/api/v1/playlists', $ann,
         { title => 'Tones', privacy => 'public' });
is($r->{status}, 201, 'in a public playlist');
my $pl = $r->{json}{playlist}{id} // $r->{json}{id};
is(api(PUT => "/api/v1/playlists/$pl/items/$id", $ann)->{status} =~ /^20/ ? 1 : 0,
   1, '  with the tone');

local $ENV{USER_EMAIL} = 'bob@example.com';
local $ENV{MOD_EMAIL} = 'mod@example.com';
local $ENV{OWNER_EMAIL} = 'ann@example.com';
local $ENV{PASSWORD} = $password;
my $seen = $t->browser($driver, 120, $t->url('/'), $pl, 'Offending tone');
is_deeply($seen->{steps}, [ 'launch', 'the user reports the media',
                            'the moderator opens the queue',
                            'a takedown needs a reason',
                            'the moderator takes it down',
                            'the report shows actioned',
                            'the uploader sees the notice' ],
          'every step done') or diag("stopped at: " . ($seen->{error} // ''));

ok($seen->{user_nav_hidden}, 'a plain user sees no Moderation link');
like($seen->{reported} // '', qr/a moderator will look at it/, 'the user is thanked');
is($seen->{queue_status}, 'open', 'the moderator sees the report open');
like($seen->{queue_text} // '', qr/abuse.*reported by.*Offending tone.*hateful words/s,
     '  with its reason, reporter, media and details');
is($seen->{has_player}, 1, '  and the media\'s player beside it');
ok(($seen->{player_duration} // 0) > 2.5, "  which plays the media ($seen->{player_duration} s)");
like($seen->{no_reason} // '', qr/Write a reason first/, 'no reason: told to write one');
like($seen->{result} // '', qr/Take down: done; the report is actioned/,
     'taken down with a reason');
is($seen->{actioned_status}, 'actioned', 'the report listed as actioned');
like($seen->{actioned_text} // '', qr/removed: hate speech, see report/,
     '  the media shown removed, with the reason');

like($seen->{banner} // '', qr/One of your media was taken down: hate speech, see report.*appeal report #\d+/,
     'the uploader\'s banner: the takedown, why, and the report to appeal');
is($t->psql('media', "SELECT count(*) FROM user_notices WHERE seen_at IS NOT NULL"),
   "1\n", '  dismissed: marked seen');

my $row = $t->psql('media', "SELECT status || ' ' || resolution FROM reports");
is($row, "actioned takedown\n", 'the report row: actioned by a takedown');
is($t->psql('media', "SELECT status FROM media WHERE id = '$id'"), "blocked\n",
   'the media blocked');
is($t->psql('media', "SELECT actor_id || ' ' || reason FROM audit_log"
                     . " WHERE action = 'media.takedown'"),
   "$mod->{user}{id} hate speech, see report\n", 'the takedown audited');
is_deeply([ grep { !/status of 40[1-4] / } @{ $seen->{console} // [] } ],
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
