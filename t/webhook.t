# Stripe webhooks: POST /api/v1/webhooks/stripe verifies Stripe-Signature
# against the current and previous secret within the tolerance, stores
# each event once by its id with one billing job and one stream entry, and
# answers 200 {"received":true} to new events, duplicates and types nobody
# handles alike; every refusal is JSON naming what was wrong.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha256_hex);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(time sleep);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

my $current = 'whsec_' . 'c' x 32;
my $previous = 'whsec_' . 'p' x 32;
my $stranger = 'whsec_' . 's' x 32;
spew("$dir/whsec.current", "$current\n");
spew("$dir/whsec.previous", "$previous\n");
spew("$dir/whsec.bad", "sk_test_not_a_webhook_secret\n");

$t->start_postgres;
$t->start_redis;

my $conf = <<'EOF';
%%MAIN%%
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;
    SECRETS
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
    }
}
EOF

sub config {
    my ($lines) = @_;
    (my $c = $conf) =~ s/SECRETS/$lines/;
    return $t->write_conf($c);
}

config("media_stripe_webhook_secret %%DIR%%/whsec.current"
       . " %%DIR%%/whsec.previous;\n"
       . "    media_stripe_webhook_tolerance 2m;");
$t->jwt_key;
$t->migrate;
$t->start_nginx;

my $route = '/api/v1/webhooks/stripe';
my $n = 0;

# an event as Stripe sends it (the worker reads the rest from the payload)
sub event {
    my (%o) = @_;
    my $id = $o{id} // sprintf('evt_test%06d', ++$n);
    return encode_json({
        id => $id, object => 'event', api_version => '2024-06-20',
        created => $o{created} // time_int(),
        type => $o{type} // 'customer.subscription.updated',
        livemode => JSON::PP::false,
        data => { object => { id => 'sub_123', object => 'subscription',
                              customer => 'cus_123', status => 'active' } },
    });
}

sub time_int { int(time()) }

sub sig {
    my ($body, $secret, $ts) = @_;
    $ts //= time_int();
    return "t=$ts,v1=" . hmac_sha256_hex("$ts.$body", $secret);
}

sub post {
    my ($body, $header, %h) = @_;
    return $t->http(POST => $route, body => $body,
                    headers => { 'Content-Type' => 'application/json; '
                                                   . 'charset=utf-8',
                                 (defined $header
                                  ? ('Stripe-Signature' => $header) : ()),
                                 %h });
}

sub refused {
    my ($r, $status, $code, $name) = @_;
    is($r->{status}, $status, "$name: $status");
    is($r->{json}{error}{code}, $code, "$name: $code")
        or diag($r->{content});
    return $r->{json}{error}{message} // '';
}

sub psql1 {
    my $v = $t->psql('media', $_[0]);
    chomp $v if defined $v;
    return $v;
}

sub id_of { decode_json($_[0])->{id} }

# --- a signed event -----------------------------------------------------------

my $body = event();
my $id = id_of($body);
my $r = post($body, sig($body, $current));
is($r->{status}, 200, 'a signed event: 200');
is_deeply($r->{json}, { received => JSON::PP::true }, '{"received":true}');

my $row = psql1("SELECT type || '|' || created || '|' || (payload->>'id')"
                . " || '|' || job_id FROM billing_events WHERE id = '$id'");
like($row, qr/^customer\.subscription\.updated\|\d+\|\Q$id\E\|[0-9a-f-]{36}$/,
     'billing_events: type, created, the payload, a job');
my ($job) = $row =~ /\|([0-9a-f-]{36})$/;
is(psql1("SELECT type || ' ' || status || ' ' || payload::text || ' '"
         . " || coalesce(user_id::text, 'none') FROM jobs WHERE id = '$job'"),
   qq{billing queued {"event": "$id", "action": "event"} none},
   'jobs: a queued billing job for the event, no user');
