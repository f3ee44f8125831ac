# media_pg_replica: a streaming standby made by pg_basebackup -R from the
# test's cluster serves the statements marked as reads (here a library
# list and a public profile) of GET requests; everything else goes to the
# primary.  Which server ran what is read from each server's own log
# (log_statement=all: "execute media_<statement>").  Read-your-writes: a
# user who just wrote reads from the primary for media_pg_replica_max_lag
# plus a second.  A stopped replica: the reads fall back to the primary
# with no error to the client, and come back once it answers again; a
# replica whose replay is paused beyond the bound is left alone too.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

$t->{pg_options} = '-c log_statement=all';
$t->start_postgres;
$t->start_redis;

my $conf = <<'EOF';
%%MAIN%%
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;
    %%REPLICA%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
    }
}
EOF
$t->jwt_key;

# --- refusals ----------------------------------------------------------------

for my $case (
    [ 'media_pg_replica "nokey";', qr/invalid media_pg_replica "nokey": missing "="/ ],
    [ "media_pg_replica \"dbname=a\";\n    media_pg_replica \"dbname=b\";",
      qr/"media_pg_replica" directive is duplicate/ ],
    [ 'media_pg_replica_max_lag soon;', qr/invalid media_pg_replica_max_lag "soon"/ ],
    [ 'media_pg_replica_max_lag 0;', qr/invalid media_pg_replica_max_lag "0"/ ],
) {
    write_conf($case->[0]);
    my ($ok, $out) = $t->nginx_test;
    ok(!$ok && $out =~ $case->[1], "nginx -t refuses: $case->[0]") or diag($out);
}

# without media_pg: the replica alone is refused
write_conf('media_pg_replica "host=127.0.0.1";');
my $c = slurp($t->conf_file);
$c =~ s/^media_pg "[^"]*";\n//m;
open(my $fh, '>', $t->conf_file) or die;
print $fh $c;
close $fh;
my ($ok, $out) = $t->nginx_test;
ok(!$ok && $out =~ /media_pg_replica needs media_pg: the replica only serves reads/,
   'nginx -t refuses media_pg_replica without media_pg') or diag($out);

# --- the standby -----------------------------------------------------------------

write_conf('');
$t->migrate;
$t->start_pg_replica('pg-replica');
ok(1, 'a streaming standby runs');

write_conf('media_pg_replica "' . $t->pg_replica_conninfo('pg-replica')
           . "\";\n    media_pg_replica_max_lag 2s;");
($ok, $out) = $t->nginx_test;
ok($ok, 'nginx -t accepts media_pg_replica') or diag($out);
$t->start_nginx;

my $primary = "$dir/pg/postgres.log";
my $replica = "$dir/pg-replica/postgres.log";

my $user = $t->signup('r@example.com');
my %auth = (Authorization => "Bearer $user->{access_token}");

my $r = $t->http(PATCH => '/api/v1/me',
                 headers => { %auth, 'Content-Type' => 'application/json' },
                 body => '{"handle":"reader"}');
is($r->{status}, 200, 'a write: PATCH /me');
is(runs($replica, 'pages_me_patch'), 0, 'not on the replica');
is(runs($primary, 'pages_me_patch'), 1, 'on the primary');

# read-your-writes: this user just wrote
my ($p0, $s0) = (runs($primary, 'library_list'), runs($replica, 'library_list'));
$r = $t->http(GET => '/api/v1/media', headers => \%auth);
is($r->{status}, 200, 'GET /media right after the write');
is(runs($primary, 'library_list') - $p0, 1, 'read from the primary (read-your-writes)');
is(runs($replica, 'library_list') - $s0, 0, 'not from the replica');

# the window is media_pg_replica_max_lag (2 s) plus the measuring second
ok(wait_until(sub {
    my $s = runs($replica, 'library_list');
    $t->http(GET => '/api/v1/media', headers => \%auth)->{status} == 200
        && runs($replica, 'library_list') > $s;
}, timeout => 10, interval => 0.5), 'once the window passed, the replica serves the list');

