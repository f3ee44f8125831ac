# Configuration: nginx.conf.example works as it stands (only paths and
# ports pointed at the harness), the workers read the same file, host names
# in media_pg are resolved at configuration time, and every bad value fails
# `nginx -t` (or the worker) with a message naming the directive and value.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MediaTest qw(wait_until slurp log_messages);

my $t = MediaTest->new;
$t->start_postgres;
$t->start_redis;

# --- the example ---------------------------------------------------------

$t->write_example_conf;

my ($ok, $out) = $t->nginx_test;
ok($ok, 'nginx -t accepts nginx.conf.example') or diag($out);

$t->migrate;
$t->start_nginx;

my $r = $t->http(GET => '/api/v1/healthz');
is($r->{status}, 200, 'example: healthz 200');

$r = $t->http(POST => '/api/v1/auth/signup',
              headers => { 'Content-Type' => 'application/json' },
              body => '{"email":"ex@example.com","password":"example pass"}');
is($r->{status}, 201, 'example: accounts work (signup 201)');

$t->start_worker('transcoder');
ok(wait_until(sub {
    slurp($t->dir . '/transcoder.log') =~ /ready: postgres and redis connected/
}, timeout => 10), 'worker reads its settings from the same file');

$t->stop_proc('transcoder');
$t->stop_nginx;

# --- Debian's layout: the media_* lines in conf.d, included ---------------

