# Faults: PostgreSQL and Redis go away and come back without nginx being
# touched; a Redis that stops answering; reloads under a stream of
# requests drop none.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
$t->start_postgres;
$t->start_redis;

$t->write_conf(<<'EOF');
%%MAIN%%
worker_processes 2;
events {}
http {
    %%HTTP%%
    media_pg_timeout 3s;
    media_redis_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
    }
}
EOF

$t->migrate;
$t->start_nginx;

ok(healthy(), 'healthz 200 at start');

# --- PostgreSQL stopped and started --------------------------------------

$t->stop_postgres;

my $t0 = time();
my $r = $t->http(GET => '/api/v1/healthz', timeout => 10);
my $took = time() - $t0;

is($r->{status}, 503, 'postgres down: 503');
is($r->{json}{postgres}, 'unreachable', 'postgres down: named');
is($r->{json}{redis}, 'ok', 'postgres down: redis still ok');
like($r->{json}{error}{message}, qr/postgres/, 'postgres down: message');
ok($took < 2, sprintf('postgres down: answered promptly (%.2fs)', $took));

# every worker's pooled connections are dead now: all must notice
my $n503 = grep { $t->http(GET => '/api/v1/healthz')->{status} == 503 } 1 .. 10;
is($n503, 10, 'postgres down: every request 503, none hangs');

$t->pg_ctl('start');
ok(wait_until(\&all_healthy, timeout => 10),
   'postgres back: 200, nginx untouched');

my $n200 = grep { $t->http(GET => '/api/v1/healthz')->{status} == 200 } 1 .. 10;
is($n200, 10, 'postgres back: every request 200');

# --- Redis stopped and started -------------------------------------------

$t->stop_redis;

$t0 = time();
$r = $t->http(GET => '/api/v1/healthz', timeout => 10);
$took = time() - $t0;

is($r->{status}, 503, 'redis down: 503');
is($r->{json}{redis}, 'unreachable', 'redis down: named');
is($r->{json}{postgres}, 'ok', 'redis down: postgres still ok');
ok($took < 2, sprintf('redis down: answered promptly (%.2fs)', $took));

$t->start_redis;
ok(wait_until(\&all_healthy, timeout => 10),
   'redis back: 200, nginx untouched');

# --- Redis frozen: commands time out, the connection is remade -----------

kill 'STOP', $t->pid('redis');

$t0 = time();
$r = $t->http(GET => '/api/v1/healthz', timeout => 10);
$took = time() - $t0;

is($r->{status}, 503, 'redis frozen: 503');
is($r->{json}{redis}, 'timeout', 'redis frozen: timeout');
ok($took >= 0.8 && $took < 4,
   sprintf('redis frozen: ends at media_redis_timeout (%.2fs)', $took));

kill 'CONT', $t->pid('redis');
ok(wait_until(\&all_healthy, timeout => 10), 'redis thawed: 200 again');

like(slurp($t->dir . '/error.log'), qr/media redis drop: command timed out/,
     'redis timeout logged with its site tag');

# --- reload under a stream of requests -----------------------------------

my $result = $t->dir . '/stream.result';
my $pid = fork();
die "fork: $!" unless defined $pid;

if ($pid == 0) {
    # bounded by count and by time
    my ($sent, $bad) = (0, 0);
    my $end = time() + 30;
    while ($sent < 400 && time() < $end) {
        my $x = $t->http(GET => '/api/v1/healthz', timeout => 10);
        $sent++;
        $bad++ unless $x->{status} == 200;
    }
    open(my $fh, '>', $result) or exit 1;
    print $fh "$sent $bad\n";
    close $fh;
    POSIX::_exit(0);
}

for (1 .. 4) {
    sleep(0.5);
    $t->reload_nginx;
}

waitpid($pid, 0);
my ($sent, $bad) = split ' ', slurp($result);
ok($sent >= 50, "stream sent $sent requests across 4 reloads");
is($bad, 0, 'no request failed during reloads');

ok(healthy(), 'healthz 200 after reloads');

$t->finish;
done_testing;


sub healthy {
    my $x = $t->http(GET => '/api/v1/healthz', timeout => 5);
    return $x->{status} == 200;
}

# every nginx worker recovered: requests spread over them, so twenty in a
# row is what one stuck worker would not allow
sub all_healthy {
    for (1 .. 20) {
        return 0 unless healthy();
    }
    return 1;
}
