# People from an identity provider (media_jwt_jwks) are local users: the
# provider says who they are, our rows say what they may do.  And
# revocation that holds: sessions, provider tokens with and without a jti,
# deleted accounts, role and plan changes within a second.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use MIME::Base64 qw(decode_base64url);
use Test::More;
use Time::HiRes ();
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;
my $mint = $t->build_path('mint');

spew("$dir/jwt.key", ('k' x 40) . "\n");
spew("$dir/url.key", ('u' x 40) . "\n");
system($mint, 'keys', $dir) == 0 or die 'mint keys';

$t->start_postgres;
$t->start_redis;
$t->make_storage;

$t->write_conf(<<'EOF');
%%MAIN%%
worker_processes 2;
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_jwt_jwks %%DIR%%/jwks.json issuer=https://idp.example
                   audience=media;
    media_cookie_secure off;
    media_url_key %%DIR%%/url.key;

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

my $json = JSON::PP->new->canonical;
my $now = time();
my $wav = slurp($t->make_media('tone.wav',
                               '-f lavfi -i sine=frequency=440:duration=1'));

# --- a local user with private media -------------------------------------

my $ann = $t->signup('ann@example.com');
my $ann_id = $ann->{user}{id};
my $r = upload($ann->{access_token}, $wav);
is($r->{status}, 202, 'ann uploads');
my $ann_media = $r->{json}{media}{id};

# --- the provider's claims grant nothing ----------------------------------

my $mallory = idp(sub => 'auth0|mallory', role => 'admin', plan => 'pro',
                  jti => 'm1');
$r = get('/api/v1/auth/me', $mallory);
is($r->{status}, 200, 'a provider token: 200');
like($r->{json}{user}{id}, qr/^[0-9a-f]{8}-[0-9a-f-]{27}$/,
     'its person is a local user with our own id');
is($r->{json}{user}{role}, 'user', '"role": "admin" in the token: still user');
is($r->{json}{user}{plan}, 'free', '"plan": "pro" in the token: still free');
my $mallory_id = $r->{json}{user}{id};

$r = get('/api/v1/admin/users', $mallory);
is($r->{status}, 403, 'a provider token claiming admin: 403 on admin routes');

is(get('/api/v1/auth/me', idp(sub => 'auth0|mallory'))->{json}{user}{id},
   $mallory_id, 'the same issuer and subject: the same local user');

# a subject equal to a local user's id is another person
my $twin = idp(sub => $ann_id);
$r = get('/api/v1/auth/me', $twin);
isnt($r->{json}{user}{id}, $ann_id, 'sub = a local id: not that user');
is(get("/api/v1/media/$ann_media", $twin)->{status}, 404,
   'sub = a local id: her private media is 404');
is(patch("/api/v1/media/$ann_media", { title => 'mine' }, $twin)->{status},
   404, 'sub = a local id: cannot PATCH it');
is(post("/api/v1/media/$ann_media/playback", {}, $twin)->{status}, 404,
   'sub = a local id: cannot play it');
