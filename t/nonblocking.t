# The event loop never blocks on PostgreSQL.
#
# With one nginx worker process, a healthz request is made to wait behind a
# table lock held by another session.  While it waits, other requests on the
# same worker must be answered at once; when the lock goes, the waiting
# request completes correctly.  Then the same with more waiting requests
# than pool connections, and a query that outlives media_pg_timeout.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
$t->start_postgres;
$t->start_redis;

$t->write_conf(<<'EOF');
%%MAIN%%
worker_processes 1;
events {}
http {
    %%HTTP%%
    media_pg_pool 2;
    media_pg_timeout 4s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
        location = /static {
            return 200 "static\n";
        }
    }
}
EOF

$t->migrate;
$t->start_nginx;

is($t->http(GET => '/api/v1/healthz')->{status}, 200, 'healthz before');

# --- one request waits on a lock, others go on ---------------------------

my $lock = lock_table();

my $waiting = $t->http_start(GET => '/api/v1/healthz');
ok(wait_until(sub { blocked_queries() >= 1 }, timeout => 5),
   'healthz query is waiting on the lock in PostgreSQL');

my $t0 = time();
my $r = $t->http(GET => '/static', timeout => 5);
my $static = time() - $t0;
is($r->{status}, 200, 'static request on the same worker answered');

$t0 = time();
$r = $t->http(GET => '/api/v1/nope', timeout => 5);
my $api = time() - $t0;
is($r->{status}, 404, 'API request on the same worker answered');

# a blocking worker would hold these until the lock is released (seconds);
# the bound is loose so that a loaded machine or ASan does not fail it
ok($static < 1.5 && $api < 1.5,
   sprintf('not delayed by the waiting query (%.3fs, %.3fs)', $static, $api));

unlock($lock);

my ($status, $body) = $t->http_finish($waiting, 10);
is($status, 200, 'waiting healthz completes after the lock is released');
like($body, qr/"postgres":"ok"/, 'waiting healthz: postgres ok');

# --- more waiting requests than pool connections -------------------------

$lock = lock_table();

my @many = map { $t->http_start(GET => '/api/v1/healthz') } 1 .. 5;
ok(wait_until(sub { blocked_queries() >= 2 }, timeout => 5),
   'pool of 2: two queries wait in PostgreSQL, the rest in line');
is(blocked_queries(), 2, 'no more connections than media_pg_pool');

is($t->http(GET => '/static', timeout => 5)->{status}, 200,
   'worker still answers while its pool is exhausted');

unlock($lock);

my $ok = grep { ($t->http_finish($_, 10))[0] == 200 } @many;
is($ok, 5, 'all five complete once the lock is gone');

# --- a query slower than media_pg_timeout --------------------------------

# the server cancels it first (statement_timeout is 90% of ours), so the
# connection is kept
$lock = lock_table();

$t0 = time();
$r = $t->http(GET => '/api/v1/healthz', timeout => 15);
my $took = time() - $t0;

is($r->{status}, 503, 'slow query: 503');
is($r->{json}{postgres}, 'timeout', 'slow query: postgres timeout');
ok($took >= 3 && $took < 8, sprintf('ends near media_pg_timeout (%.1fs)',
                                    $took));
like(slurp($t->dir . '/error.log'),
     qr/media healthz: postgres timeout: .*statement timeout/,
     'the server cancelled the statement');

unlock($lock);

is($t->http(GET => '/api/v1/healthz')->{status}, 200,
   'pool recovers after the timeout');

# --- a server that stops answering: our own timer ends it -----------------

my @backends = split /\n/, $t->psql('media', "SELECT pid FROM "
                    . "pg_stat_activity WHERE application_name = 'ngx_media'");
ok(@backends >= 1, 'module has pooled connections: ' . scalar @backends);
kill 'STOP', @backends;

$t0 = time();
$r = $t->http(GET => '/api/v1/healthz', timeout => 15);
$took = time() - $t0;

kill 'CONT', @backends;

is($r->{status}, 503, 'frozen backend: 503');
is($r->{json}{postgres}, 'timeout', 'frozen backend: postgres timeout');
ok($took >= 3.5 && $took < 8, sprintf('frozen backend: ends at '
                                      . 'media_pg_timeout (%.1fs)', $took));
like(slurp($t->dir . '/error.log'),
     qr/media pg timeout: no result after 4000 ms/,
     'timeout logged with its site tag');

ok(wait_until(sub { $t->http(GET => '/api/v1/healthz')->{status} == 200 },
              timeout => 10), 'healthz 200 again after the backend resumes');

$t->finish;
done_testing;


# a session holding an exclusive lock on the table healthz reads
sub lock_table {
    my $s = $t->psql_session;
    print $s "BEGIN;\nLOCK TABLE media_schema_migrations "
             . "IN ACCESS EXCLUSIVE MODE;\n";

    wait_until(sub {
        ($t->psql('media', "SELECT count(*) FROM pg_locks l JOIN pg_class c "
                  . "ON c.oid = l.relation WHERE c.relname = "
                  . "'media_schema_migrations' AND l.mode = "
                  . "'AccessExclusiveLock' AND l.granted") // 0) == 1
    }, timeout => 10) or die 'could not take the lock';

    return $s;
}

sub unlock {
    my ($s) = @_;
    print $s "COMMIT;\n";
    close $s;
}

# queries from the module waiting on a lock
sub blocked_queries {
    my $n = $t->psql('media', "SELECT count(*) FROM pg_stat_activity "
                     . "WHERE application_name = 'ngx_media' "
                     . "AND wait_event_type = 'Lock'");
    return defined $n ? $n + 0 : -1;
}
