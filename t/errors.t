# nginx's own errors under the API answer the JSON error object: 413 from
# client_max_body_size, 429 and 503 from limit_req (with Retry-After), 502
# and 504 from a location proxying inside the API, 403 from deny, any
# `return`, 400 for a bad or too large header, 405 for TRACE, 501; an
# admin's error_page in the API still wins; outside the API nginx answers
# as ever.  A full disk during an upload is 507 storage_full, wherever the
# write fails (nginx's body file, our multipart copy, or refused up front),
# with no partial file left and the next upload taken.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use HTTP::Tiny;
use Test::More;
use Time::HiRes qw(time);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

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

    limit_req_zone $binary_remote_addr zone=auth:1m rate=1r/m;
    limit_req_zone $binary_remote_addr zone=busy:1m rate=1r/m;

    server {
        listen 127.0.0.1:%%PORT%%;
        large_client_header_buffers 2 1k;

        # the admin's page for the whole server: not for the API
        error_page 502 504 /50x.html;

        location / {
            root %%DIR%%/html;
        }

        location /plain/ {
            proxy_pass http://127.0.0.1:%%PORT_closed%%;
        }

        location /plain-denied/ {
            deny all;
        }

        location /api/ {
            media_api;

            location /api/legacy/ {
                proxy_pass http://127.0.0.1:%%PORT_closed%%;
            }

            location /api/slow/ {
                proxy_pass http://127.0.0.1:%%PORT_slow%%;
                proxy_read_timeout 1s;
            }

            location /api/small/ {
                client_max_body_size 1k;
                proxy_pass http://127.0.0.1:%%PORT_closed%%;
            }

            location /api/denied/ {
                deny all;
            }

            location /api/teapot/ {
                return 418;
            }

            location /api/own/ {
                error_page 502 /own502.html;
                proxy_pass http://127.0.0.1:%%PORT_closed%%;
            }
        }

        location /api/v1/auth/ {
            limit_req zone=auth;
            limit_req_status 429;
            media_api;
        }

        location /api/v1/jobs/ {
            limit_req zone=busy;
            media_api;
        }
    }
}
EOF
$t->jwt_key;

mkdir "$dir/html";
for my $page (['50x.html', 'the admin 50x page'],
              ['own502.html', 'the admin own 502 page'],
              ['index.html', 'hello'])
{
    open(my $fh, '>', "$dir/html/$page->[0]") or die $!;
    print $fh "<html>$page->[1]</html>\n";
    close $fh;
}

# a full disk needs a small filesystem of its own: a tmpfs over the storage
my $storage = "$dir/storage";
my ($uid, $gid) = (getpwnam('www-data'))[2, 3];
my $disk = MediaTest::is_root()
           && system('mount', '-t', 'tmpfs', '-o',
                     "size=8m,mode=0755,uid=$uid,gid=$gid",
                     'tmpfs', $storage) == 0;
END { system('umount', '-l', $storage) if $disk }

# a server that takes connections and never answers, for 504
my $slow_pid = fork() // die "fork: $!";
if ($slow_pid == 0) {
    my $l = IO::Socket::INET->new(Listen => 8, LocalAddr => '127.0.0.1',
                                  LocalPort => $t->port('slow'),
                                  ReuseAddr => 1) or exit 1;
    alarm 120;
    my @keep;
    while (my $c = $l->accept) { push @keep, $c }
    exit 0;
}
END { kill 'KILL', $slow_pid if $slow_pid }

$t->migrate;
$t->start_nginx;

# before limit_req counts: signup is under /api/v1/auth/ too
my $ann = $t->signup('ann@example.com');
my $auth = "Bearer $ann->{access_token}";

# --- errors raised in the API location and below it -------------------------

