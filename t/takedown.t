# Takedowns and bans on the segment path, against nginx.conf.example with
# two workers: a viewer's playlists and segments play, then after a
# takedown (the row changed in PostgreSQL, "+m <id>" published on
# media:blocked) every worker refuses them (451 media_blocked) within
# 2 seconds, with no database or Redis call on that path (the blocked set
# in shared memory); restore and "-m" play them again.  The set is
# reloaded from PostgreSQL when the subscription comes back (a block made
# while Redis was down), when nginx starts, after a reload, and when the
# subscribing worker dies.  A banned user's playback token is refused.
# The set's hash table, in a zone of 64k (512 ids), keeps the right ids
# through hundreds of insertions and deletions, and says when it is full.
# While blocked: no playback token, no download link (and links made
# before refuse their use), no export, the share and embed pages and
# oEmbed say the media was removed, the owner sees status "blocked" with
# the reason.
#
# takedown() and restore() are the one place that acts as a moderator:
# after the merge they become POST /api/v1/admin/actions.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(time sleep);
use Digest::SHA qw(hmac_sha256 sha256);
use MIME::Base64 qw(encode_base64url);
use List::Util qw(shuffle);
use JSON::PP qw(decode_json encode_json);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;

# two workers, so the block must reach both; each answer names its worker
my $conf = slurp($t->conf_file);
$conf =~ s/^worker_processes auto;/worker_processes 2;/m
    or die 'nginx.conf.example: no worker_processes auto';
$conf =~ s{(media_hls /_media_files/;\n)}{$1            add_header X-Pid \$pid always;\n}
    or die 'nginx.conf.example: no media_hls';
