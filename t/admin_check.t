# media-admin check: a line for each part of an installation, FAIL with
# what to do when a part is missing or wrong, exit status 1 then: keys,
# PostgreSQL and its schema version, Redis and its persistence, storage
# writable by the workers' user, workers alive by their heartbeat.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
# an empty cluster: what media-admin check says before the migrations
$t->start_postgres(migrated => 0);
$t->start_redis(heartbeat => 0, persist => 1);

my $key = $t->jwt_key;
my $tpl = <<"EOF";
%%MAIN%%
events {}
http {
    %%HTTP%%
    media_jwt_key $key;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
    }
}
EOF
$t->write_conf($tpl);

my $sql = $t->root . '/sql';
my ($last) = (glob("$sql/[0-9]*.sql"))[-1] =~ m{/0*(\d+)_[^/]*$};

# runs media-admin check; (exit status, output)
sub check {
    my (@args) = @_;
    my $cmd = join(' ', map { "'$_'" } $t->build_path('media-admin'), '-c',
                   $t->conf_file, 'check', '-d', $sql, @args);
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

# --- before the migrations, with no worker ------------------------------

my ($rc, $out) = check();
is($rc, 1, 'not set up: exit 1');
like($out, qr/^ok    keys: media_jwt_key \Q$key\E readable \(\d+ bytes\)$/m,
     'keys: the JWT key is readable');
like($out, qr/^FAIL  postgres: connected as media to media, no schema .*run media-migrate$/m,
     'postgres: no schema, says what to run');
like($out, qr/^ok    redis: reachable and persistent$/m,
     'redis: appendonly counts as persistent');
like($out, qr/^ok    storage: \S+ writable by (www-data|this user)$/m,
     'storage: writable');
like($out, qr/^FAIL  workers: no transcode consumer seen in the last 30 s: systemctl start media-transcoder\@1$/m,
     'workers: no transcoder, says what to start');
like($out, qr/^warn  workers: no export consumer/m,
     'workers: no exporter is a warning only');

# --- all well ----------------------------------------------------------

$t->migrate;
$t->start_worker('transcoder');
$t->start_worker('sweeper');
ok(wait_until(sub { (check())[0] == 0 }, timeout => 20),
   'migrated, transcoder and sweeper alive: exit 0');
($rc, $out) = check();
like($out, qr/^ok    postgres: connected as media to media, schema version $last$/m,
     'postgres: the last migration is applied');
like($out, qr/^ok    workers: transcode, \d+ alive$/m, 'workers: transcoders');
like($out, qr/^ok    workers: sweep, 1 alive$/m, 'workers: sweeper');
unlike($out, qr/^FAIL/m, 'no FAIL line');

# --- a migration not applied ---------------------------------------------

my $newer = $t->dir . '/sql';
make_path($newer);
symlink($_, "$newer/" . ($_ =~ m{([^/]+)$})[0]) for glob("$sql/*.sql");
open(my $fh, '>', "$newer/999_future.sql") or die $!;
close $fh;
($rc, $out) = (check('-d', $newer))[0, 1];
# the later -d wins
is($rc, 1, 'a migration not applied: exit 1');
like($out, qr/^FAIL  postgres: schema version $last, \S+ has up to 999: run media-migrate$/m,
     'a migration not applied: names the versions');

# --- keys ------------------------------------------------------------------

chmod 0644, $key;
($rc, $out) = check();
is($rc, 1, 'a key readable by all: exit 1');
like($out, qr/^FAIL  keys: media_jwt_key \Q$key\E is readable by every user: chmod o-r/m,
     'a key readable by all: says chmod');
chmod 0600, $key;

my $missing = $t->dir . '/url.key';
(my $with_url = $tpl) =~ s{(media_jwt_key [^;]+;)}{$1\n    media_url_key $missing;};
$t->write_conf($with_url);
($rc, $out) = check();
is($rc, 1, 'a key file missing: exit 1');
like($out, qr/^FAIL  keys: media_url_key \Q$missing\E: No such file or directory$/m,
     'a key file missing: named with the reason');
$t->write_conf($tpl);

# --- storage ---------------------------------------------------------------

SKIP: {
    skip 'not root: the storage check runs as this user', 2 unless $t->is_root;
    chown 0, 0, $t->dir . '/storage';
    chmod 0755, $t->dir . '/storage';
    ($rc, $out) = check();
    is($rc, 1, 'storage owned by root: exit 1');
    like($out, qr/^FAIL  storage: \S+ not writable by www-data: Permission denied; install -d -o www-data /m,
         'storage owned by root: says how to fix it');
    $t->make_storage;
}

($rc, $out) = check('-u', 'no-such-user-here');
like($out, $t->is_root ? qr/^FAIL  storage: no user no-such-user-here/m
                       : qr/^ok    storage: /m, 'storage: -u names the user');

# --- Redis not persistent, then gone ----------------------------------------

$t->redis('CONFIG', 'SET', 'appendonly', 'no');
($rc, $out) = check();
is($rc, 1, 'redis without persistence: exit 1');
like($out, qr/^FAIL  redis: reachable but not persistent .*appendonly yes/m,
     'redis without persistence: says what to set');

$t->stop_proc('transcoder', 'TERM');
$t->stop_proc('sweeper', 'TERM');
$t->stop_redis;
($rc, $out) = check();
is($rc, 1, 'redis down: exit 1');
like($out, qr/^FAIL  redis: unreachable at 127.0.0.1:\d+/m, 'redis down: named');
like($out, qr/^FAIL  workers: unknown/m, 'redis down: workers unknown');

# --- PostgreSQL: a wrong password, then down ------------------------------

$t->write_conf($tpl);
my $c = slurp($t->conf_file);
$c =~ s/(media_pg "[^"]+)/$1 password=wrong/;
my $hba = $t->dir . '/pg/data/pg_hba.conf';
open($fh, '>', $hba) or die $!;
print $fh "host all postgres 127.0.0.1/32 trust\n"
        . "host all media 127.0.0.1/32 scram-sha-256\n";
close $fh;
$t->psql_admin('postgres', "ALTER ROLE media PASSWORD 'right'");
$t->psql_admin('postgres', 'SELECT pg_reload_conf()');
open($fh, '>', $t->conf_file) or die $!;
print $fh $c;
close $fh;
($rc, $out) = check();
is($rc, 1, 'wrong password: exit 1');
like($out, qr/^FAIL  postgres: .*password authentication failed.*pg_hba.conf$/m,
     'wrong password: the server\'s words and where to look');

$t->stop_postgres;
($rc, $out) = check();
like($out, qr/^FAIL  postgres: .*(Connection refused|connect).*check media_pg/m,
     'postgres down: says so');

$t->finish;
done_testing;
