# The README's API walk, run as written: every ```sh block marked
# <!-- walk --> on the line before it, in order, in one bash session
# (set -euo pipefail) started in a directory laid out as the tree is after
# `make run` (var/nginx.conf, var/run.state, var/stripe-webhook.secret,
# build/media-admin; the walk's first block moves to var/walk), against the
# stack t/run.pl starts for `make run` (nginx with nginx.conf.example,
# PostgreSQL, Redis, the four workers, t/stripe-fake).
# Each block must end with status 0 within its time, and print the lines
# its "# => ..." comments show, in that order ("..." stands for anything).
# Then every route of the module's route table must be called by a curl
# of some walk block with its method, so a route without an example fails.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use POSIX qw(setsid);
use Test::More;
use Time::HiRes qw(time);
use MediaTest qw(wait_until slurp);
use StripeFake;

my $root = "$FindBin::Bin/..";
my $BLOCK_SECONDS = 60;

plan skip_all => 'curl, jq and ffmpeg are needed for the README\'s walk'
    unless system('which curl jq ffmpeg >/dev/null 2>&1') == 0;

# --- the README's walk ------------------------------------------------------

my $readme = slurp("$root/README.md");
my @blocks;
while ($readme =~ /^<!-- walk -->\n```sh\n(.*?)^```$/msg) {
    my $code = $1;
    my $line = 1 + (() = substr($readme, 0, $-[0]) =~ /\n/g);
    push @blocks, { code => $code, line => $line + 2 };
}
ok(@blocks >= 10, scalar(@blocks) . ' walk blocks in the README');

# --- every route of the table called by a walk block -------------------------

my @routes = route_table("$root/ngx_media_module/ngx_http_media_api.c");
ok(@routes >= 80, scalar(@routes) . ' routes in the route table');
my @calls = map { curl_calls($_->{code}) } @blocks;
for my $route (@routes) {
    my ($method, $pattern) = @$route;
    (my $re = quotemeta $pattern) =~ s/\\\{\w+\\\}/[^\/]+/g;
    ok(scalar(grep { $_->[0] eq $method && $_->[1] =~ /^$re$/ } @calls),
       "the walk calls $method $pattern")
        or diag('calls seen: ' . join(', ', map { "@$_" }
                                      grep { $_->[1] =~ /^$re/ } @calls));
}

# --- the stack `make run` starts (t/run.pl) -----------------------------------

my $t = MediaTest->new;
my $dir = $t->dir;
$t->start_postgres;
$t->start_redis(heartbeat => 0);
$t->write_example_conf;
$t->migrate;
my $stripe = StripeFake->start($t,
    webhook_url => $t->url('/api/v1/webhooks/stripe'));
$t->start_worker($_) for qw(transcoder exporter sweeper billing);
$t->start_nginx;
ok(wait_until(sub { $t->http(GET => '/api/v1/healthz')->{status} == 200 },
              timeout => 15), 'healthz 200 once the transcoder is alive');

# the tree as the walk finds it after `make run`
my $tree = "$dir/tree";
mkdir $_ or die "$_: $!" for $tree, "$tree/var", "$tree/build";
symlink($t->conf_file, "$tree/var/nginx.conf") or die $!;
symlink($stripe->whsec_file, "$tree/var/stripe-webhook.secret") or die $!;
symlink($t->build_path('media-admin'), "$tree/build/media-admin") or die $!;
open(my $fh, '>', "$tree/var/run.state") or die $!;
print $fh 'port_http=' . $t->port('http') . "\n";
close $fh;

# --- the blocks, in one bash ---------------------------------------------------

my $driver = <<'EOF';
set -euo pipefail
exec 2>&1
while IFS= read -r -u 3 f; do
    source "$f" </dev/null
    printf '\n@@walk-block-done@@\n'
done
EOF

