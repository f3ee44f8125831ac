# The audit trail (sql/021_audit.sql, sql/023_roles.sql): append-only for
# the service's own role, hash-chained so that `media-admin audit verify`
# finds a row a superuser altered or removed, intact under concurrent
# writers; its read side (GET /api/v1/admin/audit, JSON pages and CSV
# pages, every filter checked); and the actions recorded here: refresh-
# token reuse and account deletion (DELETE /api/v1/me, with each refusal).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use MIME::Base64 qw(decode_base64url);
use POSIX ();
use Test::More;
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;
my $mint = $t->build_path('mint');

spew("$dir/jwt.key", ('k' x 40) . "\n");
system($mint, 'keys', $dir) == 0 or die 'mint keys';

$t->start_postgres;
$t->start_redis;

$t->write_conf(<<'EOF');
%%MAIN%%
worker_processes 2;
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_jwt_jwks %%DIR%%/jwks.json issuer=https://idp.example
                   audience=media;
    media_cookie_secure off;
    media_sweep_interval 1s;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /api/ {
            media_api;
        }
    }
}
EOF

$t->migrate;
$t->start_nginx;
$t->start_worker('sweeper');

my $json = JSON::PP->new->canonical;
my $admin_bin = $t->build_path('media-admin');

my $root = $t->signup('root@example.com');
my $ann = $t->signup('ann@example.com');
my ($root_id, $ann_id) = map { $_->{user}{id} } $root, $ann;
sql("UPDATE users SET role = 'admin' WHERE id = '$root_id'");
my $A = $root->{access_token};
ok(wait_until(sub { get('/api/v1/admin/audit', $A)->{status} == 200 },
              timeout => 3), 'root is an admin');

# --- append-only, even for the service's own role ---------------------------

patch("/api/v1/admin/users/$ann_id", { role => 'creator' }, $A);
my $first = sql('SELECT min(id) FROM audit_log');
for my $stmt ("UPDATE audit_log SET reason = 'x' WHERE id = $first",
              "DELETE FROM audit_log WHERE id = $first",
              'TRUNCATE audit_log')
{
    my ($verb) = $stmt =~ /^(\w+)/;
    is($t->psql('media', $stmt), undef, "$verb on audit_log as 'media' fails");
    like(last_psql_error(), qr/permission denied|append-only/,
         '  refused by its privileges or its trigger');
}
ok(sql("SELECT count(*) FROM audit_log WHERE id = $first"
       . ' AND reason IS NULL') == 1, 'the row is as it was');

# even with privileges given back, the trigger refuses
$t->psql_admin('media', 'GRANT UPDATE, DELETE, TRUNCATE ON audit_log'
                        . ' TO media') // die 'grant';
for my $stmt ("UPDATE audit_log SET reason = 'x' WHERE id = $first",
              "DELETE FROM audit_log WHERE id = $first",
              'TRUNCATE audit_log')
{
    my ($verb) = $stmt =~ /^(\w+)/;
    is($t->psql('media', $stmt), undef, "$verb with the privilege: fails");
    like(last_psql_error(), qr/audit_log is append-only: $verb refused/,
         '  refused by the trigger');
}
$t->psql_admin('media', 'REVOKE UPDATE, DELETE, TRUNCATE ON audit_log'
                        . ' FROM media') // die 'revoke';

# --- 20 concurrent audited writes leave the chain intact --------------------

my @ids = map { sql("INSERT INTO users (email, password_hash)"
                    . " VALUES ('c$_\@example.com', 'x') RETURNING id") }
          1 .. 20;
my $before = audit_count();
my $last = sql('SELECT max(id) FROM audit_log');
my @pids;
for my $id (@ids) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $r = patch("/api/v1/admin/users/$id", { role => 'creator' }, $A);
        POSIX::_exit($r->{status} == 200 ? 0 : 1);
    }
    push @pids, $pid;
}
my $ok = 0;
for my $pid (@pids) {
    waitpid($pid, 0);
    $ok++ if $? == 0;
}
is($ok, 20, '20 concurrent grants: each 200');
is(audit_count(), $before + 20, '  20 audit rows');
is(sql("SELECT count(DISTINCT target_id) FROM audit_log"
       . " WHERE action = 'role.grant' AND id > $last"), 20,
   '  one per account');