$conf =~ s{(location /_media_files/ \{\n)}{$1            add_header X-Pid \$pid always;\n}
    or die 'nginx.conf.example: no /_media_files/';
$conf =~ s{(media_download /_media_dl/;\n)}{$1            add_header X-Pid \$pid always;\n}
    or die 'nginx.conf.example: no media_download';
$conf =~ s{^(    media_url_key \S+;\n)}{$1    media_blocked_zone 64k;\n}m
    or die 'nginx.conf.example: no media_url_key';
open(my $fh, '>', $t->conf_file) or die $!;
print $fh $conf;
close $fh;

$t->migrate;
$t->start_nginx;
$t->start_worker('transcoder');

my $ann = $t->signup('ann@example.com');     # the uploader
my $bob = $t->signup('bob@example.com');     # a viewer
my $mod = $t->signup('mod@example.com');     # the moderator
sql("UPDATE users SET role = 'moderator' WHERE id = '$mod->{user}{id}'");

$t->make_media('tone.wav', '-f lavfi -i sine=frequency=440:duration=4');
my $wav = slurp("$dir/media/tone.wav");

my $m1 = upload($ann, 'first');
my $m2 = upload($ann, 'second');
my $m3 = upload($ann, 'third');
for my $m ($m1, $m2, $m3) {
    is(wait_ready($ann, $m), 'ready', "media $m ready");
}

# --- playing --------------------------------------------------------------

my $p1 = play($bob, $m1);
my $c1 = play($bob, $m1, 'cookie');
my $p2 = play($bob, $m2);
my $p3 = play($bob, $m3);

my %pids = both($p1->{seg}, 200);
is(scalar(keys %pids), 2, 'a segment: 200 from both workers')
    or diag(explain(\%pids));
is(both($p1->{master}, 200), 2, 'the master playlist: 200 from both');
is(both($p1->{variant}, 200), 2, 'the variant playlist: 200 from both');
is(get($c1->{seg}, $c1->{cookie})->{status}, 200,
   'cookie mode: the segment plays');

# a download link and nothing else made before the takedown
my $r = api(POST => '/api/v1/downloads', $ann, { media_id => $m1 });
is($r->{status}, 201, 'a download link, before the takedown');
my $dl = $r->{json}{url};
is(get($dl, undef, 'HEAD')->{status}, 200, '  it works');

# --- the takedown reaches every worker within 2 s -------------------------

my $published = takedown($m1, 'copyright: a notice from the label');
my ($took, %refused) = refused_within($p1->{seg}, 451, 2);
is(scalar(keys %refused), 2, 'takedown: both workers refuse the segment')
    or diag(explain(\%refused));
ok($took <= 2, sprintf('  within 2 s of the PUBLISH (%.3f s)', $took));
diag(sprintf('takedown reached both workers in %.3f s', $took));

$r = get($p1->{seg});
is($r->{json}{error}{code}, 'media_blocked', '  the error: media_blocked');
like($r->{json}{error}{message}, qr/removed by a moderator/,
     '  the message says so');
is(both($p1->{master}, 451), 2, '  the master playlist: 451 from both');
is(both($p1->{variant}, 451), 2, '  the variant playlist: 451 from both');
is(get($c1->{seg}, $c1->{cookie})->{status}, 451,
   '  cookie mode: 451 too');
is(both($p2->{seg}, 200), 2, '  another media still plays');

# the segment path asks neither PostgreSQL nor Redis: both stopped, the
# block still holds and the other media still plays
$t->stop_redis;
$t->pg_ctl('stop');
is(both($p1->{seg}, 451), 2, 'PostgreSQL and Redis down: still refused');
is(both($p2->{seg}, 200), 2, '  and the other media still plays');
my $n = reloads();
$t->pg_ctl('start');
$t->start_redis;
ok(wait_until(sub { reloads() > $n }, timeout => 20, interval => 0.1),
   'both back: the subscriber reloaded the set');
wait_until(sub { api(GET => "/api/v1/media/$m1", $ann)->{status} == 200 },
           timeout => 20, interval => 0.2);

# --- refusals while blocked -------------------------------------------------

$r = api(POST => "/api/v1/media/$m1/playback", $bob);
is($r->{status}, 451, 'a new playback token: 451');
is($r->{json}{error}{code}, 'media_blocked', '  media_blocked');
is($r->{json}{error}{message},
   'this media was removed: copyright: a notice from the label',
   '  with the reason');
is(api(POST => "/api/v1/media/$m1/playback", $ann)->{status}, 451,
   '  the owner too');
is(api(POST => "/api/v1/media/$m1/playback")->{status}, 451,
   '  anonymous too');

$r = api(POST => '/api/v1/downloads', $ann, { media_id => $m1 });
is($r->{status}, 451, 'a new download link: 451');
is($r->{json}{error}{code}, 'media_blocked', '  media_blocked');
like($r->{json}{error}{message}, qr/^this media was removed: copyright/,
     '  with the reason');
$r = get($dl);
is($r->{status}, 451, 'a link made before: its use refused, 451');
is($r->{json}{error}{code}, 'media_blocked', '  media_blocked');
is(sql("SELECT count(*) FROM download_links WHERE media_id = '$m1'"), 1,
   '  no second link was written');

$r = api(POST => "/api/v1/media/$m1/exports", $ann, { format => 'mp3' });
is($r->{status}, 451, 'a new export: 451');
is($r->{json}{error}{code}, 'media_blocked', '  media_blocked');

$r = get("/m/$m1");
is($r->{status}, 451, 'the share page: 451');
like($r->{content}, qr{This media was removed by a moderator: copyright: a notice from the label},
     '  it says the media was removed, and why');
unlike($r->{content}, qr{<video|<audio|og:video}, '  no player');
is(get("/embed/$m1")->{status}, 451, 'the embed page: 451');
$r = oembed("http://127.0.0.1:" . $t->port('http') . "/m/$m1");
is($r->{status}, 451, 'oEmbed: 451');
is($r->{json}{error}{code}, 'media_blocked', '  media_blocked');

is(api(GET => "/api/v1/media/$m1/comments", $bob)->{status}, 404,
   'its comments: 404 for others');
is(api(PUT => "/api/v1/media/$m1/like", $bob)->{status}, 404,
   '  and no like');
is(api(GET => "/api/v1/media/$m1/comments", $ann)->{status}, 200,
   '  its owner still reads them');

$r = api(GET => "/api/v1/media/$m1", $ann);
is($r->{json}{media}{status}, 'blocked', 'the owner sees status blocked');
is($r->{json}{media}{blocked_reason}, 'copyright: a notice from the label',
   '  and the reason');
$r = api(GET => '/api/v1/media', $ann);
my ($row) = grep { $_->{id} eq $m1 } @{ $r->{json}{items} || [] };
is($row && $row->{status}, 'blocked', '  the library lists it, marked blocked');

# a worker finishing a job does not lift the block (sql/022's trigger)
sql("UPDATE media SET status = 'ready' WHERE id = '$m1'");
is(sql("SELECT status FROM media WHERE id = '$m1'"), 'blocked',
   'a status update does not lift the block');

# --- restore ----------------------------------------------------------------

restore($m1, 'counter-notice accepted');
my ($back, %ok) = refused_within($p1->{seg}, 200, 2);
is(scalar(keys %ok), 2, 'restore: both workers play the segment again');
ok($back <= 2, sprintf('  within 2 s (%.3f s)', $back));
is(both($p1->{master}, 200), 2, '  the master playlist too');
is(api(POST => "/api/v1/media/$m1/playback", $bob)->{status}, 200,
   '  a new playback token: 200');
is(get("/m/$m1")->{status}, 200, '  the share page: 200');
is(get($dl, undef, 'HEAD')->{status}, 200, '  the download link works again');

# --- reloads of the set -------------------------------------------------------

# Redis restarted empty: a block made in PostgreSQL while it was away (its
# message lost) is enforced once the subscriber is back
$t->stop_redis;
takedown($m2, 'made while Redis was down', 'no publish');
is(get($p2->{seg})->{status}, 200, 'Redis down, blocked in PostgreSQL only: '
   . 'still plays (the message was lost)');
$t->start_redis;
my (undef, %r2) = refused_within($p2->{seg}, 451, 15);
is(scalar(keys %r2), 2, 'Redis back: the subscriber reloaded the set, both '
   . 'workers refuse');

# FLUSHALL: the data is gone, the subscription is not; the set stays
$t->redis('FLUSHALL');
is(both($p2->{seg}, 451), 2, 'FLUSHALL: the set holds');
restore($m2, 'mistake');
is(both($p2->{seg}, 200), 2, '  and follows the next message');

# nginx restarted: the set is reloaded at start
$t->stop_nginx;
takedown($m3, 'made while nginx was stopped', 'no publish');
$t->start_nginx;
my (undef, %r3) = refused_within($p3->{seg}, 451, 15);
is(scalar(keys %r3), 2, 'nginx restarted: a block made meanwhile is enforced');
is(both($p1->{seg}, 200), 2, '  the restored media plays');

# nginx reloaded (HUP): new workers, a new worker 0 subscribes
my %old = both($p1->{seg}, 200);
$n = reloads();
$t->reload_nginx;
ok(wait_until(sub {
    my %now = both($p1->{seg}, 200);
    !grep { $old{$_} } keys %now;
}, timeout => 20, interval => 0.2), 'reload: new workers answer');
ok(wait_until(sub { reloads() > $n }, timeout => 20, interval => 0.1),
   '  the new worker 0 subscribed and reloaded the set');
takedown($m1, 'after the reload');
my (undef, %r4) = refused_within($p1->{seg}, 451, 2);
is(scalar(keys %r4), 2, '  a takedown reaches both new workers');
restore($m1, 'fine after all');
my (undef, %r5) = refused_within($p1->{seg}, 200, 2);
is(scalar(keys %r5), 2, '  and the restore');

# the subscribing worker dies: the master starts another worker 0, which
# subscribes and reloads; a block whose message it missed is not lost
my $sub = subscriber_pid();
ok($sub, "the subscriber is worker $sub");
takedown($m1, 'its message lost', 'no publish');
is(get($p1->{seg})->{status}, 200, 'a block without its message: still plays');
kill('KILL', $sub);
my (undef, %r6) = refused_within($p1->{seg}, 451, 15);
is(scalar(keys %r6), 2, 'subscriber killed: the new one reloads, both refuse');
ok(subscriber_pid() && subscriber_pid() != $sub, '  a new subscriber');
restore($m1, 'back');
my (undef, %r7) = refused_within($p1->{seg}, 200, 2);
is(scalar(keys %r7), 2, '  and it follows messages');

# --- a banned user ------------------------------------------------------------

my $pb = play($bob, $m2);
is(both($pb->{seg}, 200), 2, 'bob plays');
sql("UPDATE users SET banned_at = now(), banned_reason = 'spam'"
    . " WHERE id = '$bob->{user}{id}'");
$t->redis('PUBLISH', 'media:blocked', "+u $bob->{user}{id}");
my (undef, %rb) = refused_within($pb->{seg}, 403, 2);
is(scalar(keys %rb), 2, 'banned: his token refused by both workers');
$r = get($pb->{seg});
is($r->{json}{error}{code}, 'account_banned', '  account_banned');
is(both($pb->{master}, 403), 2, '  the master playlist too');
is(get(play($ann, $m2)->{seg})->{status}, 200, "  another user's token plays");
my $anon = api(POST => "/api/v1/media/$m2/playback");
is(get($anon->{json}{url})->{status}, 200, '  an anonymous token plays');
$r = api(POST => "/api/v1/media/$m2/playback", $bob);
is($r->{status}, 403, '  a new playback token for him: 403');
is($r->{json}{error}{code}, 'account_banned', '  account_banned');
sql("UPDATE users SET banned_at = NULL, banned_reason = NULL"
    . " WHERE id = '$bob->{user}{id}'");
$t->redis('PUBLISH', 'media:blocked', "-u $bob->{user}{id}");
my (undef, %ru) = refused_within($pb->{seg}, 200, 2);
is(scalar(keys %ru), 2, 'unbanned: his token plays again');

# a message that is not one is ignored, and logged
$t->redis('PUBLISH', 'media:blocked', 'nonsense');
is(both($p1->{seg}, 200), 2, 'a malformed message changes nothing');
like(slurp("$dir/error.log"), qr/media blocked message: "nonsense" ignored/,
     '  and logged');

# --- the table: 500 ids in a table of 1024 slots, half of them removed ---------

my $secret = slurp($t->key('url'));
chomp $secret;
my @ids = map { uuid() } 1 .. 500;
$t->redis('PUBLISH', 'media:blocked', "+m $_") for @ids;
my %gone = map { $_ => 1 } grep { rand() < 0.5 } @ids;
$t->redis('PUBLISH', 'media:blocked', "-m $_") for shuffle(keys %gone);
my $last = uuid();
$t->redis('PUBLISH', 'media:blocked', "+m $last");
ok(wait_until(sub { member($last) == 451 }, timeout => 10, interval => 0.05),
   'hundreds of messages applied');
my @wrong = grep { member($_) != ($gone{$_} ? 404 : 451) } @ids;
is(scalar(@wrong), 0, sprintf('%d ids in, %d out: each answers as it should',
                               scalar(@ids), scalar(keys %gone)))
    or diag("@wrong[0 .. 4]");

# past 512 ids: the ones without room are logged, the others still hold
my @more = map { uuid() } 1 .. 300;
$t->redis('PUBLISH', 'media:blocked', "+m $_") for @more;
ok(wait_until(sub { slurp("$dir/error.log") =~ /media blocked set: full at 512 ids/ },
              timeout => 10, interval => 0.1), 'full: logged, naming the room');
@wrong = grep { member($_) != ($gone{$_} ? 404 : 451) } @ids;
is(scalar(@wrong), 0, '  what was in still answers as it should');

# the worker killed on purpose above is no bug: its line goes, no other
my $log = slurp("$dir/error.log");
my $cut = $log =~ s/^.*worker process $sub exited on signal 9.*\n//mg;
is($cut, 1, 'the killed worker logged its end once');
open($fh, '>', "$dir/error.log") or die $!;
print $fh $log;
close $fh;

$t->finish;
done_testing();

# --- helpers ------------------------------------------------------------------

# a random (version 4) UUID
sub uuid {
    my $h = join('', map { sprintf '%04x', int(rand(65536)) } 1 .. 8);
    substr($h, 12, 1) = '4';
    return join('-', substr($h, 0, 8), substr($h, 8, 4), substr($h, 12, 4),
                substr($h, 16, 4), substr($h, 20, 12));
}

# a segment of a media no file exists for, with a token of ours: 451 when
# the id is in the blocked set, else 404 (the file location's)
sub member {
    my ($media) = @_;
    my $payload = pack('C C N a16 a16 n n', 2, unpack('C', sha256($secret)),
                       time() + 600, pack('H*', $media =~ s/-//gr),
                       "\0" x 16, 0, 0);
    my $token = encode_base64url($payload) . '.'
                . encode_base64url(hmac_sha256($payload, $secret));
    return get("/hls/$token/$media/a128/seg_00000.ts")->{status};
}

# the moderator's action: the row first, then the message (reports'
# POST /api/v1/admin/actions does both after the merge)
sub takedown {
    my ($id, $reason, $quiet) = @_;
    my $did = sql("SELECT media_takedown('$id', '$mod->{user}{id}',"
                  . " 'moderator', '$reason', '127.0.0.1', NULL)");
    die "takedown $id: nothing changed" unless $did eq $id;
    $t->redis('PUBLISH', 'media:blocked', "+m $id") unless $quiet;
    return time();
}

sub restore {
    my ($id, $reason, $quiet) = @_;
    my $did = sql("SELECT media_restore('$id', '$mod->{user}{id}',"
                  . " 'moderator', '$reason', '127.0.0.1', NULL)");
    die "restore $id: nothing changed" unless $did eq $id;
    $t->redis('PUBLISH', 'media:blocked', "-m $id") unless $quiet;
    return time();
}

# requests on new connections until both workers gave status (at most 200
# requests); returns the pids that did, or their count in scalar context
sub both {
    my ($path, $status) = @_;
    my %seen;
    for (1 .. 200) {
        my $r = get($path);
        $seen{ $r->{headers}{'x-pid'} // 0 } = 1 if $r->{status} == $status;
        last if keys %seen >= 2;
    }
    return wantarray ? %seen : scalar(keys %seen);
}

# polls until both workers answer status (bounded by count and by
# timeout seconds); returns the seconds it took and the pids that did
sub refused_within {
    my ($path, $status, $timeout) = @_;
    my $start = time();
    my %seen;
    for (1 .. 5000) {
        my $r = get($path);
        my $pid = $r->{headers}{'x-pid'} // 0;
        if ($r->{status} == $status) {
            $seen{$pid} = 1;
        } else {
            delete $seen{$pid};
        }
        last if keys %seen >= 2 || time() - $start > $timeout;
        sleep(0.005);
    }
    return (time() - $start, %seen);
}

# the worker that logged the latest subscription
sub subscriber_pid {
    my @lines = grep { /media blocked subscribe: subscribed/ }
                split /\n/, slurp("$dir/error.log");
    return $lines[-1] && $lines[-1] =~ / (\d+)#\d+: / ? $1 : 0;
}

# how many times the set was loaded from PostgreSQL, by the log
sub reloads {
    my $n = () = slurp("$dir/error.log") =~ /media blocked reload: \d+ media/g;
    return $n;
}

sub play {
    my ($user, $id, $mode) = @_;
    my $r = api(POST => "/api/v1/media/$id/playback", $user,
                $mode ? { mode => $mode } : undef);
    die "playback $id: $r->{status} $r->{content}" unless $r->{status} == 200;
    my ($cookie) = ($r->{headers}{'set-cookie'} // '') =~ /^(media_play=[^;]+)/;
    my $master = $r->{json}{url};
    my $m = get($master, $cookie);
    die "master $master: $m->{status}" unless $m->{status} == 200;
    my ($v) = $m->{content} =~ /^(\S+\/index\.m3u8)$/m;
    (my $base = $master) =~ s/master\.m3u8$//;
    my $vr = get("$base$v", $cookie);
    my ($seg) = $vr->{content} =~ /^(seg_\d+\.\w+)$/m;
    (my $vbase = "$base$v") =~ s/index\.m3u8$//;
    return { master => $master, variant => "$base$v", seg => "$vbase$seg",
             cookie => $cookie };
}

sub get {
    my ($path, $cookie, $method) = @_;
    my $r = HTTP::Tiny->new(timeout => 10, keep_alive => 0)
        ->request($method // 'GET', $t->url($path),
                  { headers => { Connection => 'close',
                                 ($cookie ? (Cookie => $cookie) : ()) } });
    $r->{json} = eval { decode_json($r->{content}) }
        if ($r->{headers}{'content-type'} // '') =~ m{^application/json};
    return $r;
}

sub oembed {
    my ($url) = @_;
    (my $q = $url) =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
    return get("/api/v1/oembed?url=$q&format=json");
}

sub api {
    my ($method, $path, $user, $body) = @_;
    return $t->http($method => $path,
                    headers => { ($user ? (Authorization => "Bearer $user->{access_token}") : ()),
                                 ($body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => encode_json($body)) : ()));
}

sub sql {
    my $out = $t->psql('media', $_[0]);
    die "psql: $_[0]" unless defined $out;
    chomp $out;
    return $out;
}

sub upload {
    my ($user, $title) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => $wav,
                     headers => { 'Content-Type' => 'audio/wav',
                                  Authorization => "Bearer $user->{access_token}" });
    die "upload: $r->{status} $r->{content}" unless $r->{status} == 202;
    my $id = $r->{json}{media}{id};
    $r = api(PATCH => "/api/v1/media/$id", $user,
             { title => $title, privacy => 'public' });
    die "patch: $r->{status} $r->{content}" unless $r->{status} == 200;
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
