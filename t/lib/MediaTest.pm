package MediaTest;

# Test harness in the manner of nginx's own test suite (lib/Test/Nginx.pm):
# every .t file gets a throwaway PostgreSQL cluster, a Redis server,
# Debian's nginx loading our module with a configuration written inline in
# the .t file, and the workers, each on a free port on 127.0.0.1 under a
# temporary directory.  Everything is stopped and removed at the end, even
# when the test dies.  finish() checks that no log holds an [alert],
# [emerg], [crit] or sanitizer report.
#
# Test files run in parallel (`make test`: prove -j): each claims its ports
# with a lock file (port()), and starts from a copy of one PostgreSQL
# cluster made once with every migration applied (start_postgres).
#
# `make run` uses the same code with a persistent directory (./var).
#
# Core Perl modules only.

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA;
use Errno qw(EEXIST ESRCH);
use Exporter qw(import);
use Fcntl qw(O_CREAT O_EXCL O_WRONLY :flock);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(wait_until slurp log_messages played_while_transcoding);

my $ROOT = abs_path(__FILE__ . '/../../..');
my @ALL;   # every harness alive, for the END block

sub new {
    my ($class, %opt) = @_;

    my $build = $ENV{MEDIA_BUILD} || 'build';
    $build = "$ROOT/$build" unless $build =~ m{^/};

    my $self = bless {
        root   => $ROOT,
        build  => $build,
        keep   => $opt{dir} ? 1 : 0,
        procs  => {},
        ports  => {},
    }, $class;

    if ($opt{dir}) {
        make_path($opt{dir});
        $self->{dir} = abs_path($opt{dir});
    } else {
        $self->{dir} = tempdir('ngx_media_test_XXXXXX', TMPDIR => 1,
                               CLEANUP => 0);
    }

    # the nginx and postgres accounts must reach their files in here
    chmod 0755, $self->{dir};

    $self->{asan} = $build =~ /asan/ ? 1 : 0;

    push @ALL, $self;
    return $self;
}

sub dir  { $_[0]{dir} }
sub root { $_[0]{root} }

# a binary the build made: media-transcoder, mint, ...
sub build_path { "$_[0]{build}/$_[1]" }

# A free port on 127.0.0.1 for $name, the same one for the file's life.
# Test files run in parallel, and a port that is free when one file asks
# may be bound by another a moment later (postgres starts seconds after
# its port is chosen), so a port is claimed: a lock file made with O_EXCL
# in a directory every checkout on this machine shares, holding our pid,
# removed at the end.  Ports come from below the kernel's ephemeral range,
# so that no client socket of anything else is given one of ours.
my $PORT_DIR = '/tmp/ngx_media_test_ports';
my %CLAIMED;    # port => lock file, those this process made

sub port {
    my ($self, $name) = @_;
    return $self->{ports}{$name} //= _claim_port();
}

sub _port_range {
    my ($low) = split ' ', slurp('/proc/sys/net/ipv4/ip_local_port_range');
    $low = 32768 unless $low && $low =~ /^\d+$/ && $low > 12000;
    return ($low - 10000, $low - 1);
}

sub _claim_port {
    my ($lo, $hi) = _port_range();

    if (!-d $PORT_DIR) {
        mkdir $PORT_DIR;
        chmod 01777, $PORT_DIR;
    }

    for (1 .. 500) {
        my $port = $lo + int(rand($hi - $lo + 1));
        my $lock = "$PORT_DIR/$port";

        my $fh;
        if (!sysopen($fh, $lock, O_CREAT | O_EXCL | O_WRONLY, 0644)) {
            die "port lock $lock: $!" unless $! == EEXIST;
            _drop_stale_lock($lock);
            next;
        }
        print $fh "$$\n";
        close $fh;

        # something that is not a test may have it (make run, a service)
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => $port, ReuseAddr => 1);
        if (!$s) {
            unlink $lock;
            next;
        }
        close $s;

        $CLAIMED{$port} = $lock;
        return $port;
    }

    die "no free port in $lo-$hi (locks in $PORT_DIR)";
}

# a lock whose process is gone (a test killed with SIGKILL) is removed; it
# is moved aside first, and put back if it turns out to be a live claim
# made since it was read
sub _drop_stale_lock {
    my ($lock) = @_;

    my ($pid) = slurp($lock) =~ /^(\d+)/ or return;
    return if kill(0, $pid) || $! != ESRCH;

    my $aside = "$lock.stale.$$";
    rename($lock, $aside) or return;
    my ($now) = slurp($aside) =~ /^(\d+)/;
    if ($now && $now != $pid) {
        link($aside, $lock);
    }
    unlink $aside;
}

sub _release_ports {
    for my $port (keys %CLAIMED) {
        my $lock = delete $CLAIMED{$port};
        my ($pid) = slurp($lock) =~ /^(\d+)/;
        unlink $lock if $pid && $pid == $$;
    }
}

# --- processes -----------------------------------------------------------

sub is_root { $> == 0 }

# run as the postgres account when we are root: initdb refuses root
sub as_pg {
    my ($self, @cmd) = @_;
    return is_root() ? ('runuser', '-u', 'postgres', '--', @cmd) : @cmd;
}

# the newest PostgreSQL's programs; psql too, rather than Debian's
# /usr/bin/psql, a perl wrapper that reads the cluster list on each call
my $PG_BIN;

sub pg_bin {
    my ($self, $name) = @_;
    $PG_BIN //= (reverse sort { ($a =~ /(\d+)/)[0] <=> ($b =~ /(\d+)/)[0] }
                 glob('/usr/lib/postgresql/*/bin'))[0];
    die "PostgreSQL server binaries not found (apt-get install postgresql)"
        unless $PG_BIN;
    return "$PG_BIN/$name";
}

sub run {
    my ($self, @cmd) = @_;
    my $out = "$self->{dir}/cmd.log";
    my $rc = system(join(' ', map { _sq($_) } @cmd) . " >>$out 2>&1");
    return $rc == 0;
}

sub _sq {
    my ($s) = @_;
    return $s if $s =~ m{^[\w./:=,@+-]+$};
    $s =~ s/'/'\\''/g;
    return "'$s'";
}

# A browser test's first step: the whole file skipped, saying what to run,
# without Debian's chromium, playwright-core, or another file it needs
# (path => why it is missing, in pairs)
sub need_browser {
    my (@more) = @_;
    my $chromium = '/usr/bin/chromium';
    plan(skip_all => "$chromium is missing (make deps installs it)")
        unless -x $chromium;
    plan(skip_all => 'playwright-core is missing (make tools installs it)')
        unless -e "$ROOT/t/browser/node_modules/playwright-core/package.json";
    while (my ($path, $why) = splice(@more, 0, 2)) {
        plan(skip_all => $why) unless -e $path;
    }
}

