# `make run` (t/run.pl) in a directory of its own: Redis keeps an
# append-only file under it, and the service reaches PostgreSQL as a plain
# role (no superuser) that owns its tables; the module and the workers
# connect as that role.  Then `make stop`.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use Test::More;
use MediaTest qw(wait_until slurp);

my $root = "$FindBin::Bin/..";
my $var = tempdir('ngx_media_run_XXXXXX', TMPDIR => 1, CLEANUP => 0);
chmod 0755, $var;
$ENV{MEDIA_RUN_DIR} = $var;
my $build = $ENV{MEDIA_BUILD} || 'build';

my $out = `perl $root/t/run.pl start $build 2>&1`;
is($?, 0, 'make run started') or diag($out);

my %state = map { /^(\w+)=(.*)$/ ? ($1, $2) : () } split /\n/, slurp("$var/run.state");

# the harness, pointed at what run.pl started (it keeps the directory)
my $t = MediaTest->new(dir => $var);
$t->{ports}{$_} = $state{"port_$_"} for qw(http pg redis);

# --- Redis: append-only, under ./var --------------------------------------------

is($t->redis('CONFIG', 'GET', 'appendonly'), "appendonly\nyes", 'Redis: appendonly yes');
like($t->redis('CONFIG', 'GET', 'dir'), qr{^dir\n\Q$var\E/redis$}, 'its files under var/redis');
$t->redis('SET', 'run.t', 'kept');
ok(wait_until(sub { `cat $var/redis/appendonlydir/*.aof $var/redis/*.aof 2>/dev/null` =~ /run\.t/ },
              timeout => 5), 'a write reaches the append-only file');

# --- PostgreSQL: a plain role that owns its tables ------------------------------

my ($conninfo) = slurp("$var/nginx.conf") =~ /^\s*media_pg "([^"]+)";/m;
ok($conninfo, "the configured conninfo: $conninfo");
is(`psql -X -A -t -d '$conninfo' -c "SELECT rolsuper FROM pg_roles WHERE rolname = current_user" 2>&1`,
   "f\n", 'the configured role is not a superuser');
is($t->psql('media', "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            . " AND tableowner <> current_user"), "0\n", 'and owns every table');

# the module (at its first query) and the workers hold connections: none
# of them as a superuser
$t->http(GET => '/api/v1/healthz');
ok(wait_until(sub {
    ($t->psql('media', "SELECT count(DISTINCT coalesce(application_name, ''))"
              . " FROM pg_stat_activity WHERE datname = 'media'") // 0) >= 2
}, timeout => 10), 'the module and the workers are connected');
is($t->psql('media', "SELECT count(*) FROM pg_stat_activity a JOIN pg_roles r"
            . " ON r.oid = a.usesysid WHERE a.datname = 'media' AND r.rolsuper"),
   "0\n", 'no session on the database is a superuser');

is($t->http(GET => '/api/v1/healthz')->{status}, 200, 'healthz 200');

# --- billing: media-billing is pointed at t/stripe-fake ----------------------------

my $uid = $t->signup('run@example.com')->{user}{id};
chomp(my $job = $t->psql('media', "INSERT INTO jobs (type, user_id, payload)"
    . " VALUES ('billing', '$uid', '{\"action\":\"checkout\",\"plan\":\"basic\"}')"
    . ' RETURNING id') // '');
$t->redis('XADD', 'media:billing', '*', 'job', $job);
my $url;
ok(wait_until(sub { $url = $t->psql('media', "SELECT result->>'url' FROM jobs"
                                    . " WHERE id = '$job' AND status = 'done'") },
              timeout => 30), 'a checkout job is done');
like($url // '', qr{^http://127\.0\.0\.1:$state{port_stripe}/checkout/cs_test_\w+$},
     'by the Stripe fake');

# --- make stop --------------------------------------------------------------------

$out = `perl $root/t/run.pl stop $build 2>&1`;
like($out, qr/stopped/, 'make stop');
ok(!kill(0, $state{nginx}) && !kill(0, $state{redis}) && !kill(0, $state{stripe}),
   'nginx, Redis and the Stripe fake are gone');

remove_tree($var) unless Test::More->builder->is_passing == 0;

done_testing;
