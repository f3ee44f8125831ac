# Accounts and JWT auth: signup, login, me, refresh rotation and reuse
# detection, logout, cookies and CSRF, media_auth in any location, roles,
# login throttling, an external identity provider (JWKS), every bad token,
# and password hashing kept off the event loop.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha256 sha256_hex);
use JSON::PP;
use MIME::Base64 qw(encode_base64url);
use Test::More;
use Time::HiRes qw(time);
use IO::Select;
use IO::Socket::INET;
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;
my $mint = $t->build_path('mint');

# our HS256 key, the previous one, and an identity provider's JWKS
my $secret = 'k' x 40;
spew("$dir/jwt.key", "$secret\n");
spew("$dir/jwt-old.key", ('o' x 40) . "\n");
system($mint, 'keys', $dir) == 0 or die 'mint keys';
mkdir "$dir/private";
spew("$dir/private/index.html", "secret page\n");

$t->start_postgres;
$t->start_redis;

$t->write_conf(<<'EOF');
%%MAIN%%
worker_processes 1;
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key %%DIR%%/jwt-old.key;
    media_jwt_jwks %%DIR%%/jwks.json issuer=https://idp.example
                   audience=media;
    media_cookie_secure off;
    media_login_limit account=3 address=100 window=1m;

    # room for the 64 KB token test: nginx's default refuses the header
    large_client_header_buffers 4 96k;

    log_format who '$media_user_id $media_user_role $media_auth_status';

    server {
        listen 127.0.0.1:%%PORT%%;

        location /api/ {
            media_api;
        }

        location /private/ {
            media_auth on;
            alias %%DIR%%/private/;
            add_header X-User "$media_user_id/$media_user_role";
            access_log %%DIR%%/who.log who;
        }

        location /maybe/ {
            media_auth optional;
            alias %%DIR%%/private/;
            add_header X-User "[$media_user_id]";
        }
    }
}
EOF

$t->migrate;
$t->start_nginx;

my $json = JSON::PP->new->canonical;

# --- signup ----------------------------------------------------------------

my $r = post('/api/v1/auth/signup',
             { email => ' Ann@Example.com ', password => 'correct horse' });
is($r->{status}, 201, 'signup: 201');
my $ann = $r->{json};
is($ann->{user}{email}, 'Ann@Example.com', 'signup: email trimmed');
is($ann->{user}{role}, 'user', 'signup: role user');
is($ann->{user}{plan}, 'free', 'signup: plan free');
like($ann->{user}{id}, qr/^[0-9a-f-]{36}$/, 'signup: id is a uuid');
is($ann->{expires_in}, 900, 'signup: access token lives 15 minutes');
like($ann->{refresh_token}, qr/^[A-Za-z0-9_-]{43}$/, 'signup: refresh token');

my @cookies = cookies($r);
like($cookies[0], qr/^media_access=[^;]+; Path=\/; Max-Age=900; HttpOnly; SameSite=Lax$/,
     'signup: access cookie, httpOnly, Lax, not Secure when off');
like($cookies[1], qr/^media_refresh=[^;]+; Path=\/api\/v1\/auth; Max-Age=604800; HttpOnly; SameSite=Strict$/,
     'signup: refresh cookie scoped to the auth routes, Strict');

my $hash = $t->psql('media', "SELECT password_hash FROM users");
like($hash, qr/^pbkdf2-sha256\$600000\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/,
     'password stored as PBKDF2-SHA256, 600000 iterations, parameters kept');

$r = post('/api/v1/auth/signup',
          { email => 'ann@example.COM', password => 'another one' });
is($r->{status}, 409, 'duplicate email, other case: 409');
is($r->{json}{error}{code}, 'email_taken', 'duplicate: code');

