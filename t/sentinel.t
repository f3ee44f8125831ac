# Redis through Sentinel: media_redis sentinel://... in the module and the
# workers.  A primary, a replica and three sentinels; the first address in
# media_redis is a sentinel that does not run, so every search shows the
# next one being asked.  While a transcode runs, the primary is killed
# (SIGKILL) and Sentinel promotes the replica: the module finds the new
# primary without a restart (healthz says redis ok, an API call that
# counts in Redis answers), and every job ends done exactly once.
#
# Replication is asynchronous: two uploads are made while the replica is
# cut off (stopped, its link closed), so their stream entries reach the
# old primary only and die with it.  PostgreSQL keeps the rows; the transcoder, meeting a
# new Redis server (another run_id), re-enqueues every queued row at once
# (workers/common/queue.c, media_queue_reconcile), and the test shows
# those entries on the new primary are new ones, made after the kill.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis(heartbeat => 0);
$t->start_redis_replica('redis-replica');
$t->start_sentinels(3);

my $nobody = '127.0.0.1:' . $t->port('sentinel-gone');
$t->use_sentinels($nobody);

$t->write_conf(<<'EOF');
%%MAIN%%
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;
    media_redis_timeout 1s;
    media_transcode_jobs 1;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
    }
}
EOF
$t->jwt_key;
$t->migrate;

my ($ok, $out) = $t->nginx_test;
ok($ok, 'nginx -t accepts media_redis sentinel://') or diag($out);

$t->start_nginx;
$t->start_worker('transcoder');

my $primary = $t->port('redis');
my $replica = $t->port('redis-replica');

ok(wait_until(sub { healthz()->{redis} eq 'ok' }, timeout => 30),
   'healthz: redis ok through the sentinels');
my $log = slurp("$dir/error.log");
like($log, qr/media redis find: sentinel \Q$nobody\E: .*refused/,
     'the sentinel that does not run is skipped');
like($log, qr/media redis role: the primary "media" named by the sentinels is at 127\.0\.0\.1:$primary/,
     'the next one named the primary, and ROLE confirmed it');
ok(wait_until(sub { log_messages_of('transcoder')
                        =~ /ready: postgres and redis connected/ },
              timeout => 30),
   'the transcoder found it too');

my $user = $t->signup('s@example.com');
my $av = '-c:v libx264 -preset ultrafast -pix_fmt yuv420p';
$t->make_media('long.mp4', "-f lavfi -i testsrc2=size=1280x720:rate=30:duration=20"
               . " -f lavfi -i sine=duration=20 $av -c:a aac -shortest");
$t->make_media('short.mp4', "-f lavfi -i testsrc2=size=320x240:rate=25:duration=2"
               . " -f lavfi -i sine=duration=2 $av -c:a aac -shortest");

# --- while a transcode runs, the primary dies ------------------------------

my $long = upload('long.mp4');
my @before = map { upload('short.mp4') } 1 .. 2;
ok(wait_until(sub { job($long)->{status} eq 'running' }, timeout => 60),
   'the long transcode runs');

my $nginx = $t->pid('nginx');

# entries the replica never sees: stopped, it cannot reconnect when the
# primary drops it (stopping it alone is not enough: the kernel would
# keep what the primary sends until it reads again)
kill('STOP', $t->pid('redis-replica'));
is($t->redis('CLIENT', 'KILL', 'TYPE', 'replica'), 1,
   'the replica cut off from the primary');
my @lost = map { upload('short.mp4') } 1 .. 2;
my $stream = $t->redis('XRANGE', 'media:transcode', '-', '+');
ok((grep { index($stream, job($_)->{id}) >= 0 } @lost) == 2,
   'the old primary took their entries');

my $killed = int(time() * 1000);
$t->stop_proc('redis', 'KILL');
kill('CONT', $t->pid('redis-replica'));