is(sql('SELECT count(*) FROM media_audit_verify()'), 0, '  the chain holds');

# --- refresh-token reuse ---------------------------------------------------

my $dee = $t->signup('dee@example.com');
my $sid = claims($dee->{access_token})->{sid};
my $r = post('/api/v1/auth/refresh', { refresh_token => $dee->{refresh_token} });
is($r->{status}, 200, 'dee refreshes');
$before = audit_count();
$r = post('/api/v1/auth/refresh', { refresh_token => $dee->{refresh_token} });
is($r->{json}{error}{code}, 'refresh_reused', 'the old token again: reuse');
is(audit_count(), $before + 1, '  one audit row');
my $row = last_row();
is($row->{action}, 'session.reuse', '  session.reuse');
is($row->{target_type}, 'session', '  on a session');
is($row->{target_id}, $sid, '  the session of that sign-in');
is($row->{actor_id}, $dee->{user}{id}, '  dee\'s');
is($row->{address}, '127.0.0.1', '  from where it was presented');
is($row->{after}{revoked_refresh_tokens}, 2, '  two refresh tokens revoked');
$r = post('/api/v1/auth/refresh', { refresh_token => $dee->{refresh_token} });
is($r->{status}, 401, 'a third time: 401');
is(audit_count(), $before + 1, '  nothing left to revoke: no second row');

# --- GET /api/v1/admin/audit -----------------------------------------------

$before = audit_count();
$r = get('/api/v1/admin/audit', $A);
is($r->{status}, 200, 'GET /admin/audit: 200');
my @items = @{ $r->{json}{items} };
is(scalar @items, $before, '  every row so far (under a page)');
is($r->{json}{next_cursor}, undef, '  no next page');
is_deeply([ map { $_->{id} } @items ],
          [ sort { $b <=> $a } map { $_->{id} } @items ], '  newest first');