# the XADD goes after the answer, without waiting for Redis
ok(wait_until(sub { $t->redis('XRANGE', 'media:billing', '-', '+')
                    =~ /\bjob\n\Q$job\E\b/ }, timeout => 5),
   'media:billing: an entry pointing at the job');

# --- refusals -----------------------------------------------------------------

sub none_stored {
    my ($b, $name) = @_;
    my $i = id_of($b);
    is(psql1("SELECT count(*) FROM billing_events WHERE id = '$i'"), 0,
       "$name: nothing stored");
}

$body = event();
(my $tampered = $body) =~ s/"active"/"canceled"/;
refused(post($tampered, sig($body, $current)), 400, 'signature_mismatch',
        'a tampered body');
none_stored($tampered, 'tampered');

my $m = refused(post($body, sig($body, $current, time_int() - 200)), 400,
                'timestamp_outside_tolerance', 'signed 200 s ago');
like($m, qr/120 s/, 'the message says the tolerance (2m)');
like($m, qr/behind/, '... and which way the clock is off');
refused(post($body, sig($body, $current, time_int() + 200)), 400,
        'timestamp_outside_tolerance', 'signed 200 s ahead');
is(post($body, sig($body, $current, time_int() - 100))->{status}, 200,
   'signed 100 s ago: within the tolerance, taken');

$body = event();
$m = refused(post($body, sig($body, $stranger)), 400, 'signature_mismatch',
             'an unknown secret');
like($m, qr/media_stripe_webhook_secret/, 'the message names the directive');
none_stored($body, 'unknown secret');

# Stripe rolling its secret signs with both: ours is the second v1
$body = event();
my $two = sig($body, $stranger) . ',v1='
          . hmac_sha256_hex(time_int() . ".$body", $previous);
$two =~ s/^t=\d+/'t=' . time_int()/e;
is(post($body, $two)->{status}, 200,
   'two v1 in rotation, one with the previous secret: 200');
is(psql1("SELECT count(*) FROM billing_events WHERE id = '"
         . id_of($body) . "'"), 1, '... stored');

$body = event();
is(post($body, sig($body, $previous))->{status}, 200,
   'signed with the previous secret alone: 200');

$body = event();
refused(post($body, undef), 400, 'signature_missing', 'no Stripe-Signature');
refused(post($body, ''), 400, 'signature_missing', 'an empty one');
$m = refused(post($body, 'garbage'), 400, 'signature_malformed',
             'a malformed header');
like($m, qr/key=value/, 'the message says what is malformed');
$m = refused(post($body, 't=soon,v1=' . ('0' x 64)), 400,
             'signature_malformed', 'a timestamp that is not a number');
like($m, qr/timestamp/, '... named');
refused(post($body, 't=' . time_int() . ',v1=abc'), 400,
        'signature_malformed', 'a short v1');
refused(post($body, 't=' . time_int() . ',t=' . time_int() . ',v1='
                    . ('0' x 64)), 400, 'signature_malformed', 'two t');
refused(post($body, 't=' . time_int() . ',v0=' . ('0' x 64)), 400,
        'signature_no_v1', 'v0 alone');
refused(post($body, sig($body, $current),
             'Stripe-Signature' => [sig($body, $current),
                                    sig($body, $current)]),
        400, 'signature_malformed', 'the header twice');
none_stored($body, 'every refused header');

# signed, but not an event this server can store
for my $case (['not json', 'invalid_json', 'not JSON'],
              ['[1,2]', 'invalid_json', 'a JSON array'],
              ['{"id":"evt_x\u0000","type":"a","created":1}', 'invalid_json',
               'a NUL in a string'],
              ['{"id":"cus_1","type":"a","created":1}', 'invalid_event',
               'an id that is not evt_'],
              ['{"id":"evt_1","created":1}', 'invalid_event', 'no type'],
              ['{"id":"evt_1","type":"a","created":"1"}', 'invalid_event',
               'created as a string'],
              ['{"id":"evt_1","type":"a","created":1} /* c */', 'invalid_json',
               'a comment yajl takes and jsonb does not'])
{
    my ($b, $code, $name) = @$case;
    refused(post($b, sig($b, $current)), 400, $code, "signed, $name");
}
is(psql1("SELECT count(*) FROM billing_events WHERE id = 'evt_1'"), 0,
   'none of them stored');

