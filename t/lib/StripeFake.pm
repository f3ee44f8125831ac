package StripeFake;

# t/stripe-fake under a MediaTest harness: started on a free port with a
# fresh secret key (in a file, as media_stripe_secret_key reads it) and a
# webhook secret, stopped with the harness.  The prices it sells are the
# plans table's (so the database must be migrated first).
#
#   my $stripe = StripeFake->start($t);
#   $t->write_conf("... @{[ $stripe->conf ]} ...");    # the directives
#   $stripe->control(fail => { path => '/v1/checkout/sessions' });
#   my @posts = $stripe->requests('POST', '/v1/customers');
#   my ($status, $headers, $body) = $stripe->page(POST => $session_url);
#
# Core Perl modules only.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256_hex);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use MediaTest qw(wait_until);

sub start {
    my ($class, $t, %opt) = @_;
    my $dir = $t->dir;
    my $name = $opt{name} || 'stripe';    # a second one: another name

    my $self = bless {
        t => $t,
        name => $name,
        port => $t->port($name),
        key_file => "$dir/$name.key",
        key => 'sk_test_' . _random(24),
        whsec_file => "$dir/$name-webhook.secret",
        whsec => 'whsec_' . _random(32),
    }, $class;

    _write($self->{key_file}, "$self->{key}\n");
    _write($self->{whsec_file}, "$self->{whsec}\n");

    my @prices = @{ $opt{prices} || [] };
    if (!@prices) {
        @prices = split /\n/, $t->psql('media',
            "SELECT stripe_price_id || '=' || price_cents FROM plans"
            . " WHERE stripe_price_id IS NOT NULL ORDER BY position") // '';
        die 'StripeFake: no priced plans: migrate before starting it'
            unless @prices;
    }

    $t->spawn($name, {}, $^X, $t->root . '/t/stripe-fake',
              '--port', $self->{port},
              '--secret-key-file', $self->{key_file},
              '--webhook-secret-file', $self->{whsec_file},
              ($opt{webhook_url} ? ('--webhook-url', $opt{webhook_url}) : ()),
              map { ('--price', $_) } @prices);

    wait_until(sub {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $self->{port})
    }, timeout => 10) or die "stripe-fake did not start, see $dir/$name.log";

    return $self;
}

sub url      { "http://127.0.0.1:$_[0]{port}" }
sub key      { $_[0]{key} }
sub key_file { $_[0]{key_file} }
sub whsec    { $_[0]{whsec} }
sub whsec_file { $_[0]{whsec_file} }

sub stop { $_[0]{t}->stop_proc($_[0]{name}) }

# the billing worker's directives, pointing at this fake
sub conf {
    my ($self) = @_;
    return "media_stripe_secret_key $self->{key_file};\n"
           . "    media_stripe_api_url " . $self->url . ";\n";
}

# POST /_fake/<name> with a JSON body; the decoded answer
sub control {
    my ($self, $name, $body) = @_;
    my $r = HTTP::Tiny->new(timeout => 10)->request(POST =>
        $self->url . "/_fake/$name",
        { headers => { 'Content-Type' => 'application/json' },
          content => encode_json($body || {}) });
    die "stripe-fake $name: $r->{status} $r->{content}"
        unless $r->{status} == 200;
    return decode_json($r->{content});
}

# GET /_fake/<name>, decoded
sub get {
    my ($self, $name) = @_;
    my $r = HTTP::Tiny->new(timeout => 10)->get($self->url . "/_fake/$name");
    die "stripe-fake $name: $r->{status}" unless $r->{status} == 200;
    return decode_json($r->{content});
}

# what /v1 received, optionally only one method and path (prefix)
sub requests {
    my ($self, $method, $path) = @_;
    return grep {
        (!$method || $_->{method} eq $method)
        && (!$path || index($_->{path}, $path) == 0)
    } @{ $self->get('requests') };
}

# the events made so far, decoded, each with {body, signature, type, id}
sub events {
    my ($self) = @_;
    return @{ $self->get('events') };
}

# the objects of a kind: customers, checkout_sessions, subscriptions, ...
sub objects {
    my ($self, $kind) = @_;
    return @{ $self->get('state')->{$kind} };
}

# Stripe's signature check, as the module does it
sub signature_ok {
    my ($self, $body, $header) = @_;
    my ($ts) = $header =~ /(?:^|,)t=(\d+)/ or return 0;
    my @v1 = $header =~ /(?:^|,)v1=([0-9a-f]{64})/g;
    my $want = hmac_sha256_hex("$ts.$body", $self->{whsec});
    return scalar grep { $_ eq $want } @v1;
}

# a checkout or portal page, as a browser: (status, headers, body), no
# redirect followed; form is a hash of fields for a POST
sub page {
    my ($self, $method, $url, $form) = @_;
    my $ua = HTTP::Tiny->new(timeout => 10, max_redirect => 0);
    my $r = $form ? $ua->post_form($url, $form)
                  : $ua->request($method, $url);
    return ($r->{status}, $r->{headers}, $r->{content});
}

sub _random {
    my ($n) = @_;
    open(my $fh, '<:raw', '/dev/urandom') or die $!;
    read($fh, my $bytes, $n) == $n or die 'urandom';
    close $fh;
    my @c = ('0' .. '9', 'a' .. 'z', 'A' .. 'Z');
    return join '', map { $c[ord($_) % @c] } split //, $bytes;
}

sub _write {
    my ($file, $text) = @_;
    open(my $fh, '>', $file) or die "$file: $!";
    print $fh $text;
    close $fh;
    chmod 0600, $file;
}

1;
