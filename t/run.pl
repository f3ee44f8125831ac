#!/usr/bin/perl
#
# `make run` and `make stop`: the test harness with a persistent directory
# (./var, or MEDIA_RUN_DIR) instead of a temporary one.  PostgreSQL (the
# service connecting as the plain role "media" that owns its tables),
# Redis (append-only, its files under var/redis), the workers and nginx
# (configured from nginx.conf.example) are started in the background and
# keep running after make returns; `make stop` ends them.
#
#   perl t/run.pl start|stop BUILD_DIR

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use MediaTest qw(wait_until slurp);
use StripeFake;

my ($action, $build) = @ARGV;
die "usage: $0 start|stop [build]\n" unless ($action // '') =~ /^(start|stop)$/;
$ENV{MEDIA_BUILD} = $build if $build;

use Cwd qw(abs_path);
my $var = $ENV{MEDIA_RUN_DIR} || abs_path("$FindBin::Bin/..") . "/var";
my $state = "$var/run.state";

if ($action eq 'stop') {
    stop();
    exit 0;
}

if (-e $state) {
    my %s = load_state();
    if (kill(0, $s{nginx} // 0)) {
        print "already running: http://127.0.0.1:$s{port_http}/ "
              . "(make stop first to restart)\n";
        exit 0;
    }
    stop();
}

my $t = MediaTest->new(dir => $var);

if (MediaTest::is_root()
    && system('runuser', '-u', 'www-data', '--', 'test', '-w',
              $t->dir) != 0)
{
    # nginx's workers run as www-data and must reach ./var/storage
    chmod 0777, $t->dir;
}

$t->start_postgres;

# a ./var made before the service had its own role: media was the
# cluster's superuser there, which a bootstrap superuser stays for good
if (($t->psql('media', 'SELECT rolsuper FROM pg_roles'
              . ' WHERE rolname = current_user') // '') =~ /^t/)
{
    $t->stop_postgres;
    die "$var/pg was made when the service connected as a superuser;\n"
        . "move it away (or make clean, losing its data) and make run again\n";
}

$t->start_redis(persist => 1, heartbeat => 0);
$t->write_example_conf;
$t->migrate;
# Stripe is t/stripe-fake: its checkout and portal pages, webhooks to nginx
my $stripe = StripeFake->start($t, webhook_url => 'http://127.0.0.1:'
                               . $t->port('http') . '/api/v1/webhooks/stripe');
$t->start_worker('transcoder');
$t->start_worker('exporter');
$t->start_worker('sweeper');
$t->start_worker('billing');
$t->start_nginx;

my %s = (%{ $t->{procs} },
         map { ("port_$_" => $t->port($_)) } qw(http pg redis stripe));
open(my $fh, '>', $state) or die "$state: $!";
print $fh map { "$_=$s{$_}\n" } sort keys %s;
close $fh;

# healthz is 200 once a transcoder has said it is alive (a second or so)
my $r;
wait_until(sub { ($r = $t->http(GET => '/api/v1/healthz'))->{status} == 200 },
           timeout => 15);
my $url = 'http://127.0.0.1:' . $t->port('http') . '/';

print <<"EOF";

ngx_media is running: $url
  healthz:   ${url}api/v1/healthz ($r->{status})
  config:    $var/nginx.conf (from nginx.conf.example)
  logs:      $var/error.log, $var/transcoder.log, $var/exporter.log,
             $var/sweeper.log, $var/billing.log, $var/stripe.log
  Stripe:    @{[ $stripe->url ]} (t/stripe-fake; webhook secret in
             @{[ $stripe->whsec_file ]})
  stop with: make stop
EOF


sub load_state {
    return map { /^(\w+)=(.*)$/ ? ($1, $2) : () } split /\n/, slurp($state);
}

sub stop {
    return unless -e $state;

    my %s = load_state();

    # nginx first (graceful), then the workers, then the stores
    for my $name (qw(nginx transcoder exporter sweeper billing stripe
                      redis))
    {
        my $pid = $s{$name} or next;
        kill($name eq 'nginx' ? 'QUIT' : 'TERM', $pid) or next;
        wait_until(sub { !kill(0, $pid) }, timeout => 15)
            or kill('KILL', $pid);
    }

    my $t = MediaTest->new(dir => $var);
    $t->{ports}{pg} = $s{port_pg};
    $t->{pg_running} = 1;
    eval { $t->stop_postgres };

    unlink $state;
    print "stopped\n";
}
