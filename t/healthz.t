# healthz says what stops uploads, precisely: no transcoder alive (the
# workers' heartbeat), PostgreSQL refusing our credentials, the database
# or its schema missing, PostgreSQL not reachable, Redis down.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
$t->start_postgres;
$t->start_redis(heartbeat => 0);

my $tpl = <<'EOF';
%%MAIN%%
worker_processes 1;
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

# the configuration with media_pg's conninfo changed by $edit
sub conf_pg {
    my ($edit) = @_;
    my $file = $t->write_conf($tpl);
    my $c = slurp($file);
    $c =~ s/^(media_pg ")([^"]+)/$1 . $edit->($2)/me or die 'no media_pg';
    open(my $fh, '>', $file) or die $!;
    print $fh $c;
    close $fh;
}

sub healthz { $t->http(GET => '/api/v1/healthz') }

$t->write_conf($tpl);
$t->migrate;
$t->start_nginx;

# --- workers: none, then real ones, then gone again -----------------------

my $r = healthz();
is($r->{status}, 503, 'no worker: 503');
is_deeply($r->{json}{workers}, { transcode => 0, billing => 0 },
          'no worker: none counted');
is($r->{json}{postgres}, 'ok', 'no worker: postgres still ok');
like($r->{json}{error}{message}, qr/^workers: no transcoder seen/,
     'no worker: names the workers');

$t->start_worker('billing');
ok(wait_until(sub { (healthz()->{json}{workers}{billing} // 0) >= 1 },
              timeout => 15), 'billing seen by its heartbeat');
is(healthz()->{status}, 503, 'billing alone: still 503, uploads would wait');

$t->start_worker('transcoder');
ok(wait_until(sub { healthz()->{status} == 200 }, timeout => 15),
   'a transcoder: 200');
$r = healthz();
cmp_ok($r->{json}{workers}{transcode}, '>=', 1, 'transcoders counted');
is($r->{json}{workers}{billing}, 1, 'one billing consumer');
ok(!$r->{json}{error}, 'no error object on 200');
like($t->redis('ZRANGE', 'media:workers:transcode', 0, -1),
     qr/^\S+-\d+$/m, 'a member is a consumer name (host-pid)');

# SIGTERM: the consumers take their beats away as they stop
is($t->stop_proc('transcoder', 'TERM'), 0, 'transcoder stops');
$r = healthz();
is($r->{status}, 503, 'transcoder stopped: 503 at once');
is($r->{json}{workers}{transcode}, 0, 'transcoder stopped: none counted');

# a consumer killed without a word ages out: a beat older than 30 s
$t->redis('ZADD', 'media:workers:transcode', (time() - 31) * 1000, 'old-1');
is(healthz()->{json}{workers}{transcode}, 0, 'a beat 31 s old is not alive');
$t->redis('ZADD', 'media:workers:transcode', (time() - 20) * 1000, 'old-1');
is(healthz()->{json}{workers}{transcode}, 1, 'a beat 20 s old is');
$t->redis('ZREM', 'media:workers:transcode', 'old-1');

$t->stop_proc('billing', 'TERM');

# from here on, PostgreSQL's part: a stand-in transcoder
$t->stand_in_workers(1);
is(healthz()->{status}, 200, 'stand-in workers: 200');

# --- schema missing: the database, then the migrations ---------------------

conf_pg(sub { $_[0] =~ s/dbname=media/dbname=nosuch/r });
ok($t->reload_nginx_settled, 'reload: a database that does not exist');
$r = healthz();
is($r->{status}, 503, 'no database: 503');
is($r->{json}{postgres}, 'no_schema', 'no database: no_schema');
like($r->{json}{error}{message}, qr/create the database .* media-migrate/,
     'no database: says what to do');

conf_pg(sub { $_[0] });
ok($t->reload_nginx_settled, 'reload: the database back');
is(healthz()->{status}, 200, 'database back: 200');

$t->psql('media', 'ALTER TABLE media_schema_migrations RENAME TO x');
$r = healthz();
is($r->{json}{postgres}, 'no_schema', 'migrations table missing: no_schema');
$t->psql('media', 'ALTER TABLE x RENAME TO media_schema_migrations');

# --- authentication: no password, a wrong one, the right one --------------

my $hba = $t->dir . '/pg/data/pg_hba.conf';
open(my $fh, '>', $hba) or die "$hba: $!";
print $fh "host all postgres 127.0.0.1/32 trust\n"
        . "host all media 127.0.0.1/32 scram-sha-256\n";
close $fh;
$t->psql_admin('postgres', "ALTER ROLE media PASSWORD 'right'")
    // die 'alter role';
$t->psql_admin('postgres', 'SELECT pg_reload_conf()') // die 'reload';

# pooled connections stay authenticated: new workers make new ones
ok($t->reload_nginx_settled, 'reload: PostgreSQL now wants a password');
$r = healthz();
is($r->{status}, 503, 'no password given: 503');
is($r->{json}{postgres}, 'auth_failed', 'no password given: auth_failed');
like($r->{json}{error}{message}, qr/authentication failed, check/,
     'auth_failed: says where to look');

conf_pg(sub { "$_[0] password=wrong" });
ok($t->reload_nginx_settled, 'reload: a wrong password');
$r = healthz();
is($r->{json}{postgres}, 'auth_failed', 'wrong password: auth_failed');
like(slurp($t->dir . '/error.log'),
     qr/media healthz: postgres auth_failed: .*password authentication failed/,
     'wrong password: the server\'s words in the error log');

conf_pg(sub { "$_[0] password=right" });
ok($t->reload_nginx_settled, 'reload: the right password');
is(healthz()->{status}, 200, 'right password: 200');

# --- unreachable ---------------------------------------------------------

conf_pg(sub { $_[0] =~ s/port=\d+/'port=' . $t->port('nothing')/er });
ok($t->reload_nginx_settled, 'reload: a port nobody listens on');
$r = healthz();
is($r->{status}, 503, 'unreachable: 503');
is($r->{json}{postgres}, 'unreachable', 'unreachable: says so');
like($r->{json}{error}{message}, qr/postgres: unreachable/,
     'unreachable: names it');

# --- Redis down: workers unknown -------------------------------------------

conf_pg(sub { "$_[0] password=right" });
ok($t->reload_nginx_settled, 'reload: PostgreSQL back');
$t->stop_redis;
$r = $t->http(GET => '/api/v1/healthz', timeout => 15);
is($r->{status}, 503, 'redis down: 503');
isnt($r->{json}{redis}, 'ok', "redis down: $r->{json}{redis}");
ok(!exists $r->{json}{workers}, 'redis down: workers not counted');
like($r->{json}{error}{message}, qr/^redis: /, 'redis down: names it');

$t->finish;
done_testing;
