# Plans, subscriptions, usage and the quotas the module enforces before
# work is done: GET /plans, /subscription, /usage; 402 quota_exceeded for
# an upload over the media count or the storage (exactly at the limit
# passes, one byte over does not), storage reserved from Content-Length
# so two uploads at once cannot both pass the last bytes, reservations
# released when an upload is refused, alerts at 80% and 100% once.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX ();
use Test::More;
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;

$t->write_conf(<<'EOF');
%%MAIN%%
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;
    media_upload_max_size 2m;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
    }
}
EOF
$t->jwt_key;

$t->migrate;
$t->start_nginx;

my $wav = slurp($t->make_media('tone.wav',
                               '-f lavfi -i sine=frequency=440:duration=1'));
my $size = length $wav;

my $ann = $t->signup('ann@example.com');
my $bob = $t->signup('bob@example.com');
my $uid = $ann->{user}{id};

# --- the catalogue -----------------------------------------------------------

my $r = get(undef, '/api/v1/plans');
is($r->{status}, 200, 'plans: anyone may read them');
my @plans = @{ $r->{json}{plans} };
is_deeply([map { $_->{id} } @plans],
          [qw(free basic premium starter creator professional)],
          'plans: the seeded catalogue, in order');
my %p = map { $_->{id} => $_ } @plans;
is($p{creator}{price_cents}, 1499, 'Creator: $14.99');
is($p{premium}{price_cents}, 499, 'Premium: $4.99');
is($p{basic}{limits}{max_rung}, 1080, 'Basic: up to 1080p');
is($p{premium}{limits}{max_rung}, undef, 'Premium: every rung (null)');
is($p{starter}{limits}{storage_bytes}, 5 * 1024**3, 'Starter: 5 GB');
is($p{starter}{limits}{media_count}, 10, 'Starter: 10 media');
is($p{creator}{limits}{exports_per_month}, 500, 'Creator: 500 exports');
is($p{professional}{limits}{media_count}, undef, 'Professional: unlimited');
ok($p{free}{ads} && !$p{basic}{ads}, 'the free viewer plan carries ads');
ok(!grep({ $_->{current} } @plans), 'signed out: no plan is "current"');

@plans = @{ get($ann, '/api/v1/plans')->{json}{plans} };
is_deeply([map { $_->{id} } grep { $_->{current} } @plans],
          [qw(free starter)], 'signed in: the free and starter plans are hers');

# --- the subscription ------------------------------------------------------

$r = get($ann, '/api/v1/subscription');
is($r->{status}, 200, 'subscription: 200');
is_deeply($r->{json}{subscription}{viewer},
          { plan => 'free', status => 'none', subscription_id => undef,
            current_period_end => undef,
            cancel_at_period_end => JSON::PP::false },
          'no subscription: the free viewer plan, status none');
is($r->{json}{subscription}{creator}{plan}, 'starter',
   'and Starter for creating');
is(get(undef, '/api/v1/subscription')->{status}, 401,
   'subscription: signed out 401');
is(get(undef, '/api/v1/usage')->{status}, 401, 'usage: signed out 401');

$t->psql('media', "INSERT INTO subscriptions (id, user_id, plan_id, status,"
         . " current_period_end, cancel_at_period_end) VALUES ('sub_test1',"
         . " '$uid', 'creator', 'active', '2027-01-03 12:00:00+00', true)");
$t->psql('media', "UPDATE users SET creator_plan = 'creator'"
                  . " WHERE id = '$uid'");
$r = get($ann, '/api/v1/subscription')->{json}{subscription}{creator};
is($r->{plan}, 'creator', 'a subscription: its plan');
is($r->{status}, 'active', 'its status');
is($r->{subscription_id}, 'sub_test1', "Stripe's id");
is($r->{current_period_end}, '2027-01-03T12:00:00.000000Z', 'its period end');
ok($r->{cancel_at_period_end}, 'and that it ends with the period');
$t->psql('media', "DELETE FROM subscriptions");
$t->psql('media', "UPDATE users SET creator_plan = 'starter'"
                  . " WHERE id = '$uid'");

# --- usage -----------------------------------------------------------------

$r = get($ann, '/api/v1/usage');
is($r->{status}, 200, 'usage: 200');
my %u = map { $_->{quantity} => $_ } @{ $r->{json}{usage} };
is_deeply([sort keys %u], [qw(downloads exports media storage)],
          'usage: every metered quantity');
