# Reports and copyright notices (POST /api/v1/reports): every refusal
# (422 naming the field, 401 for an anonymous report that is not a
# copyright notice, 404 for what the reporter cannot see, 409 for a second
# open report), anonymous copyright notices with the DMCA fields, reports
# on a comment and a user; the rates per user and per address (429 with
# Retry-After); and drafts: uploaded as one, the owner's only, published.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_worker('transcoder');
$t->start_nginx;

my $ann = $t->signup('ann@example.com');
my $bob = $t->signup('bob@example.com');
my $mod = $t->signup('mod@example.com');
my ($ann_id, $bob_id, $mod_id) = map { $_->{user}{id} } $ann, $bob, $mod;
sql("UPDATE users SET role = 'moderator' WHERE id = '$mod_id'");
sql("UPDATE users SET handle = 'ann' WHERE id = '$ann_id'");

my $pub  = media_row($ann_id, 'public');
my $priv = media_row($ann_id, 'private');
my $gone = media_row($ann_id, 'public');
sql("UPDATE media SET deleted_at = now() WHERE id = '$gone'");
my $cid = sql("INSERT INTO comments (media_id, user_id, body, at_ms)"
              . " VALUES ('$pub', '$ann_id', 'buy pills', 10) RETURNING id");
my $nobody = '00000000-0000-4000-8000-000000000000';

my %dmca = (target_type => 'media', target_id => $pub, reason => 'copyright',
            details => 'my song, uploaded without a licence',
            contact_email => 'legal@label.example',
            work_claimed => '"Tone in A", released 2024',
            claimant => 'Label Records Ltd',
            good_faith => JSON::PP::true,
            evidence_urls => [ 'https://label.example/tone-in-a' ]);

# --- refusals -------------------------------------------------------------

my $r = api(POST => '/api/v1/reports', undef,
            { target_type => 'media', target_id => $pub, reason => 'abuse' });
