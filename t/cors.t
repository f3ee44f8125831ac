# media_cors: streams and the API from other origins.  nginx configured
# from nginx.conf.example with media_cors added to its server: answers
# carry Access-Control-Allow-Origin (playlists and segments after the
# token's internal redirect, the API, refusals too), preflights are
# answered before any token or sign-in check, a listed origin is echoed
# with credentials and Vary: Origin, another is refused; the directive's
# bad values fail nginx -t.  Playing from another origin in Chromium is
# t/cors_browser.t.

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
$t->write_example_conf;
my $example = slurp($t->conf_file);
cors('*');
$t->migrate;
$t->start_worker('transcoder');
$t->start_nginx;

my $file = $t->make_media('clip.mp4',
    '-f lavfi -i testsrc2=size=320x180:rate=25:duration=3'
    . ' -f lavfi -i sine=frequency=300:duration=3 -c:v libx264'
    . ' -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest');

my $u = $t->signup('cors@example.com');
my $r = $t->http(POST => '/api/v1/media', body => slurp($file),
                 headers => { 'Content-Type' => 'video/mp4',
                              Authorization => "Bearer $u->{access_token}" });
is($r->{status}, 202, 'uploaded');
my $id = $r->{json}{media}{id};
my $s = '';
wait_until(sub {
    $s = api(GET => "/api/v1/media/$id")->{json}{media}{status} // '';
    $s =~ /^(ready|failed)$/;
}, timeout => 90, interval => 0.3);
is($s, 'ready', 'transcoded');

my $master = api(POST => "/api/v1/media/$id/playback")->{json}{url};
like($master, qr{^/hls/.+/master\.m3u8$}, "a playback URL: $master");

my $other = 'https://player.example.org';

# --- media_cors *: any origin, no credentials ---------------------------------

$r = get($master, $other);
is($r->{status}, 200, '*: master 200');
is($r->{headers}{'access-control-allow-origin'}, '*', '  Allow-Origin: *');
ok(!$r->{headers}{'access-control-allow-credentials'}, '  no credentials');
ok(!vary_origin($r), '  no Vary: Origin (the same for every origin)');
like($r->{headers}{'access-control-expose-headers'} // '', qr/Content-Range/,
     '  Expose-Headers name Content-Range');

(my $variant) = $r->{content} =~ /^(\S+\.m3u8)$/m;
(my $base = $master) =~ s{master\.m3u8$}{};
$r = get("$base$variant", $other);
is($r->{status}, 200, "  a variant ($variant)");
is($r->{headers}{'access-control-allow-origin'}, '*',
   '  Allow-Origin after the internal redirect');
