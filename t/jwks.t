# An external identity provider as it is: tokens signed by an independent
# library (panva/jose, t/idp) with every algorithm we verify, with and
# without kid, while media_jwt_key is also set; a JWKS that also holds
# keys we cannot use; and media_jwt_jwks_url, which fetches the keys from
# the provider and follows its rotations without a reload.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Copy qw(copy);
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(time sleep);
use MediaTest qw(wait_until slurp);

my $node_idp = "$FindBin::Bin/idp/idp.mjs";
plan(skip_all => 't/idp/node_modules: run make tools')
    unless -d "$FindBin::Bin/idp/node_modules/jose";

my @ALGS = qw(RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA);

my $t = MediaTest->new;
my $dir = $t->dir;
my $json = JSON::PP->new->canonical;

sub idp {
    my @args = @_;
    open(my $fh, '-|', 'node', $node_idp, @args) or die "node: $!";
    local $/;
    my $out = <$fh>;
    close $fh;
    die "idp.mjs @args[0 .. 2] failed" if $?;
    $out =~ s/\s+\z//;
    return $out;
}

my %claims = (iss => 'https://idp.example', aud => 'media', sub => 'idp|7',
              exp => int(time()) + 900);

# a token from provider NAME: ALG, the kid it names ('-': none)
sub token {
    my ($name, $alg, $kid, %more) = @_;
    return idp('sign', $dir, $name, $alg, $kid,
               $json->encode({ %claims, %more }));
}

sub me {
    my ($tok) = @_;
    return $t->http(GET => '/api/v1/auth/me',
                    headers => { Authorization => "Bearer $tok" });
}

sub me_status {
    my $r = me($_[0]);
    diag($r->{content}) if $r->{status} == 599;
    return $r->{status};
}

idp('keys', $dir, 'a');
$t->jwt_key;

$t->start_postgres;
$t->start_redis;

# --- the file form: a provider's JWKS with every kind of key --------------

$t->write_conf(<<'EOF');
%%MAIN%%
worker_processes 1;
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_jwt_jwks %%DIR%%/a.jwks.json issuer=https://idp.example
                   audience=media;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /api/ {
            media_api;
        }
    }
}
EOF

$t->migrate;
$t->start_nginx;

my $log = slurp("$dir/error.log");
like($log, qr/\[warn\].*media_jwt_jwks "\S+a\.jwks\.json": key "a-oaep" skipped: "use" is "enc"/,
     'the RSA-OAEP encryption key is skipped with a warning naming it');
like($log, qr/\[warn\].*key "a-x25519" skipped: kty OKP with crv "X25519" is not supported/,
     'the X25519 key is skipped with a warning naming it');
unlike($log, qr/\[emerg\]/, 'and the set is not refused as a whole');

for my $alg (@ALGS) {
    is(me_status(token('a', $alg, "a-$alg")), 200,
       "$alg token (jose) with its kid: 200");
    is(me_status(token('a', $alg, '-')), 200,
       "$alg token without kid, media_jwt_key also set: 200");
}

my $r = me(token('a', 'PS256', 'a-PS256', aud => 'other'));
is($r->{status}, 401, 'a good signature for another audience: 401');
like($r->{json}{error}{message}, qr/bad_audience/, '... bad_audience');

# the key decides the algorithm: same RSA key kind, other padding
idp('keys', $dir, 'x');    # another provider, not trusted
for my $case (
    [ token('a', 'RS256', 'a-PS256'), 'bad_alg',
      'RS256 token naming the PS256 key' ],
    [ token('a', 'ES384', 'a-ES256'), 'bad_alg',
      'ES384 token naming the ES256 key' ],
    [ token('x', 'RS256', 'x-RS256'), 'unknown_kid',
      'a kid the JWKS does not have' ],
    [ token('x', 'EdDSA', '-'), 'unknown_kid',
      'no kid, signed by a key we do not trust' ],
    [ token('x', 'PS512', 'a-PS512'), 'bad_signature',
      'our kid, someone else\'s key' ],
) {
    my ($tok, $reason, $name) = @$case;
    $r = me($tok);
    ok($r->{status} == 401 && $r->{json}{error}{message} =~ /\b$reason\b/,
       "$name: 401 $reason") or diag("$r->{status} $r->{content}");
}

# our own tokens are not disturbed: no kid tried against our HS256 key
my $ann = $t->signup('ann@example.com');
is(me_status($ann->{access_token}), 200, 'our own access token: 200');

