# The admin area in a real browser (t/browser/audit.js: Debian's
# chromium, headless, through playwright-core) against nginx configured
# from nginx.conf.example: an admin finds an account, makes it a
# moderator with the role select, sees the grant on top of the audit
# trail, filters it, pages to older entries and fetches the CSV; a
# moderator (not an admin) sees none of it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json);
use MediaTest;

my $driver = "$FindBin::Bin/browser/audit.js";
MediaTest::need_browser();

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_nginx;

my $pw = 'a good password';
my $root = $t->signup('root@example.com', $pw);
my $ann = $t->signup('ann@example.com', $pw);
$t->signup('bob@example.com', $pw);
# an admin, and more history than one page of the viewer (20)
my $sql = "UPDATE users SET role = 'admin' WHERE id = '$root->{user}{id}';"
          . " SELECT media_audit(NULL, 'operator', 'plan.change', 'user',"
          . "   '$ann->{user}{id}', 'seed ' || i, NULL,"
          . "   '{\"plan\": \"free\"}', '{\"plan\": \"basic\"}')"
          . " FROM generate_series(1, 30) i";
defined $t->psql('media', $sql) or die 'psql';


my $seen = $t->browser($driver, 150, $t->url('/'), 'root@example.com', 'ann@example.com', $pw);
is_deeply($seen->{steps}, ['launch', 'sign in as admin', 'open admin',
                           'search', 'grant', 'filter', 'older', 'csv',
                           'a user'], 'every step done')
    or diag('stopped at: ' . ($seen->{error} // ''));

ok($seen->{app_hidden}, '#admin: the library hidden');
is($seen->{first_page}, 20, 'the trail: a page of 20');
ok($seen->{more_shown}, '  and "Older" for the rest');
is_deeply($seen->{found}, ['ann@example.com'], 'the search finds ann');
is_deeply($seen->{patches},
          [ "/api/v1/admin/users/$ann->{user}{id} {\"role\":\"moderator\"}" ],
          'the role select: one PATCH');
is_deeply($seen->{top}, { action => 'role.grant',
                          actor => 'root@example.com',
                          before => 'role: user',
                          after => 'role: moderator' },
          '  the grant on top of the trail, who, before and after');
is(scalar(@{ $seen->{filtered} // [] }), 1, 'filtered by action: the grant');
like($seen->{csv_href} // '', qr{^/api/v1/admin/audit\?action=role\.grant&format=csv$},
     '  the CSV link carries the filter');
ok(($seen->{after_older} // 0) > ($seen->{before_older} // 0),
   '"Older" appends the next page');
ok($seen->{ids_descending}, '  newest first, no repeat');
is($seen->{csv}{status}, 200, 'the CSV link: 200');
like($seen->{csv}{type} // '', qr{^text/csv}, '  text/csv');
like($seen->{csv}{disposition} // '', qr/^attachment/, '  an attachment');
like($seen->{csv}{first} // '', qr/^id,created_at,actor_id/, '  a header line');
ok($seen->{user_nav_hidden}, 'a moderator: no Admin link');
ok($seen->{user_admin_hidden}, '  and no admin section, even at #admin');

is($t->psql('media', "SELECT role FROM users WHERE id = '$ann->{user}{id}'"),
   "moderator\n", 'ann is a moderator');
is($t->psql('media', "SELECT count(*) FROM audit_log WHERE action = 'role.grant'"),
   "1\n", 'one grant audited');

is(scalar(@{ $seen->{console} // [] }), 0, 'no script error or warning')
    or diag(explain($seen->{console}));
is(scalar(@{ $seen->{offsite} // [] }), 0, 'nothing from another origin');

$t->finish;
done_testing();