is($u{storage}{limit}, 5 * 1024**3, "storage: Starter's limit");
is($u{storage}{used}, 0, 'storage: none used');
is($u{media}{plan}, 'starter', 'media: metered by the creator plan');
is($u{media}{lifted_by}, 'creator', 'and Creator lifts it');
is($u{downloads}{plan}, 'free', 'downloads: metered by the viewer plan');
like($r->{json}{period}{start}, qr/^\d{4}-\d\d-01T00:00:00\.000000Z$/,
     'the period starts on the first of the month');
is_deeply($r->{json}{alerts}, [], 'no alerts');

# --- the media count ---------------------------------------------------------

$t->psql('media', "UPDATE plans SET media_count = 2 WHERE id = 'starter'");
is(upload($ann)->{status}, 202, 'media 1 of 2');
is(upload($ann)->{status}, 202, 'media 2 of 2: exactly at the limit passes');
$r = upload($ann);
is($r->{status}, 402, 'media 3 of 2: 402');
my $e = $r->{json}{error};
is($e->{code}, 'quota_exceeded', 'code quota_exceeded');
is($e->{limit}, 'media', 'names the limit');
is($e->{used}, 2, 'what is used');
is($e->{allowed}, 2, 'what is allowed');
is($e->{plan}, 'starter', 'the plan');
is($e->{lifted_by}, 'creator', 'and the plan that lifts it');
like($e->{message}, qr/you have 2 media, the most the starter plan allows; delete one, or upgrade to the creator plan/,
     'the message says what to do');
is(upload($bob)->{status}, 202, "another user's count is his own");

is(usage($ann, 'storage')->{used}, 2 * $size, 'storage counts what is stored');
my @alerts = @{ get($ann, '/api/v1/usage')->{json}{alerts} };
is_deeply([map { "$_->{quantity} $_->{threshold}" } @alerts],
          ['media 80', 'media 100'],
          'media at 2 of 2: the 80% and 100% alerts');

# deleting one frees its place and its bytes
chomp(my $first = $t->psql('media', "SELECT id FROM media"
                           . " WHERE owner_id = '$uid'"
                           . " ORDER BY created_at LIMIT 1"));
is($t->http(DELETE => "/api/v1/media/$first",
            headers => { Authorization => "Bearer $ann->{access_token}" })
     ->{status}, 204, 'delete one');
is(usage($ann, 'storage')->{used}, $size, 'its bytes stop counting');
is(upload($ann)->{status}, 202, 'and its place is free again');
$t->psql('media', "UPDATE plans SET media_count = 10 WHERE id = 'starter'");

# --- storage: at the edge, reserved before the body --------------------------

my $used = usage($ann, 'storage')->{used};
$t->psql('media', "UPDATE plans SET storage_bytes = " . ($used + $size)
                  . " WHERE id = 'starter'");
is(upload($ann)->{status}, 202,
   'storage: an upload that fills it exactly passes');
$used = usage($ann, 'storage')->{used};
$t->psql('media', "UPDATE plans SET storage_bytes = " . ($used + $size - 1)
                  . " WHERE id = 'starter'");
$r = upload($ann);
is($r->{status}, 402, 'storage: one byte over: 402');
is($r->{json}{error}{limit}, 'storage', 'names storage');
is($r->{json}{error}{used}, $used, 'with what is used');
is($r->{json}{error}{allowed}, $used + $size - 1, 'and what is allowed');
like($r->{json}{error}{message},
     qr/this upload would pass the storage limit of the starter plan: .* used of .*, and the upload is .*; delete media you no longer need, or upgrade to the creator plan/,
     'and says what to do');
is($t->psql('media', 'SELECT count(*) FROM storage_reservations'), "0\n",
   'a refused upload holds nothing');

# two uploads at once, room for one: one passes, one gets 402
$t->psql('media', "UPDATE plans SET storage_bytes = "
                  . ($used + $size + int($size / 2)) . " WHERE id = 'starter'");
my @status = sort { $a <=> $b } parallel(2, sub { upload($ann)->{status} });
is_deeply(\@status, [202, 402],
          'two at once for the last bytes: one 202, one 402');
