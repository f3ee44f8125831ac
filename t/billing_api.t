# Starting Stripe checkout and the customer portal: POST
# /api/v1/billing/checkout and /billing/portal write a billing job (the row
# and its media:billing stream entry), then wait up to media_billing_wait
# for the billing worker's URL.  The worker is not run here: the test plays
# its part through psql, finishing the job row (done with {"url"}, or
# failed with a sentence for the user) while the request waits, or after.
# Refusals: 401, 422 (unknown, unsold or missing plan), 409 (already on
# it); Redis away (the row is the truth); a client that leaves mid-wait
# stops the request's timer.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(time sleep);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;

# the server's requests log to debug.log at debug level: the billing room's
# lines (one "tick" per re-read of the job) are counted there
my $conf = <<'EOF';
%%MAIN%%
worker_processes 1;
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;
    media_billing_wait 2s;
    server {
        listen 127.0.0.1:%%PORT%%;
        error_log %%DIR%%/debug.log debug;
        location /api/ {
            media_api;
        }
    }
}
EOF
$t->write_conf($conf);
$t->jwt_key;
$t->migrate;
$t->start_nginx;

my $json = JSON::PP->new->canonical;
my $ann = $t->signup('ann@example.com');
my $bob = $t->signup('bob@example.com');
my $url = 'https://checkout.stripe.test/c/pay/cs_test_a1';

# --- refusals ------------------------------------------------------------------

my $r = $t->http(POST => '/api/v1/billing/checkout', body => '{"plan":"basic"}',
                 headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 401, 'checkout signed out: 401');
$r = $t->http(POST => '/api/v1/billing/portal', body => '{}',
              headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 401, 'portal signed out: 401');

$r = checkout($ann, { plan => 'gold' });
is($r->{status}, 422, 'an unknown plan: 422');
is($r->{json}{error}{field}, 'plan', 'names the field plan');
like($r->{json}{error}{message},
     qr/no plan "gold".*basic, premium, creator, professional/,
     'says which plans can be bought');

$r = checkout($ann, { plan => 'free' });
is($r->{status}, 422, 'a plan without a price (free): 422');
is($r->{json}{error}{field}, 'plan', 'names the field plan');
like($r->{json}{error}{message}, qr/Free plan is not sold.*basic/,
     'says it is not sold, and what is');

$r = checkout($ann, { plan => 'starter' });
is($r->{status}, 422, 'the creators\' default plan (starter): 422');

$r = checkout($ann, {});
is($r->{status}, 422, 'no plan: 422');
like($r->{json}{error}{message}, qr/plan is required.*basic/, 'says plan is required');

$r = checkout($ann, { plan => 7 });
is($r->{status}, 422, 'plan not a string: 422');

$r = checkout($ann, { plan => 'x' x 5000 });
is($r->{status}, 422, 'a 5000-character plan: 422');
ok(length($r->{json}{error}{message}) < 300, 'quoted cut short');

$r = $t->http(POST => '/api/v1/billing/checkout', body => 'plan=basic',
              headers => auth($ann, 'application/x-www-form-urlencoded'));
is($r->{status}, 415, 'a form body: 415');

$t->psql('media', "UPDATE users SET plan = 'basic' WHERE email = 'bob\@example.com'");
$r = checkout($bob, { plan => 'basic' });
is($r->{status}, 409, 'the plan one is on already: 409');
is($r->{json}{error}{code}, 'already_subscribed', 'already_subscribed');
like($r->{json}{error}{message}, qr/Basic plan already.*billing\/portal/,
     'says so and points at the portal');

$t->psql('media', "UPDATE users SET creator_plan = 'creator' WHERE email = 'bob\@example.com'");
is(checkout($bob, { plan => 'creator' })->{status}, 409,
   'the creator plan one is on: 409');

is(jobs(), 0, 'no refusal wrote a job');

# --- the worker answers within the wait: 200 {url, job} --------------------------

my $s = start($ann, '/api/v1/billing/checkout', { plan => 'basic' });
my $job = wait_job($ann, 'queued');
ok($job, 'the job row is written while the request waits');
is($t->psql('media', "SELECT type || ' ' || payload::text FROM jobs WHERE id = '$job'"),
   qq{billing {"plan": "basic", "action": "checkout"}\n},
   'type billing, payload {"action":"checkout","plan":"basic"}');
like($t->redis('XRANGE', 'media:billing', '-', '+'), qr/\bjob\n$job\b/,
     'the media:billing entry points at the row');

finish_job($job, 'done', $url);
my ($status, $body) = $t->http_finish($s, 10);
is($status, 200, 'the worker is done within media_billing_wait: 200');
my $j = eval { decode_json($body) } || {};
is($j->{url}, $url, 'the checkout url');
is($j->{job}, $job, 'and the job id');

# --- not within the wait: 202 {job}, then GET /jobs/{id} shows the url ------------

$s = start($ann, '/api/v1/billing/checkout', { plan => 'premium' });
$job = wait_job($ann, 'queued');
# a transient failure: the worker retries, the row stays queued with why
$t->psql('media', "UPDATE jobs SET attempts = 1, error = 'Stripe did not"
         . " answer; trying again' WHERE id = '$job'");
