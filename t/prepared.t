# Every query the module sends is a named statement, parsed once per pooled
# connection and then only bound and executed; a connection made after a
# restart prepares again.  PostgreSQL's own log (every statement logged,
# with its protocol step) is the witness.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

open(my $fh, '>', "$dir/jwt.key") or die $!;
print $fh 'k' x 40, "\n";
close $fh;

$t->start_postgres;
$t->start_redis;

$t->write_conf(<<'EOF');
%%MAIN%%
worker_processes 1;
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;
    media_pg_pool 2;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /api/ {
            media_api;
        }
    }
}
EOF

$t->migrate;
$t->psql_admin('postgres', 'ALTER SYSTEM SET log_min_duration_statement = 0');
$t->psql_admin('postgres', 'SELECT pg_reload_conf()');
$t->start_nginx;

my $log = "$dir/pg/postgres.log";
my $ann = $t->signup('ann@example.com');

sub list {
    return $t->http(GET => '/api/v1/media?limit=5',
                    headers => { Authorization => "Bearer $ann->{access_token}" });
}

my $n = 0;
for (1 .. 30) {
    $n++ if list()->{status} == 200;
    # a second apart now and then, so the access phase reads the user again
    select(undef, undef, undef, 0.05);
}
is($n, 30, '30 library pages');

# a query the module sends is never an unnamed statement
ok(wait_until(sub { count(qr/execute media_library_list\b/) >= 30 },
              timeout => 5), 'the list ran as the named statement')
    or diag(count(qr/execute media_library_list\b/));
is(count(qr/execute <unnamed>/), 0, 'no unnamed statement from anyone');
my $parses = count(qr/parse media_library_list\b/);
ok($parses >= 1 && $parses <= 2,
   "parsed once per pooled connection ($parses for a pool of 2)");
ok(count(qr/parse media_auth_user_local\b/) <= 2,
   'the access phase statement too');

# the server restarts: new connections prepare again, answers go on
$t->stop_postgres;
$t->pg_ctl('start');
ok(wait_until(sub { list()->{status} == 200 }, timeout => 10),
   'after a PostgreSQL restart the list answers again');
ok(wait_until(sub { count(qr/parse media_library_list\b/) > $parses },
              timeout => 5), 'its statement was prepared again');

$t->finish;
done_testing;


sub count {
    my ($re) = @_;
    my $text = -e $log ? slurp($log) : '';
    my @m = $text =~ /$re/g;
    return scalar @m;
}