my $r = $t->http(GET => '/api/legacy/x');
json_error($r, 502, 'bad_gateway', 'proxy to a closed port');
is($r->{headers}{'cache-control'}, 'no-store', '502: not cached');
like($r->{headers}{'x-request-id'}, qr/^[0-9a-f]{32}$/, '502: X-Request-Id');
is($r->{json}{error}{request_id}, $r->{headers}{'x-request-id'},
   '502: the error carries the request id');

$r = $t->http(POST => '/api/legacy/x', body => '{}',
              headers => { 'Content-Type' => 'application/json' });
json_error($r, 502, 'bad_gateway', 'POST proxied to a closed port');

$r = $t->http(HEAD => '/api/legacy/x');
is($r->{status}, 502, 'HEAD 502');
is($r->{content} // '', '', 'HEAD 502: no body');
like($r->{headers}{'content-type'} // '', qr{^application/json},
     'HEAD 502: JSON type');

$r = $t->http(GET => '/api/slow/x', timeout => 20);
json_error($r, 504, 'gateway_timeout', 'proxy to a server that never answers');

$r = $t->http(POST => '/api/small/x', body => 'x' x 2048,
              headers => { 'Content-Type' => 'text/plain' });
json_error($r, 413, 'body_too_large', 'over client_max_body_size');
like($r->{json}{error}{message}, qr/at most 1024 bytes \(client_max_body_size\)/,
     '413: names the limit in bytes and the directive');

$r = $t->http(GET => '/api/denied/x');
json_error($r, 403, 'forbidden', 'deny all');
like($r->{json}{error}{message}, qr{/api/denied/x}, '403: names the path');

$r = $t->http(GET => '/api/teapot/');
json_error($r, 418, 'refused', 'return 418');

# the admin's own error_page in the API location wins
$r = $t->http(GET => '/api/own/x');
is($r->{status}, 502, "admin's own error_page: 502");
like($r->{content}, qr/the admin own 502 page/, "admin's own error_page: its page");

# the router's own answers are unchanged
$r = $t->http(GET => '/api/v1/nope');
json_error($r, 404, 'not_found', 'unknown route');
$r = $t->http(POST => '/api/v1/healthz', body => '{}');
json_error($r, 405, 'method_not_allowed', 'router 405');
is($r->{headers}{allow}, 'GET, HEAD', 'router 405: Allow');

# a refusal before the body is read: the body is read away, not taken for
# the next request on the connection
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->port('http'))
        or die "connect: $!";
    print $s "POST /api/v1/media HTTP/1.1\r\nHost: localhost\r\n"
             . "Content-Type: audio/wav\r\nContent-Length: 10\r\n\r\n"
             . "0123456789"
             . "GET /api/v1/healthz HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\n\r\n";
    my $all = '';
    my $sel = IO::Select->new($s);
    my $end = time() + 10;
    while (time() < $end && $sel->can_read($end - time())) {
        last unless sysread($s, $all, 65536, length $all);
    }
    close $s;
    my @st = $all =~ m{^HTTP/1\.1 (\d+)}mg;
    is("@st", '401 200', 'a refused upload, then a request on the same '
                         . 'connection: 401 then 200');
}

# --- limit_req ------------------------------------------------------------------

# signing up took the one request a minute this zone lets through
$r = $t->http(GET => '/api/v1/auth/me');
json_error($r, 429, 'rate_limited', 'limit_req_status 429');
is($r->{headers}{'retry-after'}, '1', '429: Retry-After');

# the error page is answered before the access phase: a bad token does
# not turn the 429 into a 401
$r = $t->http(GET => '/api/v1/auth/me',
              headers => { Authorization => 'Bearer not.a.token' });
json_error($r, 429, 'rate_limited', '429 with a bad token');

$r = $t->http(GET => '/api/v1/jobs/00000000-0000-0000-0000-000000000000');
is($r->{status}, 401, 'limit_req 503: the first request passes');
$r = $t->http(GET => '/api/v1/jobs/00000000-0000-0000-0000-000000000000');
json_error($r, 503, 'unavailable', 'limit_req with its default 503');
is($r->{headers}{'retry-after'}, '1', '503: Retry-After');