($status, $body) = $t->http_finish($s, 10);
is($status, 202, 'still queued when media_billing_wait ends: 202');
$j = eval { decode_json($body) } || {};
is($j->{job}{id}, $job, '202 names the job');
is($j->{job}{status}, 'queued', 'queued');
is($j->{job}{type}, 'billing', 'type billing');
is($j->{job}{attempts}, 1, 'one attempt made');
like($j->{job}{error}, qr/trying again/, 'the retry\'s reason');
is($j->{job}{result}, undef, 'no result yet');

$r = get($ann, "/api/v1/jobs/$job");
is($r->{json}{job}{status}, 'queued', 'GET /jobs/{id}: queued');
is($r->{json}{job}{result}, undef, 'result null');

finish_job($job, 'done', $url);
$r = get($ann, "/api/v1/jobs/$job");
is($r->{json}{job}{status}, 'done', 'GET /jobs/{id} once done: done');
is($r->{json}{job}{result}{url}, $url, 'result.url is the checkout url');
is(get($bob, "/api/v1/jobs/$job")->{status}, 404, 'someone else\'s job: 404');

# --- a permanent failure: 502 with the job's error -------------------------------

$s = start($ann, '/api/v1/billing/checkout', { plan => 'creator' });
$job = wait_job($ann, 'queued');
is($t->psql('media', "SELECT payload->>'plan' FROM jobs WHERE id = '$job'"),
   "creator\n", 'a creator plan is bought the same way');
finish_job($job, 'failed', undef, 'Your card was declined; use another card.');
($status, $body) = $t->http_finish($s, 10);
is($status, 502, 'the job failed: 502');
$j = eval { decode_json($body) } || {};
is($j->{error}{code}, 'billing_failed', 'billing_failed');
is($j->{error}{message}, 'Your card was declined; use another card.',
   'the job\'s error, as the worker wrote it');

# done, but without a url: the worker's bug, not a page to send users to
$s = start($ann, '/api/v1/billing/checkout', { plan => 'professional' });
$job = wait_job($ann, 'queued');
$t->psql('media', "UPDATE jobs SET status = 'done', result = '{}' WHERE id = '$job'");
($status, $body) = $t->http_finish($s, 10);
is($status, 502, 'done without result.url: 502');

# --- the portal: the same flow --------------------------------------------------

$s = start($bob, '/api/v1/billing/portal', {});
$job = wait_job($bob, 'queued');
is($t->psql('media', "SELECT payload::text FROM jobs WHERE id = '$job'"),
   qq{{"action": "portal"}\n}, 'portal job: payload {"action":"portal"}');
finish_job($job, 'done', 'https://billing.stripe.test/p/session/bps_1');
($status, $body) = $t->http_finish($s, 10);
is($status, 200, 'portal: 200');
is((eval { decode_json($body) } || {})->{url},
   'https://billing.stripe.test/p/session/bps_1', 'the portal url');

$r = $t->http(POST => '/api/v1/billing/portal', headers => auth($bob));
is($r->{status}, 202, 'portal with no body at all: 202 after the wait');
is($r->{json}{job}{status}, 'queued', 'its job queued');

# --- a client that leaves mid-wait: its timer stops ------------------------------

my $before = jobs();
$s = start($ann, '/api/v1/billing/checkout', { plan => 'basic' });
$job = wait_job($ann, 'queued');
ok(wait_until(sub { ticks($job) >= 2 }, timeout => 5),
   'the request re-reads the job while it waits');
close $s;
ok(wait_until(sub { slurp("$dir/debug.log")
                    =~ /media billing wait: the request ended before job $job/ },
              timeout => 5),
   'the client left: the request ended, its cleanup ran');
my $n = ticks($job);
sleep(2.5);    # longer than media_billing_wait
is(ticks($job), $n, "no re-read after the client left ($n before)");
like(slurp("$dir/access.log"), qr{"POST /api/v1/billing/checkout HTTP/1.1" 499 },
     'logged as 499');
is($t->psql('media', "SELECT status FROM jobs WHERE id = '$job'"), "queued\n",
   'the job goes on');
is(jobs(), $before + 1, 'one job for it');

# the worker process is the same and keeps serving
my $pids = worker_pids();
is(get($ann, "/api/v1/jobs/$job")->{status}, 200, 'nginx keeps serving');
$s = start($ann, '/api/v1/billing/checkout', { plan => 'premium' });
$job = wait_job($ann, 'queued');
finish_job($job, 'done', $url);
($status) = $t->http_finish($s, 10);
is($status, 200, 'and waits for the next checkout as before');
is(worker_pids(), $pids, 'no nginx worker died');

# --- Redis away: the row is the truth -------------------------------------------

$t->stop_redis;

$r = checkout($ann, { plan => 'basic' });
is($r->{status}, 202, 'Redis down: 202 all the same');
$job = $r->{json}{job}{id};
is($t->psql('media', "SELECT status FROM jobs WHERE id = '$job'"), "queued\n",
   'the row is queued, for the reconciler');
