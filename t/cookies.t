# media_cookie_secure: auto (the default, and what nginx.conf.example
# says) marks the sign-in and playback cookies Secure over TLS and for a
# TLS terminator on this machine (X-Forwarded-Proto: https from loopback),
# not over plain http, so signing in works on both; on marks them always
# and warns at start when a listener is plain http; off never.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json encode_json);
use MediaTest qw(wait_until slurp);

plan skip_all => 'curl and openssl are needed'
    unless `which curl openssl 2>/dev/null` =~ /openssl/;

my $t = MediaTest->new;
my $dir = $t->dir;

# a self-signed certificate for a TLS listener beside the plain one
system('openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost'
       . " -days 2 -keyout '$dir/tls.key' -out '$dir/tls.crt'"
       . " >>'$dir/cmd.log' 2>&1") == 0 or die 'openssl req failed';

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
my $example = slurp($t->conf_file);
like($example, qr/^    media_cookie_secure auto;$/m,
     'nginx.conf.example says auto');
conf('auto');
$t->migrate;
$t->start_nginx;

my $tls = 'https://127.0.0.1:' . $t->port('tls');

# --- auto ----------------------------------------------------------------------

my @c = cookies(signup('plain@example.com'));
is(scalar @c, 2, 'auto, plain http: two cookies');
ok(!grep({ /;\s*Secure/i } @c), '  neither Secure: the browser sends them back')
    or diag(explain(\@c));

@c = cookies(login('plain@example.com', 'X-Forwarded-Proto' => 'https'));
ok(@c == 2 && !grep({ !/;\s*Secure/i } @c),
   'auto, X-Forwarded-Proto: https from 127.0.0.1 (a TLS terminator here): '
   . 'both Secure') or diag(explain(\@c));

@c = cookies(login('plain@example.com', 'X-Forwarded-Proto' => 'http'));
ok(@c == 2 && !grep({ /;\s*Secure/i } @c),
   '  X-Forwarded-Proto: http: not Secure');

my ($status, @h) = curl("$tls/api/v1/auth/login", 'plain@example.com');
is($status, 200, 'auto, over TLS: signed in');
@c = grep { /^set-cookie:/i } @h;
ok(@c == 2 && !grep({ !/;\s*Secure/i } @c), '  both cookies Secure')
    or diag(explain(\@c));

# --- on --------------------------------------------------------------------------

conf('on');
$t->reload_nginx_settled or die 'the old workers did not exit';
ok(wait_until(sub {
    slurp("$dir/error.log") =~ /"media_cookie_secure on" while listening on plain http \(127\.0\.0\.1:\d+\): browsers do not send Secure cookies back over http/
}, timeout => 10), 'on, with a plain listener: a warning at start naming it');
ok(wait_until(sub {
    my @x = cookies(login('plain@example.com'));
    @x == 2 && !grep({ !/;\s*Secure/i } @x);
}, timeout => 10), 'on: Secure over plain http too');

# --- off -------------------------------------------------------------------------

conf('off');
$t->reload_nginx_settled or die 'the old workers did not exit';
ok(wait_until(sub {
    my ($s, @x) = curl("$tls/api/v1/auth/login", 'plain@example.com');
    @x = grep { /^set-cookie:/i } @x;
    $s == 200 && @x == 2 && !grep({ /;\s*Secure/i } @x);
}, timeout => 10), 'off: not Secure, even over TLS');

my ($ok, $out);
conf('maybe');
($ok, $out) = $t->nginx_test;
ok(!$ok && $out =~ /invalid value "maybe"/, 'a bad value: nginx -t fails')
    or diag($out);
conf('auto');

$t->finish;
done_testing;


# the example with media_cookie_secure $v and a TLS server beside
sub conf {
    my ($v) = @_;
    my $c = $example;
    $c =~ s/^    media_cookie_secure \w+;$/    media_cookie_secure $v;/m
        or die 'no media_cookie_secure line';
    my $server = "    server {\n        listen 127.0.0.1:" . $t->port('tls')
                 . " ssl;\n        ssl_certificate $dir/tls.crt;\n"
                 . "        ssl_certificate_key $dir/tls.key;\n"
                 . "        location /api/ {\n            media_api;\n"
                 . "        }\n    }\n}\n";
    $c =~ s{\}\s*\z}{$server} or die 'no closing brace';
    open(my $fh, '>', $t->conf_file) or die $!;
    print $fh $c;
    close $fh;
}

sub signup {
    my ($email) = @_;
    return $t->http(POST => '/api/v1/auth/signup',
                    headers => { 'Content-Type' => 'application/json' },
                    body => encode_json({ email => $email,
                                          password => 'a good password' }));
}

sub login {
    my ($email, %h) = @_;
    return $t->http(POST => '/api/v1/auth/login',
                    headers => { 'Content-Type' => 'application/json', %h },
                    body => encode_json({ email => $email,
                                          password => 'a good password' }));
}

sub cookies {
    my ($r) = @_;
    my $c = $r->{headers}{'set-cookie'} // [];
    return ref $c ? @$c : ($c);
}

# a sign-in over TLS with curl (-k: the certificate is self-signed):
# (status, header lines).  Connection: close: a TLS keep-alive connection
# that its client has just dropped, met by the reload right after, is left
# to nginx's SSL shutdown and logged as "open socket left" at the old
# worker's exit, which would read as a leak of ours.
sub curl {
    my ($url, $email) = @_;
    my $body = encode_json({ email => $email, password => 'a good password' });
    my $out = `curl -sk -m 10 -D - -o /dev/null -H 'Content-Type: application/json' -H 'Connection: close' --data '$body' '$url'`;
    my @lines = split /\r?\n/, $out;
    my ($status) = ($lines[0] // '') =~ /^HTTP\/\S+ (\d+)/;
    return ($status // 0, @lines);
}