is(scalar @{ get('/api/v1/media', $twin)->{json}{items} // [1] }, 0,
   'sub = a local id: her library is not listed');

# subjects of every shape, up to 255 bytes
for my $sub ('auth0|abc', 'user_2NNEqL2nrIRdJ194ndJqAHwEfxC',
             '104278623841527834567', 'x' x 255)
{
    my $tok = idp(sub => $sub);
    my $name = length $sub > 40 ? '255-byte subject' : "sub $sub";
    is(get('/api/v1/media', $tok)->{status}, 200, "$name: list 200");
    is(get("/api/v1/media/$ann_media", $tok)->{status}, 404,
       "$name: someone else's media 404");
    is(get('/api/v1/jobs/00000000-0000-0000-0000-000000000000', $tok)
       ->{status}, 404, "$name: jobs 404, not 500");
}
is(get('/api/v1/media', idp(sub => 'x' x 256))->{status}, 401,
   'a 256-byte subject: 401');

# a provider user uploads, lists and edits their own media
$r = upload($mallory, $wav);
is($r->{status}, 202, 'a provider user uploads: 202');
my $m_media = $r->{json}{media}{id};
is(get("/api/v1/media/$m_media", $mallory)->{status}, 200,
   'and reads it back');
is(patch("/api/v1/media/$m_media", { title => 'ok' }, $mallory)->{status},
   200, 'and PATCHes it');
chomp(my $owner = $t->psql('media',
                           "SELECT owner_id FROM media WHERE id = '$m_media'"));
is($owner, $mallory_id, 'owned by the local user of the identity');

# emails: kept when verified and free, never taking over an account
$r = get('/api/v1/auth/me', idp(sub => 'v1', email => 'v1@example.org',
                                 email_verified => JSON::PP::true));
is($r->{json}{user}{email}, 'v1@example.org', 'a verified email is kept');
$r = get('/api/v1/auth/me', idp(sub => 'v2', email => 'v2@example.org'));
is($r->{json}{user}{email}, undef, 'an unverified email is not');
$r = get('/api/v1/auth/me', idp(sub => 'v3', email => 'ANN@example.com',
                                 email_verified => JSON::PP::true));
ok($r->{status} == 200 && !defined $r->{json}{user}{email}
   && $r->{json}{user}{id} ne $ann_id,
   'a verified email of an existing account: a new user, no email');

# --- roles and plans come from our rows, changed by an admin ---------------

$t->psql('media', "UPDATE users SET role = 'admin' WHERE id = '$ann_id'");
ok(wait_until(sub { get('/api/v1/admin/users', $ann->{access_token})
                        ->{status} == 200 }, timeout => 3),
   'a role set in the database shows within a second or so');

$r = patch("/api/v1/admin/users/$mallory_id", { role => 'creator',
                                                 plan => 'basic' },
           $ann->{access_token});
is($r->{status}, 200, 'admin PATCH /admin/users/{id}: 200');
is($r->{json}{user}{role}, 'creator', 'the role is set');
ok(wait_until(sub { my $x = get('/api/v1/auth/me', $mallory);
                    $x->{json}{user}{plan} eq 'basic'
                    && $x->{json}{user}{role} eq 'creator' },
              timeout => 3),
   'the provider user sees the new role and plan');

# a creator plan is the user's creator plan; the viewer plan stays
$r = patch("/api/v1/admin/users/$mallory_id", { plan => 'creator' },
           $ann->{access_token});
is($r->{status}, 200, 'admin PATCH plan creator: 200');
is($t->psql('media', "SELECT plan || ' ' || creator_plan FROM users"
                     . " WHERE id = '$mallory_id'"), "basic creator\n",
   'a creator plan sets creator_plan, the viewer plan is kept');

for my $bad ([ { role => 'root' }, 'role' ], [ { plan => 'Pro Plan!' }, 'plan' ],
             [ { plan => 'gold' }, 'plan' ], [ {}, 'role' ])
{
    $r = patch("/api/v1/admin/users/$mallory_id", $bad->[0],
               $ann->{access_token});
    ok($r->{status} == 422 && $r->{json}{error}{field} eq $bad->[1],
       "admin PATCH with a bad $bad->[1]: 422 naming it")
        or diag("$r->{status} $r->{content}");
}
is(patch('/api/v1/admin/users/00000000-0000-0000-0000-000000000000',
         { role => 'user' }, $ann->{access_token})->{status}, 404,
   'admin PATCH of an unknown user: 404');
is(patch("/api/v1/admin/users/$ann_id", { role => 'admin' }, $mallory)
   ->{status}, 403, 'a non-admin cannot PATCH users');

# the command line does the same
my $admin = $t->build_path('media-admin') . ' -c ' . $t->conf_file;
my $out = `$admin user $mallory_id role=admin 2>&1`;
like($out, qr/^\Q$mallory_id\E\t-\tadmin\tbasic\tcreator$/m,
     'media-admin user ID role=admin');
ok(wait_until(sub { get('/api/v1/admin/users', $mallory)->{status} == 200 },
              timeout => 3), 'the promotion holds for the provider user');
$out = `$admin user nobody\@example.org role=admin 2>&1`;
ok($? != 0 && $out =~ /no account/, 'media-admin: an unknown user refused');
$out = `$admin user $mallory_id plan='Bad Plan' 2>&1`;
ok($? != 0 && $out =~ /plan/, 'media-admin: a bad plan refused');
like(`$admin users`, qr/^\Q$ann_id\E\tann\@example.com\tadmin\tfree\tstarter$/m,
     'media-admin users lists accounts');

# --- logout revokes a provider token, with or without a jti ----------------

for my $case ([ 'with a jti', jti => 'j-77' ], [ 'without a jti' ]) {
    my ($name, @jti) = @$case;
    my $tok = idp(sub => 'leaving', @jti);
    is(get('/api/v1/media', $tok)->{status}, 200, "$name: works");
    is(post('/api/v1/auth/logout', {}, $tok)->{status}, 204,
       "$name: logout 204");
    $r = get('/api/v1/media', $tok);
    ok($r->{status} == 401 && $r->{json}{error}{message} =~ /revoked/,
       "$name: refused at once after logout");
}

# the revocation is a row: past a second every worker reads it again
select(undef, undef, undef, 1.2);
is(get('/api/v1/media', idp(sub => 'leaving', jti => 'j-77'))->{status}, 401,
   'a second later, read from PostgreSQL: still revoked');
is(get('/api/v1/media', idp(sub => 'leaving', jti => 'j-78'))->{status}, 200,
   'another token of the same person still works');

# --- a deleted account: 401 user_gone everywhere, not 500 ------------------

my $bob = $t->signup('bob@example.com');
is(get('/api/v1/media', $bob->{access_token})->{status}, 200, 'bob works');
$t->psql('media', "DELETE FROM users WHERE email = 'bob\@example.com'");
ok(wait_until(sub { get('/api/v1/media', $bob->{access_token})->{status}
                        == 401 }, timeout => 3),
   'bob deleted: his token stops within a second or so');
for my $try ([ GET => '/api/v1/auth/me' ], [ GET => '/api/v1/media' ],
             [ UPLOAD => '/api/v1/media' ])
{
    $r = $try->[0] eq 'UPLOAD' ? upload($bob->{access_token}, $wav)
                               : get($try->[1], $bob->{access_token});
    ok($r->{status} == 401 && $r->{json}{error}{code} eq 'user_gone',
       "deleted user, $try->[0] $try->[1]: 401 user_gone")
        or diag("$r->{status} $r->{content}");
}

# --- a session revoked in the database by another node ---------------------

my $cy = $t->signup('cy@example.com');
my $sid = $json->decode(decode_base64url((split /\./,
                                          $cy->{access_token})[1]))->{sid};
ok($sid, 'our access tokens carry their session');
$t->psql('media', "INSERT INTO revocations (key, reason, expires_at)"
                  . " VALUES ('s:$sid', 'admin', now() + interval '1 hour')");
ok(wait_until(sub { get('/api/v1/media', $cy->{access_token})->{status}
                        == 401 }, timeout => 3),
   'a session revoked by another node: refused within a second or so');

# --- a session in use: its entry read anew ahead of its second -------------
# The first request to find a session's entry in the user cache past half
# its second reads the row again in the background; it and the requests
# after it are answered from the entry meanwhile, so a session's requests
# never all wait for PostgreSQL together when the entry turns a second old.
# With revocations locked, that read waits (pg_stat_activity shows it) and
# the requests do not; once the lock goes, the entry is a new one: a
# request more than a second after the first is answered under the lock too.

my ($fresh, $waited, $ones, $renewed);
for my $attempt (1 .. 3) {
    my $u = $t->signup("ahead$attempt\@example.com");
    my $t0 = time_hi();
    next unless get('/api/v1/media', $u->{access_token})->{status} == 200;
    my $lock = lock_revocations();
    sleep_until($t0 + 0.6);
    if (time_hi() - $t0 > 0.8) {            # a loaded machine: again
        unlock($lock);
        next;
    }
    $fresh = get('/api/v1/media', $u->{access_token}, 3)->{status} == 200
             && get('/api/v1/media', $u->{access_token}, 3)->{status} == 200;
    $waited = wait_until(sub { blocked_queries() >= 1 }, timeout => 3,
                         interval => 0.05);
    $ones = blocked_queries();
    unlock($lock);
    wait_until(sub { blocked_queries() == 0 }, timeout => 3, interval => 0.05);
    my $t1 = time_hi();
    $lock = lock_revocations();
    sleep_until($t0 + 1.2);
    if (time_hi() - $t1 > 0.6) {            # past the new entry's second
        unlock($lock);
        next;
    }
    $renewed = get('/api/v1/media', $u->{access_token}, 3)->{status} == 200;
    unlock($lock);
    last;
}
ok($fresh, 'past half its second, with revocations locked: answered from the entry');
ok($waited, 'and the row read anew in the background, waiting on the lock');
is($ones, 1, 'one read for two requests');
ok($renewed, 'the entry read anew serves past the first one\'s second');

# a session in use is still refused within a second of its revocation
my $ed = $t->signup('ed@example.com');
$sid = $json->decode(decode_base64url((split /\./,
                                       $ed->{access_token})[1]))->{sid};
my ($n, $refused) = (0, 0);
my $revoked_at;
for (1 .. 100) {                            # 5 s at most
    my $st = get('/api/v1/media', $ed->{access_token})->{status};
    if ($st == 401) {
        $refused = time_hi() - $revoked_at;
        last;
    }
    if (++$n == 10) {
        $t->psql('media', "INSERT INTO revocations (key, reason, expires_at)"
                          . " VALUES ('s:$sid', 'admin', now() + interval '1 hour')");
        $revoked_at = time_hi();
    }
    select(undef, undef, undef, 0.05);
}
ok($refused && $refused < 2,
   sprintf('a session in use, revoked by another node: refused after %.2f s',
           $refused));

$t->finish;
done_testing;


# a token from the identity provider, signed as it would sign it
sub idp {
    my (%claims) = @_;
    my $payload = $json->encode({ iss => 'https://idp.example',
                                  aud => 'media', exp => $now + 600,
                                  %claims });
    $payload =~ s/'/'\\''/g;
    my $tok = `$mint sign $dir RS256 rsa1 '$payload'`;
    chomp $tok;
    return $tok;
}

sub get {
    my ($path, $token, $timeout) = @_;
    return $t->http(GET => $path, timeout => $timeout,
                    headers => { Authorization => "Bearer $token" });
}

sub post {
    my ($path, $body, $token) = @_;
    return $t->http(POST => $path, body => $json->encode($body),
                    headers => { 'Content-Type' => 'application/json',
                                 Authorization => "Bearer $token" });
}

sub patch {
    my ($path, $body, $token) = @_;
    return $t->http(PATCH => $path, body => $json->encode($body),
                    headers => { 'Content-Type' => 'application/json',
                                 Authorization => "Bearer $token" });
}

sub upload {
    my ($token, $bytes) = @_;
    return $t->http(POST => '/api/v1/media', body => $bytes,
                    headers => { 'Content-Type' => 'audio/wav',
                                 Authorization => "Bearer $token" });
}

sub time_hi { Time::HiRes::time() }

sub sleep_until {
    my ($at) = @_;
    my $left = $at - time_hi();
    Time::HiRes::sleep($left) if $left > 0;
}

# a session holding an exclusive lock on revocations: every session check
# that reads it waits
sub lock_revocations { $t->lock_table('revocations', 0.02) }

sub unlock {
    my ($s) = @_;
    print $s "ROLLBACK;\n";
    close($s);
}

# the module's queries waiting on a lock
sub blocked_queries {
    my $n = $t->psql('media', "SELECT count(*) FROM pg_stat_activity"
                     . " WHERE application_name = 'ngx_media'"
                     . " AND wait_event_type = 'Lock'");
    return defined $n ? $n + 0 : -1;
}

sub spew {
    my ($file, $text) = @_;
    open(my $fh, '>', $file) or die "$file: $!";
    print $fh $text;
    close $fh;
}