# --- errors nginx raises before it chooses a location ---------------------------

my ($status, $h, $body) = raw("TRACE /api/v1/healthz HTTP/1.1\r\n"
                              . "Host: localhost\r\n\r\n");
raw_json_error($status, $h, $body, 405, 'method_not_allowed', 'TRACE');
is($h->{allow}, 'GET, HEAD', 'TRACE: Allow from the route table');
like($body, qr/TRACE is not allowed/, 'TRACE: names the method');

($status, $h, $body) = raw("GET /api/v1/healthz HTTP/1.1\r\nHost: localhost\r\n"
                           . 'Cookie: ' . ('a' x 1500) . "\r\n\r\n");
raw_json_error($status, $h, $body, 400, 'header_too_large',
               'header over large_client_header_buffers');
like($body, qr/1024 bytes a line and 2048 in all/, '494: names the limits');

($status, $h, $body) = raw("GET /api/v1/healthz HTTP/1.1\r\nHost: localhost\r\n"
                           . "Content-Length: nope\r\n\r\n");
raw_json_error($status, $h, $body, 400, 'bad_request', 'bad Content-Length');

($status, $h, $body) = raw("POST /api/v1/media HTTP/1.1\r\nHost: localhost\r\n"
                           . "Transfer-Encoding: gzip\r\n\r\n");
raw_json_error($status, $h, $body, 501, 'not_implemented',
               'unknown Transfer-Encoding');

# --- outside the API nginx answers as before -------------------------------------

$r = $t->http(GET => '/index.html');
is($r->{status}, 200, 'outside: a static file');
$r = $t->http(GET => '/nope.html');
html_error($r, 404, 'outside: 404');
$r = $t->http(GET => '/plain/x');
is($r->{status}, 502, 'outside: 502');
like($r->{content}, qr/the admin 50x page/, "outside: the admin's 50x page");
$r = $t->http(GET => '/plain-denied/x');
html_error($r, 403, 'outside: deny');

($status, $h, $body) = raw("TRACE /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n");
raw_html_error($status, $h, $body, 405, 'outside: TRACE');
($status, $h, $body) = raw("GET /index.html HTTP/1.1\r\nHost: localhost\r\n"
                           . 'Cookie: ' . ('a' x 1500) . "\r\n\r\n");
raw_html_error($status, $h, $body, 400, 'outside: too large header');
like($body, qr/Request Header Or Cookie Too Large/, "outside: nginx's 494 page");
($status, $h, $body) = raw("GET /index.html HTTP/1.1\r\nHost: localhost\r\n"
                           . "Content-Length: nope\r\n\r\n");
raw_html_error($status, $h, $body, 400, 'outside: bad Content-Length');

# --- again on one keep-alive connection, and after a reload ----------------------

my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 10);
my $same = 1;
for (1 .. 10) {
    my $e = $ua->get($t->url('/api/legacy/x'));
    my $ok = $ua->get($t->url('/api/v1/healthz'));
    $same &&= $e->{status} == 502 && $e->{content} =~ /"bad_gateway"/
              && $ok->{status} == 200 && $ok->{content} =~ /"postgres":"ok"/;
}
ok($same, 'an error page then a route, 10 times on one connection');

$t->reload_nginx;
ok(wait_until(sub { my $n = () = slurp("$dir/error.log")
                                 =~ /start worker process/g;
                    $n >= 2 }, timeout => 10),
   'reloaded');
$r = $t->http(GET => '/api/legacy/x');
json_error($r, 502, 'bad_gateway', 'after a reload');
($status, $h, $body) = raw("TRACE /api/v1/healthz HTTP/1.1\r\n"
                           . "Host: localhost\r\n\r\n");
raw_json_error($status, $h, $body, 405, 'method_not_allowed',
               'after a reload: TRACE');
