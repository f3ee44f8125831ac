# A takedown seen from the web client's player (t/browser/takedown.js,
# Debian's chromium through playwright-core) against nginx configured from
# nginx.conf.example: the uploader plays a 90-second audio media; the
# moderator's takedown (POST /api/v1/admin/actions: the row, then "+m
# <id>" on media:blocked) makes the next segment request answer 451, and
# the player stops, saying "This media was removed by a moderator:
# <reason>"; after the moderator's restore it plays again.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use JSON::PP qw(decode_json encode_json);
use MediaTest qw(wait_until slurp);

my $driver = "$FindBin::Bin/browser/takedown.js";
MediaTest::need_browser();

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_nginx;
$t->start_worker('transcoder');

my $ann = $t->signup('ann@example.com', 'a good long password');
my $mod = $t->signup('mod@example.com');
$t->psql('media', "UPDATE users SET role = 'moderator' WHERE id = '$mod->{user}{id}'");

# long enough that the player is still fetching segments when it is
# taken down (hls.js buffers 30 s ahead)
$t->make_media('long.wav', '-f lavfi -i sine=frequency=330:duration=90');
my $r = $t->http(POST => '/api/v1/media', body => slurp("$dir/media/long.wav"),
                 headers => { 'Content-Type' => 'audio/wav',
                              Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 202, 'uploaded');
my $id = $r->{json}{media}{id};
$t->http(PATCH => "/api/v1/media/$id",
         headers => { 'Content-Type' => 'application/json',
                      Authorization => "Bearer $ann->{access_token}" },
         body => encode_json({ title => 'Long tone' }));
ok(wait_until(sub {
    ($t->http(GET => "/api/v1/media/$id",
              headers => { Authorization => "Bearer $ann->{access_token}" })
        ->{json}{media}{status} // '') eq 'ready';
}, timeout => 120, interval => 0.5), 'transcoded');

local $ENV{HOME} = $dir;
local $ENV{OUT_DIR} = $dir;
local $ENV{EMAIL} = 'ann@example.com';
local $ENV{MEDIA} = $id;

my $pid = open(my $node, '-|',
               "timeout 170 node '$driver' '${\ $t->url('/')}' 2>'$dir/browser.err'")
    // die "node: $!";

# the handshake: the driver writes "playing", then "stopped"
ok(wait_until(sub { -e "$dir/playing" }, timeout => 90, interval => 0.1),
   'the browser plays');
takedown('copyright: a claim by the label');
touch('blocked');
ok(wait_until(sub { -e "$dir/stopped" }, timeout => 80, interval => 0.1),
   'the browser saw the player stop');
restore('counter-notice accepted');
touch('restored');

my $out = do { local $/; <$node> };
close $node;
my $rc = $? >> 8;
my $seen = eval { decode_json($out) } // {};

is($rc, 0, 'the browser run completed')
    or diag("exit $rc: " . ($seen->{error} // '(no JSON)') . "\n"
            . slurp("$dir/browser.err"));
is_deeply($seen->{steps}, ['launch', 'sign in', 'play',
                           'taken down while playing',
                           'restored: plays again'], 'every step done')
    or diag('stopped at: ' . ($seen->{error} // ''));

ok($seen->{playing}{ok}, 'it played: ' . explain($seen->{playing}{last}));
is($seen->{shown},
   'This media was removed by a moderator: copyright: a claim by the label',
   'the player says it was removed, and why');
ok($seen->{stopped_later}{paused}, 'the player is paused');
ok(abs($seen->{stopped_later}{t} - $seen->{stopped}{last}{t}) < 0.5,
   'and stays where it stopped')
    or diag(explain([$seen->{stopped}, $seen->{stopped_later}]));
ok((grep { $_->{status} == 451 } @{ $seen->{refusals} // [] }),
   'a segment or playlist was refused with 451')
    or diag(explain($seen->{refusals}));
diag("stopped $seen->{stopped_after_ms} ms after the takedown")
    if defined $seen->{stopped_after_ms};
ok($seen->{again}{ok}, 'after the restore it plays again')
    or diag(explain($seen->{again}));

# the refused requests are the only console lines
my @other = grep { !/status of (451|403)/ } @{ $seen->{console} // [] };
is(scalar(@other), 0, 'no other script error or warning')
    or diag(explain(\@other));
is(scalar(@{ $seen->{offsite} // [] }), 0, 'nothing from another origin')
    or diag(explain($seen->{offsite}));

$t->finish;
done_testing();

sub touch {
    open(my $fh, '>', "$dir/$_[0]") or die $!;
    close $fh;
}

sub takedown { action('takedown', @_) }

sub restore { action('restore', @_) }

# the moderator acts through the API, as the admin area does
sub action {
    my ($what, $reason) = @_;
    my $r = $t->http(POST => '/api/v1/admin/actions',
                     headers => { Authorization => "Bearer $mod->{access_token}",
                                  'Content-Type' => 'application/json' },
                     body => encode_json({ target_type => 'media',
                                           target_id => $id, action => $what,
                                           reason => $reason }));
    die "$what: $r->{status} $r->{content}" unless $r->{status} == 200;
}
