# t/stripe-fake on its own: Stripe's wire format as t/billing.t and
# `make run` rely on it (keys, form encoding, idempotency, errors, the
# subscription calls the worker does not make yet, events and their
# signatures, the fault controls).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use MediaTest qw(wait_until);
use StripeFake;

my $t = MediaTest->new;
my $stripe = StripeFake->start($t, prices => [ 'price_basic_monthly=299',
                                               'price_premium_monthly=499' ]);
my $ua = HTTP::Tiny->new(timeout => 10, max_redirect => 0);

sub api {
    my ($method, $path, $form, %h) = @_;
    my $key = exists $h{key} ? delete $h{key} : $stripe->key;
    my $r = $ua->request($method, $stripe->url . $path, {
        headers => { ($key ? (Authorization => "Bearer $key") : ()),
                     'Content-Type' => 'application/x-www-form-urlencoded',
                     %h },
        content => $form // '' });
    return ($r->{status}, eval { decode_json($r->{content}) }, $r->{headers});
}

# --- keys ---------------------------------------------------------------------

my ($st, $o) = api(POST => '/v1/customers', 'email=a%40b.c', key => undef);
is($st, 401, 'no key: 401');
like($o->{error}{message}, qr/You did not provide an API key/, "Stripe's words");
is($o->{error}{type}, 'invalid_request_error', 'its type');

($st, $o) = api(POST => '/v1/customers', '', key => 'sk_test_wrongwrongwrong1234');
is($st, 401, 'a wrong key: 401');
is($o->{error}{code}, 'api_key_invalid', 'api_key_invalid');
like($o->{error}{message}, qr/sk_test_\*+1234$/, 'the key redacted');

($st) = api(GET => '/v1/customers/cus_x', undef, key => undef,
            Authorization => 'Basic ' . do { require MIME::Base64;
                MIME::Base64::encode_base64($stripe->key . ':', '') });
is($st, 404, 'Basic auth with the key as user name is accepted (404: no such customer)');

# --- form encoding, objects --------------------------------------------------------

($st, $o) = api(POST => '/v1/customers',
                'email=a%40b.c&metadata[user_id]=u%201&metadata[x]=%C3%A9');
is($st, 200, 'customer made');
like($o->{id}, qr/^cus_[A-Za-z0-9]{14}$/, "its id: $o->{id}");
is($o->{object}, 'customer', 'object customer');
is_deeply($o->{metadata}, { user_id => 'u 1', x => "\x{e9}" }, 'bracket keys, decoded');
my $cus = $o->{id};

($st, $o) = api(POST => '/v1/checkout/sessions', 'mode=subscription'
                . '&line_items[0][price]=price_basic_monthly'
                . '&line_items[0][quantity]=1&success_url=http://x/ok'
                . "&customer=$cus&client_reference_id=u1");
is($st, 200, 'checkout session made');
is($o->{object}, 'checkout.session', 'object checkout.session');
is($o->{url}, $stripe->url . "/checkout/$o->{id}", 'its url is the fake\'s page');
is("$o->{status} $o->{payment_status} $o->{amount_total}", 'open unpaid 299',
   'open, unpaid, the price');
my $cs = $o->{id};

($st, $o) = api(GET => "/v1/checkout/sessions/$cs");
is("$st $o->{id}", "200 $cs", 'GET the session');

for my $bad ([ 'line_items[0][price]=price_nope&success_url=http://x',
               400, 'resource_missing', 'line_items[0][price]' ],
             [ 'line_items[0][price]=price_basic_monthly', 400,
               'parameter_missing', 'success_url' ],
             [ "line_items[0][price]=price_basic_monthly&success_url=http://x"
               . '&customer=cus_nope', 400, 'resource_missing', 'customer' ])
{
    ($st, $o) = api(POST => '/v1/checkout/sessions', "mode=subscription&$bad->[0]");
    is("$st $o->{error}{code} $o->{error}{param}", "$bad->[1] $bad->[2] $bad->[3]",
       "refused: $o->{error}{message}");
}

# --- idempotency ----------------------------------------------------------------

my %k = ('Idempotency-Key' => 'key-1');
my ($s1, $a1) = api(POST => '/v1/customers', 'email=i%40x', %k);
my ($s2, $a2, $h2) = api(POST => '/v1/customers', 'email=i%40x', %k);
is($a2->{id}, $a1->{id}, 'same key, same params: the same customer');
is($h2->{'idempotent-replayed'}, 'true', 'Idempotent-Replayed: true');
($st, $o) = api(POST => '/v1/customers', 'email=other%40x', %k);
is("$st $o->{error}{type}", '400 idempotency_error', 'same key, other params: 400 idempotency_error');
($st, $o) = api(POST => '/v1/customers', 'email=i%40x',
                'Idempotency-Key' => 'k' x 256);
is($st, 400, 'a key over 255 characters: 400');

# --- paying, subscriptions, events ---------------------------------------------------

my ($ps, $h, $body) = $stripe->page(POST => $stripe->url . "/checkout/$cs", {});
is("$ps $h->{location}", '303 http://x/ok', 'Pay: back to success_url');
my @ev = $stripe->events;
is_deeply([ map { $_->{type} } @ev ], [ 'checkout.session.completed',
          'customer.subscription.created', 'invoice.paid' ], 'three events');
ok($stripe->signature_ok($_->{body}, $_->{signature}), "$_->{type} signed")
    for @ev;

my $sub = decode_json($ev[1]{body})->{data}{object};
is($sub->{object}, 'subscription', 'a subscription');
is($sub->{items}{data}[0]{price}{id}, 'price_basic_monthly', 'items.data[0].price.id');
is($sub->{status}, 'active', 'active');
ok($sub->{current_period_end} > time + 29 * 86400, 'current_period_end a month on');
is(decode_json($ev[0]{body})->{data}{object}{subscription}, $sub->{id},
   'the session names it');
is(decode_json($ev[2]{body})->{data}{object}{subscription}, $sub->{id},
   'the invoice too');

($st, $o) = api(POST => "/v1/subscriptions/$sub->{id}", 'cancel_at_period_end=true');
is("$st $o->{cancel_at_period_end}", '200 1', 'POST cancel_at_period_end=true');
($st, $o) = api(POST => "/v1/subscriptions/$sub->{id}",
                "items[0][id]=$sub->{items}{data}[0]{id}"
                . '&items[0][price]=price_premium_monthly');
is("$st $o->{items}{data}[0]{price}{id}", '200 price_premium_monthly',
   'POST items: plan changed');
my @upd = grep { $_->{type} eq 'customer.subscription.updated' } $stripe->events;
is(scalar @upd, 2, 'each sends customer.subscription.updated');
ok(decode_json($upd[1]{body})->{data}{previous_attributes}{items},
   'with previous_attributes');

($st, $o) = api(DELETE => "/v1/subscriptions/$sub->{id}");
is("$st $o->{status}", '200 canceled', 'DELETE: canceled');
is(($stripe->events)[-1]{type}, 'customer.subscription.deleted', 'subscription.deleted');
($st, $o) = api(GET => "/v1/subscriptions/$sub->{id}");
is("$st $o->{status}", '200 canceled', 'still readable, canceled');

($st, $o) = api(POST => '/v1/billing_portal/sessions',
                "customer=$cus&return_url=http://x/back");
is("$st $o->{object}", '200 billing_portal.session', 'portal session');
like($o->{url}, qr{/portal/bps_\w+$}, 'its url is the fake\'s page');

# --- controls ----------------------------------------------------------------------

$stripe->control(fail => { path => '/v1/customers', status => 503, times => 2 });
($st, $o, $h) = api(POST => '/v1/customers', '');
is("$st $h->{'stripe-should-retry'}", '503 true', 'an injected 503, Stripe-Should-Retry');
($st) = api(POST => '/v1/customers', '');
is($st, 503, 'twice');
($st) = api(POST => '/v1/customers', '');
is($st, 200, 'then as usual');

$stripe->control(down => { down => JSON::PP::true });
my $r = $ua->post($stripe->url . '/v1/customers',
                  { headers => { Authorization => 'Bearer ' . $stripe->key } });
is($r->{status}, 599, 'down: the connection closes unanswered');
$stripe->control(down => { down => JSON::PP::false });

my @reqs = $stripe->requests('POST', '/v1/customers');
ok(@reqs > 5, 'requests are listed');
my ($m) = grep { $_->{params}{metadata} } @reqs;
is($m->{params}{metadata}{user_id}, 'u 1', 'with their parameters');
is($reqs[0]{status}, 401, 'and what they were answered');

# --- webhooks: sent as Stripe sends them -----------------------------------------

my $hook = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1',
                                 LocalPort => 0, ReuseAddr => 1) or die $!;
my $sender = StripeFake->start($t, name => 'stripe2', prices => [ 'price_a=1' ],
    webhook_url => 'http://127.0.0.1:' . $hook->sockport . '/hook');
my $sent = $sender->control(send_event => { type => 'customer.created',
    object => { id => 'cus_1', object => 'customer' } });

$hook->timeout(10);
my $conn = $hook->accept or die 'no webhook came';
my ($head, $got) = ('', '');
{
    local $SIG{ALRM} = sub { die "the webhook did not arrive whole\n" };
    alarm 10;
    while ($head !~ /\r\n\r\n$/) {
        defined(my $line = <$conn>) or last;
        $head .= $line;
    }
    my ($len) = $head =~ /^content-length:\s*(\d+)/mi;
    read($conn, $got, $len // 0);
    alarm 0;
}
print $conn "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
close $conn;

like($head, qr{^POST /hook HTTP/1\.1\r\n}, 'a webhook POSTed to --webhook-url');
like($head, qr{^content-type: application/json}mi, 'JSON');
my ($sig) = $head =~ /^stripe-signature:\s*(\S+)\r$/mi;
like($sig, qr/^t=\d+,v1=[0-9a-f]{64}$/, "Stripe-Signature: $sig");
ok($sender->signature_ok($got, $sig), 'verifies with the whsec secret');
ok(!$stripe->signature_ok($got, $sig), 'and not with another');
is(decode_json($got)->{id}, $sent->{id}, 'the event');
ok(wait_until(sub { ($sender->get('events')->[0]{delivery} // '') =~ /^200/ },
              timeout => 5), 'its delivery recorded');

$t->stop_all;
done_testing();