html_error($t->http(GET => '/nope.html'), 404, 'after a reload: outside');

# --- a full disk -------------------------------------------------------------------

SKIP: {
    skip 'a full disk needs a tmpfs: not root or mount refused', 1 unless $disk;

    my $wav = slurp($t->make_media('tone.wav',
                      '-f lavfi -i sine=frequency=440:duration=12 -ac 2 -ar 48000'));
    ok(length($wav) > 2_000_000, 'a 2 MB wav');

    # refused before a byte is read: the storage has less room than that
    fill("$storage/fill", free() - 1_000_000);
    $r = $t->http(POST => '/api/v1/media', body => $wav,
                  headers => { 'Content-Type' => 'audio/wav',
                               Authorization => $auth });
    json_error($r, 507, 'storage_full', 'up front: no room for the upload');
    like($r->{json}{error}{message}, qr/upload of \d+ bytes; try again later/,
         '507 up front: says what to do');
    unlink "$storage/fill";
    ok(tmp_empty(), 'up front: no file left in tmp/');

    # nginx's write of the body fails midway: the disk fills meanwhile
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->port('http'))
        or die "connect: $!";
    my $size = 4_000_000;
    print $s "POST /api/v1/media HTTP/1.1\r\nHost: localhost\r\n"
             . "Authorization: $auth\r\nContent-Type: video/mp4\r\n"
             . "Content-Length: $size\r\nConnection: close\r\n\r\n"
             . ("\0" x 262144);
    ok(wait_until(sub { !tmp_empty() }, timeout => 10),
       'midway: nginx has begun the body file');
    fill_up("$storage/fill");
    ($status, $h, $body) = send_rest($s, $size - 262144);
    raw_json_error($status, $h, $body, 507, 'storage_full',
                   "midway: nginx's body write fails");
    unlink "$storage/fill";
    ok(wait_until(sub { tmp_empty() }, timeout => 10),
       'midway: the partial body file is removed');

    # our copy of a multipart file part fails: the body fits, two do not
    my $boundary = 'xYzZY';
    my $mp = "--$boundary\r\nContent-Disposition: form-data; name=\"file\"; "
             . "filename=\"tone.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
             . $wav . "\r\n--$boundary--\r\n";
    fill("$storage/fill", free() - length($mp) - 800_000);
    $r = $t->http(POST => '/api/v1/media', body => $mp,
                  headers => { 'Content-Type' =>
                                   "multipart/form-data; boundary=$boundary",
                               Authorization => $auth });
    json_error($r, 507, 'storage_full', 'multipart copy fails');
    unlink "$storage/fill";
    ok(wait_until(sub { tmp_empty() }, timeout => 10),
       'multipart: the body file is removed');
    opendir(my $d, "$storage/uploads") or die $!;
    my @left = grep { !/^\./ } readdir $d;
    closedir $d;
    is("@left", '', 'multipart: no partial upload left');
    like(slurp("$dir/error.log"),
         qr/media upload: storage full writing "\S+\.part".*No space left on device/,
         'multipart: the log names the file and the errno');

    # room again: the same upload is taken, the service never went away
    $r = $t->http(POST => '/api/v1/media', body => $mp,
                  headers => { 'Content-Type' =>
                                   "multipart/form-data; boundary=$boundary",
                               Authorization => $auth });
    is($r->{status}, 202, 'with room again: multipart upload 202');
    $r = $t->http(POST => '/api/v1/media', body => $wav,
                  headers => { 'Content-Type' => 'audio/wav',
                               Authorization => $auth });
    is($r->{status}, 202, 'with room again: raw upload 202');
}

