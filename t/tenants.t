# Tenants by host: `media_tenant name;` in a server {} block.  One nginx
# with three servers on three ports: one without the directive (the
# default tenant, as every other test runs), tenants "a" and "b".  All
# three share every key (media_jwt_key, media_url_key): what keeps them
# apart is the tenant, not the configuration.
#
# Each tenant has its own users (the same email and handle on both), media,
# search, share pages, playback, admin routes and audit chain; a token of
# one tenant is refused by another (401); no id of one tenant is visible
# from another (404); a job a worker runs writes its tenant's rows; every
# table in the schema has row level security forced (so a table added
# later cannot forget it), and a session that does not say its tenant
# sees nothing.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP qw(encode_json decode_json);
use Digest::SHA qw(hmac_sha256_hex);
use MediaTest qw(wait_until slurp);
use StripeFake;

my $t = MediaTest->new;
my $dir = $t->dir;

my %port = (default => $t->port('http'), a => $t->port('a'),
            b => $t->port('b'));

$t->start_postgres;
$t->start_redis;
$t->write_conf(<<'EOF');
%%MAIN%%
worker_processes 1;
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;
    # shorter than the default 30 s: the test waits for a page to age out
    media_public_cache 5s;
    media_url_key %%DIR%%/url.key;
    media_login_limit account=3 address=100 window=15m;

    # a Stripe account per tenant: the billing worker reads the job's
    # tenant's key
    media_stripe_secret_key %%DIR%%/stripe-$tenant.key;
    media_stripe_api_url http://127.0.0.1:%%PORT_stripe%%;
    media_public_url http://127.0.0.1:%%PORT%%/;
    media_billing_wait 100ms;

    server {
        listen 127.0.0.1:%%PORT%%;
        include %%DIR%%/site.conf;
    }

    server {
        listen 127.0.0.1:%%PORT_a%%;
        media_tenant a;
        media_stripe_webhook_secret %%DIR%%/whsec-a;
        include %%DIR%%/site.conf;
    }

    server {
        listen 127.0.0.1:%%PORT_b%%;
        media_tenant b;
        include %%DIR%%/site.conf;
    }
}
EOF

open(my $fh, '>', "$dir/site.conf") or die;
print $fh <<"EOF";
location /api/ {
    media_api;
}
location /m/ {
    media_pages;
}
location /u/ {
    media_pages;
}
location /hls/ {
    media_hls /_media_files/;
}
location /_media_files/ {
    internal;
    alias $dir/storage/hls/;
}
EOF
close $fh;

open($fh, '>', "$dir/whsec-a") or die;
print $fh "whsec_tenant_a_only_0123456789\n";
close $fh;

open(my $k, '>', "$dir/url.key") or die;
print $k unpack('H*', join('', map { chr(int(rand(256))) } 1 .. 24)), "\n";
close $k;
$t->jwt_key;
$t->migrate;

# refused at configuration: a name the tenant column would not take, the
# directive twice, outside a server
{
    my $good = slurp($t->conf_file);
    for my $case (['media_tenant Films;', 'an upper-case letter'],
                  ['media_tenant -films;', 'a leading \'-\''],
                  ['media_tenant ' . ('x' x 33) . ';', '33 characters'],
                  ["media_tenant a;\n        media_tenant b;", 'twice'])
    {
        (my $bad = $good) =~ s/media_tenant a;/$case->[0]/ or die;
        my $file = "$dir/bad.conf";
        open(my $out, '>', $file) or die;
        print $out $bad;
        close $out;
        my ($ok, $msg) = $t->nginx_test($file);
        $msg .= slurp("$dir/nginx-t.err") // '';
        ok(!$ok, "nginx -t refuses $case->[1]");
        like($msg, $case->[1] eq 'twice' ? qr/"media_tenant" directive is duplicate/
                                         : qr/invalid media_tenant ".*": 1 to 32 of a-z/,
             '  saying why');
    }

    (my $bad = $good) =~ s/(media_cookie_secure off;)/$1\n    media_tenant a;/ or die;
    open(my $out, '>', "$dir/bad.conf") or die;
    print $out $bad;
    close $out;
    my ($ok, $msg) = $t->nginx_test("$dir/bad.conf");
    ok(!$ok, 'nginx -t refuses media_tenant in http');
}