$t->stop_nginx;

# --- media_jwt_jwks_url: fetched, cached, rotated, kept ---------------------

my $served = "$dir/served";
mkdir $served;
copy("$dir/a.jwks.json", "$served/jwks.json") or die;
$t->spawn('provider', {}, 'perl', "$FindBin::Bin/tools/jwks_server.pl",
          $t->port('idp'), $served);
wait_until(sub {
    IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port('idp'))
}) or die 'the provider did not start';
unlink "$served/requests.log";

sub fetches {
    my @n = slurp("$served/requests.log") =~ /^GET /mg;
    return scalar @n;
}

$t->write_conf(<<'EOF');
%%MAIN%%
worker_processes 1;
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_jwt_jwks_url /_jwks issuer=https://idp.example audience=media
                       refresh=3s;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /api/ {
            media_api;
        }

        # the provider's jwks_uri, as README shows (less the header
        # settings: the module sends none of the client's anyway)
        location = /_jwks {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_idp%%/jwks.json;
            subrequest_output_buffer_size 64k;
        }
    }
}
EOF

# every token minted now: node takes a while, and the rate limit is timed
idp('keys', $dir, 'b', 'RS256', 'ES256');
my %tok = map { ($_ => token('a', $_, $_ eq 'EdDSA' ? '-' : "a-$_")) } @ALGS;
my $b_rs = token('b', 'RS256', 'b-RS256');
my $b_es = token('b', 'ES256', 'b-ES256');
my $x_es = token('x', 'ES256', 'x-ES256');
my @made_up = map { token('x', 'RS256', "made-up-$_") } 1 .. 10;
idp('keys', $dir, 'c', 'RS256');
my $c_rs = token('c', 'RS256', 'c-RS256');
my $c_nokid = token('c', 'RS256', '-');

$t->start_nginx;

is(fetches(), 0, 'no fetch before a provider token arrives');
is(me_status($ann->{access_token}), 200,
   'our own token needs no fetch') ;
is(fetches(), 0, '... and starts none');

my $t0 = time();
is(me_status($tok{RS256}), 200,
   'first provider token: the keys are fetched, then it verifies');
is(fetches(), 1, 'one fetch');

for my $alg (@ALGS) {
    is(me_status($tok{$alg}), 200, "$alg from the fetched set: 200");
}
is(fetches(), 1, 'all from the cache: still one fetch');

my $sent = slurp("$served/requests.log");
unlike($sent, qr/^(authorization|cookie):/mi,
       'the client\'s token and cookies are not sent to the provider');

# the provider rotates: b replaces a
copy("$dir/b.jwks.json", "$served/jwks.json") or die;

SKIP: {
    skip 'the machine was too slow to see the refresh window', 4
        if time() - $t0 > 2;
    is(me_status($b_rs), 401,
       'a new kid within refresh=3s of the last fetch: 401');

    # made-up kids must not turn into requests to the provider
    my $refused = grep { me_status($_) == 401 } @made_up;
    is($refused, 10, 'ten made-up kids: 401 each');
    is(fetches(), 1, 'no fetch for any of them: the rate limit holds');
    ok(time() - $t0 < 3, '(all within the refresh window)');
}

sleep(3.2);
my $before = fetches();
is(me_status($b_rs), 200, 'after the refresh interval, the rotated key '
   . 'verifies: no reload');
is(fetches(), $before + 1, '... after one fetch');
is(me_status($b_es), 200, 'the other new key too, from the cache');
is(fetches(), $before + 1, '... without another');
is(me_status($tok{RS256}), 401,
   'a key the provider withdrew no longer verifies');

# the provider goes down: the last good set is kept
$t->stop_proc('provider');
sleep(3.2);
is(me_status($x_es), 401,
   'provider down: an unknown kid is refused');
like(slurp("$dir/error.log"),
     qr/media jwks: "\/_jwks" answered 502, not 200 with a body; keeping the 2 keys we have/,
     'the failed fetch is logged, the keys kept');
is(me_status($b_rs), 200, 'provider down: the keys we had still verify');
is(me_status($b_es), 200, '... both of them');

# back up, but answering something that is not a JWKS
open(my $fh, '>', "$served/jwks.json") or die;
print $fh "<html>maintenance</html>\n";
close $fh;
$t->spawn('provider', {}, 'perl', "$FindBin::Bin/tools/jwks_server.pl",
          $t->port('idp'), $served);