ok(wait_until(sub { ($t->sentinel_primary('sentinel-1') // 0) == $replica },
              timeout => 60, interval => 0.5),
   'Sentinel promoted the replica');
like($t->redis_at($replica, 'ROLE'), qr/^master/, 'it says it is the primary');

# --- the module follows, without a restart -----------------------------------

ok(wait_until(sub { healthz()->{redis} eq 'ok' }, timeout => 60,
              interval => 0.5),
   'healthz: redis ok again');
is($t->pid('nginx'), $nginx, 'the same nginx');
ok(kill(0, $nginx), 'still running, never restarted');
like(slurp("$dir/error.log"),
     qr/media redis role: the primary "media" named by the sentinels is at 127\.0\.0\.1:$replica/,
     'the module found the new primary through the sentinels');

my $r = $t->http(POST => '/api/v1/auth/login',
                 headers => { 'Content-Type' => 'application/json' },
                 body => '{"email":"s@example.com","password":"a good password"}');
is($r->{status}, 200, 'a login (counted in Redis) answers after the failover');

my @after = map { upload('short.mp4') } 1 .. 2;

# --- every job ends, each once -----------------------------------------------

my @all = ($long, @before, @lost, @after);
for my $id (@all) {
    my $j = {};
    wait_until(sub { $j = job($id); $j->{status} =~ /^(done|failed|dead)$/ },
               timeout => 240, interval => 0.5);
    is("$j->{status} $j->{attempts}", 'done 1', "job of media $id: done, in one attempt");
}

my $tlog = log_messages_of('transcoder');
for my $id (@all) {
    my $jid = job($id)->{id};
    my $n = () = $tlog =~ /job \Q$jid\E: done/g;
    is($n, 1, "the transcoder did job $jid once");
}

like($tlog, qr/another server than before \(a failover or a restart\)/,
     'the transcoder saw a new Redis server');
like($tlog, qr/reconcile: \d+ queued transcode job\(s\) put on media:transcode/,
     'and re-enqueued the queued rows');

# the lost entries on the new primary were made after the kill: the
# reconciler's, not replicated ones
$stream = $t->redis_at($replica, 'XRANGE', 'media:transcode', '-', '+');
my %entry;
my @lines = split /\n/, $stream;
for my $i (0 .. $#lines) {
    push @{ $entry{$lines[$i + 2]} }, $lines[$i]
        if $lines[$i] =~ /^\d+-\d+$/ && ($lines[$i + 1] // '') eq 'job';
}
for my $id (@lost) {
    my $jid = job($id)->{id};
    my @ids = @{ $entry{$jid} // [] };
    ok(@ids && !grep({ (split /-/)[0] < $killed } @ids),
       "the entry of lost job $jid on the new primary is the reconciler's (@ids, killed at $killed)");
}

$t->finish;
done_testing;


sub upload {
    my ($name) = @_;
    my $r;
    # a moment of 503 while the module looks for the primary is allowed
    wait_until(sub {
        $r = $t->http(POST => '/api/v1/media', body => slurp("$dir/media/$name"),
                      headers => { 'Content-Type' => 'video/mp4',
                                   Authorization => "Bearer $user->{access_token}" });
        $r->{status} != 503;
    }, timeout => 20, interval => 0.5);
    die "upload: $r->{status} $r->{content}" unless $r->{status} == 202;
    return $r->{json}{media}{id};
}

sub job {
    my ($media) = @_;
    my $row = $t->psql('media', "SELECT id || ' ' || status || ' ' || attempts"
                       . " FROM jobs WHERE media_id = '$media'") // '';
    chomp $row;
    my ($id, $status, $attempts) = split / /, $row;
    return { id => $id // '', status => $status // '', attempts => $attempts // '' };
}

sub healthz {
    my $r = $t->http(GET => '/api/v1/healthz');
    return $r->{json} // { redis => '' };
}

sub log_messages_of { MediaTest::log_messages(slurp("$dir/$_[0].log")) }