# --- unknown types and duplicates ------------------------------------------------

$body = event(type => 'radar.early_fraud_warning.created');
is(post($body, sig($body, $current))->{status}, 200,
   'a type nobody handles: 200');
is(psql1("SELECT type FROM billing_events WHERE id = '" . id_of($body)
         . "'"), 'radar.early_fraud_warning.created', '... stored as it came');

$body = event();
$id = id_of($body);
my $xlen = $t->redis('XLEN', 'media:billing');
$r = post($body, sig($body, $current));
my $again = post($body, sig($body, $current, time_int() - 1));
is("$r->{status} $again->{status}", '200 200', 'the same event twice: 200, 200');
is_deeply($again->{json}, { received => JSON::PP::true },
          '... the second answered alike');
is(psql1("SELECT count(*) || ' ' || count(DISTINCT job_id) FROM"
         . " billing_events WHERE id = '$id'"), '1 1', 'one row');
is(psql1("SELECT count(*) FROM jobs WHERE payload->>'event' = '$id'"), 1,
   'one job');
wait_until(sub { $t->redis('XLEN', 'media:billing') > $xlen }, timeout => 5);
select(undef, undef, undef, 0.3);   # a second entry would be there by now
is($t->redis('XLEN', 'media:billing'), $xlen + 1, 'one stream entry');

# --- GET and size ------------------------------------------------------------------

$r = $t->http(GET => $route);
refused($r, 405, 'method_not_allowed', 'GET');
is($r->{headers}{allow}, 'POST', 'Allow: POST');

my $big = '{"id":"evt_big","type":"a","created":1,"pad":"'
          . ('x' x (256 * 1024)) . '"}';
$m = refused(post($big, sig($big, $current)), 413, 'body_too_large',
             'a body over 256 KB');
like($m, qr/262144/, 'the message says the limit');

# a chunked body has no size to check before it is read
{
    my $b = event();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->port('http'),
                                  Timeout => 5) or die "connect: $!";
    print $s "POST $route HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\nTransfer-Encoding: chunked\r\n"
             . 'Stripe-Signature: ' . sig($b, $current) . "\r\n\r\n"
             . sprintf('%x', length $b) . "\r\n$b\r\n0\r\n\r\n";
    my ($status, $text) = $t->http_finish($s, 10);
    is($status, 411, 'a chunked body: 411');
    like($text // '', qr/"length_required"/, '... length_required');
    none_stored($b, 'chunked');
}

