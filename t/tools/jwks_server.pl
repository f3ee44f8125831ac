# A provider's jwks_uri for the tests: serves the files of a directory
# over HTTP on 127.0.0.1, one connection at a time, and appends each
# request's line and headers to DIR/requests.log, so that a test can count
# the fetches and see what was sent.  It answers after the seconds in
# DIR/delay, when that file exists.
#
#   perl jwks_server.pl PORT DIR

use strict;
use warnings;

use IO::Socket::INET;

my ($port, $dir) = @ARGV;

my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                   LocalPort => $port, Listen => 16,
                                   ReuseAddr => 1)
    or die "listen on $port: $!";

$SIG{TERM} = sub { exit 0 };

while (my $c = $listen->accept) {
    $c->timeout(5);
    my $head = '';
    while (defined(my $line = <$c>)) {
        $head .= $line;
        last if $line eq "\r\n" || $line eq "\n" || length $head > 16384;
    }

    open(my $log, '>>', "$dir/requests.log") or die $!;
    print $log $head, "--\n";
    close $log;

    # a slow provider: DIR/delay holds the seconds to wait before answering
    if (open(my $d, '<', "$dir/delay")) {
        my $secs = <$d>;
        close $d;
        select(undef, undef, undef, $secs) if $secs && $secs < 10;
    }

    my ($path) = $head =~ m{^GET (/[\w.-]*) HTTP/};
    my $body;
    if (defined $path && open(my $fh, '<', "$dir$path")) {
        local $/;
        $body = <$fh>;
        close $fh;
        print $c "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                 . "Content-Length: " . length($body) . "\r\n\r\n" . $body;
    } else {
        print $c "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    }

    close $c;
}
