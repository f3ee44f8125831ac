# The search box and the catalogue in a real browser
# (t/browser/search.js: Debian's chromium, headless, through
# playwright-core) against nginx configured from nginx.conf.example,
# signed out: suggestions while typing "beyon" with one request for the
# word, not one per key; Enter shows the results; the catalogue lists
# public media and filters by kind; private media nowhere.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json);
use MediaTest;

my $driver = "$FindBin::Bin/browser/search.js";
MediaTest::need_browser();

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_nginx;

# media as the transcoder leaves them, with their owner's profile
my $ann = $t->signup('ann@example.com');
my $uid = $ann->{user}{id};
my $sql = "UPDATE users SET handle = 'ann' WHERE id = '$uid';"
          . " INSERT INTO media (owner_id, title, kind, status, privacy,"
          . " created_at) VALUES"
          . " ('$uid', 'Halo \x{2014} Beyonc\x{e9}', 'audio', 'ready', 'public',"
          . "  now() - interval '2 minutes'),"
          . " ('$uid', 'Beyonce film', 'video', 'ready', 'public',"
          . "  now() - interval '1 minute'),"
          . " ('$uid', 'Beyonc\x{e9} secret', 'audio', 'ready', 'private', now())";
utf8::encode($sql);
defined $t->psql('media', $sql) or die 'psql';


my $seen = $t->browser($driver, 90, $t->url('/'));
is_deeply($seen->{steps}, ['launch', 'type', 'enter', 'catalog'],
          'every step done') or diag('stopped at: ' . ($seen->{error} // ''));

# the box waits 250 ms after a key: five keys 40 ms apart make one
# request, unless the page itself saw a pause that long between two of
# them (starved of CPU by other suites), which may make one more each
my @typed = grep { !/limit=20/ } @{ $seen->{searches} // [] };
my @at = @{ $seen->{inputs} // [] };
my $pauses = grep { $at[$_] - $at[$_ - 1] >= 250 } 1 .. $#at;
is(scalar(@at), 5, 'five keys reached the box');
if ($pauses) {
    ok(@typed >= 1 && @typed <= 1 + $pauses,
       "five keys with $pauses pauses the page saw: at most one request more"
       . ' a pause') or diag(explain(\@at, \@typed));
} else {
    is(scalar(@typed), 1, 'five keys typed 40 ms apart: one suggestion request')
        or diag(explain(\@at, \@typed));
}
like($typed[-1] // '', qr/q=beyon\b/, '  the last for the whole word typed');
is_deeply([sort @{ $seen->{suggestions} // [] }],
          ['Beyonce film', "Halo \x{2014} Beyonc\x{e9}"],
          'suggestions: both public media, accents off; not the private one');
is_deeply([sort @{ $seen->{results} // [] }],
          ['Beyonce film', "Halo \x{2014} Beyonc\x{e9}"],
          'Enter: the results view');
like($seen->{results_title} // '', qr/beyon/, '  titled with the query');
ok($seen->{suggest_hidden}, '  the suggestions closed');
is_deeply($seen->{catalog}, ['Beyonce film', "Halo \x{2014} Beyonc\x{e9}"],
          'the catalogue: public media, newest first')
    or diag(explain($seen->{catalog_answers}));
is_deeply($seen->{catalog_video}, ['Beyonce film'], '  kind video');

is(scalar(@{ $seen->{console} // [] }), 0, 'no script error or warning')
    or diag(explain($seen->{console}));
is(scalar(@{ $seen->{offsite} // [] }), 0, 'nothing from another origin');

$t->finish;
done_testing();