# just under the limit: read from the temp file nginx wrote it to
my $pad = 256 * 1024 - length(event(id => 'evt_large')) - 20;
my $large = event(id => 'evt_large');
$large =~ s/^\{/{"pad":"@{[ 'x' x $pad ]}",/;
ok(length($large) <= 256 * 1024 && length($large) > 200 * 1024,
   'a body of ' . length($large) . ' bytes');
is(post($large, sig($large, $current))->{status}, 200, '... taken');

# --- a burst ---------------------------------------------------------------------

# 20 senders, 50 events each, and each also re-sends 5 of its neighbour's
# at the same time: 1,000 events, each stored once with one job
my $senders = 20;
my $each = 50;
my $t0 = time();
my %kids;

for my $k (0 .. $senders - 1) {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        my $ua = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
        my $ok = 0;
        my @ids = map { sprintf('evt_burst%04d', $k * $each + $_) }
                  0 .. $each - 1;
        my $next = ($k + 1) % $senders;
        push @ids, map { sprintf('evt_burst%04d', $next * $each + $_) } 0 .. 4;
        for my $i (@ids) {
            my $b = event(id => $i);
            my $res = $ua->request('POST', $t->url($route),
                                   { content => $b,
                                     headers => {
                                         'Stripe-Signature'
                                             => sig($b, $current) } });
            $ok++ if $res->{status} == 200;
        }
        POSIX::_exit($ok == @ids ? 0 : 1);
    }
    $kids{$pid} = 1;
}

my $failed = 0;
my $deadline = time() + 120;
while (%kids && time() < $deadline) {
    my $pid = waitpid(-1, WNOHANG);
    if ($pid > 0) {
        $failed++ if $? != 0 && delete $kids{$pid};
        delete $kids{$pid};
    } else {
        sleep(0.05);
    }
}
kill('KILL', keys %kids);
waitpid($_, 0) for keys %kids;
ok(!%kids, 'every sender finished in time ('
           . sprintf('%.1f', time() - $t0) . ' s)');
is($failed, 0, 'every request of the burst answered 200');
is(psql1("SELECT count(*) || ' ' || count(DISTINCT job_id)"
         . " FROM billing_events WHERE id LIKE 'evt_burst%'"),
   '1000 1000', '1,000 events stored, each with its own job');
is(psql1("SELECT count(*) FROM jobs WHERE type = 'billing'"
         . " AND payload->>'event' LIKE 'evt_burst%'"), 1000, '1,000 jobs');
my $billing_jobs = psql1("SELECT count(*) FROM jobs WHERE type = 'billing'");
my $entries;
wait_until(sub {
    $entries = () = $t->redis('XRANGE', 'media:billing', '-', '+') =~ /^job$/mg;
    $entries >= $billing_jobs }, timeout => 10);
is($entries, psql1("SELECT count(*) FROM jobs WHERE type = 'billing'"),
   'one stream entry per billing job');

# --- Redis away: the row is the truth ------------------------------------------------

$t->stop_redis;
$body = event();
$id = id_of($body);
is(post($body, sig($body, $current))->{status}, 200,
   'Redis down: still 200');
is(psql1("SELECT count(*) FROM billing_events e JOIN jobs j"
         . " ON j.id = e.job_id WHERE e.id = '$id' AND j.status = 'queued'"),
   1, '... the event and its queued job are stored');
my $lost = psql1("SELECT job_id FROM billing_events WHERE id = '$id'");
ok(wait_until(sub { slurp("$dir/error.log") =~ /media redis: "XADD media:billing \Q$lost\E" failed \(not connected\); the workers' reconciler enqueues the job from its row/ },
              timeout => 5), '... and the failed XADD logged, naming the job');

# --- configuration -------------------------------------------------------------------

my ($ok, $out);
config("media_stripe_webhook_secret %%DIR%%/whsec.bad;");
($ok, $out) = $t->nginx_test;
ok(!$ok && $out =~ /whsec_/, 'a secret that is not whsec_...: nginx -t fails')
    or diag($out);
config("media_stripe_webhook_secret %%DIR%%/nowhere;");
($ok, $out) = $t->nginx_test;
ok(!$ok && $out =~ /cannot open/, 'a missing file: nginx -t fails')
    or diag($out);
config("media_stripe_webhook_secret %%DIR%%/whsec.current;\n"
       . "    media_stripe_webhook_tolerance 0s;");
($ok, $out) = $t->nginx_test;
ok(!$ok && $out =~ /at least 1s/, 'tolerance 0: nginx -t fails')
    or diag($out);

# without a secret the route says so (once the old workers, which still
# have one, are gone)
config('');
$t->reload_nginx_settled;
ok(wait_until(sub { post('{}', 't=1,v1=x')->{status} == 503 }, timeout => 10),
   'reloaded without a secret');
$m = refused(post($body, sig($body, $current)), 503,
             'webhooks_not_configured', 'no secret configured');
like($m, qr/media_stripe_webhook_secret/, 'the message names the directive');

$t->finish;
done_testing;


sub spew {
    my ($file, $text) = @_;
    open(my $fh, '>', $file) or die "$file: $!";
    print $fh $text;
    close $fh;
}