for my $case (
    [ { password => 'long enough' }, 'email', qr/email is required/ ],
    [ { email => 42, password => 'long enough' }, 'email', qr/required/ ],
    [ { email => 'not-an-email', password => 'long enough' }, 'email',
      qr/not an email address/ ],
    [ { email => 'a b@c.d', password => 'long enough' }, 'email',
      qr/not an email address/ ],
    [ { email => 'x@y.z' }, 'password', qr/password is required/ ],
    [ { email => 'x@y.z', password => 'short' }, 'password',
      qr/at least 8 characters/ ],
    [ { email => 'same@example.com', password => 'same@example.com' },
      'password',
      qr/not be your email/ ],
    [ { email => 'x@y.z', password => 'p' x 1025 }, 'password',
      qr/at most 1024 bytes/ ],
) {
    my ($body, $field, $msg) = @$case;
    my $x = post('/api/v1/auth/signup', $body);
    ok($x->{status} == 422 && $x->{json}{error}{field} eq $field
       && $x->{json}{error}{message} =~ $msg,
       "signup 422 names $field: " . ($x->{json}{error}{message} // ''))
        or diag($x->{content});
}

$r = $t->http(POST => '/api/v1/auth/signup', body => '{"email":',
              headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 400, 'truncated JSON: 400');
like($r->{json}{error}{message}, qr/not a JSON object/, 'truncated JSON: says so');

$r = $t->http(POST => '/api/v1/auth/signup', body => '[1]',
              headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 400, 'JSON array body: 400');

$r = $t->http(POST => '/api/v1/auth/signup', body => 'email=a',
              headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
is($r->{status}, 415, 'form body: 415');

$r = $t->http(POST => '/api/v1/auth/signup',
              body => '{"email":"' . ('a' x 70000) . '"}',
              headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 413, '70 KB body: 413');

# --- login, me, header and cookie -----------------------------------------

$r = post('/api/v1/auth/login',
          { email => 'ANN@example.com', password => 'correct horse' });
is($r->{status}, 200, 'login, email in another case: 200');
my $access = $r->{json}{access_token};
my $refresh = $r->{json}{refresh_token};

$r = get('/api/v1/auth/me', $access);
is($r->{status}, 200, 'me with Bearer: 200');
is($r->{json}{user}{id}, $ann->{user}{id}, 'me: the same user');

$r = $t->http(GET => '/api/v1/auth/me',
              headers => { Cookie => "media_access=$access" });
is($r->{status}, 200, 'me with the cookie: 200');

$r = $t->http(GET => '/api/v1/auth/me');
is($r->{status}, 401, 'me without a token: 401');
is($r->{json}{error}{code}, 'missing_token', 'me without a token: code');
is($r->{headers}{'www-authenticate'}, 'Bearer realm="ngx_media"',
   'me without a token: WWW-Authenticate');

# unknown email and wrong password: the same answer, about the same time
my ($t_wrong, $t_unknown);
my $t0 = time();
my $wrong = post('/api/v1/auth/login',
                 { email => 'ann@example.com', password => 'wrong horse' });
$t_wrong = time() - $t0;
$t0 = time();
my $unknown = post('/api/v1/auth/login',
                   { email => 'nobody@example.com', password => 'wrong horse' });
$t_unknown = time() - $t0;

is($wrong->{status}, 401, 'wrong password: 401');
is($unknown->{status}, 401, 'unknown email: 401');
is($unknown->{json}{error}{message}, $wrong->{json}{error}{message},
   'unknown email and wrong password: the same message');
ok($t_unknown > $t_wrong / 3 && $t_unknown < $t_wrong * 3,
   sprintf('and about the same time (%.3fs, %.3fs): a hash either way',
           $t_wrong, $t_unknown));

$r = post('/api/v1/auth/login', { email => 'ann@example.com' });
is($r->{status}, 422, 'login without password: 422');

# yajl would cut a string at \u0000: "ann@example.com\u0000.x" must not
# sign in as ann, nor a password with one match a shorter one
for my $case ([ email => qq({"email":"ann\@example.com\\u0000.anything","password":"correct horse"}) ],
              [ password => qq({"email":"ann\@example.com","password":"correct horse\\u0000tail"}) ],
              [ email => qq({"email":"ann\@example.com\x00","password":"correct horse"}) ])
{
    my ($field, $body) = @$case;
    $r = $t->http(POST => '/api/v1/auth/login', body => $body,
                  headers => { 'Content-Type' => 'application/json' });
    ok($r->{status} == 400 && $r->{json}{error}{field} eq $field
       && $r->{json}{error}{message} =~ /NUL/,
       "a NUL character in $field: 400 naming it")
        or diag("$r->{status} $r->{content}");
}

# --- media_auth in other locations ----------------------------------------

$r = $t->http(GET => '/private/');
is($r->{status}, 401, 'media_auth on, no token: 401');
is($r->{json}{error}{code}, 'missing_token', 'media_auth on: JSON error');

$r = get('/private/', $access);
is($r->{status}, 200, 'media_auth on, token: 200');
is($r->{headers}{'x-user'}, "$ann->{user}{id}/user",
   '$media_user_id and $media_user_role set');
# nginx writes the access log after the response: wait for the line
ok(wait_until(sub { slurp("$dir/who.log") =~ /^$ann->{user}{id} user ok$/m },
              timeout => 5), 'variables in the access log');

is($t->http(GET => '/maybe/')->{headers}{'x-user'}, '[]',
   'media_auth optional, no token: anonymous');
is(get('/maybe/', $access)->{headers}{'x-user'}, "[$ann->{user}{id}]",
   'media_auth optional, token: the user');
is(get('/maybe/', 'junk.junk.junk')->{status}, 401,
   'media_auth optional, bad token: 401');

# --- bad tokens ------------------------------------------------------------

my $kid = substr(sha256_hex($secret), 0, 16);
my $now = time();
my %good = (iss => 'ngx_media', sub => $ann->{user}{id}, sid => 'handmade',
            exp => int($now) + 600);

sub hs {
    my ($header, $claims, $key) = @_;
    my $h = encode_base64url(ref $header ? $json->encode($header) : $header);
    my $p = encode_base64url(ref $claims ? $json->encode($claims) : $claims);
    return "$h.$p." . encode_base64url(hmac_sha256("$h.$p", $key // $secret));
}

my $hdr = { alg => 'HS256', typ => 'JWT', kid => $kid };
my $ok_token = hs($hdr, \%good);
is(get('/api/v1/auth/me', $ok_token)->{status}, 200,
   'a token made here the same way passes (the bad ones below are real)');

my $none = encode_base64url('{"alg":"none"}') . '.'
           . encode_base64url($json->encode(\%good)) . '.';
my ($h, $p, $s) = split /\./, $ok_token;
my $tampered_payload = "$h." . encode_base64url($json->encode({ %good, role => 'admin' })) . ".$s";
(my $tampered_sig = $ok_token) =~ s/(.)$/$1 eq 'A' ? 'B' : 'A'/e;
my $confused = `$mint sign $dir HS256-RSAPUB rsa1 '@{[ $json->encode({ %good, iss => 'https://idp.example', aud => 'media' }) ]}'`;
chomp $confused;

my @bad = (
    [ 'alg none', $none, 'bad_alg' ],
    [ 'HS256 signed with the RSA public key', $confused, 'bad_alg' ],
    [ 'unknown kid', hs({ %$hdr, kid => 'nope' }, \%good), 'unknown_kid' ],
    [ 'expired', hs($hdr, { %good, exp => int($now) - 120 }), 'expired' ],
    [ 'nbf in the future', hs($hdr, { %good, nbf => int($now) + 300 }),
      'not_yet_valid' ],
    [ 'wrong iss', hs($hdr, { %good, iss => 'evil' }), 'bad_issuer' ],
    [ 'wrong aud (IdP token)',
      scalar `$mint sign $dir RS256 rsa1 '@{[ $json->encode({ %good, iss => 'https://idp.example', aud => 'other' }) ]}'`,
      'bad_audience' ],
    [ 'tampered payload', $tampered_payload, 'bad_signature' ],
    [ 'tampered signature', $tampered_sig, 'bad_signature' ],
    [ 'signed with another secret', hs($hdr, \%good, 'x' x 40),
      'bad_signature' ],
    [ 'two segments', "$h.$p", 'malformed' ],
    [ 'four segments', "$ok_token.xx", 'malformed' ],
    [ '64 KB token', 'a' x 65536, 'too_long' ],
    [ 'not base64url', '!!!.@@@.###', 'bad_header' ],
    [ 'payload JSON but not an object', hs($hdr, '[1,2,3]'), 'bad_claims' ],
    [ 'payload not JSON', hs($hdr, 'not json at all'), 'bad_claims' ],
    [ 'no exp', hs($hdr, { %good, exp => undef }), 'bad_claims' ],
);

for my $case (@bad) {
    my ($name, $token, $reason) = @$case;
    chomp $token;
    for my $how (qw(header cookie)) {
        my $x = $how eq 'header'
            ? get('/api/v1/auth/me', $token)
            : $t->http(GET => '/api/v1/auth/me',
                       headers => { Cookie => "media_access=$token" });
        ok($x->{status} == 401 && $x->{json}{error}{code} eq 'invalid_token'
           && $x->{json}{error}{message} =~ /\b$reason\b/
           && ($x->{headers}{'www-authenticate'} // '') =~ /error="invalid_token"/,
           "$name ($how): 401 $reason")
            or diag("$x->{status} $x->{content}");
    }
}

# the previous key still verifies (rotation)
my $old_kid = substr(sha256_hex('o' x 40), 0, 16);
is(get('/api/v1/auth/me', hs({ %$hdr, kid => $old_kid }, \%good, 'o' x 40))->{status},
   200, 'a token signed with the previous key still works');

# --- an external identity provider (JWKS) ----------------------------------

my %idp = (iss => 'https://idp.example', aud => 'media', sub => 'idp|42',
           email => 'idp@example.com', exp => int($now) + 600);
for my $alg (qw(RS256 ES256)) {
    my $tok = `$mint sign $dir $alg @{[ $alg eq 'RS256' ? 'rsa1' : 'ec1' ]} '@{[ $json->encode(\%idp) ]}'`;
    chomp $tok;
    $r = get('/api/v1/auth/me', $tok);
    ok($r->{status} == 200 && $r->{json}{user}{id} =~ /^[0-9a-f-]{36}$/,
       "$alg token from the identity provider: 200, a local user")
        or diag("$r->{status} $r->{content}");
}

my $es_as_rs = `$mint sign $dir ES256 rsa1 '@{[ $json->encode(\%idp) ]}'`;
chomp $es_as_rs;
is(get('/api/v1/auth/me', $es_as_rs)->{status}, 401,
   'ES256 token naming the RSA key: 401 (alg pinned per key)');

# --- refresh rotation and reuse --------------------------------------------

$r = post('/api/v1/auth/refresh', { refresh_token => $refresh });
is($r->{status}, 200, 'refresh: 200');
my $refresh2 = $r->{json}{refresh_token};
isnt($refresh2, $refresh, 'refresh: a new refresh token');
ok($r->{json}{access_token}, 'refresh: a new access token');
is(get('/api/v1/auth/me', $r->{json}{access_token})->{status}, 200,
   'the new access token works');

$r = post('/api/v1/auth/refresh', { refresh_token => $refresh });
is($r->{status}, 401, 'the rotated token again: 401');
is($r->{json}{error}{code}, 'refresh_reused', 'reuse detected');

$r = post('/api/v1/auth/refresh', { refresh_token => $refresh2 });
is($r->{status}, 401, 'reuse revoked the whole family: its newest is dead');
is($r->{json}{error}{code}, 'invalid_refresh', 'family revoked: code');

# the message says every session of it is revoked: its access tokens too
$r = get('/api/v1/auth/me', $access);
is($r->{status}, 401, 'reuse revoked the access tokens of the family at once');
like($r->{json}{error}{message}, qr/revoked/, 'and says so');

$r = post('/api/v1/auth/login',
          { email => 'ann@example.com', password => 'correct horse' });
$access = $r->{json}{access_token};
is(get('/api/v1/auth/me', $access)->{status}, 200, 'a new sign-in works');

is(post('/api/v1/auth/refresh', { refresh_token => 'short' })->{status}, 401,
   'malformed refresh token: 401');
is(post('/api/v1/auth/refresh', {})->{status}, 401, 'no refresh token: 401');

# by cookie: from our own pages only
$r = post('/api/v1/auth/login',
          { email => 'ann@example.com', password => 'correct horse' });
my ($rc) = map { /^media_refresh=([^;]+)/ ? $1 : () } cookies($r);
$r = $t->http(POST => '/api/v1/auth/refresh',
              headers => { Cookie => "media_refresh=$rc",
                           Origin => 'http://evil.example' });
is($r->{status}, 403, 'refresh by cookie from another site: 403');
$r = $t->http(POST => '/api/v1/auth/refresh',
              headers => { Cookie => "media_refresh=$rc",
                           Origin => 'http://127.0.0.1:' . $t->port('http') });
is($r->{status}, 200, 'refresh by cookie from our own origin: 200');
my $cookie_access = $r->{json}{access_token};

# --- logout -----------------------------------------------------------------

$r = post('/api/v1/auth/login',
          { email => 'ann@example.com', password => 'correct horse' });
my ($a2, $r2) = @{ $r->{json} }{qw(access_token refresh_token)};
is(get('/api/v1/auth/me', $a2)->{status}, 200, 'before logout: 200');

# cookie-authenticated state change without Origin: refused (CSRF)
$r = $t->http(POST => '/api/v1/auth/logout',
              headers => { Cookie => "media_access=$cookie_access" });
is($r->{status}, 403, 'logout by cookie without Origin: 403');
is($r->{json}{error}{code}, 'cross_site_request', 'CSRF: code');

$r = post('/api/v1/auth/logout', { refresh_token => $r2 }, $a2);
is($r->{status}, 204, 'logout: 204');
like(join(' ', cookies($r)), qr/media_access=; .*Max-Age=0/, 'logout clears cookies');

$r = get('/api/v1/auth/me', $a2);
is($r->{status}, 401, 'the access token stops at once after logout');
like($r->{json}{error}{message}, qr/revoked/, 'revoked: says so');
is(post('/api/v1/auth/refresh', { refresh_token => $r2 })->{status}, 401,
   'and its refresh token is revoked');
is(get('/api/v1/auth/me', $access)->{status}, 200,
   'another session of the same user goes on');

# --- roles -------------------------------------------------------------------

$r = get('/api/v1/admin/users', $access);
is($r->{status}, 403, 'admin route as a user: 403');
like($r->{json}{error}{message}, qr/signed in as user/, '403 says why');

$t->psql('media', "UPDATE users SET role = 'admin' WHERE lower(email) = 'ann\@example.com'");
$r = post('/api/v1/auth/login',
          { email => 'ann@example.com', password => 'correct horse' });
$r = get('/api/v1/admin/users', $r->{json}{access_token});
is($r->{status}, 200, 'admin route as an admin: 200');
ok(ref $r->{json}{users} eq 'ARRAY' && @{ $r->{json}{users} } >= 1,
   'admin route lists users');

# --- throttling --------------------------------------------------------------

post('/api/v1/auth/signup', { email => 'bob@example.com', password => 'bob password' });
for (1 .. 3) {
    post('/api/v1/auth/login', { email => 'bob@example.com', password => 'nope nope' });
}
$r = post('/api/v1/auth/login', { email => 'bob@example.com', password => 'bob password' });
is($r->{status}, 429, 'after 3 failures, even the right password: 429');
ok($r->{headers}{'retry-after'} > 0 && $r->{headers}{'retry-after'} <= 60,
   "Retry-After: $r->{headers}{'retry-after'}");
is(post('/api/v1/auth/login',
        { email => 'ann@example.com', password => 'correct horse' })->{status},
   200, 'another account from the same address is not blocked');

# --- Redis away: fail closed, not open ------------------------------------

$t->stop_redis;
$r = get('/api/v1/auth/me', $access);
is($r->{status}, 200, 'redis down: revocations are in PostgreSQL, a token works');
$r = get('/api/v1/auth/me', $a2);
is($r->{status}, 401, 'redis down: a revoked token stays revoked');
$r = post('/api/v1/auth/login',
          { email => 'ann@example.com', password => 'correct horse' });
is($r->{status}, 503, 'redis down: sign-in cannot be throttled: 503');
$t->start_redis;
ok(wait_until(sub { get('/api/v1/auth/me', $access)->{status} == 200 },
              timeout => 10), 'redis back: 200 again');
# the worker remakes its connection after a backoff of up to 3 s: healthz
# says "redis: unreachable" until then
ok(wait_until(sub { $t->http(GET => '/api/v1/healthz')->{status} == 200 },
              timeout => 10), '  and healthz finds it again within the backoff');

# --- hashing runs on the thread pool, not the event loop ------------------

# four signups hash at once (about 0.2 s of CPU each on 2 cores); a healthz
# sent after them on the same nginx worker comes back before any of them
my @pending = map {
    post_start('/api/v1/auth/signup',
               { email => "load$_\@example.com", password => 'load password' })
} 1 .. 4;
my $health = $t->http(GET => '/api/v1/healthz', timeout => 10);
my $waiting = grep { !IO::Select->new($_)->can_read(0) } @pending;
is($health->{status}, 200, 'healthz during hashing: 200')
    or diag($health->{content});
is($waiting, 4, 'healthz answered while all four signups were still hashing');
my $created = grep { ($t->http_finish($_, 10))[0] == 201 } @pending;
is($created, 4, 'and the four signups completed');

$t->finish;
done_testing;


sub post {
    my ($path, $body, $token) = @_;
    return $t->http(POST => $path, body => $json->encode($body),
                    headers => { 'Content-Type' => 'application/json',
                                 ($token ? (Authorization => "Bearer $token") : ()) });
}

sub get {
    my ($path, $token) = @_;
    return $t->http(GET => $path,
                    headers => { Authorization => "Bearer $token" });
}

sub post_start {
    my ($path, $body) = @_;
    my $b = $json->encode($body);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->port('http')) or die $!;
    print $s "POST $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
             . "Content-Type: application/json\r\n"
             . "Content-Length: " . length($b) . "\r\n\r\n$b";
    return $s;
}

sub cookies {
    my ($r) = @_;
    my $c = $r->{headers}{'set-cookie'} // [];
    return ref $c ? @$c : ($c);
}

sub spew {
    my ($file, $text) = @_;
    open(my $fh, '>', $file) or die "$file: $!";
    print $fh $text;
    close $fh;
}