is($items[0]{action}, 'session.reuse', '  the newest: the reuse');
my ($grant) = grep { ($_->{target_id} // "") eq $ann_id } @items;
is_deeply({ map { $_ => $grant->{$_} } qw(action actor_id actor_email
                                           actor_role target_type before
                                           after) },
          { action => 'role.grant', actor_id => $root_id,
            actor_email => 'root@example.com', actor_role => 'admin',
            target_type => 'user', before => { role => 'user' },
            after => { role => 'creator' } },
          '  an entry: who, as what, what, on what, before and after');
like($grant->{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/,
     '  its time, ISO 8601 UTC');
is(audit_count(), $before + 1, 'the read itself: one admin.read row');
$row = last_row();
is_deeply([ @$row{qw(action target_type actor_id)} ],
          [ 'admin.read', 'audit_log', $root_id ], '  on audit_log, by root');

# pages by id
my (@seen, $cursor);
for my $page (1 .. 30) {
    my $q = '/api/v1/admin/audit?limit=7&action=role.grant'
            . ($cursor ? "&cursor=$cursor" : '');
    $r = get($q, $A);
    last unless $r->{status} == 200;
    push @seen, map { $_->{id} } @{ $r->{json}{items} };
    $cursor = $r->{json}{next_cursor};
    last unless defined $cursor;
}
my $grants = sql("SELECT count(*) FROM audit_log WHERE action = 'role.grant'");
is(scalar @seen, $grants, 'pages of 7 with ?cursor=: every role.grant once');
is_deeply(\@seen, [ sort { $b <=> $a } @seen ], '  in id order, no repeat');

# filters
sub only {
    my ($q) = @_;
    my $res = get("/api/v1/admin/audit?limit=200&$q", $A);
    return @{ $res->{json}{items} // [] };
}
is(scalar(only("actor=$root_id")),
   sql("SELECT count(*) FROM audit_log WHERE actor_id = '$root_id'") - 1,
   '?actor=: that actor\'s rows (the read itself comes after)');
is_deeply([ map { $_->{action} } only("target=$ann_id") ], [ 'role.grant' ],
          '?target=: the rows on that id');
is(scalar(only("target_type=session")), 1, '?target_type=session: the reuse');
is(scalar(only('since=2999-01-01')), 0, '?since= in the future: none');
ok(scalar(only('since=2000-01-01T00:00:00Z')) > 20,
   '?since= long ago: all');
is(scalar(only('since=2000-01-01T00:00:00%2B05:00&action=session.reuse')), 1,
   '?since= with an offset (%2B), and ?action=');

# refusals: 400, the filter named, none of them audited
$before = audit_count();
for my $c ([ 'actor=ann', 'actor' ],
           [ 'target_type=User', 'target_type' ],
           [ 'target=' . ('x' x 201), 'target' ],
           [ 'target=%ff', 'target' ],
           [ 'action=Role.Grant', 'action' ],
           [ 'action=r', 'action' ],
           [ 'since=yesterday', 'since' ],
           [ 'since=2026-13-45', 'since' ],
           [ 'since=2026-02-30T10:00:00Z', 'since' ],
           [ 'cursor=0', 'cursor' ],
           [ 'cursor=abc', 'cursor' ],
           [ 'cursor=1234567890123456789', 'cursor' ],
           [ 'limit=0', 'limit' ],
           [ 'limit=201', 'limit' ],
           [ 'format=csv&limit=5001', 'limit' ],
           [ 'format=xml', 'format' ])
{
    my ($q, $field) = @$c;
    $r = get("/api/v1/admin/audit?$q", $A);
    (my $name = $q) =~ s/(.{30}).+/$1.../;
    is($r->{status}, 400, "?$name: 400");
    is($r->{json}{error}{code}, 'invalid_filter', '  invalid_filter');
    is($r->{json}{error}{field}, $field, "  names $field");
}
is(audit_count(), $before, 'no refused read was audited');
like(get('/api/v1/admin/audit?since=2026-13-45', $A)->{json}{error}{message},
     qr/ISO 8601/, 'since: the message says which form');
like(get('/api/v1/admin/audit?limit=0', $A)->{json}{error}{message},
     qr/^limit must be a number from 1 to 200 \(entries of one page\)$/,
     'limit: the message says the range');
like(get('/api/v1/admin/audit?format=csv&limit=0', $A)->{json}{error}{message},
     qr/from 1 to 5000 \(rows of one CSV page\)$/, '  and the CSV\'s');

is(get('/api/v1/admin/audit')->{status}, 401, 'no token: 401');
$r = get('/api/v1/admin/audit', $ann->{access_token});
is($r->{status}, 403, 'a creator: 403');
sql("UPDATE users SET role = 'moderator' WHERE id = '$ann_id'");
ok(wait_until(sub { get('/api/v1/auth/me', $ann->{access_token})
                        ->{json}{user}{role} eq 'moderator' }, timeout => 3),
   'ann is a moderator');
is(get('/api/v1/admin/audit', $ann->{access_token})->{status}, 403,
   'a moderator: 403 (the trail is for admins)');
is(audit_count(), $before, 'refused callers: not audited');

# --- CSV -------------------------------------------------------------------

patch("/api/v1/admin/users/$ann_id",
      { role => 'creator', reason => '=HYPERLINK("http://x")' }, $A);
$r = get('/api/v1/admin/audit?format=csv&action=role.grant', $A);
is($r->{status}, 200, 'format=csv: 200');
like($r->{headers}{'content-type'}, qr{^text/csv; charset=utf-8$},
     '  text/csv');
is($r->{headers}{'content-disposition'}, 'attachment; filename="audit.csv"',
   '  an attachment');
my @lines = split /\r\n/, $r->{content};
is($lines[0], 'id,created_at,actor_id,actor_email,actor_role,action,'
              . 'target_type,target_id,reason,address,before,after,hash',
   '  a header line');
is(scalar @lines - 1, $grants + 1, '  a line per row');
like($lines[1], qr/,"'=HYPERLINK\(""http:\/\/x""\)",/,
     '  a formula-like cell made text, quotes doubled');
like($lines[1], qr/,"\{""role"": ""moderator""\}","\{""role"": ""creator""\}",[0-9a-f]{64}$/,
     '  before, after and the row\'s hash');
is($r->{headers}{link}, undef, '  all of it: no next page');

$r = get('/api/v1/admin/audit?format=csv&action=role.grant&limit=5', $A);
@lines = split /\r\n/, $r->{content};
is(scalar @lines, 6, 'a CSV page of 5: five rows');
my ($next) = ($r->{headers}{link} // '') =~ /^<([^>]+)>; rel="next"$/;
ok($next, '  a Link to the next page');
is($r->{headers}{'x-next-cursor'}, ($lines[5] =~ /^(\d+),/)[0],
   '  X-Next-Cursor: the last row\'s id');
$r = get($next, $A);
my @more = split /\r\n/, $r->{content};
is(scalar @more, 6, '  the next page: five more');
ok(($more[1] =~ /^(\d+),/)[0] < ($lines[5] =~ /^(\d+),/)[0],
   '  older than the first page\'s');

# --- DELETE /api/v1/me -----------------------------------------------------

my $ed = $t->signup('ed@example.com', 'ed password 1');
my $ed_id = $ed->{user}{id};
my $ed2 = post('/api/v1/auth/login', { email => 'ed@example.com',
                                       password => 'ed password 1' })->{json};
ok($ed2->{access_token}, 'ed signs in a second time');
my $wav = slurp($t->make_media('tone.wav',
                               '-f lavfi -i sine=frequency=440:duration=1'));
$r = $t->http(POST => '/api/v1/media', body => $wav,
              headers => { 'Content-Type' => 'audio/wav',
                           Authorization => "Bearer $ed->{access_token}" });
is($r->{status}, 202, 'ed uploads');
my $ed_media = $r->{json}{media}{id};
ok(-e "$dir/storage/uploads/$ed_media", '  the file is in uploads/');

$before = audit_count();
$r = del('/api/v1/me', undef, $ed->{access_token});
is($r->{status}, 400, 'no body: 400');
is($r->{json}{error}{code}, 'body_required', '  body_required');
$r = del('/api/v1/me', {}, $ed->{access_token});
is($r->{status}, 422, 'no password: 422');
is($r->{json}{error}{field}, 'password', '  names password');
$r = del('/api/v1/me', { password => 'wrong password' }, $ed->{access_token});
is($r->{status}, 403, 'a wrong password: 403');
is($r->{json}{error}{code}, 'wrong_password', '  wrong_password');
$r = del('/api/v1/me', { password => 'x' x 5000 }, $ed->{access_token});
is($r->{status}, 422, 'a password over the limit: 422');
is(del('/api/v1/me', { password => 'ed password 1' })->{status}, 401,
   'no token: 401');
is(sql("SELECT count(*) FROM users WHERE id = '$ed_id'"), 1,
   'after every refusal the account is there');
is(audit_count(), $before, '  and no row was audited');

$r = del('/api/v1/me', { password => 'ed password 1' }, $ed->{access_token});
is($r->{status}, 204, 'the password: 204');
is(sql("SELECT count(*) FROM users WHERE id = '$ed_id'"), 0, '  the row gone');
is(sql("SELECT count(*) FROM media WHERE owner_id = '$ed_id'"), 0,
   '  its media gone (ON DELETE CASCADE)');
ok(wait_until(sub { !-e "$dir/storage/uploads/$ed_media" }, timeout => 10),
   '  and its file, removed by the sweeper\'s purge step');
ok(wait_until(sub { sql('SELECT count(*) FROM media_purge') == 0 },
              timeout => 5), '  which then forgets the id');
is(sql("SELECT count(*) FROM refresh_tokens WHERE user_id = '$ed_id'"), 0,
   '  its sessions gone');
is(get('/api/v1/auth/me', $ed->{access_token})->{status}, 401,
   '  its token: 401 at once');
is(get('/api/v1/auth/me', $ed2->{access_token})->{status}, 401,
   '  the other session\'s token: 401 at once');
is(post('/api/v1/auth/refresh', { refresh_token => $ed2->{refresh_token} })
   ->{status}, 401, '  the other session\'s refresh token: 401');
is(post('/api/v1/auth/login', { email => 'ed@example.com',
                                password => 'ed password 1' })->{status},
   401, '  signing in: 401');
is(audit_count(), $before + 1, '  one audit row');
$row = last_row();
is($row->{action}, 'account.delete', '  account.delete');
is($row->{actor_id}, $ed_id, '  by ed');
is($row->{target_id}, $ed_id, '  on ed');
is_deeply([ @{ $row->{before} }{qw(role plan media sessions)} ],
          [ 'user', 'free', 1, 2 ], '  before: role, plan, media, sessions');
is($row->{after}{confirmed_by}, 'password', '  confirmed by the password');
unlike(sql("SELECT row_to_json(a) FROM audit_log a WHERE id = $row->{id}"),
       qr/ed\@example/, '  and no email kept in the trail');
$r = get("/api/v1/admin/audit?actor=$ed_id", $A);
is($r->{json}{items}[0]{actor_email}, undef,
   'the viewer shows the deleted actor without an email');

# wrong passwords count as failed sign-ins
my $fay = $t->signup('fay@example.com', 'fay password 1');
my (@st, $tried);
for (1 .. 8) {
    $tried = del('/api/v1/me', { password => 'guess' }, $fay->{access_token});
    push @st, $tried->{status};
    last if $st[-1] == 429;
}
is_deeply(\@st, [ 403, 403, 403, 403, 403, 429 ],
          'five wrong passwords, then 429 too_many_attempts');
like($tried->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/,
     '  with Retry-After');
like($tried->{json}{error}{message} // '',
     qr/^too many wrong passwords; try again in \d+ seconds?$/,
     '  and the wait in the message');

# a provider's person: a recent sign-in instead of a password
my $now = time();
my $old = idp(sub => 'auth0|gus', iat => $now - 3600, jti => 'g1');
is(get('/api/v1/auth/me', $old)->{status}, 200, 'gus, from the provider');
my $gus_id = get('/api/v1/auth/me', $old)->{json}{user}{id};
$r = del('/api/v1/me', {}, $old);
is($r->{status}, 403, 'a sign-in an hour old: 403');
is($r->{json}{error}{code}, 'recent_sign_in_required',
   '  recent_sign_in_required');
$r = del('/api/v1/me', {}, idp(sub => 'auth0|gus', jti => 'g2'));
is($r->{status}, 403, 'a token without iat: 403');
$before = audit_count();
my $fresh = idp(sub => 'auth0|gus', iat => $now, jti => 'g3');
is(del('/api/v1/me', {}, $fresh)->{status}, 204, 'a fresh sign-in: 204');
is(sql("SELECT count(*) FROM users WHERE id = '$gus_id'"), 0, '  gone');
is(sql("SELECT count(*) FROM identities WHERE subject = 'auth0|gus'"), 0,
   '  and the link to the provider');
is(last_row()->{after}{confirmed_by}, 'recent_sign_in',
   '  audited: confirmed by a recent sign-in');
is(audit_count(), $before + 1, '  one row');

# sql/023 redefines media_audit_hash() in PL/pgSQL: the same hash as
# sql/021's SQL expression, written out here, for every row so far
is(sql(<<'EOF'), 0, "every row's hash is sql/021's expression");
SELECT count(*) FROM audit_log a
 WHERE a.hash <> sha256(a.prev_hash || convert_to(jsonb_build_array(
        a.id, (extract(epoch FROM a.created_at) * 1000000)::bigint,
        a.actor_id, a.actor_role, a.action, a.target_type, a.target_id,
        a.reason, host(a.address), a.before, a.after)::text, 'UTF8'))
EOF

# --- media-admin audit verify ------------------------------------------------

my ($rc, $out) = cli('audit', 'verify');
my $n = audit_count();
is($rc, 0, 'audit verify: exit 0');
is($out, "chain intact, $n rows\n", '  chain intact, N rows');

# the head, as the sweeper logs it: recorded outside the database
my $head = sql("SELECT id || ':' || encode(hash, 'hex') FROM audit_log"
               . " ORDER BY id DESC LIMIT 1");
($rc, $out) = cli('audit', 'verify', '--head', $head);
is($rc, 0, 'audit verify --head ID:HASH: exit 0');
is($out, "chain intact, $n rows, through the head given\n", "  $out");
($rc, $out) = cli('audit', 'verify', '--head', 'nonsense');
is($rc, 2, '  a head not ID:HASH: exit 2');

# the table's owner (the service's own role) rewrites a row and hashes
# the chain again from it: the chain holds in itself; the head recorded
# outside the database does not
my $oldest = sql("SELECT min(id) FROM audit_log");
defined $t->psql('media', <<"SQL") or die 'rewrite failed';
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
GRANT UPDATE ON audit_log TO CURRENT_USER;
DO \$\$
DECLARE
    a     audit_log;
    prev  bytea;
BEGIN
    UPDATE audit_log SET reason = 'nothing to see' WHERE id = $oldest;
    FOR a IN SELECT * FROM audit_log ORDER BY id LOOP
        IF prev IS NOT NULL THEN
            a.prev_hash := prev;
        END IF;
        a.hash := media_audit_hash(a);
        UPDATE audit_log SET prev_hash = a.prev_hash, hash = a.hash
         WHERE id = a.id;
        prev := a.hash;
    END LOOP;
END \$\$;
REVOKE UPDATE ON audit_log FROM CURRENT_USER;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
SQL
($rc, $out) = cli('audit', 'verify');
is($rc, 0, 'rewritten and hashed again by its owner: the chain holds in '
   . 'itself');
($rc, $out) = cli('audit', 'verify', '--head', $head);
is($rc, 1, '  but not through the head recorded before: exit 1');
like($out, qr/^row \d+: its hash is not the head recorded outside the database \(the trail was rewritten since; its head now: \d+:[0-9a-f]{64}\)\nchain broken: 1 problem in $n rows\n\z/,
     "  $out");

# a superuser alters a row behind the trigger's back
my $victim = sql("SELECT id FROM audit_log WHERE target_id = '$ann_id'"
                 . " ORDER BY id LIMIT 1");
super("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;"
      . " UPDATE audit_log SET after = '{\"role\": \"admin\"}'"
      . "  WHERE id = $victim;"
      . " ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;");
($rc, $out) = cli('audit', 'verify');
is($rc, 1, 'a row altered by a superuser: exit 1');
is($out, "row $victim: hash does not match the row (the row was altered)\n"
         . "chain broken: 1 problem in $n rows\n", '  names that row');

# and removes another
my ($gone, $after_gone) = split /\n/,
    sql("SELECT id FROM audit_log WHERE id > $victim + 3 ORDER BY id LIMIT 2");
super("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;"
      . " DELETE FROM audit_log WHERE id = $gone;"
      . " ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;");
($rc, $out) = cli('audit', 'verify');
is($rc, 1, 'and a row removed: exit 1');
is($out, "row $victim: hash does not match the row (the row was altered)\n"
         . "row $after_gone: prev_hash does not match the hash of the row "
         . "before (a row removed or inserted)\n"
         . 'chain broken: 2 problems in ' . ($n - 1) . " rows\n",
   '  names both: the altered row, and the row after the removed one');

$t->finish;
done_testing;


sub sql {
    my $out = $t->psql('media', $_[0]);
    die "psql: $_[0]" unless defined $out;
    chomp $out;
    return $out;
}

sub super {
    my $out = $t->psql_admin('media', $_[0]);
    die "psql as superuser: $_[0]" unless defined $out;
    return $out;
}

sub last_psql_error {
    my @l = split /\n/, slurp("$dir/cmd.log");
    return (grep { /ERROR/ } @l)[-1] // '';
}

sub audit_count { sql('SELECT count(*) FROM audit_log') }

sub last_row {
    return decode_json(sql('SELECT row_to_json(a) FROM audit_log a'
                           . ' ORDER BY id DESC LIMIT 1'));
}

sub claims {
    return $json->decode(decode_base64url((split /\./, $_[0])[1]));
}

sub cli {
    my $cmd = join(' ', map { "'$_'" } $admin_bin, '-c', $t->conf_file, @_);
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

sub idp {
    my (%claims) = @_;
    my $payload = $json->encode({ iss => 'https://idp.example',
                                  aud => 'media', exp => time() + 600,
                                  %claims });
    $payload =~ s/'/'\\''/g;
    my $tok = `$mint sign $dir RS256 rsa1 '$payload'`;
    chomp $tok;
    return $tok;
}

sub req {
    my ($method, $path, $body, $token) = @_;
    return $t->http($method => $path,
                    (defined $body ? (body => $json->encode($body)) : ()),
                    headers => { (defined $body ? ('Content-Type'
                                                   => 'application/json')
                                                : ()),
                                 $token ? (Authorization => "Bearer $token")
                                        : () });
}

sub get { req(GET => $_[0], undef, $_[1]) }
sub post { req(POST => @_) }
sub patch { req(PATCH => @_) }
sub del { req(DELETE => @_) }

sub spew {
    my ($file, $text) = @_;
    open(my $fh, '>', $file) or die "$file: $!";
    print $fh $text;
    close $fh;
}
