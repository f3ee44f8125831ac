# The job queue's rules, with the transcoder: SIGTERM gives the job back
# (not counted as an attempt), a failure that does not go away is retried
# with growing backoff and then dead with its last error, two jobs run at
# once with media_transcode_jobs 2, and a consumer the watchdog ends has
# its job handed on by its supervisor.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(remove_tree);
use POSIX ();
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
    media_cookie_secure off;
    media_job_lease 6s;
    media_job_retry 500ms;
    media_transcode_jobs 2;
    media_job_stall 3s;
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
$t->start_nginx;

my $user = $t->signup('q@example.com');
my $av = '-c:v libx264 -preset ultrafast -pix_fmt yuv420p';
$t->make_media('long.mp4', "-f lavfi -i testsrc2=size=1920x1080:rate=30:duration=15"
               . " -f lavfi -i sine=duration=15 $av -c:a aac -shortest");

# --- SIGTERM: the job is given back, not failed --------------------------------

$t->start_worker('transcoder');
my $id = upload('long.mp4');
ok(wait_until(sub { progress($id) > 0 }, timeout => 60), 'transcode under way');

my $status = $t->stop_proc('transcoder', 'TERM');
is($status, 0, 'SIGTERM mid-job: the worker exits 0');
like(slurp("$dir/transcoder.log"), qr/job \S+: released \(stopping\)/,
     'it released the job');

my $row = $t->psql('media', "SELECT status || ' ' || attempts || ' ' || "
                   . "coalesce(worker, '-') FROM jobs WHERE media_id = '$id'");
like($row, qr/^queued 0 -$/, "the row is queued again, the attempt not counted: $row");
is(scalar(() = glob("$dir/storage/hls/.$id.*")), 0, 'no half output left');

$t->start_worker('transcoder');
is(wait_final($id)->{status}, 'ready', 'the next worker finishes it');
is($t->psql('media', "SELECT attempts FROM jobs WHERE media_id = '$id'") + 0, 1,
   'in one counted attempt');

# --- the service's PostgreSQL role: no superuser --------------------------------

my ($conninfo) = slurp($t->conf_file) =~ /^\s*media_pg "([^"]+)";/m;
is(`psql -X -A -t -d '$conninfo' -c "SELECT rolsuper FROM pg_roles WHERE rolname = current_user" 2>&1`,
   "f\n", "the role in media_pg ($conninfo) is not a superuser");
is($t->psql('media', "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            . " AND tableowner <> current_user"), "0\n", 'it owns every table');
is($t->psql('media', "SELECT count(*) FROM pg_stat_activity a JOIN pg_roles r"
            . " ON r.oid = a.usesysid WHERE a.datname = 'media' AND r.rolsuper"),
   "0\n", 'no session of the module or the workers is a superuser');

# --- two at once ---------------------------------------------------------------

my @two = map { upload('long.mp4') } 1 .. 2;
ok(wait_until(sub {
    ($t->psql('media', "SELECT count(DISTINCT worker) FROM jobs WHERE status = 'running'") // 0) == 2
}, timeout => 60), 'media_transcode_jobs 2: two jobs running, two consumers');
is(wait_final($_)->{status}, 'ready', 'and both finish') for @two;

# --- a failure that does not go away --------------------------------------------

# the renditions directory becomes a file: every attempt fails to write
remove_tree("$dir/storage/hls");
open(my $fh, '>', "$dir/storage/hls") or die;
close $fh;

my $bad = upload('long.mp4');
my $m = wait_final($bad, 120);
is($m->{status}, 'failed', 'media failed after the last attempt');
like($m->{error} // '', qr/^processing failed 5 times because of a problem on our side, not with your file/,
     "users read that the fault is ours: $m->{error}");
unlike($m->{error} // '', qr{/}, 'and no path');
like($t->psql('media', "SELECT error_detail FROM jobs WHERE id = '$m->{job_id}'"),
     qr/mkdir .*Not a directory/, 'admins keep the last error');

my $job = $t->http(GET => "/api/v1/jobs/$m->{job_id}",
                   headers => { Authorization => "Bearer $user->{access_token}" })->{json}{job};
is($job->{status}, 'dead', 'the job is dead');
is($job->{attempts}, 5, 'after 5 attempts');

my @gaps = map { /attempt (\d) failed/ ? $1 : () } grep { /$m->{job_id}/ }
           split /\n/, slurp("$dir/transcoder.log");
is(scalar @gaps, 5, 'each attempt logged');
like(slurp("$dir/transcoder.log"), qr/no attempts left: dead/, 'the last says dead');

my $times = $t->psql('media', "SELECT extract(epoch FROM run_after - started_at)"
                     . " FROM jobs WHERE id = '$m->{job_id}'");
ok($times > 0, 'backoff pushed the last run into the future');

unlink "$dir/storage/hls";
mkdir "$dir/storage/hls";

# --- the watchdog: a job stuck where FFmpeg never asks ------------------------

# the source replaced by a FIFO nobody writes: open() blocks in the kernel
$t->stop_proc('transcoder');
my $stuck = upload('long.mp4');
unlink "$dir/storage/uploads/$stuck";
system('mkfifo', "$dir/storage/uploads/$stuck") == 0 or die 'mkfifo';

$t->start_worker('transcoder');
ok(wait_until(sub {
    slurp("$dir/transcoder.log")
        =~ /watchdog: job \S+ made no progress for 3000 ms; exiting/
}, timeout => 30), 'the watchdog ended the stuck consumer, saying why');

# its supervisor hands the job on at once, each time, as an attempt: a job
# that always hangs ends dead, not running for days
$row = '';
ok(wait_until(sub {
    $row = $t->psql('media', "SELECT status || ' ' || attempts FROM jobs"
                    . " WHERE media_id = '$stuck'") // '';
    chomp $row;
    $row =~ /^dead/;
}, timeout => 90), "handed on after each stall, then dead: $row");
like($row, qr/^dead 5$/, 'after 5 attempts, each counted once');
$m = media($stuck);
is($m->{status}, 'failed', 'its media failed');
like($m->{error}, qr/^processing stopped unexpectedly 5 times/, "saying why: $m->{error}");
$t->stop_proc('transcoder');

$t->finish;
done_testing;


sub upload {
    my ($name) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => slurp("$dir/media/$name"),
                     headers => { 'Content-Type' => 'video/mp4',
                                  Authorization => "Bearer $user->{access_token}" });
    die "upload: $r->{status}" unless $r->{status} == 202;
    return $r->{json}{media}{id};
}

sub media {
    my ($id) = @_;
    return $t->http(GET => "/api/v1/media/$id",
                    headers => { Authorization => "Bearer $user->{access_token}" })
             ->{json}{media};
}

sub progress { (media($_[0]) // {})->{progress} // 0 }

sub wait_final {
    my ($id, $timeout) = @_;
    my $m;
    wait_until(sub { $m = media($id); $m && $m->{status} =~ /^(ready|failed)$/ },
               timeout => $timeout || 120, interval => 0.5);
    return $m;
}