my ($cmd_r, $cmd_w, $out_r, $out_w);
{
    local $^F = 255;    # kept across exec: bash reads fd 3
    pipe($cmd_r, $cmd_w) or die $!;
}
pipe($out_r, $out_w) or die $!;
my $pid = fork // die $!;
if ($pid == 0) {
    setsid();
    close $cmd_w;
    close $out_r;
    chdir $tree or die $!;
    open(STDOUT, '>&', $out_w) or die $!;
    open(STDERR, '>&', $out_w) or die $!;
    open(STDIN, '<', '/dev/null') or die $!;
    # fd 3: the names of the blocks to source
    POSIX::dup2(fileno($cmd_r), 3) or die $!;
    exec('bash', '--noprofile', '--norc', '-c', $driver) or die $!;
}
close $cmd_r;
close $out_w;
$cmd_w->autoflush(1);

my $sel = IO::Select->new($out_r);
my $n = 0;
my $alive = 1;
for my $b (@blocks) {
    $n++;
    my $name = "block $n (README line $b->{line})";
    if (!$alive) {
        fail("$name: not run, the walk stopped before it");
        next;
    }
    my $file = "$dir/walk-$n.sh";
    open(my $bf, '>', $file) or die $!;
    print $bf $b->{code};
    close $bf;
    print $cmd_w "$file\n";

    my ($out, $done) = ('', 0);
    my $start = time();
    my $end = $start + $BLOCK_SECONDS;
    while (time() < $end) {
        last unless $sel->can_read($end - time());
        my $got = sysread($out_r, $out, 65536, length $out);
        last unless $got;
        if ($out =~ s/\n\@\@walk-block-done\@\@\n\z//) {
            $done = 1;
            last;
        }
    }
    if (!$done) {
        my $why = time() >= $end ? "still running after $BLOCK_SECONDS s"
                                 : 'bash exited: a command failed';
        $alive = 0;
        fail("$name: $why") or diag("$b->{code}\n--- its output:\n$out");
        next;
    }
    pass(sprintf('%s ends with status 0 (%.1f s)', $name, time() - $start));
    note($out);

    # what its "# => " lines say, in order
    my @want = $b->{code} =~ /^\s*# => (.*)$/mg;
    next unless @want;
    # each a line of its own, in order; "..." stands for anything
    my $re = join('.*?', map {
        '^' . join('.*?', map { quotemeta } split /\.\.\./, $_, -1)
            . (/\.\.\.$/ ? '' : '$')
    } @want);
    like($out, qr/$re/ms, "$name prints " . join(' | ', @want))
        or diag("$b->{code}\n--- its output:\n$out");
}
close $cmd_w;
kill('KILL', -$pid) unless $alive;
waitpid($pid, 0);
is($?, 0, 'the walk\'s bash exits 0') if $alive;

$t->finish;
done_testing();


# the routes of ngx_http_media_routes[]: [METHOD, /api/v1/...] for each
# method of each row
sub route_table {
    my ($file) = @_;
    my ($table) = slurp($file)
        =~ /ngx_http_media_routes\[\]\s*=\s*\{(.*?)^\};/ms
        or die "$file: no route table";
    my @r;
    while ($table =~ /\{\s*([A-Z_|\s]+?),\s*"([^"]+)",\s*\d+\s*\}/g) {
        my ($methods, $path) = ($1, $2);
        push @r, [ $_, $path ] for map { s/^MEDIA_//r } split /\s*\|\s*/, $methods;
    }
    return @r;
}

# the curl commands of a block: [METHOD, path] for each URL written
# "$BASE/..." (continued lines joined, the query left out)
sub curl_calls {
    my ($code) = @_;
    $code =~ s/\\\n/ /g;
    my @calls;
    for my $cmd ($code =~ /\bcurl\b([^\n|;]*)/g) {
        my ($method) = $cmd =~ /(?:-X|--request)\s+'?([A-Z]+)/;
        $method //= 'HEAD' if $cmd =~ /\s(?:--head|-[a-zA-Z]*I[a-zA-Z]*)(?=\s)/;
        $method //= 'GET' if $cmd =~ /\s(?:--get|-[a-zA-Z]*G[a-zA-Z]*)(?=\s)/;
        $method //= 'PUT' if $cmd =~ /\s(?:-T|--upload-file)\s/;
        $method //= 'POST' if $cmd =~ /\s(?:-d|-F|--data[\w-]*|--form)\s/;
        $method //= 'GET';
        while ($cmd =~ m{["']?\$(?:\{BASE\}|BASE)(/[^\s"'?]*)}g) {
            push @calls, [ $method, $1 ];
        }
    }
    return @calls;
}
