# The API location: healthz, the JSON error model, 404 and 405, request
# ids, and the workers starting and stopping cleanly.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
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

# --- healthz -------------------------------------------------------------

my $r = $t->http(GET => '/api/v1/healthz');
is($r->{status}, 200, 'healthz: 200');
is($r->{json}{postgres}, 'ok', 'healthz: postgres ok');
is($r->{json}{redis}, 'ok', 'healthz: redis ok');
my @migrations = glob($t->root . '/sql/[0-9]*.sql');
my ($last) = $migrations[-1] =~ m{/0*(\d+)_[^/]*$};
is($r->{json}{schema_version}, $last,
   'healthz: schema version is the last migration');
like($r->{headers}{'x-request-id'}, qr/^[0-9a-f]{32}$/, 'X-Request-Id');
# the harness' stand-in workers (t/healthz.t has real ones)
is_deeply($r->{json}{workers}, { transcode => 1, billing => 1 },
          'healthz: workers seen, by type');

# repeated: state must not leak between requests on pooled connections
my $all = 1;
for (1 .. 50) {
    my $x = $t->http(GET => '/api/v1/healthz');
    $all &&= $x->{status} == 200 && $x->{json}{postgres} eq 'ok';
}
ok($all, 'healthz: 50 in a row');

$r = $t->http(HEAD => '/api/v1/healthz');
is($r->{status}, 200, 'HEAD healthz: 200');
is($r->{content} // '', '', 'HEAD healthz: no body');

# --- refusals ------------------------------------------------------------

$r = $t->http(GET => '/api/v1/nope');
is($r->{status}, 404, 'unknown route: 404');
is($r->{json}{error}{code}, 'not_found', 'unknown route: code');
like($r->{json}{error}{message}, qr{/api/v1/nope}, 'unknown route: names it');
is($r->{json}{error}{request_id}, $r->{headers}{'x-request-id'},
   'error carries the request id');
is($r->{headers}{'cache-control'}, 'no-store', 'errors are not cached');

$r = $t->http(POST => '/api/v1/healthz', body => '{}');
is($r->{status}, 405, 'wrong method: 405');
is($r->{headers}{allow}, 'GET, HEAD', 'wrong method: Allow');
is($r->{json}{error}{code}, 'method_not_allowed', 'wrong method: code');
like($r->{json}{error}{message}, qr/POST is not allowed/,
     'wrong method: names it');

my $id = $r->{json}{error}{request_id};
like(slurp($t->dir . '/error.log'),
     qr/media api: 405 method_not_allowed: .*request_id: $id/,
     'error log line carries the request id');

# --- schema missing: a clear 503, not a crash ----------------------------

$t->psql('media', 'ALTER TABLE media_schema_migrations RENAME TO x');
$r = $t->http(GET => '/api/v1/healthz');
is($r->{status}, 503, 'no schema: 503');
is($r->{json}{postgres}, 'no_schema', 'no schema: says so');
like($r->{json}{error}{message}, qr/run media-migrate/,
     'no schema: tells what to do');
$t->psql('media', 'ALTER TABLE x RENAME TO media_schema_migrations');

# --- workers -------------------------------------------------------------

for my $w (qw(transcoder exporter billing)) {
    $t->start_worker($w);
    ok(wait_until(sub {
        slurp($t->dir . "/$w.log") =~ /ready: postgres and redis connected/
    }, timeout => 10), "$w: connected");
}

like($t->redis('XINFO', 'GROUPS', 'media:transcode'), qr/transcoders/,
     'transcoder made its consumer group');
like($t->redis('XINFO', 'GROUPS', 'media:billing'), qr/billing/,
     'billing made its consumer group');
like($t->redis('XINFO', 'GROUPS', 'media:export'), qr/exporters/,
     'exporter made its consumer group');

for my $w (qw(transcoder exporter billing)) {
    my $status = $t->stop_proc($w, 'TERM');
    is($status, 0, "$w: SIGTERM exits 0");
    like(slurp($t->dir . "/$w.log"), qr/stopping: SIGTERM/, "$w: says so");
}

$t->finish;
done_testing;