# Runs a browser test driver (t/browser/*.js) with node for at most $secs,
# HOME in the test directory so the browser's profile stays there: a test
# that it exited 0, and what it printed, decoded ({} when no JSON).
sub browser {
    my ($self, $driver, $secs, @args) = @_;
    my $err = "$self->{dir}/browser.err";
    local $ENV{HOME} = $self->{dir};
    my $out = `timeout $secs node ${\ join(' ', map { _sq($_) } $driver, @args)} 2>${\ _sq($err)}`;
    my $rc = $? >> 8;
    my $seen = eval { decode_json($out) } // {};
    is($rc, 0, 'the browser run completed')
        or diag("exit $rc: " . ($seen->{error} // '(no JSON)') . "\n"
                . slurp($err));
    return $seen;
}

# What t/browser/progressive.js saw of a video of $secs played while it
# transcoded, the transcode held with $hold (hold_transcode) until it
# played, judged: every step done, Play offered and the video playing
# while the library said processing, the hold let go, the whole clip from
# its start, no stall of ours (stalls_where_listed), no fatal hls.js
# error, every /hls/ answer 200, a growing playlist read (no-cache), no
# script error nor CSP report.
sub played_while_transcoding {
    my ($seen, $hold, $secs) = @_;
    is_deeply($seen->{steps}, [
        'launch', 'sign up', 'upload', 'Play shows while it transcodes',
        'play from the start to the end',
    ], 'every step done') or diag('stopped at: ' . ($seen->{error} // ''));
    is($seen->{status_at_play}, 'processing', 'Play was offered while processing');
    ok(($seen->{played_while_processing} // 0) > 0,
       'it played while the library still said processing ('
       . ($seen->{played_while_processing} // 0) . ' samples)');
    ok($seen->{released} && !-e $hold,
       sprintf('the transcode let go once it played (at %.2f s, %.1f s in)',
               $seen->{released}{t} // 0, ($seen->{released}{at} // 0) / 1000));
    ok($seen->{play}{ended}, 'it played to the end')
        or diag(explain($seen->{last}));
    ok(abs(($seen->{last}{d} // 0) - $secs) < 1,
       'the whole clip: ' . ($seen->{last}{d} // 0) . ' s');
    ok(defined $seen->{play}{first} && $seen->{play}{first} < 1,
       'from the start (' . ($seen->{play}{first} // 'never') . ')');
    stalls_where_listed($seen);
    is_deeply([ grep { $_->{fatal} } @{ $seen->{hls_errors} // [] } ], [],
              'no fatal hls.js error');
    my @hls = @{ $seen->{responses} // [] };
    is_deeply([ grep { $_->{status} != 200 } @hls ], [], 'every /hls/ answer 200');
    ok((grep { $_->{path} =~ /index\.m3u8$/ && ($_->{cache} // '') eq 'no-cache' } @hls),
       'a growing playlist was read (no-cache)');
    is_deeply([ grep { /pageerror|Content Security Policy/ } @{ $seen->{console} // [] } ],
              [], 'no script error, no CSP report');
}

# The stalls t/browser/progressive.js saw while a growing stream played,
# judged: a stall (a 'waiting' event once playing, or a currentTime that
# stood still while not paused) fails where the media it stood at was
# already listed, the newest playlists of every rendition fetched before
# it reaching more than a second past the position or having ended, and
# the page ran on time (none of its 100 ms timers fired more than 250 ms
# late in the 3 s before) and the player held less than half a second
# past the position: the player's or the server's fault.  Any other stall
# is the machine's, which a loaded one (CI's, at a load average of 18 on
# 2 cores) can cause: a paced transcode running behind the player, or a
# browser starved of CPU (its page late, or its decoder not playing what
# it held).  Every stall is printed with diag.  Three tests.
sub stalls_where_listed {
    my ($seen) = @_;
    for my $kind ([ stalls => 'no stall (no waiting event once playing)' ],
                  [ frozen => 'currentTime never stood still while playing' ]) {
        my ($key, $name) = @$kind;
        my @all = @{ $seen->{$key} // [] };
        my $ours = sub {
            ($_[0]{ended} || $_[0]{listed} > $_[0]{t} + 1) && !$_[0]{late}
                && ($_[0]{ahead} // 0) < 0.5
        };
        is_deeply([ grep { $ours->($_) } @all ], [],
                  "$name where the media was listed and the page on time");
        diag(sprintf('%s at %.2f s, %.1f s in: %s', $key, $_->{t},
                     $_->{at} / 1000, _stall_why($_, $ours->($_))))
            for @all;
    }
    ok(defined $seen->{stalls} && defined $seen->{frozen}, 'stalls were watched');
}

# what stalls_where_listed says of a stall, ours or the machine's
sub _stall_why {
    my ($s, $ours) = @_;
    my $ahead = $s->{ahead} // 0;
    return sprintf('%.2f s listed%s, the page on time, %.2f s buffered ahead',
                   $s->{listed}, $s->{ended} ? ' (ended)' : '', $ahead)
        if $ours;
    return "the page's timers ran up to $s->{late} ms late" if $s->{late};
    return sprintf('%.2f s buffered ahead: the browser did not play what it '
                   . 'held', $ahead) if $ahead >= 0.5;
    return sprintf('the transcode was behind (%.2f s listed)', $s->{listed});
}

# fork + exec with output to a log file; returns the pid
sub spawn {
    my ($self, $name, $env, @cmd) = @_;

    my $log = "$self->{dir}/$name.log";
    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        setpgrp(0, 0) if $self->{keep};    # survive `make run` ending
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>>', $log) or die "$log: $!";
        open(STDERR, '>&', \*STDOUT);
        %ENV = (%ENV, %$env);
        exec(@cmd) or die "exec $cmd[0]: $!";
    }

    $self->{procs}{$name} = $pid;
    return $pid;
}

sub stop_proc {
    my ($self, $name, $signal) = @_;

    my $pid = delete $self->{procs}{$name} or return;
    kill($signal || 'TERM', $pid);

    my $status = _reap($pid, 15);
    if (!defined $status) {
        kill('KILL', $pid);
        $status = _reap($pid, 5);
    }
    return $status;
}

# waits for a child of ours (or any pid) to end; undef on timeout
sub _reap {
    my ($pid, $timeout) = @_;
    my $end = time() + $timeout;

    while (time() < $end) {
        my $r = waitpid($pid, WNOHANG);
        return $? if $r == $pid;
        return 0 if $r == -1 && !kill(0, $pid);
        sleep(0.05);
    }
    return undef;
}

sub pid { $_[0]{procs}{$_[1]} }

# bounded wait for a condition; returns its last value
sub wait_until {
    my ($cond, %opt) = @_;
    my $end = time() + ($opt{timeout} || 10);
    my $v;

    while (1) {
        $v = $cond->();
        return $v if $v || time() >= $end;
        sleep($opt{interval} || 0.1);
    }
}

# a worker's log (one JSON object a line) as "level: message" lines; a
# line that is not JSON is kept as it is
sub log_messages {
    my ($text) = @_;
    return join '', map { my $j = eval { JSON::PP::decode_json($_) };
                          ref $j eq 'HASH' ? "$j->{level}: $j->{message}\n"
                                           : "$_\n" } split /\n/, $text;
}

sub slurp {
    my ($file) = @_;
    open(my $fh, '<', $file) or return '';
    local $/;
    return scalar <$fh>;
}

# --- PostgreSQL ----------------------------------------------------------

# the service's role: it owns its database and tables and is nothing more
# (no superuser, no CREATEDB, no CREATEROLE); the cluster's superuser is
# "postgres", used only to make that role and its database
sub pg_conninfo {
    my ($self) = @_;
    return "host=127.0.0.1 port=" . $self->port('pg')
           . " dbname=media user=media connect_timeout=5";
}

# fsync => 1: commits reach the disk before they return, as in production
# (benchmarks of durable writes); tests run without.
#
# The cluster is a copy of a template with every migration applied
# (_pg_template), so that a test file's $t->migrate finds nothing left to
# do; migrated => 0 makes an empty one (initdb, the role and its database)
# for a test of what comes before the migrations, and `make run` (a dir
# of its own) always starts empty and migrates.
sub start_postgres {
    my ($self, %opt) = @_;

    $self->{pg_fsync} = $opt{fsync} if exists $opt{fsync};

    # one directory the postgres account owns: data, socket, log
    my $pg = "$self->{dir}/pg";
    my $data = "$pg/data";

    if (!-d $data) {
        my $template = ($opt{migrated} // 1) && !$self->{keep}
                       ? $self->_pg_template : undef;
        if ($template) {
            $self->_pg_dirs($pg);
            system('cp', '-a', $template, $data) == 0
                or die "cp -a $template $data failed";
        } else {
            $self->_pg_initdb($pg);
            $self->{pg_fresh} = 1;
        }
    }

    $self->pg_ctl('start');

    if (delete $self->{pg_fresh}) {
        $self->_pg_create_role;
    }
}

# DIR/pg and its socket directory, the postgres account's
sub _pg_dirs {
    my ($self, $pg) = @_;
    make_path($pg, "$pg/sock");
    if (is_root()) {
        my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
        chown($uid, $gid, $pg, "$pg/sock");
    }
}

sub _pg_initdb {
    my ($self, $pg) = @_;
    my $data = "$pg/data";

    $self->_pg_dirs($pg);
    make_path($data);
    if (is_root()) {
        my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
        chown($uid, $gid, $data);
    }
    chmod 0700, $data;

    $self->run($self->as_pg($self->pg_bin('initdb'), '-D', $data,
                            '-U', 'postgres', '-A', 'trust', '-E', 'UTF8',
                            '--no-sync'))
        or die "initdb failed, see $self->{dir}/cmd.log";
}

sub _pg_create_role {
    my ($self) = @_;
    $self->psql_admin('postgres', 'CREATE ROLE media LOGIN NOSUPERUSER'
                      . ' NOCREATEDB NOCREATEROLE NOREPLICATION')
        // die 'create role media';
    $self->psql_admin('postgres', 'CREATE DATABASE media OWNER media')
        // die 'createdb';
}

# The data directory of a stopped cluster made as start_postgres makes one,
# with every sql/ migration applied by media-migrate, built once and then
# copied by every test file (initdb and 40 migrations take seconds; a copy
# a fraction of one).  It lives in MEDIA_TEST_CACHE (`make test` sets it)
# under a name that is a hash of what makes it: the migrations, this
# harness, media-migrate and PostgreSQL's version, so a change to any of
# them builds a new one.  Test files starting together wait on a lock for
# the one that builds it.
sub _pg_template {
    my ($self) = @_;

    my $cache = $ENV{MEDIA_TEST_CACHE}
                || File::Spec->tmpdir . '/ngx_media_test_cache';
    my $sha = Digest::SHA->new(256);
    for my $file (sort(glob("$self->{root}/sql/*.sql")), __FILE__,
                  "$self->{build}/media-migrate")
    {
        $sha->add($file =~ s{.*/}{}r, "\0");
        $sha->addfile($file);
    }
    $sha->add($self->pg_bin('initdb'), "\0", $>);
    my $tpl = "$cache/pg-" . substr($sha->hexdigest, 0, 16);

    return "$tpl/pg/data" if -e "$tpl/ready";

    make_path($cache);
    chmod 0755, $cache;
    open(my $lock, '>>', "$cache/lock") or die "$cache/lock: $!";
    my $end = time() + 300;
    until (flock($lock, LOCK_EX | LOCK_NB)) {
        die "$cache/lock: held for 300 s" if time() > $end;
        sleep(0.2);
    }

    if (!-e "$tpl/ready") {
        # earlier templates of this cache, not in use for an hour
        for my $old (glob("$cache/pg-*")) {
            remove_tree($old) if $old ne $tpl && -M $old > 1 / 24;
        }
        $self->_pg_build_template($tpl);
    }

    close $lock;
    return "$tpl/pg/data";
}

sub _pg_build_template {
    my ($self, $tpl) = @_;

    remove_tree($tpl);
    make_path($tpl);
    chmod 0755, $tpl;

    # a harness of its own in $tpl: its ports, its log, its conf
    my $b = bless { root => $self->{root}, build => $self->{build},
                    dir => $tpl, keep => 1, procs => {}, ports => {} },
                  ref $self;

    my $ok = eval {
        $b->_pg_initdb("$tpl/pg");
        $b->pg_ctl('start');
        $b->_pg_create_role;

        # media-migrate reads both; it never speaks to Redis
        open(my $fh, '>', $b->conf_file) or die "$tpl: $!";
        print $fh "events {}\nhttp {\n    media_pg \"" . $b->pg_conninfo
                  . "\";\n    media_redis 127.0.0.1:" . $b->port('redis')
                  . ";\n}\n";
        close $fh;
        $b->migrate;

        $b->pg_ctl('stop');
        1;
    };
    if (!$ok) {
        my $err = $@;
        eval { $b->pg_ctl('stop') } if $b->{pg_running};
        # what went wrong stays to be read; the next run starts again
        die "the PostgreSQL template: $err";
    }
    unlink("$tpl/pg/data/postmaster.opts");

    open(my $fh, '>', "$tpl/ready") or die "$tpl/ready: $!";
    close $fh;
}

sub pg_ctl {
    my ($self, $action) = @_;
    $self->_pg_ctl_at('pg', $action);
    $self->{pg_running} = $action eq 'start';
}

# pg_ctl on the cluster under DIR/$name, on port($name); pg_options
# (say "-c log_statement=all") go to every cluster the harness starts
sub _pg_ctl_at {
    my ($self, $name, $action) = @_;

    my @opt = $action eq 'start'
        ? ('-l', "$self->{dir}/$name/postgres.log", '-o',
           '-p ' . $self->port($name) . " -k $self->{dir}/$name/sock"
           . " -c listen_addresses=127.0.0.1 -c fsync="
           . ($self->{pg_fsync} ? 'on' : 'off')
           . ($self->{pg_options} ? " $self->{pg_options}" : ''))
        : ('-m', 'fast');

    $self->run($self->as_pg($self->pg_bin('pg_ctl'), '-D',
                            "$self->{dir}/$name/data", '-w', '-t', '30',
                            @opt, $action))
        or die "pg_ctl $action failed, see $self->{dir}/$name/postgres.log";
}

sub stop_postgres {
    my ($self) = @_;
    $self->stop_pg_replica($_) for keys %{ $self->{pg_replicas} || {} };
    $self->pg_ctl('stop') if $self->{pg_running};
}

# --- a streaming standby of that cluster (t/replica.t; a multi-node
# test): pg_basebackup -R into DIR/$name, started on port($name), hot
# standby (reads only).  stop_pg_replica and start_pg_replica again keep
# its data; pg_replica_conninfo is media_pg's for it.

sub start_pg_replica {
    my ($self, $name) = @_;
    my $pg = "$self->{dir}/$name";

    if (!-d "$pg/data") {
        make_path("$pg/sock");
        if (is_root()) {
            my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
            chown($uid, $gid, $pg, "$pg/sock");
        }
        $self->run($self->as_pg($self->pg_bin('pg_basebackup'), '-h',
                                '127.0.0.1', '-p', $self->port('pg'), '-U',
                                'postgres', '-D', "$pg/data", '-R', '-X',
                                'stream', '-c', 'fast', '--no-sync'))
            or die "pg_basebackup failed, see $self->{dir}/cmd.log";
    }

    $self->_pg_ctl_at($name, 'start');
    $self->{pg_replicas}{$name} = 1;

    wait_until(sub {
        ($self->psql_at($name, 'postgres', 'SELECT pg_is_in_recovery()') // '')
            eq "t\n"
    }, timeout => 30) or die "$name is not a standby, see $pg/postgres.log";
}

sub stop_pg_replica {
    my ($self, $name) = @_;
    delete $self->{pg_replicas}{$name} or return;
    $self->_pg_ctl_at($name, 'stop');
}

sub pg_replica_conninfo {
    my ($self, $name) = @_;
    return "host=127.0.0.1 port=" . $self->port($name)
           . " dbname=media user=media connect_timeout=5";
}

# SQL as the superuser on the cluster of port($name) ('pg': the primary)
sub psql_at {
    my ($self, $name, $db, $sql) = @_;

    my @cmd = ($self->pg_bin('psql'), '-X', '-q', '-A', '-t', '-v',
               'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $self->port($name), '-U', 'postgres',
               '-d', $db, '-c', $sql);
    my $cmd = $self->_pgoptions . join(' ', map { _sq($_) } @cmd);
    my $out = `$cmd 2>>$self->{dir}/cmd.log`;
    return $? == 0 ? $out : undef;
}

# runs SQL with psql as the service's role; returns its output (undef on
# error)
sub psql {
    my ($self, $db, $sql) = @_;
    return $self->_psql('media', $db, $sql);
}

# the same as the cluster's superuser
sub psql_admin {
    my ($self, $db, $sql) = @_;
    return $self->_psql('postgres', $db, $sql);
}

sub _psql {
    my ($self, $user, $db, $sql) = @_;

    my @cmd = ($self->pg_bin('psql'), '-X', '-q', '-A', '-t', '-v',
               'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $self->port('pg'), '-U', $user,
               '-d', $db, '-c', $sql);
    my $cmd = $self->_pgoptions . join(' ', map { _sq($_) } @cmd);
    my $out = `$cmd 2>>$self->{dir}/cmd.log`;
    return $? == 0 ? $out : undef;
}

# psql sees the rows of one tenant (sql/031_tenants.sql): the default one
# unless a test sets $t->{tenant} ('*': every tenant's).  The same for
# whatever else a test runs that speaks to PostgreSQL (the browser tests'
# psql): the default tenant.  nginx and the workers name their own.
$ENV{PGOPTIONS} //= '-c media.tenant=default';

sub _pgoptions {
    my ($self) = @_;
    return 'PGOPTIONS=' . _sq('-c media.tenant=' . ($self->{tenant} // 'default'))
           . ' ';
}

# a psql session kept open, fed line by line (to hold locks)
sub psql_session {
    my ($self) = @_;

    my @cmd = ($self->pg_bin('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1',
               '-h', '127.0.0.1', '-p', $self->port('pg'), '-U', 'media', '-d',
               'media');
    open(my $fh, '|-', $self->_pgoptions . join(' ', map { _sq($_) } @cmd)
                       . " >>$self->{dir}/psql-session.log 2>&1")
        or die "psql: $!";
    $fh->autoflush(1);
    return $fh;
}

# A psql session holding an exclusive lock on $table, once PostgreSQL shows
# it granted: every statement that reads the table waits until the session
# ends (print "ROLLBACK;\n" to it, or close it).  Dies after 10 s.
sub lock_table {
    my ($self, $table, $interval) = @_;
    my $s = $self->psql_session;
    print $s "BEGIN;\nLOCK TABLE $table IN ACCESS EXCLUSIVE MODE;\n";
    wait_until(sub {
        ($self->psql('media', "SELECT count(*) FROM pg_locks l JOIN pg_class c"
                     . " ON c.oid = l.relation WHERE c.relname = '$table'"
                     . " AND l.mode = 'AccessExclusiveLock' AND l.granted")
         // 0) == 1
    }, timeout => 10, interval => $interval // 0.1)
        or die "could not take the lock on $table";
    return $s;
}

# (conf => file: the media_pg of another file, a node's)
sub migrate {
    my ($self, %opt) = @_;
    $self->run("$self->{build}/media-migrate", '-c',
               $opt{conf} // $self->conf_file,
               '-d', "$self->{root}/sql")
        or die "media-migrate failed, see $self->{dir}/cmd.log";
}

# --- Redis ---------------------------------------------------------------

# persist => 1: append-only file under DIR/redis (what `make run` uses;
# Redis only delivers, but a restart then keeps the streams' pending
# entries and the login counters); tests run without.
# heartbeat => 0: no stand-in worker.  Otherwise a transcoder and a
# billing worker are marked alive for good (member "harness", a score far
# ahead), so that healthz answers 200 in a test that runs no worker; a
# test of the heartbeat itself, and `make run`, ask for none.
sub start_redis {
    my ($self, %opt) = @_;

    $self->{redis_persist} = $opt{persist} if exists $opt{persist};
    $self->{heartbeat} = $opt{heartbeat} if exists $opt{heartbeat};

    make_path("$self->{dir}/redis");
    $self->spawn('redis', {}, 'redis-server', '--port', $self->port('redis'),
                 '--bind', '127.0.0.1', '--save', '',
                 '--appendonly', $self->{redis_persist} ? 'yes' : 'no',
                 '--appendfsync', 'everysec',
                 '--dir', "$self->{dir}/redis", '--daemonize', 'no');

    wait_until(sub { $self->redis('PING') eq 'PONG' }, timeout => 10)
        or die "redis did not start, see $self->{dir}/redis.log";

    $self->stand_in_workers(1) if $self->{heartbeat} // 1;
}

# the harness' stand-in workers (see start_redis): 1 adds, 0 removes
sub stand_in_workers {
    my ($self, $on) = @_;
    for my $type (qw(transcode billing)) {
        $self->redis($on ? ('ZADD', "media:workers:$type", '9' x 15)
                         : ('ZREM', "media:workers:$type"),
                     'harness');
    }
}

sub stop_redis { $_[0]->stop_proc('redis') }

# --- Redis replication and Sentinel (t/sentinel.t; a multi-node test) ---
#
# A replica of the primary that start_redis made, on port($name):
# start_redis_replica('redis-replica').  Then start_sentinels(3) starts
# sentinel-1 .. sentinel-3 watching the primary under the name "media"
# (quorum 2 of 3, 1 of fewer), with the short timings a test needs:
# the primary is judged down after down_after ms (default 1000), and a
# failover tried again after failover_timeout ms.  use_sentinels() makes
# http_conf's media_redis a sentinel:// URL naming them (and any extra
# addresses given first, such as a sentinel that is not running).

sub start_redis_replica {
    my ($self, $name) = @_;

    make_path("$self->{dir}/$name");
    $self->spawn($name, {}, 'redis-server', '--port', $self->port($name),
                 '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
                 '--dir', "$self->{dir}/$name", '--daemonize', 'no',
                 '--replicaof', '127.0.0.1', $self->port('redis'));

    wait_until(sub {
        $self->redis_at($self->port($name), 'INFO', 'replication')
            =~ /master_link_status:up/
    }, timeout => 15) or die "$name did not sync, see $self->{dir}/$name.log";
}

sub start_sentinels {
    my ($self, $n, %opt) = @_;
    my $quorum = $opt{quorum} // ($n >= 3 ? 2 : 1);
    my @names = map { "sentinel-$_" } 1 .. $n;

    for my $name (@names) {
        my $conf = "$self->{dir}/$name.conf";   # Sentinel rewrites it
        open(my $fh, '>', $conf) or die "$conf: $!";
        print $fh "port " . $self->port($name) . "\nbind 127.0.0.1\n"
            . "dir $self->{dir}\n"
            . "sentinel monitor media 127.0.0.1 " . $self->port('redis')
            . " $quorum\n"
            . "sentinel down-after-milliseconds media "
            . ($opt{down_after} // 1000) . "\n"
            . "sentinel failover-timeout media "
            . ($opt{failover_timeout} // 6000) . "\n"
            . "sentinel parallel-syncs media 1\n";
        close $fh;
        $self->spawn($name, {}, 'redis-server', $conf, '--sentinel');
    }

    # each one has found the others and the replicas
    for my $name (@names) {
        wait_until(sub {
            my %m = split /\n/, $self->redis_at($self->port($name),
                                                'SENTINEL', 'master', 'media');
            ($m{'num-other-sentinels'} // -1) == $n - 1
                && ($m{'num-slaves'} // 0) >= ($opt{replicas} // 1)
        }, timeout => 30) or die "$name did not see the others, see "
                                 . "$self->{dir}/$name.log";
    }

    $self->{sentinels} = \@names;
    return @names;
}

# the primary's port as a sentinel names it now
sub sentinel_primary {
    my ($self, $name) = @_;
    my ($host, $port) = split /\n/, $self->redis_at($self->port($name),
                          'SENTINEL', 'get-master-addr-by-name', 'media');
    return $port;
}

# media_redis through the sentinels started, after any @first addresses
sub use_sentinels {
    my ($self, @first) = @_;
    $self->{media_redis} = 'sentinel://' . join(',', @first,
        map { '127.0.0.1:' . $self->port($_) } @{ $self->{sentinels} })
        . '/media';
}

# one command over RESP to the primary start_redis made; returns the reply
# as text (arrays joined by \n)
sub redis {
    my ($self, @args) = @_;
    return $self->redis_at($self->port('redis'), @args);
}

# the same to any Redis (a replica, a sentinel) on 127.0.0.1
sub redis_at {
    my ($self, $port, @args) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $port,
                                  Timeout => 2) or return '';
    my $req = '*' . @args . "\r\n";
    $req .= '$' . length($_) . "\r\n$_\r\n" for @args;
    print $s $req;

    my $reply = _resp($s);
    close $s;
    return $reply // '';
}

sub _resp {
    my ($s) = @_;
    my $line = <$s>;
    return undef unless defined $line;
    $line =~ s/\r\n$//;

    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+' || $t eq ':' || $t eq '-';
    if ($t eq '$') {
        return undef if $v < 0;
        my $buf = '';
        read($s, $buf, $v + 2);
        return substr($buf, 0, $v);
    }
    if ($t eq '*') {
        return join("\n", map { _resp($s) // '' } 1 .. $v);
    }
    return undef;
}

# --- nginx ---------------------------------------------------------------

sub conf_file { "$_[0]{dir}/nginx.conf" }

# the main-context lines every test config starts with (%%MAIN%%)
# (for a node of several, write_node_conf: its own pid file and log)
sub main_conf {
    my ($self, $node) = @_;
    my $user = is_root() ? "user www-data www-data;\n" : '';
    my ($pid, $log) = $node ? ("$self->{dir}/$node.pid",
                               "$self->{dir}/$node-error.log")
                            : ("$self->{dir}/nginx.pid",
                               "$self->{dir}/error.log");

    return <<"EOF";
load_module $self->{build}/ngx_http_media_module.so;
${user}daemon off;
pid $pid;
error_log $log info;
EOF
}

# the http-context lines (%%HTTP%%): our settings and private temp paths
# (node => name: that node's own access log and temporary paths under
# DIR/name; the storage, PostgreSQL and Redis stay the ones all share.
# $t->{media_storage}, when set, is media_storage's value instead of
# DIR/storage: an s3:// bucket with its spool)
sub http_conf {
    my ($self, %opt) = @_;
    my $d = $self->{dir};
    my $own = $opt{node} ? "$d/$opt{node}" : $d;

    return <<"EOF";
access_log $own/access.log;
client_body_temp_path $own/body;
proxy_temp_path $own/proxy;
fastcgi_temp_path $own/fastcgi;
uwsgi_temp_path $own/uwsgi;
scgi_temp_path $own/scgi;
media_pg "@{[ $self->pg_conninfo ]}";
media_redis @{[ $self->{media_redis} // '127.0.0.1:' . $self->port('redis') ]};
media_storage @{[ $self->{media_storage} // "$d/storage" ]};
EOF
}

sub make_storage {
    my ($self) = @_;

    make_path("$self->{dir}/storage");
    if (is_root()) {
        my ($uid, $gid) = (getpwnam('www-data'))[2, 3];
        chown($uid, $gid, "$self->{dir}/storage");
    }
}

# writes nginx.conf from a template with %%MAIN%%, %%HTTP%%, %%PORT%%,
# %%PORT_name%% and %%DIR%%
sub write_conf {
    my ($self, $tpl) = @_;

    $self->make_storage;
    return $self->_write_tpl($self->conf_file, $tpl, undef, 'http');
}

sub _write_tpl {
    my ($self, $file, $tpl, $node, $port) = @_;

    my $main = $self->main_conf($node);
    my $http = $self->http_conf(node => $node);
    $tpl =~ s/%%MAIN%%/$main/g;
    $tpl =~ s/%%HTTP%%/$http/g;
    $tpl =~ s/%%PORT_(\w+)%%/$self->port($1)/ge;
    $tpl =~ s/%%PORT%%/$self->port($port)/ge;
    $tpl =~ s/%%DIR%%/$self->{dir}/g;
    $tpl =~ s/%%WWW%%/$self->{build}\/www/g;   # the web client, built

    open(my $fh, '>', $file) or die "$file: $!";
    print $fh $tpl;
    close $fh;

    return $file;
}

# nginx.conf.example as it stands, with only its paths and addresses
# pointed at this harness; each rewrite must apply, so the example cannot
# drift away from what is tested
sub write_example_conf {
    my ($self, %opt) = @_;

    my $c = slurp("$self->{root}/nginx.conf.example");
    my $d = $self->{dir};
    my $http = $self->http_conf;
    $http =~ s/^(?!access_log|client_body|proxy|fastcgi|uwsgi|scgi).*\n//mg;

    my @rewrites = (
        [ qr{^load_module \S+;}m, "load_module $self->{build}/"
          . "ngx_http_media_module.so;\ndaemon off;\npid $d/nginx.pid;" ],
        [ qr{^user \S+;}m, is_root() ? 'user www-data;' : '' ],
        [ qr{^error_log \S+;}m, "error_log $d/error.log info;" ],
        [ qr{^    access_log \S+;\n}m, '' ],
        [ qr{^http \{\n}m, "http {\n$http" ],
        [ qr{^    media_pg "[^"]*";}m,
          '    media_pg "' . $self->pg_conninfo . '";' ],
        [ qr{^    media_redis \S+;}m,
          '    media_redis 127.0.0.1:' . $self->port('redis') . ';' ],
        [ qr{^    media_storage \S+;}m, "    media_storage $d/storage;" ],
        [ qr{^    media_jwt_key \S+;}m, "    media_jwt_key " . $self->jwt_key . ';' ],
        [ qr{^    media_url_key \S+;}m, "    media_url_key " . $self->key('url') . ';' ],
        [ qr{^    media_download_key \S+;}m,
          "    media_download_key " . $self->key('download') . ';' ],
        [ qr{^            alias /var/lib/ngx_media/;}m,
          "            alias $d/storage/;" ],
        # Stripe: t/stripe-fake (t/lib/StripeFake.pm writes the key file)
        [ qr{^    media_stripe_secret_key \S+;}m, "    media_stripe_secret_key "
          . "$d/stripe.key;\n    media_stripe_api_url http://127.0.0.1:"
          . $self->port('stripe') . ';' ],
        [ qr{^    media_public_url \S+;}m, '    media_public_url http://127.0.0.1:'
          . $self->port('http') . '/;' ],
        [ qr{^    media_stripe_webhook_secret \S+;}m,
          "    media_stripe_webhook_secret " . $self->stripe_secret . ';' ],
        [ qr{^            root /usr/share/ngx_media/www;}m,
          "            root $self->{build}/www;" ],
        [ qr{^            alias /var/lib/ngx_media/hls/;}m,
          "            alias $d/storage/hls/;" ],
        [ qr{^            alias /var/lib/ngx_media/avatars/;}m,
          "            alias $d/storage/avatars/;" ],
        [ qr{^        access_log \S+ media;}m, "        access_log $d/media.log media;" ],
        # the request limits per minute as shipped trip tests that sign
        # in and list often; t/limits.t keeps them (keep_limits => 1)
        (map { my $zone = $_;
               [ qr{(?<= zone=media_$zone:10m rate=)\d+r/m;}, '6000r/m;' ] }
         $opt{keep_limits} ? () : qw(login list upload)),
        # plain http on loopback: no redirecting server, no TLS
        [ qr{^    # plain http only sends .*?^    \}\n\n}ms, '' ],
        [ qr{^        listen 443 ssl http2;}m,
          '        listen 127.0.0.1:' . $self->port('http') . ';' ],
        [ qr{^        listen \[::\]:443 ssl http2;\n}m, '' ],
        [ qr{^(        ssl_\w+ [^\n]*\n)+}m, '' ],
        [ qr{^        server_name media\.example\.com;}m,
          '        server_name localhost;' ],
    );

    for my $rw (@rewrites) {
        $c =~ s/$rw->[0]/$rw->[1]/
            or die "nginx.conf.example: no line matches $rw->[0]";
    }

    $self->make_storage;

    open(my $fh, '>', $self->conf_file) or die $!;
    print $fh $c;
    close $fh;

    return $self->conf_file;
}

# a signing key for access tokens, made once per directory
sub jwt_key { $_[0]->key('jwt') }

# a key file of 32 random bytes (base64), DIR/<name>.key, made once:
# jwt, url (playback URLs) and download each have their own, as an admin's
sub key {
    my ($self, $name) = @_;
    my $file = "$self->{dir}/$name.key";

    if (!-e $file) {
        open(my $in, '<:raw', '/dev/urandom') or die $!;
        read($in, my $bytes, 32) == 32 or die 'urandom';
        close $in;
        require MIME::Base64;
        open(my $out, '>', $file) or die "$file: $!";
        print $out MIME::Base64::encode_base64($bytes, '') . "\n";
        close $out;
        chmod 0600, $file;
    }

    return $file;
}

# a Stripe webhook signing secret ("whsec_..."), made once per directory
sub stripe_secret {
    my ($self) = @_;
    my $file = "$self->{dir}/stripe-webhook.secret";

    if (!-e $file) {
        open(my $in, '<:raw', '/dev/urandom') or die $!;
        read($in, my $bytes, 24) == 24 or die 'urandom';
        close $in;
        open(my $out, '>', $file) or die "$file: $!";
        print $out 'whsec_' . unpack('H*', $bytes) . "\n";
        close $out;
        chmod 0600, $file;
    }

    return $file;
}

sub sanitizer_env {
    my ($self, $leaks) = @_;
    return {} unless $self->{asan};

    chomp(my $asan = `gcc -print-file-name=libasan.so`);

    # nginx's workers run as www-data: reports need a directory they can
    # write, or a crash leaves no trace
    my $san = "$self->{dir}/san";
    make_path($san);
    chmod 01777, $san;

    return {
        # nginx itself is not built with ASan: the runtime must load first
        ($leaks ? () : (LD_PRELOAD => $asan)),
        ASAN_OPTIONS => "detect_leaks=$leaks:log_path=$san/asan"
                        . ':abort_on_error=0',
        UBSAN_OPTIONS => "print_stacktrace=1:log_path=$san/ubsan",
    };
}

# nginx -t on the written config; returns (ok, output)
sub nginx_test {
    my ($self, $file) = @_;
    $file //= $self->conf_file;

    my $env = $self->sanitizer_env(0);
    local @ENV{keys %$env} = values %$env;
    # its own log: refusals are what some tests want to see
    my $out = `nginx -t -q -p $self->{dir} -e $self->{dir}/nginx-t.err -c $file 2>&1`;
    return ($? == 0, $out);
}

sub start_nginx {
    my ($self) = @_;

    $self->spawn('nginx', $self->sanitizer_env(0), 'nginx', '-p',
                 $self->{dir}, '-e', "$self->{dir}/error.log",
                 '-c', $self->conf_file);

    my $port = $self->port('http');
    wait_until(sub {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
    }, timeout => 10) or die "nginx did not start, see $self->{dir}/error.log";
}

sub reload_nginx { kill('HUP', $_[0]{procs}{nginx}) }

# reload and wait until the old workers have exited, so that no request
# of the test meets a worker in its graceful shutdown (a connection it
# accepts then may be left open at its exit, an "open socket left" alert)
sub reload_nginx_settled {
    my ($self) = @_;
    my $log = "$self->{dir}/error.log";
    my $count = sub { scalar(() = slurp($log) =~ /worker process \d+ exited/g) };
    my $started = sub { scalar(() = slurp($log) =~ /start worker process \d+/g) };
    my ($exited, $workers) = ($count->(), $started->());
    # the workers running now: started so far minus exited so far
    my $old = $workers - $exited;
    $self->reload_nginx;
    return wait_until(sub { $count->() >= $exited + $old }, timeout => 15);
}

sub stop_nginx {
    my ($self) = @_;
    # QUIT: graceful, so exit_process runs and leaks show as alerts
    return $self->stop_proc('nginx', 'QUIT');
}

# --- several nginx nodes behind a load balancer (t/scale.t, bench/api) ---
#
# write_node_conf('node1', $tpl) writes DIR/node1.conf from a template as
# write_conf does, for a node of its own: %%PORT%% is port('node1'), its
# pid file DIR/node1.pid, its error log DIR/node1-error.log, its access
# log and temporary paths under DIR/node1/; the module's PostgreSQL,
# Redis and storage are the ones every node shares.  write_lb_conf(@nodes)
# writes DIR/lb.conf: a plain nginx (not our module) on port('lb')
# proxying everything to the nodes, round robin, passing a request on to
# the next node when one cannot be reached; $t->{front} becomes that port,
# so $t->url, $t->http, signup and the rest talk to the balancer.
# start_nginx_node(name) starts any of them; kill_host(names) makes
# processes vanish as a lost machine does.

sub node_conf_file { "$_[0]{dir}/$_[1].conf" }

sub write_node_conf {
    my ($self, $node, $tpl) = @_;

    $self->make_storage;
    make_path("$self->{dir}/$node");
    return $self->_write_tpl($self->node_conf_file($node), $tpl, $node,
                             $node);
}

sub write_lb_conf {
    my ($self, @nodes) = @_;
    my $d = $self->{dir};
    my $user = is_root() ? "user www-data www-data;\n" : '';
    my $servers = join '', map { "        server 127.0.0.1:"
                                 . $self->port($_) . ";\n" } @nodes;

    make_path("$d/lb");

    # proxy_next_upstream error timeout: a node that refuses or does not
    # answer the connection is skipped (nginx's default max_fails=1
    # fail_timeout=10s then leaves it out), and a POST whose request was
    # already sent is never sent twice; uploads of any size
    my $conf = <<"EOF";
${user}daemon off;
pid $d/lb.pid;
error_log $d/lb-error.log info;
worker_processes 2;
events { worker_connections 4096; }
http {
    access_log $d/lb/access.log;
    client_body_temp_path $d/lb/body;
    proxy_temp_path $d/lb/proxy;
    fastcgi_temp_path $d/lb/fastcgi;
    uwsgi_temp_path $d/lb/uwsgi;
    scgi_temp_path $d/lb/scgi;

    upstream media_nodes {
$servers        keepalive 32;
    }

    server {
        listen 127.0.0.1:@{[ $self->port('lb') ]};
        client_max_body_size 0;

        location / {
            proxy_pass http://media_nodes;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 2;
        }
    }
}
EOF

    my $file = $self->node_conf_file('lb');
    open(my $fh, '>', $file) or die "$file: $!";
    print $fh $conf;
    close $fh;

    $self->{front} = $self->port('lb');
    return $file;
}

# starts the nginx of DIR/name.conf and waits until port(name) answers
sub start_nginx_node {
    my ($self, $node) = @_;

    $self->spawn($node, $node eq 'lb' ? {} : $self->sanitizer_env(0),
                 'nginx', '-p', "$self->{dir}/$node",
                 '-e', "$self->{dir}/$node-error.log",
                 '-c', $self->node_conf_file($node));
    $self->{nginx_nodes}{$node} = 1;

    my $port = $self->port($node);
    wait_until(sub {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
    }, timeout => 10) or die "nginx $node did not start, see "
                             . "$self->{dir}/$node-error.log";
}

# a process we started and every process under it (nginx's workers, a
# worker's consumers), from /proc
sub proc_tree {
    my ($self, $name) = @_;
    my $top = $self->{procs}{$name} or return ();
    my %kids;

    for my $stat (glob('/proc/[0-9]*/stat')) {
        my $line = slurp($stat) or next;
        # pid (comm) state ppid: comm may hold spaces and parentheses
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/s or next;
        push @{ $kids{$ppid} }, $pid;
    }

    my @all = ($top);
    for (my $i = 0; $i < @all; $i++) {
        push @all, @{ $kids{ $all[$i] } || [] };
    }
    return @all;
}

# a lost machine: every process of each name stopped at once (SIGSTOP, so
# none of them reacts to another's end: no supervisor hands a job on, no
# consumer releases one, no nginx worker finishes a request), then killed
# (SIGKILL); nothing of theirs runs after this returns
sub kill_host {
    my ($self, @names) = @_;
    my @pids = map { $self->proc_tree($_) } @names;

    kill('STOP', @pids);
    kill('KILL', @pids);

    for my $name (@names) {
        my $pid = delete $self->{procs}{$name} or next;
        delete $self->{nginx_nodes}{$name};
        _reap($pid, 10);
    }
    for my $pid (@pids) {
        wait_until(sub { !kill(0, $pid) || _zombie($pid) }, timeout => 10);
    }
    return @pids;
}

sub _zombie { (slurp("/proc/$_[0]/stat") =~ /^\d+ \(.*\) Z /s) ? 1 : 0 }

# --- workers -------------------------------------------------------------

# For transcoders started after it: past ms of source, a job all but stops
# (MEDIA_TEST_TRANSCODE_HOLD) while the file this returns is there; a
# test's driver removes it to let the rest come
sub hold_transcode {
    my ($self, $ms) = @_;
    my $hold = "$self->{dir}/hold";
    open(my $h, '>', $hold) or die "$hold: $!";
    close $h;
    $ENV{MEDIA_TEST_TRANSCODE_HOLD} = "$ms:$hold";
    return $hold;
}

# start_worker('transcoder'): media-transcoder reading DIR/nginx.conf,
# logging to DIR/transcoder.log.  Several of one kind (t/scale.t):
# start_worker('transcoder', as => 'transcoder-2', conf => $file), each
# under its own name (its log, stop_proc, kill_host) and reading the
# given nginx.conf
sub start_worker {
    my ($self, $name, %opt) = @_;
    return $self->spawn($opt{as} // $name, $self->sanitizer_env(1),
                        "$self->{build}/media-$name", '-c',
                        $opt{conf} // $self->conf_file);
}

# --- HTTP ----------------------------------------------------------------

# the front: the load balancer when there is one (write_lb_conf)
sub url {
    'http://127.0.0.1:' . ($_[0]{front} // $_[0]->port('http')) . $_[1]
}

# returns HTTP::Tiny's response with ->{json} decoded when it is JSON
sub http {
    my ($self, $method, $path, %opt) = @_;

    my $ua = HTTP::Tiny->new(timeout => $opt{timeout} || 10);
    my $r = $ua->request($method, $self->url($path),
                         { headers => $opt{headers} || {},
                           (defined $opt{body} ? (content => $opt{body}) : ()) });

    if (($r->{headers}{'content-type'} // '') =~ m{^application/json}
        && length $r->{content})
    {
        $r->{json} = eval { decode_json($r->{content}) };
    }
    return $r;
}

# sends a request on a raw socket and returns it without reading
sub http_start {
    my ($self, $method, $path) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $self->port('http'),
                                  Timeout => 5) or die "connect: $!";
    print $s "$method $path HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\n\r\n";
    return $s;
}

# reads the whole response from http_start's socket; (status, body) or ()
sub http_finish {
    my ($self, $s, $timeout) = @_;

    my $sel = IO::Select->new($s);
    my $buf = '';
    my $end = time() + ($timeout || 10);

    while (time() < $end) {
        last unless $sel->can_read($end - time());
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    close $s;

    return () unless $buf =~ m{^HTTP/1\.[01] (\d+)[^\r\n]*\r\n(.*?)\r\n\r\n(.*)}s;
    return ($1, $3);
}

# --- media and accounts, for the tests that need them ---------------------

# a media file made with FFmpeg: make_media('a.wav', '-f lavfi -i sine=...')
sub make_media {
    my ($self, $name, $args) = @_;
    my $out = "$self->{dir}/media/$name";
    make_path("$self->{dir}/media");
    system("ffmpeg -nostdin -hide_banner -loglevel error -y $args '$out'") == 0
        or die "ffmpeg could not make $name";
    return $out;
}

# a signed-up account: {user, access_token, refresh_token}
sub signup {
    my ($self, $email, $password) = @_;
    my $r = $self->http(POST => '/api/v1/auth/signup',
                        headers => { 'Content-Type' => 'application/json' },
                        body => encode_json({ email => $email,
                                              password => $password
                                                  // 'a good password' }));
    die "signup $email: $r->{status} $r->{content}" unless $r->{status} == 201;
    return $r->{json};
}

# --- the end -------------------------------------------------------------

# lines in nginx's error log and the workers' logs that mean a bug
sub log_problems {
    my ($self) = @_;
    my @bad;

    for my $log (glob("$self->{dir}/*.log")) {
        next if $log =~ m{/(cmd|postgres|redis[-\w]*|sentinel-\d+|psql-session)\.log$};
        open(my $fh, '<', $log) or next;
        while (my $line = <$fh>) {
            # a dead nginx worker is logged only as a notice
            push @bad, "$log: $line"
                if $line =~ /\[(alert|emerg|crit)\]|AddressSanitizer|runtime error:|LeakSanitizer/
                   || $line =~ /worker process \d+ exited (on signal|with code [1-9])/;
        }
    }

    for my $report (glob("$self->{dir}/san/*")) {
        open(my $fh, '<', $report) or next;
        local $/;
        push @bad, "$report: " . <$fh>;
    }

    return @bad;
}

# stops everything, then one test: no alerts, no sanitizer reports
sub finish {
    my ($self) = @_;

    $self->stop_all;

    my @bad = $self->log_problems;
    ok(!@bad, 'logs: no alert, emerg, crit or sanitizer report')
        or diag(join('', @bad));
}

# Stops everything, in two steps, each at once rather than one process
# after the other: nginx (QUIT, graceful) and every other process but
# Redis, then Redis and PostgreSQL (the primary and any standby), which
# the first ones may still use while they stop (a job handed back on
# SIGTERM).
sub stop_all {
    my ($self) = @_;
    my $procs = $self->{procs};

    # nginx and the nodes (and their balancer) gracefully: QUIT
    my %nodes = %{ delete $self->{nginx_nodes} || {} };
    $self->stop_procs(map { $_ => ($_ eq 'nginx' || $nodes{$_}) ? 'QUIT'
                                                                : 'TERM' }
                      grep { $_ ne 'redis' } keys %$procs);

    my @pg = ($self->{pg_running} ? ('pg') : (),
              sort keys %{ $self->{pg_replicas} || {} });
    my %pg_ctl;
    for my $name (@pg) {
        my $pid = fork();
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my $ok = eval { $self->_pg_ctl_at($name, 'stop'); 1 };
            POSIX::_exit($ok ? 0 : 1);
        }
        $pg_ctl{$name} = $pid;
    }

    $self->stop_procs(redis => 'TERM') if $procs->{redis};

    for my $name (@pg) {
        waitpid($pg_ctl{$name}, 0);
        warn "pg_ctl stop failed, see $self->{dir}/$name/postgres.log\n"
            if $?;
    }
    $self->{pg_replicas} = {};
    $self->{pg_running} = 0;
}

# stop_proc for several processes at once: name => signal; waits for
# them together, 15 s, then KILLs what is left; returns name => status
sub stop_procs {
    my ($self, %signal) = @_;
    my %pid;

    for my $name (keys %signal) {
        my $pid = delete $self->{procs}{$name} or next;
        kill($signal{$name}, $pid);
        $pid{$name} = $pid;
    }

    my %status;
    for my $round ([15, undef], [5, 'KILL']) {
        my ($secs, $kill) = @$round;
        if ($kill) {
            kill($kill, $_) for values %pid;
        }
        my $end = time() + $secs;
        while (%pid && time() < $end) {
            for my $name (keys %pid) {
                my $r = waitpid($pid{$name}, WNOHANG);
                if ($r == $pid{$name}) {
                    $status{$name} = $?;
                } elsif (!($r == -1 && !kill(0, $pid{$name}))) {
                    next;
                } else {
                    $status{$name} = 0;
                }
                delete $pid{$name};
            }
            sleep(0.05) if %pid;
        }
    }

    return %status;
}

sub DESTROY {}

END {
    my $rc = $?;
    for my $t (@ALL) {
        next if $t->{keep};
        eval { $t->stop_all };
        if ($ENV{MEDIA_TEST_KEEP} || ($rc && !$ENV{CI})) {
            print STDERR "# kept $t->{dir}\n";
        } else {
            remove_tree($t->{dir});
        }
    }
    _release_ports();
    $? = $rc;
}

1;