wait_until(sub {
    IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port('idp'))
}) or die 'the provider did not start';
sleep(3.2);
$before = fetches();
is(me_status($x_es), 401,
   'provider answers garbage: an unknown kid is refused');
is(fetches(), $before + 1, '... after one fetch');
like(slurp("$dir/error.log"), qr/media jwks: "\/_jwks" answered no usable JWKS: not JSON/,
     'the garbage is logged');
is(me_status($b_rs), 200, 'and the last good set still verifies');

$t->stop_nginx;

# valid=: keys older than that are fetched again, so a withdrawn key stops
copy("$dir/b.jwks.json", "$served/jwks.json") or die;
my $conf = slurp($t->conf_file);
$conf =~ s/refresh=3s/refresh=1s valid=2s/ or die;
open($fh, '>', $t->conf_file) or die;
print $fh $conf;
close $fh;
$t->start_nginx;

$before = fetches();
is(me_status($b_rs), 200, 'valid=2s: the first token fetches the keys');
is(me_status($b_es), 200, '... and the next is served from them');
is(fetches(), $before + 1, '... one fetch');
copy("$dir/a.jwks.json", "$served/jwks.json") or die;
sleep(2.2);
is(me_status($b_rs), 401,
   'keys older than valid=: fetched again, the withdrawn key refused');
is(fetches(), $before + 2, '... after one more fetch');
is(me_status($tok{ES384}), 200, 'the new set verifies');
is(fetches(), $before + 2, '... from the cache');

# a slow provider: the tokens that come during the fetch wait for it
sub me_start {
    my ($tok) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->port('http'),
                                  Timeout => 5) or die "connect: $!";
    print $s "GET /api/v1/auth/me HTTP/1.1\r\nHost: localhost\r\n"
             . "Authorization: Bearer $tok\r\nConnection: close\r\n\r\n";
    return $s;
}

copy("$dir/c.jwks.json", "$served/jwks.json") or die;
open($fh, '>', "$served/delay") or die;
print $fh "1\n";
close $fh;
sleep(1.1);
$before = fetches();
my @socks = map { me_start($_) } $c_rs, $c_nokid, $c_rs;
my @status = map { ($t->http_finish($_))[0] // 0 } @socks;
is("@status", '200 200 200',
   'three tokens of a new key at once, the provider slow: all 200');
is(fetches(), $before + 1, '... after a single fetch they all waited for');

# a client that leaves during the fetch does not stall the next one
sleep(1.1);
close(me_start($x_es));
sleep(1.5);
unlink "$served/delay";
copy("$dir/a.jwks.json", "$served/jwks.json") or die;
$before = fetches();
is(me_status($tok{RS384}), 200,
   'after a client left during a fetch, the next fetch still happens');
is(fetches(), $before + 1, '... (one more fetch)');

$t->stop_nginx;

# --- refusals at configuration ---------------------------------------------

sub conf_error {
    my ($directives) = @_;
    my $file = "$dir/bad.conf";
    open(my $fh, '>', $file) or die;
    print $fh $t->main_conf, "events {}\nhttp {\n", $t->http_conf,
              "media_jwt_key $dir/jwt.key;\n$directives\n",
              "server { listen 127.0.0.1:1; }\n}\n";
    close $fh;
    my ($ok) = $t->nginx_test($file);
    return $ok ? '' : slurp("$dir/nginx-t.err");
}

like(conf_error('media_jwt_jwks_url https://idp.example/jwks.json;'),
     qr/invalid media_jwt_jwks_url "https:\S+": it names an internal location/,
     'a URL instead of a location: refused, with what to do');
like(conf_error('media_jwt_jwks_url /_jwks refresh=0;'),
     qr/invalid media_jwt_jwks_url parameter "refresh=0"/,
     'refresh under 1s: refused');
like(conf_error("media_jwt_jwks $dir/a.jwks.json;\nmedia_jwt_jwks_url /_jwks;"),
     qr/"media_jwt_jwks_url" directive cannot be used with media_jwt_jwks/,
     'both forms at once: refused');
like(conf_error("media_jwt_jwks_url /_jwks;\nmedia_jwt_jwks $dir/a.jwks.json;"),
     qr/"media_jwt_jwks" directive cannot be used with media_jwt_jwks_url/,
     '... in either order');

$t->finish;

done_testing;