is($t->psql('media', 'SELECT count(*) FROM storage_reservations'), "0\n",
   'both settled: no reservation left');

# a body refused after it was read gives its reservation back
$t->psql('media', "UPDATE plans SET storage_bytes = NULL"
                  . " WHERE id = 'starter'");
$r = $t->http(POST => '/api/v1/media',
              body => 'not a media file at all ' x 40,
              headers => { 'Content-Type' => 'video/mp4',
                           Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 415, 'not media: 415');
is($t->psql('media', 'SELECT count(*) FROM storage_reservations'), "0\n",
   'and its reservation is released');

# a reservation a broken-off upload left behind counts until it expires
$t->psql('media', "INSERT INTO storage_reservations (user_id, bytes,"
                  . " expires_at) VALUES"
                  . " ('$uid', 1000, now() + interval '1 hour'),"
                  . " ('$uid', 5000, now() - interval '1 second')");
is(usage($ann, 'storage')->{used}, stored($uid) + 1000,
   'a live reservation counts, an expired one does not');
$t->psql('media', 'DELETE FROM storage_reservations');

# --- alerts: each mark once per period -------------------------------------

# bob on a plan an admin made, the dearest of all: room for a little more
# than his one upload
my $bid = $bob->{user}{id};
$t->psql('media', "INSERT INTO plans (id, name, audience, price_cents,"
                  . " stripe_price_id, storage_bytes, position) VALUES"
                  . " ('tiny', 'Tiny', 'creator', 99999, 'price_tiny', "
                  . int(2 * $size / 0.85) . ", 99)");
$t->psql('media', "UPDATE users SET creator_plan = 'tiny' WHERE id = '$bid'");
is_deeply(get($bob, '/api/v1/usage')->{json}{alerts}, [],
          'bob below 80%: no alert');
is(upload($bob)->{status}, 202, 'an upload past 80% of storage');
@alerts = @{ get($bob, '/api/v1/usage')->{json}{alerts} };
is_deeply([map { "$_->{quantity} $_->{threshold}" } @alerts], ['storage 80'],
          'storage: the 80% alert');
is($alerts[0]{used}, 2 * $size, 'the alert says what was used');
$t->psql('media', "UPDATE plans SET storage_bytes = " . (3 * $size)
                  . " WHERE id = 'tiny'");
is(upload($bob)->{status}, 202, 'with room for exactly one more, it passes');
@alerts = @{ get($bob, '/api/v1/usage')->{json}{alerts} };
is_deeply([map { "$_->{quantity} $_->{threshold}" } @alerts],
          ['storage 80', 'storage 100'],
          'storage full: the 100% alert, and 80% not raised twice');
is(usage($bob, 'storage')->{percent}, 100, 'usage says 100%');
is(usage($bob, 'storage')->{lifted_by}, undef,
   'the dearest plan of its audience: no plan lifts it');
$r = upload($bob);
is($r->{status}, 402, 'and the next upload is refused');
unlike($r->{json}{error}{message}, qr/upgrade/,
       'without an upgrade to offer, the message offers none');

# --- media-admin plans -------------------------------------------------------

my $admin = "$t->{build}/media-admin -c " . $t->conf_file;
my $out = `$admin plans 2>&1`;
like($out, qr/^premium\tviewer\tPremium\t499 usd\tprice_premium_monthly\t.*max_rung=unlimited/m,
     'media-admin plans: one line per plan');
$out = `$admin plans set basic max_rung=720 downloads_per_month=unlimited 2>&1`;
is($?, 0, 'plans set: exit 0');
is($p{basic}{limits}{downloads_per_month}, 100, '(was 100 downloads)');
%p = map { $_->{id} => $_ } @{ get(undef, '/api/v1/plans')->{json}{plans} };
is($p{basic}{limits}{max_rung}, 720, 'plans set: the API shows the new rung');
is($p{basic}{limits}{downloads_per_month}, undef, '"unlimited" is null');
$out = `$admin plans set basic max_rung=700 2>&1`;
ok($? != 0 && $out =~ /max_rung 700 is not a rung the transcoder makes/,
   'plans set: a rung the transcoder does not make is refused');
$out = `$admin plans set gold price_cents=999 2>&1`;
ok($? != 0 && $out =~ /no plan "gold"; to make one, give name=NAME and audience/,
   'plans set: an unknown plan, saying how to make one');
$out = `$admin plans set gold name=Gold audience=viewer price_cents=999 stripe_price_id=price_gold position=35 2>&1`;
is($?, 0, 'plans set: a new plan');
is_deeply([map { $_->{id} } @{ get(undef, '/api/v1/plans')->{json}{plans} }],
          [qw(free basic premium gold starter creator professional tiny)],
          'in its place');
$out = `$admin plans set gold price_cents=-1 2>&1`;
ok($? != 0 && $out =~ /violates check constraint/,
   "plans set: the table's checks speak");

# export, edit, import: the round trip an admin makes
system("$admin plans export > $dir/plans.json") == 0 or die 'export';
my $doc = JSON::PP->new->decode(slurp("$dir/plans.json"));
is(scalar @{ $doc->{plans} }, 8, 'plans export: every plan');
($_->{id} eq 'gold') && ($_->{name} = 'Golden') for @{ $doc->{plans} };
push @{ $doc->{plans} }, { id => 'family', name => 'Family',
                           audience => 'viewer', price_cents => 1299,
                           stripe_price_id => 'price_family', position => 36,
                           limits => { max_rung => 1080 } };
open(my $fh, '>', "$dir/plans.json") or die;
print $fh JSON::PP->new->encode($doc);
close $fh;
$out = `$admin plans import $dir/plans.json 2>&1`;
like($out, qr/imported 9 plans/, 'plans import: every plan');
%p = map { $_->{id} => $_ } @{ get(undef, '/api/v1/plans')->{json}{plans} };
is($p{gold}{name}, 'Golden', 'an edited plan changed');
is($p{family}{limits}{max_rung}, 1080, 'a new plan made');
is($p{family}{limits}{downloads_per_month}, undef,
   'a limit it does not name is unlimited');
is($p{creator}{price_cents}, 1499, 'the others as they were');

$doc->{plans}[0]{limits}{max_rung} = 700;
$doc->{plans}[1]{name} = 'Changed';
open($fh, '>', "$dir/plans.json") or die;
print $fh JSON::PP->new->encode($doc);
close $fh;
$out = `$admin plans import $dir/plans.json 2>&1`;
ok($? != 0 && $out =~ /plan "free": max_rung 700 is not a rung.*nothing imported/,
   'plans import: a bad rung refuses the whole file');
is(get(undef, '/api/v1/plans')->{json}{plans}[1]{name}, 'Basic',
   'and nothing of it was applied');

# media-admin user: a creator plan goes to creator_plan; unknown is refused
$out = `$admin user bob\@example.com plan=professional 2>&1`;
like($out, qr/\tfree\tprofessional$/m,
     'media-admin user plan=professional: the creator plan');
$out = `$admin user bob\@example.com plan=diamond 2>&1`;
ok($? != 0 && $out =~ /no plan "diamond"/, 'media-admin user: an unknown plan');

$t->finish;
done_testing;


sub get {
    my ($user, $path) = @_;
    return $t->http(GET => $path, headers => {
        ($user ? (Authorization => "Bearer $user->{access_token}") : ()) });
}

sub upload {
    my ($user) = @_;
    return $t->http(POST => '/api/v1/media', body => $wav,
                    headers => { 'Content-Type' => 'audio/wav',
                                 Authorization =>
                                     "Bearer $user->{access_token}" });
}

sub usage {
    my ($user, $quantity) = @_;
    my ($q) = grep { $_->{quantity} eq $quantity }
              @{ get($user, '/api/v1/usage')->{json}{usage} };
    return $q;
}

# bytes of the user's stored media, without reservations
sub stored {
    my ($id) = @_;
    chomp(my $n = $t->psql('media', "SELECT storage_used FROM users"
                                    . " WHERE id = '$id'"));
    return $n;
}

# runs $code in $n processes at once; their results, in any order
sub parallel {
    my ($n, $code) = @_;
    my @kids;
    for (1 .. $n) {
        pipe(my $rd, my $wr) or die "pipe: $!";
        my $pid = fork() // die "fork: $!";
        if ($pid == 0) {
            close $rd;
            print $wr $code->();
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [$pid, $rd];
    }
    my @out;
    for my $k (@kids) {
        my $fh = $k->[1];
        local $/;
        push @out, scalar <$fh>;
        waitpid($k->[0], 0);
    }
    return @out;
}