like(slurp("$dir/debug.log"), qr/media billing queue: XADD failed .*job $job/,
     'the missed XADD is logged');

$s = start($ann, '/api/v1/billing/checkout', { plan => 'premium' });
$job = wait_job($ann, 'queued');
finish_job($job, 'done', $url);
($status, $body) = $t->http_finish($s, 10);
is($status, 200, 'Redis down, the job done within the wait: 200');

# --- media_billing_wait 0: 202 at once, the job as written -----------------------

(my $zero = $conf) =~ s/media_billing_wait 2s;/media_billing_wait 0;/;
my $old = worker_pids();
$t->write_conf($zero);
$t->reload_nginx;
ok(wait_until(sub { my $p = worker_pids(); $p ne $old && $p !~ /\b$old\b/ },
              timeout => 10), 'reloaded with media_billing_wait 0');

$r = checkout($ann, { plan => 'premium' });
is($r->{status}, 202, 'wait 0: checkout answers 202');
$job = $r->{json}{job};
is_deeply([ @$job{qw(type status progress attempts error result)} ],
          [ 'billing', 'queued', 0, 0, undef, undef ],
          'with the job as inserted');
is(ticks($job->{id}), 0, 'without reading it again');
$r = $t->http(POST => '/api/v1/billing/portal', headers => auth($bob));
is($r->{status}, 202, 'wait 0: portal answers 202');
is($r->{json}{job}{type}, 'billing', 'with its job');

# --- media_billing_wait is checked ------------------------------------------------

for my $case (['0', 1], ['500ms', 1], ['soon', 0], ['-1s', 0]) {
    (my $c = $conf) =~ s/media_billing_wait 2s;/media_billing_wait $case->[0];/;
    $c =~ s/%%(\w+)%%/$1 eq 'MAIN' ? $t->main_conf : $1 eq 'HTTP' ? $t->http_conf
                       : $1 eq 'PORT' ? $t->port('http') : $dir/ge;
    open(my $fh, '>', "$dir/wait.conf") or die $!;
    print $fh $c;
    close $fh;
    my ($ok, $out) = $t->nginx_test("$dir/wait.conf");
    is($ok ? 1 : 0, $case->[1], "media_billing_wait $case->[0]: "
                                . ($case->[1] ? 'taken' : 'refused'));
    like(slurp("$dir/nginx-t.err"), qr/invalid media_billing_wait "\Q$case->[0]\E"/,
         'the refusal names the directive') unless $case->[1];
}

$t->finish;
done_testing;


sub auth {
    my ($user, $type) = @_;
    return { Authorization => "Bearer $user->{access_token}",
             ($type ? ('Content-Type' => $type) : ()) };
}

sub checkout {
    my ($user, $body) = @_;
    return $t->http(POST => '/api/v1/billing/checkout', body => encode_json($body),
                    headers => auth($user, 'application/json'));
}

sub get {
    my ($user, $path) = @_;
    return $t->http(GET => $path, headers => auth($user));
}

# a request sent on a raw socket, for the test to act while it waits
sub start {
    my ($user, $path, $body) = @_;
    my $b = encode_json($body);
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $t->port('http'),
                                     Timeout => 5) or die "connect: $!";
    print $sock "POST $path HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer $user->{access_token}\r\n"
        . "Content-Type: application/json\r\nContent-Length: " . length($b)
        . "\r\nConnection: close\r\n\r\n$b";
    return $sock;
}

# the user's newest billing job with that status not seen before, waited
# for (bounded)
my %seen;
sub wait_job {
    my ($user, $status) = @_;
    my $id;
    wait_until(sub {
        $id = $t->psql('media', "SELECT id FROM jobs WHERE type = 'billing'"
                       . " AND status = '$status' AND user_id = '$user->{user}{id}'"
                       . " ORDER BY created_at DESC LIMIT 1");
        chomp $id if defined $id;
        $id && !$seen{$id};
    }, timeout => 5, interval => 0.02);
    return undef unless $id && !$seen{$id};
    $seen{$id} = 1;
    return $id;
}

# what the billing worker does when it is done with a job
sub finish_job {
    my ($id, $status, $u, $error) = @_;
    my $result = defined $u ? "'" . encode_json({ url => $u }) . "'" : 'NULL';
    $error = defined $error ? "'$error'" : 'NULL';
    $t->psql('media', "UPDATE jobs SET status = '$status', result = $result,"
             . " error = $error, finished_at = now() WHERE id = '$id'")
        // die "finish $id";
}

sub jobs {
    return $t->psql('media', "SELECT count(*) FROM jobs WHERE type = 'billing'") + 0;
}

sub ticks {
    my ($id) = @_;
    return scalar(() = slurp("$dir/debug.log") =~ /media billing tick: job $id/g);
}

sub worker_pids {
    my $master = $t->pid('nginx');
    return join(',', sort map { (split ' ')[0] }
                grep { /\b$master$/ } `ps -o pid=,ppid= --ppid $master`);
}