$t->start_nginx;

# --- schema: every table scoped --------------------------------------------

my $super = sub { $t->psql_admin('media', $_[0]) };

is($super->(<<'EOF'), "\n", 'every table has row level security enabled and forced');
SELECT string_agg(c.relname, ' ') FROM pg_class c
 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
   AND c.relname <> 'media_schema_migrations'
   AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
EOF

is($super->(<<'EOF'), "\n", 'every table has a tenant column and the tenant policy');
SELECT string_agg(c.relname, ' ') FROM pg_class c
 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
   AND c.relname <> 'media_schema_migrations'
   AND (NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                     AND a.attname = 'tenant' AND a.attnotnull)
        OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid
                        AND p.polname = 'tenant'))
EOF

{
    # a session that does not say its tenant: refused, not shown all
    my $cmd = "PGOPTIONS= psql -X -q -A -t -h 127.0.0.1 -p " . $t->port('pg')
              . " -U media -d media -c 'SELECT count(*) FROM users' 2>&1";
    my $out = `$cmd`;
    isnt($?, 0, 'media.tenant unset: a query fails');
    like($out, qr/unrecognized configuration parameter "media\.tenant"/,
         '  naming the setting');
}

# --- users: the same email and handle on both --------------------------------

my (%u, %id);
for my $site (qw(a b default)) {
    my $r = req($site, POST => '/api/v1/auth/signup', undef,
                { email => 'ann@example.com', password => 'a good password' });
    is($r->{status}, 201, "$site: ann\@example.com signs up");
    $u{$site} = $r->{json};
    $id{$site} = $r->{json}{user}{id};

    $r = req($site, PATCH => '/api/v1/me', $u{$site}, { handle => 'ann' });
    is($r->{status}, 200, "$site: handle ann");
}

isnt($id{a}, $id{b}, 'two users, two ids');

for my $pair (['a', 'b'], ['b', 'a'], ['a', 'default'], ['default', 'b']) {
    my ($from, $to) = @$pair;
    my $r = req($to, GET => '/api/v1/auth/me', $u{$from});
    is($r->{status}, 401, "$from\'s access token on $to: 401");
    is($r->{json}{error}{code}, 'invalid_token', '  invalid_token');
    is(req($from, GET => '/api/v1/auth/me', $u{$from})->{json}{user}{id},
       $id{$from}, "  on $from: its own user");
}

{
    my $r = req('b', POST => '/api/v1/auth/refresh', undef,
                { refresh_token => $u{a}{refresh_token} });
    is($r->{status}, 401, "a's refresh token on b: 401");
    $r = req('b', POST => '/api/v1/auth/login', undef,
             { email => 'ann@example.com', password => 'a good password' });
    is($r->{status}, 200, 'b: ann logs in to b\'s account');
    is($r->{json}{user}{id}, $id{b}, '  b\'s ann');
}

# --- media, pages, search, playback ----------------------------------------

my %media;
for my $site (qw(a b)) {
    local $t->{tenant} = $site;
    chomp($media{$site} = $t->psql('media', "INSERT INTO media (owner_id,"
        . " kind, status, privacy, title) VALUES ('$id{$site}', 'video',"
        . " 'ready', 'public', 'tenant-$site song') RETURNING id"));
    like($media{$site}, qr/^[0-9a-f-]{36}$/, "$site: a public media");
}