my $profile = $t->http(GET => '/api/v1/users/reader');
is($profile->{status}, 200, 'an anonymous read of a profile');
ok(runs($replica, 'pages_user_get') >= 1, 'served by the replica');
is(runs($primary, 'pages_user_get'), 0, 'not by the primary');

like($t->psql_at('pg-replica', 'postgres',
                 "SELECT string_agg(DISTINCT application_name, ',') FROM pg_stat_activity"
                 . " WHERE datname = 'media' AND usename = 'media'") // '',
     qr/ngx_media/, "pg_stat_activity on the standby: the module's connections");
like($t->psql_at('pg-replica', 'postgres', 'SELECT pg_is_in_recovery()') // '', qr/^t/,
     'and it is a standby');

# nothing but the marked reads and the lag measure ever ran there
my %ran = map { $_ => 1 } slurp($replica) =~ /execute media_(\w+)/g;
my @writes = grep { !/^(library_list|library_get|pages_\w+_get|pages_user|pages_media|search_\w+|catalog_\w+|pg_replica_lag)$/ } sort keys %ran;
is("@writes", '', 'no other statement reached the replica (' . join(' ', sort keys %ran) . ')');

# --- the replica stops: reads fall back, no error --------------------------------

$t->stop_pg_replica('pg-replica');
my $p1 = runs($primary, 'library_list');
my @st = map { $t->http(GET => '/api/v1/media', headers => \%auth)->{status} } 1 .. 5;
is("@st", '200 200 200 200 200', 'the replica stopped: every read still 200');
is(runs($primary, 'library_list') - $p1, 5, 'each served by the primary');
is($t->http(GET => '/api/v1/users/reader')->{status}, 200, 'the profile too');
like(slurp("$dir/error.log"), qr/media pg replica: .*(reading from|reads go to) the primary/s,
     'the fallback is logged');

$t->start_pg_replica('pg-replica');
ok(wait_until(sub {
    my $s = runs($replica, 'library_list');
    $t->http(GET => '/api/v1/media', headers => \%auth)->{status} == 200
        && runs($replica, 'library_list') > $s;
}, timeout => 15, interval => 0.5), 'the replica back: it serves reads again, no reload');
like(slurp("$dir/error.log"), qr/media pg replica: answering again/, 'and that is logged');

# --- lagging beyond media_pg_replica_max_lag ----------------------------------------

$t->psql_at('pg-replica', 'postgres', 'SELECT pg_wal_replay_pause()') // die 'pause';
$r = $t->http(PATCH => '/api/v1/me',
              headers => { %auth, 'Content-Type' => 'application/json' },
              body => '{"display_name":"after the pause"}');
is($r->{status}, 200, 'a write the paused replica does not replay');

# anonymous reads (no read-your-writes): once the lag passes 2 s they go
# to the primary, and see the write
ok(wait_until(sub {
    my $p = runs($primary, 'pages_user_get');
    my $g = $t->http(GET => '/api/v1/users/reader');
    $g->{status} == 200 && runs($primary, 'pages_user_get') > $p
        && ($g->{json}{user}{display_name} // '') eq 'after the pause';
}, timeout => 15, interval => 0.5), 'a replica lagging past the bound: reads from the primary, fresh');

$t->psql_at('pg-replica', 'postgres', 'SELECT pg_wal_replay_resume()') // die 'resume';
ok(wait_until(sub {
    my $s = runs($replica, 'pages_user_get');
    $t->http(GET => '/api/v1/users/reader')->{status} == 200
        && runs($replica, 'pages_user_get') > $s;
}, timeout => 15, interval => 0.5), 'caught up: the replica serves them again');

$t->finish;
done_testing;


# how many times a server ran a statement of ours
sub runs {
    my ($log, $name) = @_;
    my $n = () = slurp($log) =~ /execute media_\Q$name\E\b/g;
    return $n;
}

sub write_conf {
    my ($replica) = @_;
    (my $tpl = $conf) =~ s/%%REPLICA%%/$replica/;
    $t->write_conf($tpl);
}