(my $seg) = $r->{content} =~ /^([^#\s]\S*)$/m;
(my $vbase = "$base$variant") =~ s{[^/]+$}{};
$r = get("$vbase$seg", $other, Range => 'bytes=0-99');
is($r->{status}, 206, "  a segment, a range ($seg)");
is($r->{headers}{'access-control-allow-origin'}, '*', '  Allow-Origin');

(my $forged = $master) =~ s{\.(.)}{'.' . ($1 eq 'A' ? 'B' : 'A')}e;
$r = get($forged, $other);
is($r->{status}, 403, '  a forged token: 403');
is($r->{headers}{'access-control-allow-origin'}, '*',
   '  the refusal readable from the other origin');

$r = get('/api/v1/healthz', $other);
is($r->{headers}{'access-control-allow-origin'}, '*', 'the API: Allow-Origin');
$r = get('/api/v1/healthz');
ok(!$r->{headers}{'access-control-allow-origin'},
   '  none without Origin (not a cross-origin request)');

# preflights, before the token and sign-in checks
$r = preflight($master, $other, 'GET', 'range');
is($r->{status}, 204, 'a preflight of the master: 204, before the token check');
is($r->{headers}{'access-control-allow-origin'}, '*', '  Allow-Origin');
like($r->{headers}{'access-control-allow-methods'}, qr/\bGET\b/, '  GET allowed');
like($r->{headers}{'access-control-allow-headers'}, qr/\bRange\b/,
     '  Range allowed');
is($r->{headers}{'access-control-max-age'}, 7200, '  cached 2 hours');
is($r->{content} // '', '', '  no body');

$r = preflight("/api/v1/media/$id", $other, 'PATCH',
               'authorization, content-type');
is($r->{status}, 204, 'a preflight of the API: 204, though not signed in');
like($r->{headers}{'access-control-allow-headers'}, qr/Authorization/,
     '  Authorization allowed');
like($r->{headers}{'access-control-allow-methods'}, qr/\bPATCH\b/,
     '  PATCH allowed');

$r = $t->http(OPTIONS => "/api/v1/media/$id",
              headers => { Origin => $other });
is($r->{status}, 405, 'OPTIONS without Access-Control-Request-Method: the '
   . 'route answers it (405)');

# --- origins listed: echoed, with credentials, Vary ------------------------------

cors('https://app.example.com http://127.0.0.1:9');
$t->reload_nginx;
ok(wait_until(sub {
    (get('/api/v1/healthz', 'https://app.example.com')->{headers}
         {'access-control-allow-origin'} // '') eq 'https://app.example.com'
}, timeout => 10), 'listed: reloaded');

$r = get($master, 'https://app.example.com');
is($r->{status}, 200, 'listed origin: master 200');
is($r->{headers}{'access-control-allow-origin'}, 'https://app.example.com',
   '  the origin echoed');
is($r->{headers}{'access-control-allow-credentials'}, 'true',
   '  with credentials (the signed-cookie mode)');
ok(vary_origin($r), '  Vary: Origin');

$r = get($master, 'HTTPS://APP.example.com');
is($r->{headers}{'access-control-allow-origin'}, 'HTTPS://APP.example.com',
   '  scheme and host compared without case');

$r = get($master, $other);
is($r->{status}, 200, 'another origin: the answer itself is the same');
ok(!$r->{headers}{'access-control-allow-origin'}, '  but no Allow-Origin');
ok(vary_origin($r), '  and Vary: Origin, so no cache hands it on');

$r = preflight($master, $other, 'GET');
is($r->{status}, 403, 'a preflight from another origin: 403');
is($r->{json}{error}{code}, 'cors_origin_refused', '  cors_origin_refused');
like($r->{json}{error}{message}, qr/\Q$other\E may not use this server.*media_cors/,
     "  saying which origin and where: $r->{json}{error}{message}");
ok(!$r->{headers}{'access-control-allow-origin'}, '  no Allow-Origin');

$r = preflight($master, 'http://127.0.0.1:9', 'GET');
is($r->{status}, 204, 'a preflight from the other listed origin: 204');
is($r->{headers}{'access-control-allow-origin'}, 'http://127.0.0.1:9',
   '  echoed');

# --- off below: a location without it ---------------------------------------------

cors('*', "location /api/v1/healthz {\n            media_cors off;\n"
          . "            media_api;\n        }");
$t->reload_nginx;
ok(wait_until(sub {
    (get($master, $other)->{headers}{'access-control-allow-origin'} // '')
        eq '*'
}, timeout => 10), '* again: reloaded');
ok(wait_until(sub {
    !get('/api/v1/healthz', $other)->{headers}{'access-control-allow-origin'}
}, timeout => 10), 'media_cors off in a location: no Allow-Origin there');

# --- bad values --------------------------------------------------------------------

for my $bad (['* https://a.example', qr/"\*" in "media_cors" stands alone/],
             ['example.com', qr/takes origins as browsers send them.*"example\.com"/],
             ['https://a.example/', qr/no path.*"https:\/\/a\.example\/"/],
             ['https://a.example/app', qr/no path/],
             ['ftp://a.example', qr/a scheme and a host/]) {
    cors($bad->[0]);
    my ($ok, $out) = $t->nginx_test;
    ok(!$ok && $out =~ $bad->[1], "media_cors $bad->[0]: nginx -t fails")
        or diag($out);
}
cors('*', 'media_cors *;');
my ($ok, $out) = $t->nginx_test;
ok(!$ok && $out =~ /"media_cors" directive is duplicate/,
   'twice in one server: duplicate') or diag($out);

$t->finish;
done_testing;


# the example's server with "media_cors $value;" (and $more) added
sub cors {
    my ($value, $more) = @_;
    my $c = $example;
    $c =~ s{^(        server_name localhost;\n)}
           {$1        media_cors $value;\n@{[ $more ? "        $more\n" : '' ]}}m
        or die 'no server_name line in the example';
    open(my $fh, '>', $t->conf_file) or die $!;
    print $fh $c;
    close $fh;
}

sub get {
    my ($path, $origin, %h) = @_;
    return $t->http(GET => $path,
                    headers => { ($origin ? (Origin => $origin) : ()), %h });
}

sub preflight {
    my ($path, $origin, $method, $headers) = @_;
    return $t->http(OPTIONS => $path, headers => {
        Origin => $origin, 'Access-Control-Request-Method' => $method,
        ($headers ? ('Access-Control-Request-Headers' => $headers) : ()) });
}

sub vary_origin {
    my ($r) = @_;
    my $v = $r->{headers}{vary} // '';
    $v = join(', ', @$v) if ref $v;
    return $v =~ /\bOrigin\b/;
}

sub api {
    my ($method, $path, $body) = @_;
    return $t->http($method => $path,
                    headers => { Authorization => "Bearer $u->{access_token}",
                                 (defined $body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => encode_json($body)) : ()));
}