for my $pair (['a', 'b'], ['b', 'a']) {
    my ($own, $other) = @$pair;
    my $m = $media{$own};

    is(req($own, GET => "/api/v1/media/$m", $u{$own})->{status}, 200,
       "$own\'s media on $own: 200");
    is(req($other, GET => "/api/v1/media/$m", $u{$other})->{status}, 404,
       "  on $other: 404");
    is(req('default', GET => "/api/v1/media/$m", $u{default})->{status}, 404,
       '  on the default tenant: 404');
    is(req($own, GET => "/m/$m")->{status}, 200, "  share page on $own: 200");
    is(req($other, GET => "/m/$m")->{status}, 404, "  share page on $other: 404");
    is(req($other, POST => "/api/v1/media/$m/playback", $u{$other})->{status},
       404, "  playback on $other: 404");
    is(req($other, PATCH => "/api/v1/media/$m", $u{$other},
           { title => 'mine now' })->{status}, 404, "  PATCH on $other: 404");
    is(req($other, DELETE => "/api/v1/media/$m", $u{$other})->{status}, 404,
       "  DELETE on $other: 404");
    is(req($other, GET => "/api/v1/media/$m/comments")->{status}, 404,
       "  its comments on $other: 404");
    my $r = req($other, POST => "/api/v1/media/$m/comments", $u{$other},
                { body => 'hello', at_ms => 0 });
    is($r->{status}, 404, "  a comment on $other: 404") or diag($r->{content});
    is(req($other, PUT => "/api/v1/media/$m/like", $u{$other})->{status},
       404, "  a like on $other: 404");
    is(req($other, PUT => "/api/v1/media/$m/repost", $u{$other})->{status},
       404, "  a repost on $other: 404");
    is(req($other, PUT => "/api/v1/media/$m/progress", $u{$other},
           { position_ms => 1000 })->{status}, 404,
       "  progress on $other: 404");
    is(req($other, POST => "/api/v1/media/$m/exports", $u{$other},
           { format => 'mp3' })->{status}, 404, "  an export on $other: 404");
    $r = req($other, POST => '/api/v1/reports', $u{$other},
             { target_type => 'media', target_id => $m, reason => 'spam' });
    is($r->{status}, 404, "  a report of it on $other: 404")
        or diag($r->{content});
    $r = req($other, POST => '/api/v1/playlists', $u{$other},
             { title => 'mix' });
    my $pl = $r->{json}{playlist}{id} // '';
    $r = req($other, PUT => "/api/v1/playlists/$pl/items/$m", $u{$other});
    is($r->{status}, 404, "  into a playlist on $other: 404")
        or diag($r->{content});

    $r = req($own, GET => "/api/v1/search?type=media&q=tenant");
    my @ids = map { $_->{id} } @{ $r->{json}{items} || $r->{json}{media} || [] };
    is_deeply(\@ids, [$m], "  search on $own finds its own only");

    $r = req($own, GET => '/api/v1/users/ann');
    is_deeply([map { $_->{id} } @{ $r->{json}{media} || [] }], [$m],
              "  /users/ann on $own: its ann, with its media only");
    like(req($own, GET => '/u/ann')->{content}, qr/tenant-$own song/,
         "  /u/ann page on $own lists its song");
    unlike(req($own, GET => '/u/ann')->{content}, qr/tenant-$other song/,
           "  and not $other\'s");

    is(req($other, PUT => "/api/v1/users/$id{$own}/follow", $u{$other})
           ->{status}, 404, "  following $own\'s ann from $other: 404");
}

{
    # search keeps each tenant's public pages apart (media_public_cache),
    # and a page served past its time is read again as its own tenant: a
    # second song of a's, added behind the cache's back, shows on a once
    # the page is read again, and b's song never does
    my $second;
    {
        local $t->{tenant} = 'a';
        chomp($second = $t->psql('media', "INSERT INTO media (owner_id,"
            . " kind, status, privacy, title) VALUES ('$id{a}', 'video',"
            . " 'ready', 'public', 'tenant-a second song') RETURNING id"));
    }
    my @seen;
    ok(wait_until(sub {
        my $r = req('a', GET => '/api/v1/search?type=media&q=tenant');
        @seen = sort map { $_->{id} } @{ $r->{json}{items} || [] };
        @seen == 2;
    }, timeout => 15, interval => 0.5),
       'a\'s kept search page read again: its second song');
    is_deeply(\@seen, [sort $media{a}, $second], '  a\'s two songs, not b\'s');
    my $r = req('b', GET => '/api/v1/search?type=media&q=tenant');
    is_deeply([map { $_->{id} } @{ $r->{json}{items} || [] }], [$media{b}],
              '  b: its own song only');
}

