# Request limits as nginx.conf.example ships them (nginx's own limit_req,
# keyed by the module's $media_user_id): sign-ins 5 a minute per address,
# the media listing 100 a minute per user, uploads 20 a minute per user.
# Each is hit: 429 with the API's JSON error and Retry-After (the
# location's media_retry_after); a limit per address holds for every
# account from it, one per user leaves other users (and the user's other
# limit) alone; an anonymous request is not counted by a per-user limit
# and gets its 401.  The access log's JSON line of a refusal carries the
# request id its body names, and /metrics counts it under its route.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json encode_json);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf(keep_limits => 1);
$t->migrate;
$t->start_nginx;

my $a = $t->signup('a@example.com');
my $b = $t->signup('b@example.com');

# sends until the first 429, at most $max times; (requests sent, the 429)
sub until_429 {
    my ($max, @req) = @_;
    for my $n (1 .. $max) {
        my $r = $t->http(@req);
        return ($n, $r) if $r->{status} == 429;
        die "$req[0] $req[1]: $r->{status} $r->{content}"
            if $r->{status} >= 500;
    }
    return ($max, undef);
}

sub refused_ok {
    my ($r, $wait, $what) = @_;
    ok($r, "$what: 429") or return;
    like($r->{headers}{'content-type'}, qr{^application/json}, '  JSON');
    is($r->{json}{error}{code}, 'rate_limited', '  code rate_limited');
    like($r->{json}{error}{message}, qr/wait the seconds in Retry-After/,
         '  says what to do');
    is($r->{headers}{'retry-after'}, $wait, "  Retry-After: $wait");
}

# --- sign-ins: 5 a minute per address ---------------------------------------------

my $login = sub {
    my ($email) = @_;
    return (POST => '/api/v1/auth/login',
            headers => { 'Content-Type' => 'application/json' },
            body => encode_json({ email => $email,
                                  password => 'a good password' }));
};

my ($n, $r) = until_429(20, $login->('a@example.com'));
# 5 at once (burst 4 + 1), then one every 12 s: a slow machine may add one
ok($n >= 6 && $n <= 7, "sign-ins: the first refused is number $n (5 a minute)");
refused_ok($r, 12, 'sign-in over the limit');
my $refused = $r;

($n, $r) = until_429(1, $login->('b@example.com'));
ok($r, 'per address: another account from the same address is refused too');

# the refusal's line in the access log, by its request id
my $rid = $refused->{json}{error}{request_id};
like($rid, qr/^[0-9a-f]{32}$/, "the error names its request: $rid");
my $line;
ok(wait_until(sub {
    ($line) = grep { /"request_id":"$rid"/ } split /\n/, slurp("$dir/media.log");
}, timeout => 5), '  the access log has it');
my $log = eval { decode_json($line) } || {};
is($log->{status}, 429, '  logged as 429');
is($log->{route}, 'POST /api/v1/auth/login', '  under its route');

# --- the listing: 100 a minute per user ---------------------------------------------

my $as_a = { Authorization => "Bearer $a->{access_token}" };
my $as_b = { Authorization => "Bearer $b->{access_token}" };

($n, $r) = until_429(150, GET => '/api/v1/media', headers => $as_a);
ok($n > 100 && $n <= 110, "listing: the first refused is number $n (100 a minute)");
refused_ok($r, 3, 'listing over the limit');

$r = $t->http(GET => '/api/v1/media', headers => $as_b);
is($r->{status}, 200, 'per user: another user lists');
$r = $t->http(GET => '/api/v1/media');
is($r->{status}, 401, 'anonymous: not counted, 401 as ever');
is($r->{json}{error}{code}, 'missing_token', '  missing_token');

# --- uploads: 20 a minute per user -------------------------------------------------------

# an empty body: refused by the API, counted by the limit all the same
my @upload = (POST => '/api/v1/media', body => '',
              headers => { %$as_b, 'Content-Type' => 'audio/wav' });
($n, $r) = until_429(40, @upload);
ok($n > 20 && $n <= 23, "uploads: the first refused is number $n (20 a minute)");
refused_ok($r, 3, 'uploads over the limit');

$r = $t->http(GET => '/api/v1/media', headers => $as_b);
is($r->{status}, 200, "  the user's listing is another limit: 200");
$r = $t->http(@upload[0, 1], body => '',
              headers => { Authorization => "Bearer $a->{access_token}",
                           'Content-Type' => 'audio/wav' });
isnt($r->{status}, 429, '  another user uploads (the listing limit is not this one)');

# --- /metrics counts the refusals under their routes --------------------------------------

my $m = $t->http(GET => '/metrics')->{content};
like($m, qr/^media_http_requests_total\{route="POST \/api\/v1\/auth\/login",status="429"\} [2-9]$/m,
     '/metrics: sign-ins refused');
like($m, qr/^media_http_requests_total\{route="GET \/api\/v1\/media",status="429"\} 1$/m,
     '  listings refused');
like($m, qr/^media_http_requests_total\{route="POST \/api\/v1\/media",status="429"\} 1$/m,
     '  uploads refused');

# --- media_retry_after -------------------------------------------------------------------------

my $conf = slurp($t->conf_file);
for my $bad ('media_retry_after soon;', 'media_retry_after 0;') {
    (my $c = $conf) =~ s/media_retry_after 12s;/$bad/ or die;
    open(my $fh, '>', "$dir/bad.conf") or die $!;
    print $fh $c;
    close $fh;
    my ($ok) = $t->nginx_test("$dir/bad.conf");
    ok(!$ok, "$bad: nginx -t fails");
    like(slurp("$dir/nginx-t.err"), qr/invalid media_retry_after "\w+": expected a time/,
         '  saying so');
}

$t->finish;
done_testing;