{
    my $d = $t->dir;
    my $example = slurp($t->conf_file);
    my @ours = $example =~ /^(    media_(?:pg|redis|storage|jwt_key|url_key)\b[^\n]*\n)/mg;
    is(scalar @ours, 5, 'the example\'s connection and key lines');
    (my $main = $example) =~ s/^    media_(?:pg|redis|storage|jwt_key|url_key)\b[^\n]*\n//mg;
    $main =~ s/^(http \{\n)/$1    include conf.d\/*.conf;\n/m or die 'no http block';
    mkdir("$d/conf.d");
    open(my $fh, '>', "$d/conf.d/media.conf") or die $!;
    print $fh @ours;
    close $fh;
    open($fh, '>', $t->conf_file) or die $!;
    print $fh $main;
    close $fh;

    my ($ok, $out) = $t->nginx_test;
    ok($ok, 'conf.d/*.conf: nginx -t accepts it') or diag($out);
    unlink("$d/transcoder.log");
    $t->start_worker('transcoder');
    ok(wait_until(sub {
        slurp("$d/transcoder.log") =~ /ready: postgres and redis connected/
    }, timeout => 10), 'the worker follows include as nginx does: it finds '
       . 'media_pg and media_redis in conf.d/media.conf')
        or diag(slurp("$d/transcoder.log"));
    $t->stop_proc('transcoder');

    open($fh, '>', $t->conf_file) or die $!;
    print $fh $example;
    close $fh;
}

# --- a host name in media_pg ---------------------------------------------

(my $by_name = $t->pg_conninfo) =~ s/host=127\.0\.0\.1/host=localhost/;

write_http(qq{media_pg "$by_name";\n    media_redis localhost:}
           . $t->port('redis') . ';');
$t->start_nginx;
is($t->http(GET => '/api/v1/healthz')->{status}, 200,
   'media_pg host=localhost and media_redis localhost work');
$t->stop_nginx;

# --- a PostgreSQL that cannot be reached at all ---------------------------

# a missing unix socket directory: libpq fails inside PQconnectStartParams,
# while the module is still setting up the query
write_http(qq{media_pg "host=@{[ $t->dir ]}/no-such-dir dbname=media";\n}
           . '    media_redis 127.0.0.1:' . $t->port('redis') . ';');
$t->start_nginx;
for my $i (1 .. 3) {
    my $x = $t->http(GET => '/api/v1/healthz');
    ok($x->{status} == 503 && $x->{json}{postgres} eq 'unreachable',
       "unreachable postgres at connect: 503 unreachable ($i)");
}
like(slurp($t->dir . '/error.log'), qr/media pg open: .*no-such-dir/,
     'the connect failure is logged with libpq\'s reason');
$t->stop_nginx;

# --- refusals ------------------------------------------------------------

my $dir = $t->dir;
open(my $f, '>', "$dir/plainfile") or die;
close $f;
open($f, '>', "$dir/short.key") or die;
print $f "abc\n";
close $f;
open($f, '>', "$dir/empty-jwks.json") or die;
print $f '{"keys":[]}';
close $f;

my @bad = (
    [ 'media_pg "foo";', qr/invalid media_pg "foo": missing "="/ ],
    [ 'media_pg "host=no-such-host.invalid";',
      qr/media_pg host "no-such-host.invalid": host not found/ ],
    [ qq{media_pg "dbname=a";\n    media_pg "dbname=b";},
      qr/"media_pg" directive is duplicate/ ],
    [ 'media_pg_pool 0;', qr/invalid media_pg_pool "0": expected a number of connections from 1 to 1024/ ],
    [ 'media_pg_pool 5000;', qr/invalid media_pg_pool "5000"/ ],
    [ 'media_pg_pool many;', qr/invalid media_pg_pool "many"/ ],
    [ 'media_pg_timeout abc;', qr/invalid media_pg_timeout "abc": expected a time/ ],
    [ 'media_pg_timeout 0;', qr/invalid media_pg_timeout "0"/ ],
    [ 'media_redis_timeout 5x;', qr/invalid media_redis_timeout "5x"/ ],
    [ 'media_redis "unix:relative.sock";',
      qr/invalid media_redis "unix:relative.sock": expected host, host:port, unix:\/path or sentinel:/ ],
    [ 'media_redis "127.0.0.1:99999";', qr/invalid media_redis "127.0.0.1:99999"/ ],
    [ 'media_redis "no-such-host.invalid:6379";',
      qr/invalid media_redis "no-such-host.invalid:6379": host not found/ ],
    [ 'media_redis "sentinel://127.0.0.1:26379/";',
      qr{invalid media_redis "sentinel://127.0.0.1:26379/": expected host, host:port, unix:/path or sentinel://host:port,host:port/name} ],
    [ 'media_redis "sentinel://127.0.0.1,/media";',
      qr{invalid media_redis "sentinel://127.0.0.1,/media": expected} ],
    [ 'media_redis "sentinel://127.0.0.1,no-such-host.invalid/media";',
      qr{invalid media_redis "sentinel://127.0.0.1,no-such-host.invalid/media": host not found \(no-such-host.invalid\)} ],
    [ "media_storage $dir/missing;",
      qr/invalid media_storage "$dir\/missing": cannot use it; create the directory/ ],
    [ "media_storage $dir/plainfile;",
      qr/invalid media_storage "$dir\/plainfile": not a directory/ ],
    [ 'media_api;', qr/"media_api" directive is not allowed here/ ],
    [ "media_jwt_key $dir/short.key;",
      qr/invalid media_jwt_key "\S+short.key": it must hold 16 to 64 bytes \(3 found\); make one with "openssl rand -base64 32/ ],
    [ "media_jwt_key $dir/none.key;",
      qr/media_jwt_key "\S+none.key": cannot open it/ ],
    [ "media_jwt_jwks $dir/empty-jwks.json;",
      qr/invalid media_jwt_jwks "\S+empty-jwks.json": no signing keys/ ],
    [ "media_jwt_jwks $dir/empty-jwks.json colour=blue;",
      qr/invalid media_jwt_jwks parameter "colour=blue": expected issuer= or audience=/ ],
    [ 'media_login_limit account=0;',
      qr/invalid media_login_limit parameter "account=0": expected account=N/ ],
    [ 'media_login_limit window=10ms;',
      qr/invalid media_login_limit parameter "window=10ms"/ ],
    [ 'media_access_ttl soon;', qr/invalid media_access_ttl "soon"/ ],
    [ 'media_blocked_zone 32k;',
      qr/invalid media_blocked_zone "32k": expected a size of at least 64k \(512 ids\)/ ],
    [ 'media_blocked_zone big;', qr/invalid media_blocked_zone "big"/ ],
    [ 'media_export_ttl 7x;',
      qr/invalid media_export_ttl "7x": expected a time such as "30s"/ ],
    [ 'media_export_ttl 0;', qr/invalid media_export_ttl "0"/ ],
    [ 'media_free_rung 700;',
      qr/invalid media_free_rung "700": expected the short side of one of the transcoder's rungs: 1080, 720, 480 or 360/ ],
    [ 'media_free_rung 720p;', qr/invalid media_free_rung "720p"/ ],
    [ 'media_public_cache soon;',
      qr/invalid media_public_cache "soon": expected "off" or how long an answer is kept, such as "5s"/ ],
    [ 'media_public_cache 5s 8k;',
      qr/invalid media_public_cache size "8k": expected a size of shared memory of at least \d+k, such as "16m"/ ],
    [ 'media_public_cache off 16m;',
      qr/"media_public_cache" directive takes no size when off/ ],
    [ "media_public_cache 5s;\n    media_public_cache 10s;",
      qr/"media_public_cache" directive is duplicate/ ],
    [ "media_free_rung 720;\n    media_free_rung 480;",
      qr/"media_free_rung" directive is duplicate/ ],
    [ 'media_auth maybe;',
      qr/invalid value "maybe" in \S+nginx.conf/ ],
    [ "media_download_key $dir/short.key;",
      qr/invalid media_download_key "\S+short.key": it must hold 16 to 64 bytes/ ],
    [ "media_download_key @{[ $t->jwt_key ]} @{[ $t->jwt_key ]};",
      qr/media_download_key: the two keys share an id; make another new key/ ],
    [ "media_download_key @{[ $t->jwt_key ]};\n    media_download_key @{[ $t->jwt_key ]};",
      qr/"media_download_key" directive is duplicate/ ],
    [ 'media_download /_media_dl/;', qr/"media_download" directive is not allowed here/ ],
    [ 'server { location /dl/ { media_download _media_dl; } }',
      qr/invalid media_download "_media_dl": expected the prefix of the internal location/ ],
    [ 'server { location = /dl { media_download /_media_dl/; } }',
      qr/"media_download" directive must be in a prefix location ending in "\/"/ ],
    [ 'media_avatars /_media_avatars/;', qr/"media_avatars" directive is not allowed here/ ],
    [ 'server { location /avatars/ { media_avatars _media_avatars; } }',
      qr/invalid media_avatars "_media_avatars": expected the prefix of the internal location serving media_storage\/avatars/ ],
    [ 'server { location = /avatars { media_avatars /_media_avatars/; } }',
      qr/"media_avatars" directive must be in a prefix location ending in "\/"/ ],
    [ 'server { location /avatars/ { media_avatars /a/; media_avatars /a/; } }',
      qr/"media_avatars" directive is duplicate/ ],
    [ 'server { location /m/ { media_pages app/; } }',
      qr{media_pages: the web client's location "app/" must start and end with "/", as "/app/"} ],
    [ q{server { location /m/ { media_pages "/a<b/"; } }},
      qr{media_pages: "/a<b/" holds "<"; the web client's location may hold letters, digits and / - \. _ ~ only} ],
);

for my $case (@bad) {
    my ($line, $want) = @$case;
    write_http($line);
    my ($ok, $out) = $t->nginx_test;
    ok(!$ok && $out =~ $want, "nginx -t refuses: $line")
        or diag($out);
}

# the workers refuse the same values, naming the line (in their JSON log)
write_http(qq{media_pg "host=127.0.0.1";\n    media_redis "h:0";});
my $w = $t->root . '/' . ($ENV{MEDIA_BUILD} || 'build') . '/media-transcoder';
$out = `$w -c $dir/nginx.conf 2>&1`;
$out = log_messages($out);
is($? >> 8, 2, 'worker: bad value exits 2');
like($out, qr/nginx\.conf: line \d+: invalid media_redis "h:0"/,
     'worker: names file, line, directive and value');

write_http(qq{media_pg "host=127.0.0.1";\n    media_redis "sentinel://h/";});
$out = log_messages(`$w -c $dir/nginx.conf 2>&1`);
is($? >> 8, 2, 'worker: a sentinel:// without a name exits 2');
like($out, qr{invalid media_redis "sentinel://h/": expected host, host:port, unix:/path or sentinel://},
     'worker: says what a media_redis may be');

$out = `$w -c $dir/nope.conf 2>&1`;
$out = log_messages($out);
is($? >> 8, 2, 'worker: missing file exits 2');
like($out, qr/open "\Q$dir\E\/nope.conf": No such file/, 'worker: names it');

write_http('media_pg "host=127.0.0.1";');
$out = `$w -c $dir/nginx.conf 2>&1`;
$out = log_messages($out);
like($out, qr/needs both media_pg and media_redis/,
     'worker: says which settings are missing');

$out = `$w -x 2>&1`;
like($out, qr/usage: media-transcoder \[-c nginx\.conf\]/, 'worker: usage');

# media-exporter reads media_export_ttl as nginx checks it
write_http(qq{media_pg "host=127.0.0.1";\n    media_redis 127.0.0.1:1;\n}
           . '    media_export_ttl 7x;');
(my $x = $w) =~ s/media-transcoder$/media-exporter/;
$out = `$x -c $dir/nginx.conf 2>&1`;
$out = log_messages($out);
like($out, qr/line \d+: invalid media_export_ttl "7x"/,
     'worker: a bad media_export_ttl exits naming it');

# nginx -t only: no nginx is left running for finish() to stop
$t->finish;
done_testing;


# a config with the given lines in http{} and nothing else of ours
sub write_http {
    my ($lines) = @_;
    my $storage = $lines =~ /media_storage/ ? '' : 'media_storage %%DIR%%/storage;';
    $t->write_conf(<<"EOF");
%%MAIN%%
events {}
http {
    access_log %%DIR%%/access.log;
    client_body_temp_path %%DIR%%/body;
    proxy_temp_path %%DIR%%/proxy;
    fastcgi_temp_path %%DIR%%/fastcgi;
    uwsgi_temp_path %%DIR%%/uwsgi;
    scgi_temp_path %%DIR%%/scgi;
    $storage
    $lines
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ { media_api; }
    }
}
EOF
}