is($r->{status}, 401, 'an anonymous abuse report: 401');
like($r->{json}{error}{message}, qr/only a copyright notice/, '  says what is taken');
like($r->{headers}{'www-authenticate'} // '', qr/^Bearer/, '  WWW-Authenticate');

for my $bad (
    [ undef, { %dmca, target_type => undef }, 'target_type', qr/required/ ],
    [ undef, { %dmca, target_type => 'playlist' }, 'target_type', qr/media, comment or user/ ],
    [ undef, { %dmca, target_id => 42 }, 'target_id', qr/must be a string/ ],
    [ undef, { %dmca, target_id => 'abc' }, 'target_id', qr/UUID/ ],
    [ undef, { %dmca, reason => 'boring' }, 'reason', qr/copyright, abuse, spam or other/ ],
    [ undef, { %dmca, contact_email => undef }, 'contact_email', qr/required/ ],
    [ undef, { %dmca, contact_email => 'legal at label' }, 'contact_email',
      qr/not an email address/ ],
    [ undef, { %dmca, work_claimed => undef }, 'work_claimed', qr/required/ ],
    [ undef, { %dmca, claimant => undef }, 'claimant', qr/required/ ],
    [ undef, { %dmca, claimant => '' }, 'claimant', qr/empty/ ],
    [ undef, { %dmca, good_faith => undef }, 'good_faith', qr/must be true/ ],
    [ undef, { %dmca, good_faith => JSON::PP::false }, 'good_faith', qr/must be true/ ],
    [ undef, { %dmca, details => 'x' x 5001 }, 'details', qr/5001 characters/ ],
    [ undef, { %dmca, details => "a\x{1}b" }, 'details', qr/control character/ ],
    [ undef, { %dmca, evidence_urls => 'https://a.example' }, 'evidence_urls',
      qr/array of URLs/ ],
    [ undef, { %dmca, evidence_urls => [ 'ftp://a.example/x' ] }, 'evidence_urls',
      qr/evidence_urls\[0\] is not an http or https URL/ ],
    [ undef, { %dmca, evidence_urls => [ 'https://a.example/x', 'https://a b' ] },
      'evidence_urls', qr/evidence_urls\[1\] holds a space/ ],
    [ undef, { %dmca, evidence_urls => [ map { "https://a.example/$_" } 1 .. 11 ] },
      'evidence_urls', qr/11 URLs; at most 10/ ],
    [ $bob, { target_type => 'media', target_id => $pub, reason => 'spam',
              claimant => 'me' }, 'claimant', qr/belong to a copyright notice/ ],
    [ $bob, { target_type => 'user', target_id => $bob_id, reason => 'spam' },
      'target_id', qr/cannot report yourself/ ],
) {
    my ($who, $body, $field, $msg) = @$bad;
    my %b = %$body;
    delete $b{$_} for grep { !defined $b{$_} } keys %b;
    $r = api(POST => '/api/v1/reports', $who, \%b);
    is($r->{status}, 422, "a report with a bad $field: 422") or diag($r->{content});
    is($r->{json}{error}{field}, $field, "  names $field");
    like($r->{json}{error}{message} // '', $msg, '  says what is wrong');
}

for my $unseen ([ 'media', $nobody, 'an unknown media' ],
                [ 'media', $priv, 'a private media of someone else' ],
                [ 'media', $gone, 'a deleted media' ],
                [ 'comment', $nobody, 'an unknown comment' ],
                [ 'user', $nobody, 'an unknown user' ]) {
    $r = api(POST => '/api/v1/reports', $bob,
             { target_type => $unseen->[0], target_id => $unseen->[1],
               reason => 'abuse' });
    is($r->{status}, 404, "a report on $unseen->[2]: 404");
    is($r->{json}{error}{field}, 'target_id', '  names target_id');
}

$r = api(POST => '/api/v1/reports', $bob, { reason => 'spam' });
is($r->{status}, 422, 'a report with nothing to report on: 422');

# --- reports made --------------------------------------------------------------

$r = api(POST => '/api/v1/reports', undef, \%dmca);
is($r->{status}, 201, 'an anonymous copyright notice: 201');
my $notice = $r->{json}{report}{id};
is($r->{json}{report}{status}, 'open', '  open');
is(sql("SELECT reporter_id IS NULL AND contact_email = 'legal\@label.example'"
       . " AND claimant = 'Label Records Ltd' AND good_faith"
       . " AND evidence_urls = '{https://label.example/tone-in-a}'"
       . " AND address = '127.0.0.1' FROM reports WHERE id = $notice"), 't',
   '  its DMCA fields kept');

$r = api(POST => '/api/v1/reports', $bob,
         { target_type => 'comment', target_id => $cid, reason => 'spam',
           details => 'selling pills' });
is($r->{status}, 201, 'bob reports a comment');
$r = api(POST => '/api/v1/reports', $bob,
         { target_type => 'comment', target_id => $cid, reason => 'spam' });
is($r->{status}, 409, '  twice while open: 409');
is($r->{json}{error}{code}, 'already_reported', '  already_reported');
$r = api(POST => '/api/v1/reports', $bob,
         { target_type => 'user', target_id => $ann_id, reason => 'other',
           details => 'impersonates a singer' });
is($r->{status}, 201, 'bob reports a user');
$r = api(POST => '/api/v1/reports', $ann,
         { target_type => 'media', target_id => $priv, reason => 'other' });
is($r->{status}, 201, 'an owner may report her own private media');

$r = api(GET => '/api/v1/admin/reports', $mod);
is($r->{status}, 200, 'the moderator reads the queue');
my @items = @{ $r->{json}{items} };
is(scalar @items, 4, '  four open reports');
is($items[0]{id}, $notice, '  oldest first');
is($items[0]{contact_email}, 'legal@label.example', '  the notice\'s contact');
is($items[0]{work_claimed}, '"Tone in A", released 2024', '  the work claimed');
is($items[0]{reporter}, undef, '  no reporter: anonymous');
is($items[1]{target}{type}, 'comment', 'a comment summarized');
is($items[1]{target}{body}, 'buy pills', '  its text');
is($items[2]{target}{type}, 'user', 'a user summarized');
is($items[2]{target}{handle}, 'ann', '  the handle');

$r = api(GET => '/api/v1/admin/reports?limit=2', $mod);
is(scalar @{ $r->{json}{items} }, 2, 'a page of two');
ok($r->{json}{next_cursor}, '  and a cursor');
$r = api(GET => "/api/v1/admin/reports?limit=2&cursor=$r->{json}{next_cursor}", $mod);
is(scalar @{ $r->{json}{items} }, 2, 'the next page: the other two');
is($r->{json}{next_cursor}, undef, '  the end');
is(scalar @{ api(GET => '/api/v1/admin/reports?status=dismissed', $mod)
                 ->{json}{items} }, 0, 'none dismissed');

# --- drafts ---------------------------------------------------------------------

my $clip = $t->make_media('tone.wav', '-f lavfi -i sine=frequency=440:duration=2');
$r = $t->http(POST => '/api/v1/media?draft=maybe', body => slurp($clip),
              headers => { 'Content-Type' => 'audio/wav',
                           Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 422, 'an upload with ?draft=maybe: 422');
is($r->{json}{error}{field}, 'draft', '  names draft');
$r = $t->http(POST => '/api/v1/media?draft=1', body => slurp($clip),
              headers => { 'Content-Type' => 'audio/wav',
                           Authorization => "Bearer $ann->{access_token}" });
is($r->{status}, 202, 'ann uploads a draft');
my $draft = $r->{json}{media}{id};
my $status = '';
wait_until(sub {
    $status = api(GET => "/api/v1/media/$draft", $ann)->{json}{media}{status} // '';
    $status =~ /^(ready|failed)$/;
}, timeout => 60, interval => 0.3);
is($status, 'ready', '  transcoded');
is(sql("SELECT privacy || ' ' || draft_privacy FROM media WHERE id = '$draft'"),
   'private public', '  private until published, public then');
is(api(GET => "/api/v1/media/$draft", $ann)->{json}{media}{draft}, JSON::PP::true,
   '  the media JSON says draft');
is(api(POST => "/api/v1/media/$draft/playback", $ann, {})->{status}, 200,
   '  its owner plays it');
is(api(POST => "/api/v1/media/$draft/playback", $bob, {})->{status}, 404,
   '  nobody else');
is(api(GET => "/m/$draft", undef)->{status}, 404, '  no share page');
$r = api(PATCH => "/api/v1/media/$draft", $ann, { privacy => 'public' });
is($r->{json}{media}{privacy}, 'private', '  PATCH privacy keeps it a draft');
unlike(api(GET => '/api/v1/users/ann', undef)->{content}, qr/$draft/,
       '  not on her profile');

$r = api(POST => "/api/v1/media/$draft/publish", $bob, {});
is($r->{status}, 404, 'someone else publishes it: 404');
$r = api(POST => "/api/v1/media/$draft/publish", undef, {});
is($r->{status}, 401, 'anonymous: 401');
$r = api(POST => "/api/v1/media/$draft/publish", $ann, { privacy => 'secret' });
is($r->{status}, 422, 'published as privacy secret: 422');
is($r->{json}{error}{field}, 'privacy', '  names privacy');
$r = api(POST => "/api/v1/media/$draft/publish", $ann, {});
is($r->{status}, 200, 'ann publishes it');
is($r->{json}{media}{privacy}, 'public', '  public, as it was to be');
ok($r->{json}{media}{published_at}, '  published_at set');
is(api(GET => "/api/v1/media/$draft", $ann)->{json}{media}{draft}, JSON::PP::false,
   '  no longer a draft');
like(api(GET => '/api/v1/users/ann', undef)->{content}, qr/$draft/,
     '  on her profile now');
is(api(GET => "/m/$draft", undef)->{status}, 200, '  with a share page');
$r = api(POST => "/api/v1/media/$draft/publish", $ann, {});
is($r->{status}, 409, 'published twice: 409');
is($r->{json}{error}{code}, 'not_draft', '  not_draft');
my $d2 = media_row($ann_id, 'private');
sql("UPDATE media SET draft_privacy = 'unlisted' WHERE id = '$d2'");
$r = api(POST => "/api/v1/media/$d2/publish", $ann);
is($r->{status}, 200, 'a draft published with no body');
is($r->{json}{media}{privacy}, 'unlisted', '  unlisted, as it was to be');

# --- the rates ------------------------------------------------------------------

$t->redis('DEL', 'media:report:addr:127.0.0.1');
my $n = 0;
my $last;
for (1 .. 12) {
    $last = api(POST => '/api/v1/reports', $bob,
                { target_type => 'media', target_id => $pub, reason => 'spam' });
    last if $last->{status} == 429;
    $n++;
}
is($n, 10 - 9, 'bob may send 10 reports in 10 minutes (9 counted before)');
is($last->{status}, 429, '  the next: 429');
is($last->{json}{error}{code}, 'rate_limited', '  rate_limited');
like($last->{headers}{'retry-after'} // '', qr/^\d+$/, '  with Retry-After');
like($last->{json}{error}{message}, qr/an account may send 10 reports/, '  says which');

$t->redis('DEL', 'media:report:addr:127.0.0.1');
$n = 0;
for (1 .. 32) {
    $last = api(POST => '/api/v1/reports', undef,
                { %dmca, contact_email => "n$_\@label.example" });
    last if $last->{status} == 429;
    $n++;
}
is($n, 30, 'an address may send 30 reports in 10 minutes');
is($last->{status}, 429, '  the next: 429');
like($last->{json}{error}{message}, qr/an address may send 30/, '  says which');
$r = api(POST => '/api/v1/reports', $ann,
         { target_type => 'media', target_id => $pub, reason => 'spam' });
is($r->{status}, 429, '  a signed-in user from that address too');

# a reporter's account deleted: the reports stay, without a reporter
my $before = sql("SELECT count(*) FROM reports WHERE reporter_id = '$bob_id'");
is(sql("DELETE FROM users WHERE id = '$bob_id' RETURNING 1"), 1,
   'bob\'s account deleted');
is(sql("SELECT count(*) FROM reports WHERE reporter_id IS NULL"
       . " AND contact_email IS NULL"), $before, '  his reports stay, anonymous');

$t->finish;
done_testing;


sub api {
    my ($method, $path, $user, $body) = @_;
    return $t->http($method => $path,
        headers => { ($user ? (Authorization => "Bearer $user->{access_token}")
                            : ()),
                     (defined $body ? ('Content-Type' => 'application/json')
                                    : ()) },
        (defined $body ? (body => encode_json($body)) : ()));
}

sub sql {
    my $out = $t->psql('media', $_[0]);
    die "psql: $_[0]" unless defined $out;
    chomp $out;
    return $out;
}

sub media_row {
    my ($owner, $privacy) = @_;
    return sql("INSERT INTO media (owner_id, title, kind, status, privacy,"
               . " duration_ms) VALUES ('$owner', 'made', 'audio', 'ready',"
               . " '$privacy', 5000) RETURNING id");
}