{
    # a playback URL of a, fetched from b's host: its token means nothing
    my $r = req('a', POST => "/api/v1/media/$media{a}/playback", $u{a});
    is($r->{status}, 200, 'a: a playback URL');
    my ($path) = ($r->{json}{url} // '') =~ m{(/hls/.*)$};
    ok($path, '  under /hls/');

    my $on_a = req('a', GET => $path)->{status};
    my $on_b = req('b', GET => $path)->{status};
    (my $forged = $path) =~ s{/hls/(.)}{'/hls/' . ($1 eq 'A' ? 'B' : 'A')}e;
    my $bad = req('a', GET => $forged)->{status};

    isnt($on_a, $bad, "  on a: the token passes ($on_a)");
    is($on_b, $bad, "  on b: refused as a bad token is ($on_b)");

    $r = req('b', POST => "/api/v1/media/$media{b}/playback", $u{b});
    my ($bpath) = ($r->{json}{url} // '') =~ m{(/hls/.*)$};
    is(req('default', GET => $bpath)->{status}, $bad,
       '  b\'s playback URL on the default tenant: refused');
}

# --- admin routes and the audit trail ------------------------------------

my %bob;
for my $site (qw(a b)) {
    local $t->{tenant} = $site;
    $t->psql('media', "UPDATE users SET role = 'admin' WHERE id = '$id{$site}'")
        // die 'admin';
    # the module keeps what it read of a user for up to a second
    wait_until(sub {
        (req($site, GET => '/api/v1/auth/me', $u{$site})->{json}{user}{role}
         // '') eq 'admin'
    }, timeout => 5) or die "$site: not an admin yet";
    $bob{$site} = req($site, POST => '/api/v1/auth/signup', undef,
                      { email => "bob-$site\@example.com",
                        password => 'a good password' })->{json};
}

for my $pair (['a', 'b'], ['b', 'a']) {
    my ($own, $other) = @$pair;
    my $bid = $bob{$own}{user}{id};

    is(req($own, PATCH => "/api/v1/admin/users/$bid", $u{$own},
           { role => 'creator' })->{status}, 200,
       "$own: its admin makes its bob a creator");
    is(req($other, PATCH => "/api/v1/admin/users/$bid", $u{$other},
           { role => 'moderator' })->{status}, 404,
       "  $other\'s admin: $own\'s bob is 404");

    my $r = req($own, GET => '/api/v1/admin/users?limit=100', $u{$own});
    is($r->{status}, 200, "  $own: GET /admin/users");
    my @emails = sort map { $_->{email} } @{ $r->{json}{users} || [] };
    is_deeply(\@emails, ["ann\@example.com", "bob-$own\@example.com"],
              "  lists its own users only");

    $r = req($own, GET => '/api/v1/admin/audit?limit=100', $u{$own});
    is($r->{status}, 200, "  $own: GET /admin/audit");
    my @targets = map { $_->{target_id} // '' }
                  grep { $_->{action} eq 'role.grant' }
                  @{ $r->{json}{entries} || $r->{json}{items} || [] };
    is_deeply(\@targets, [$bid], '  its own role grant only');
}

is($super->("SELECT string_agg(DISTINCT tenant, ' ' ORDER BY tenant)"
            . " FROM audit_log"), "a b\n", 'audit rows in two tenants');
is($super->("SELECT count(*) FROM audit_log WHERE tenant <> 'default'"
            . " AND media_audit_text(audit_log) NOT LIKE '%\"' || tenant || '\"]'"),
   "0\n", 'a tenant\'s rows hash their tenant');

# the sweeper's work for every tenant at once (media.tenant '*'): each
# tenant's trending and each tenant's seal of its download uses
{
    for my $site (qw(a b)) {
        local $t->{tenant} = $site;
        $t->psql('media', "INSERT INTO plays (media_id, viewer) VALUES"
                 . " ('$media{$site}', 'a:x')") // die 'play';
        $t->psql('media', "INSERT INTO download_uses (media_id, status)"
                 . " SELECT '$media{$site}', 200 FROM generate_series(1, "
                 . ($site eq 'a' ? 2 : 3) . ")") // die 'use';
    }

    local $t->{tenant} = '*';
    is($t->psql('media', 'SELECT media_trending_refresh()'), "2\n",
       'trending refreshed for every tenant: 2 rows');
    ok(defined $t->psql('media', "SELECT media_download_seal(1000,"
                        . " '0 seconds')"), 'download uses sealed');
}

for my $site (qw(a b)) {
    my $r = req($site, GET => '/api/v1/trending');
    is_deeply([map { $_->{media}{id} // $_->{id} } @{ $r->{json}{items} || [] }],
              [$media{$site}], "$site: trending lists its media only")
        or diag($r->{content});
    is($super->("SELECT after->>'count' FROM audit_log WHERE tenant = '$site'"
                . " AND action = 'download.seal'"),
       ($site eq 'a' ? 2 : 3) . "\n", "  a seal of its own uses in its chain");
}

{
    my ($rc, $out) = cli('-t', '*', 'audit', 'verify');
    my $n = $super->('SELECT count(*) FROM audit_log') + 0;
    is($rc, 0, 'media-admin -t * audit verify: every chain intact');
    is($out, "chain intact, $n rows\n", "  $n rows");

    ($rc, $out) = cli('-t', 'a', 'roles', 'list');
    like($out, qr/bob-a\@example\.com/, 'media-admin -t a roles list: a\'s');
    unlike($out, qr/bob-b/, '  not b\'s');

    ($rc, $out) = cli('-t', 'b', 'plans', 'list');
    like($out, qr/^free\b.*\n.*^starter\b/ms,
         'b has the free plans from its first user on');
}

# --- sign-in throttling per tenant ------------------------------------------

for my $i (1 .. 3) {
    req('a', POST => '/api/v1/auth/login', undef,
        { email => 'ann@example.com', password => "wrong $i" });
}
is(req('a', POST => '/api/v1/auth/login', undef,
       { email => 'ann@example.com', password => 'a good password' })
       ->{status}, 429, 'a: ann throttled after 3 failures');
is(req('b', POST => '/api/v1/auth/login', undef,
       { email => 'ann@example.com', password => 'a good password' })
       ->{status}, 200, '  b\'s ann, the same email, is not');

# --- Stripe: a webhook secret per server, a secret key per tenant -----------

{
    my $body = encode_json({ id => 'evt_tenant_a', object => 'event',
                             api_version => '2024-06-20', created => time(),
                             type => 'customer.created', livemode => \0,
                             data => { object => { id => 'cus_x' } } });
    my $ts = time();
    my $sig = "t=$ts,v1=" . hmac_sha256_hex("$ts.$body",
                                            'whsec_tenant_a_only_0123456789');
    my %h = ('Stripe-Signature' => $sig);

    is(req('a', POST => '/api/v1/webhooks/stripe', undef, undef, $body,
           undef, \%h)->{status}, 200,
       'a: a webhook signed with a\'s secret: 200');
    my $r = req('b', POST => '/api/v1/webhooks/stripe', undef, undef, $body,
                undef, \%h);
    is($r->{status}, 503, '  b has no secret of its own nor an http one: 503');
    is($r->{json}{error}{code}, 'webhooks_not_configured', '  saying so');
    is($super->("SELECT tenant FROM billing_events WHERE id = 'evt_tenant_a'"),
       "a\n", '  the event is a\'s');
}

my $stripe = StripeFake->start($t);
{
    open(my $in, '<', $stripe->key_file) or die;
    my $key = <$in>;
    close $in;
    for my $site (qw(a b)) {
        open(my $out, '>', "$dir/stripe-$site.key") or die;
        print $out $site eq 'a' ? $key : "sk_test_not_the_fakes_key\n";
        close $out;

        local $t->{tenant} = $site;
        $t->psql('media', "INSERT INTO plans (id, name, audience, price_cents,"
                 . " stripe_price_id, max_rung, position) VALUES ('basic',"
                 . " 'Basic', 'viewer', 299, 'price_basic_monthly', 1080, 20)")
            // die 'plan';
    }
}
$t->start_worker('billing');

{
    my $r = req('a', POST => '/api/v1/billing/checkout', $u{a},
                { plan => 'basic' });
    ok($r->{status} == 200 || $r->{status} == 202,
       "a: checkout ($r->{status})");
    my $job = job_id($r);
    ok(wait_until(sub {
           $super->("SELECT status FROM jobs WHERE id = '$job'") eq "done\n"
       }, timeout => 60), '  with a\'s key: done');

    # b's key is not the one of the account the fake plays: Stripe says
    # 401, and b's user gets no checkout
    $r = req('b', POST => '/api/v1/billing/checkout', $u{b},
             { plan => 'basic' });
    $job = job_id($r);
    ok(wait_until(sub {
           $job
           ? $super->("SELECT status FROM jobs WHERE id = '$job'")
             =~ /failed|dead|queued/
           : $r->{status} == 502
       }, timeout => 60), "b: checkout with b\'s key fails ($r->{status})")
        or diag($r->{content});
}
ok(scalar(grep { ($_->{status} // 0) == 401 } $stripe->requests),
   '  Stripe (the fake) refused b\'s key: 401');
my @customers = $stripe->requests('POST', '/v1/customers');
is(scalar(grep { ($_->{status} // 200) == 200 } @customers), 1,
   '  one customer made, a\'s');
is($super->("SELECT tenant FROM users WHERE stripe_customer_id IS NOT NULL"),
   "a\n", '  and stored on a\'s user');

# --- a worker's job writes its tenant's rows ----------------------------

$t->start_worker('transcoder');
$t->make_media('tone.wav', '-f lavfi -i sine=frequency=440:duration=2');
my $wav = slurp("$dir/media/tone.wav");
my $up = req('b', POST => '/api/v1/media', $u{b}, undef, $wav, 'audio/wav');
is($up->{status}, 202, 'b: an upload');
my $mb = $up->{json}{media}{id} // '';

ok(wait_until(sub {
       (req('b', GET => "/api/v1/media/$mb", $u{b})->{json}{media}{status}
        // '') eq 'ready'
   }, timeout => 90), '  transcoded');
is($super->("SELECT string_agg(DISTINCT tenant, ' ') FROM renditions"
            . " WHERE media_id = '$mb'"), "b\n", '  its renditions are b\'s');
is($super->("SELECT tenant FROM jobs WHERE media_id = '$mb'"), "b\n",
   '  its job is b\'s');
is(req('a', GET => "/api/v1/media/$mb", $u{a})->{status}, 404, '  404 on a');

$t->finish;
done_testing;


sub req {
    my ($site, $method, $path, $user, $json, $raw, $type, $extra) = @_;

    my %h = %{ $extra || {} };
    $h{Authorization} = "Bearer $user->{access_token}" if $user;
    $h{'Content-Type'} = $type // 'application/json'
        if defined $json || defined $raw;

    my $ua = HTTP::Tiny->new(timeout => 10);
    my $r = $ua->request($method, "http://127.0.0.1:$port{$site}$path",
                         { headers => \%h,
                           (defined $json ? (content => encode_json($json))
                            : defined $raw ? (content => $raw) : ()) });

    if (($r->{headers}{'content-type'} // '') =~ m{^application/json}
        && length $r->{content})
    {
        $r->{json} = eval { decode_json($r->{content}) };
    }
    return $r;
}

# a checkout's answer names its job as {job: {id}} or {job: id}
sub job_id {
    my $j = $_[0]{json}{job};
    return ref $j ? $j->{id} : $j;
}

sub cli {
    my $cmd = join(' ', $t->build_path('media-admin'), '-c', $t->conf_file,
                   map { "'$_'" } @_);
    my $out = `$cmd 2>>$dir/cli.log`;
    return ($? >> 8, $out);
}