# nginx logs its failed write of the body file as [crit] (ngx_files.c, no
# setting changes that): exactly those lines are expected, any other
# [crit] still fails the file
my $log = slurp("$dir/error.log");
my $crit = qr{^[^\n]*\[crit\] .*(?:writev|pwritev|write|pwrite)\(\) "\Q$storage\E/tmp/\d+" (?:failed \(28: No space left on device\)|has written only \d+ of \d+)[^\n]*\n}m;
my $n = () = $log =~ /$crit/mg;
ok(!$disk || $n >= 1, "nginx's own [crit] for the failed body write: $n");
$log =~ s/$crit//mg;
open(my $fh, '>', "$dir/error.log") or die $!;
print $fh $log;
close $fh;

$t->finish;
done_testing;


sub json_error {
    my ($r, $status, $code, $what) = @_;

    is($r->{status}, $status, "$what: $status");
    like($r->{headers}{'content-type'} // '', qr{^application/json},
         "$what: JSON");
    is($r->{json} && $r->{json}{error}{code}, $code, "$what: code $code");
    ok($r->{json} && length($r->{json}{error}{message}) > 10,
       "$what: a message");
    unlike($r->{content} // '', qr/<html/i, "$what: no HTML");
}

sub html_error {
    my ($r, $status, $what) = @_;

    is($r->{status}, $status, "$what: $status");
    like($r->{headers}{'content-type'} // '', qr{^text/html}, "$what: HTML");
}

sub raw_json_error {
    my ($status, $h, $body, $want, $code, $what) = @_;
    my $json = eval { decode_json($body // '') };

    is($status, $want, "$what: $want");
    like($h->{'content-type'} // '', qr{^application/json}, "$what: JSON");
    is($json && $json->{error}{code}, $code, "$what: code $code");
    unlike($body // '', qr/<html/i, "$what: no HTML");
}

sub raw_html_error {
    my ($status, $h, $body, $want, $what) = @_;

    is($status, $want, "$what: $want");
    like($h->{'content-type'} // '', qr{^text/html}, "$what: HTML");
}

# one request on its own connection: (status, {headers}, body)
sub raw {
    my ($req) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->port('http'))
        or die "connect: $!";
    print $s $req;
    return response($s);
}

sub response {
    my ($s) = @_;
    my $sel = IO::Select->new($s);
    my $buf = '';
    my $end = time() + 10;

    while (time() < $end) {
        last unless $sel->can_read($end - time());
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
        last if parse($buf);
    }
    close $s;
    return parse($buf);
}

# a whole response in $buf: (status, {headers}, body), else ()
sub parse {
    my ($buf) = @_;
    return () unless $buf =~ m{^HTTP/1\.[01] (\d+)[^\r\n]*\r\n(.*?)\r\n\r\n}s;
    my ($status, $head, $body) = ($1, $2, substr($buf, $+[0]));
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } split /\r\n/, $head;
    return () if defined $h{'content-length'}
                 && length($body) < $h{'content-length'};
    return ($status, \%h, $body);
}

# the rest of a body, stopping as soon as the answer comes
sub send_rest {
    my ($s, $left) = @_;
    my $sel = IO::Select->new($s);
    local $SIG{PIPE} = 'IGNORE';

    while ($left > 0 && !$sel->can_read(0)) {
        my $n = syswrite($s, "\0" x ($left < 65536 ? $left : 65536));
        last unless $n;
        $left -= $n;
    }
    return response($s);
}

sub free {
    my $out = `df -B1 --output=avail '$storage'`;
    my ($n) = $out =~ /(\d+)\s*$/ or die "df: $out";
    return $n;
}

sub fill {
    my ($file, $size) = @_;
    $size = 4096 if $size < 4096;
    system('fallocate', '-l', $size, $file) == 0 or die "fallocate $size";
}

# every block there is
sub fill_up {
    my ($file) = @_;
    system("dd if=/dev/zero of='$file' bs=64k 2>/dev/null");
    ok(free() < 65536, 'the disk is full');
}

sub tmp_empty {
    opendir(my $d, "$storage/tmp") or return 1;
    my @f = grep { !/^\./ } readdir $d;
    closedir $d;
    return !@f;
}
