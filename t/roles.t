# Roles: user, creator, moderator, admin.  An admin grants them through
# PATCH /api/v1/admin/users/{id} or `media-admin roles grant`, each grant
# and each plan change on the record (one audit row per value changed,
# with before and after); a grant takes effect within a second; the admin
# list searches (?q=) and each read of it is audited too.  And
# media_upload_roles: who may upload, 403 role_required for the others.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;

$t->write_conf(<<'EOF');
%%MAIN%%
worker_processes 2;
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;

    # a film catalogue: creators and admins upload
    server {
        listen 127.0.0.1:%%PORT%%;
        media_upload_roles creator admin;

        location /api/ {
            media_api;
        }
    }

    # no media_upload_roles: any signed-in user uploads, as before
    server {
        listen 127.0.0.1:%%PORT_open%%;

        location /api/ {
            media_api;
        }
    }
}
EOF
spew("$dir/jwt.key", ('k' x 40) . "\n");

$t->migrate;
$t->start_nginx;

my $json = JSON::PP->new->canonical;
my $admin_bin = $t->build_path('media-admin');
my $wav = slurp($t->make_media('tone.wav',
                               '-f lavfi -i sine=frequency=440:duration=1'));

my $root = $t->signup('root@example.com');
my $ann = $t->signup('ann@example.com');
my $bob = $t->signup('bob@example.com');
my ($root_id, $ann_id, $bob_id) = map { $_->{user}{id} } $root, $ann, $bob;
sql("UPDATE users SET role = 'admin' WHERE id = '$root_id'");
my $A = $root->{access_token};
ok(wait_until(sub { get('/api/v1/admin/users', $A)->{status} == 200 },
              timeout => 3), 'root is an admin');

# --- a grant, audited -----------------------------------------------------

my $before = audit_count();
my $r = patch("/api/v1/admin/users/$ann_id",
              { role => 'moderator', reason => 'joins the team' }, $A);
is($r->{status}, 200, 'PATCH role moderator: 200');
is($r->{json}{user}{role}, 'moderator', '  the row says moderator');
is(audit_count(), $before + 1, '  exactly one audit row');
my $row = last_row();
is($row->{action}, 'role.grant', '  role.grant');
is($row->{actor_id}, $root_id, '  by root');
is($row->{actor_role}, 'admin', '  acting as admin');
is($row->{target_type}, 'user', '  on a user');
is($row->{target_id}, $ann_id, '  on ann');
is($row->{reason}, 'joins the team', '  with the reason given');
is($row->{address}, '127.0.0.1', '  from the client address');
is_deeply($row->{before}, { role => 'user' }, '  before: user');
is_deeply($row->{after}, { role => 'moderator' }, '  after: moderator');

$r = patch("/api/v1/admin/users/$ann_id", { role => 'moderator' }, $A);
is($r->{status}, 200, 'the same role again: 200');
is(audit_count(), $before + 1, '  changes nothing, writes nothing');

$before = audit_count();
$r = patch("/api/v1/admin/users/$ann_id", { plan => 'basic' }, $A);
is($r->{status}, 200, 'PATCH plan: 200');
is(audit_count(), $before + 1, '  exactly one audit row');
$row = last_row();
is($row->{action}, 'plan.change', '  plan.change');
is($row->{before}{plan}, 'free', '  before: free');
is($row->{after}{plan}, 'basic', '  after: basic');
is($row->{reason}, undef, '  no reason given: none recorded');

$before = audit_count();
$r = patch("/api/v1/admin/users/$bob_id", { role => 'creator',
                                            plan => 'basic' }, $A);
is($r->{status}, 200, 'role and plan at once: 200');
is(audit_count(), $before + 2, '  two rows, one per value changed');
is_deeply([ map { $_->{action} } rows_after($before) ],
          [ 'role.grant', 'plan.change' ], '  role.grant then plan.change');

# --- refusals, none of them audited ----------------------------------------

$before = audit_count();
my @refusals = (
    [ 'no token', sub { patch("/api/v1/admin/users/$bob_id",
                              { role => 'admin' }) }, 401, 'missing_token' ],
    [ 'a user', sub { patch("/api/v1/admin/users/$bob_id",
                            { role => 'admin' },
                            $bob->{access_token}) }, 403, 'forbidden' ],
    [ 'a moderator (admins grant roles)',
      sub { patch("/api/v1/admin/users/$bob_id", { role => 'admin' },
                  $ann->{access_token}) }, 403, 'forbidden' ],
    [ 'an unknown role', sub { patch("/api/v1/admin/users/$bob_id",
                                     { role => 'owner' }, $A) },
      422, 'invalid_field', 'role' ],
    [ 'neither role nor plan', sub { patch("/api/v1/admin/users/$bob_id",
                                           { reason => 'x' }, $A) },
      422, 'invalid_field', 'role' ],
    [ 'a reason over 2000 bytes',
      sub { patch("/api/v1/admin/users/$bob_id",
                  { role => 'user', reason => 'x' x 2001 }, $A) },
      422, 'invalid_field', 'reason' ],
    [ 'an unknown plan', sub { patch("/api/v1/admin/users/$bob_id",
                                     { plan => 'platinum' }, $A) },
      422, 'invalid_field', 'plan' ],
    [ 'an unknown user',
      sub { patch('/api/v1/admin/users/00000000-0000-0000-0000-000000000000',
                  { role => 'admin' }, $A) }, 404, 'not_found' ],
    [ 'not an id', sub { patch('/api/v1/admin/users/bob',
                               { role => 'admin' }, $A) }, 404, 'not_found' ],
);
for my $c (@refusals) {
    my ($name, $do, $status, $code, $field) = @$c;
    my $res = $do->();
    is($res->{status}, $status, "PATCH refused, $name: $status");
    is($res->{json}{error}{code}, $code, "  $code");
    is($res->{json}{error}{field}, $field, "  names $field") if $field;
}
is(audit_count(), $before, 'no refusal wrote an audit row');
like(patch("/api/v1/admin/users/$bob_id", { role => 'owner' }, $A)
     ->{json}{error}{message}, qr/user, creator, moderator or admin/,
     'the unknown role: the message lists the roles');

# --- a grant takes effect within a second, either way ----------------------

$r = patch("/api/v1/admin/users/$bob_id", { role => 'admin' }, $A);
is($r->{status}, 200, 'bob made admin');
ok(wait_until(sub { get('/api/v1/admin/users', $bob->{access_token})
                        ->{status} == 200 }, timeout => 3),
   '  his token reaches admin routes within a second or so');
$r = patch("/api/v1/admin/users/$bob_id", { role => 'creator' }, $A);
ok(wait_until(sub { get('/api/v1/admin/users', $bob->{access_token})
                        ->{status} == 403 }, timeout => 3),
   'bob back to creator: refused again within a second or so');
is(get('/api/v1/auth/me', $bob->{access_token})->{json}{user}{role},
   'creator', '  /auth/me says creator');

# --- the admin list: search, and each read on the record -------------------

$before = audit_count();
$r = get('/api/v1/admin/users', $A);
is($r->{status}, 200, 'GET /admin/users: 200');
is(scalar @{ $r->{json}{users} }, 3, '  three accounts');
is(audit_count(), $before + 1, '  one admin.read row');
$row = last_row();
is($row->{action}, 'admin.read', '  admin.read');
is($row->{target_type}, 'users', '  on users');
is($row->{actor_id}, $root_id, '  by root');
is($row->{after}{rows}, 3, '  saying how many accounts it showed');

$r = get('/api/v1/admin/users?q=ANN%40', $A);
is_deeply([ map { $_->{email} } @{ $r->{json}{users} } ],
          [ 'ann@example.com' ], '?q=ANN@: ann, case aside');
is(last_row()->{after}{q}, 'ANN@', '  the search is in its audit row');
is(scalar @{ get("/api/v1/admin/users?q=$bob_id", $A)->{json}{users} }, 1,
   '?q=<id>: that account');
is(scalar @{ get('/api/v1/admin/users?q=%25', $A)->{json}{users} }, 0,
   '?q=%: a literal %, not a wildcard');
is(scalar @{ get('/api/v1/admin/users?q=_', $A)->{json}{users} }, 0,
   '?q=_: a literal _, not a wildcard');
$r = get('/api/v1/admin/users?q=' . ('a' x 201), $A);
is($r->{status}, 422, '?q= of 201 characters: 422');
is($r->{json}{error}{field}, 'q', '  names q');
$r = get('/api/v1/admin/users?q=%ff', $A);
is($r->{status}, 422, '?q= not UTF-8: 422');
is(get('/api/v1/admin/users', $ann->{access_token})->{status}, 403,
   'a moderator: 403 on the admin list');

$before = audit_count();
is(get('/api/v1/admin/ads', $A)->{status}, 200, 'GET /admin/ads: 200');
is(audit_count(), $before + 1, '  one admin.read row');
is_deeply([ @{ last_row() }{qw(action target_type actor_id)} ],
          [ 'admin.read', 'ads', $root_id ], '  on ads, by root');
is(get('/api/v1/admin/ads', $ann->{access_token})->{status}, 403,
   '  a moderator: 403, not audited');
is(audit_count(), $before + 1, '  still one');

# --- media-admin roles -----------------------------------------------------

$before = audit_count();
my ($rc, $out) = cli('roles', 'grant', 'ANN@example.com', 'admin',
                     'on call this week');
is($rc, 0, 'media-admin roles grant: exit 0');
like($out, qr/^\Q$ann_id\E\tann\@example\.com\tadmin\t/, '  prints the row');
is(audit_count(), $before + 1, '  one audit row');
$row = last_row();
is($row->{action}, 'role.grant', '  role.grant');
is($row->{actor_id}, undef, '  no actor id (the console)');
is($row->{actor_role}, 'operator', '  actor role: operator');
like($row->{reason}, qr/^on call this week \(media-admin, unix user \S+\)$/,
     '  the reason, and who ran it');
is_deeply([ $row->{before}{role}, $row->{after}{role} ],
          [ 'moderator', 'admin' ], '  moderator -> admin');

($rc, $out) = cli('roles', 'list');
is($rc, 0, 'media-admin roles list: exit 0');
is($out, "admin\t$ann_id\tann\@example.com\n"
         . "admin\t$root_id\troot\@example.com\n"
         . "creator\t$bob_id\tbob\@example.com\n",
   '  admins, then creators; users left out');

($rc, $out) = cli('roles', 'grant', 'ann@example.com', 'owner');
is($rc, 2, 'roles grant to an unknown role: exit 2');
like($out, qr/"owner" is no role; use user, creator, moderator or admin/,
     '  says which roles exist');
($rc, $out) = cli('roles', 'grant', 'nobody@example.com', 'admin');
is($rc, 1, 'roles grant to an unknown account: exit 1');
like($out, qr/no account has the id or email "nobody\@example\.com"/,
     '  says so');
($rc, $out) = cli('roles', 'revoke', 'ann@example.com');
is($rc, 2, 'roles revoke (no such command): exit 2, usage');

$before = audit_count();
($rc, $out) = cli('user', 'ann@example.com', 'role=moderator', 'plan=free');
is($rc, 0, 'media-admin user role= plan=: exit 0');
is(audit_count(), $before + 2, '  audited too: two rows');

# --- media_upload_roles -----------------------------------------------------

my $carl = $t->signup('carl@example.com');
$r = upload($carl->{access_token}, $wav);
is($r->{status}, 403, 'a user uploads where creators and admins do: 403');
is($r->{json}{error}{code}, 'role_required', '  role_required');
like($r->{json}{error}{message},
     qr/for these roles: creator, admin; you are signed in as user/,
     '  naming the roles allowed and the caller\'s');
is(sql("SELECT count(*) FROM media WHERE owner_id = '$carl->{user}{id}'"),
   0, '  no media row');

$r = upload($bob->{access_token}, $wav);
is($r->{status}, 202, 'a creator uploads: 202');
my $bob_media = $r->{json}{media}{id};
$r = upload($A, $wav);
is($r->{status}, 202, 'an admin uploads: 202');
$r = upload($ann->{access_token}, $wav);
is($r->{status}, 403, 'a moderator (not named): 403');

$r = $t->http(PUT => "/api/v1/media/$bob_media/cover", body => 'x',
              headers => { 'Content-Type' => 'image/png',
                           Authorization => "Bearer $carl->{access_token}" });
is($r->{status}, 403, 'a cover is an upload too: 403 for a user');
is($r->{json}{error}{code}, 'role_required', '  role_required');

$r = upload($carl->{access_token}, $wav, 'open');
is($r->{status}, 202, 'a server without media_upload_roles: a user uploads');

sql("UPDATE users SET role = 'creator' WHERE id = '$carl->{user}{id}'");
ok(wait_until(sub { upload($carl->{access_token}, $wav)->{status} == 202 },
              timeout => 3), 'made a creator: carl uploads within a second');

# the directive's own refusals
for my $c ([ 'media_upload_roles owner;', qr/invalid media_upload_roles role "owner": expected user, creator, moderator or admin/ ],
           [ "media_upload_roles admin;\n    media_upload_roles admin;",
             qr/"media_upload_roles" directive is duplicate/ ],
           [ 'media_upload_roles;', qr/invalid number of arguments in "media_upload_roles"/ ])
{
    my ($line, $re) = @$c;
    my $conf = "$dir/bad.conf";
    my $text = slurp($t->conf_file);
    $text =~ s/(media_cookie_secure off;)/$1\n    $line/;
    spew($conf, $text);
    my ($ok) = $t->nginx_test($conf);
    (my $name = $line) =~ s/\n\s*/ /g;
    ok(!$ok, "nginx -t refuses: $name");
    like(slurp("$dir/nginx-t.err"), $re, '  saying why');
}

is(sql('SELECT count(*) FROM media_audit_verify()'), 0,
   'the audit chain is intact');

# --- the README's media-admin lines, run as written (its curl examples:
# t/readme_curl.t) -----------------------------------------------------------

my $readme = slurp("$FindBin::Bin/../README.md");
my ($part) = $readme =~ /^## Roles and the audit trail\n(.*?)^## /ms;
my @lines = grep { /^media-admin / } split /\n/, $part // '';
is(scalar @lines, 5, 'the README shows five media-admin commands');
# the head the README shows stands for one the sweeper logged: today's
my $head = sql("SELECT id || ':' || encode(hash, 'hex') FROM audit_log"
               . " ORDER BY id DESC LIMIT 1");
for my $line (@lines) {
    (my $cmd = $line) =~ s{^media-admin }{$admin_bin };
    $cmd =~ s{--head \S+}{--head $head};
    $cmd =~ s{/etc/nginx/nginx\.conf}{$t->conf_file}ge;
    my $got = `$cmd 2>&1`;
    is($?, 0, "README: $line") or diag($got);
    like($got, qr/^chain intact, \d+ rows(, through the head given)?$/,
         '  the chain intact') if $line =~ /audit verify/;
}
is(sql("SELECT role FROM users WHERE id = '$ann_id'"), 'creator',
   'README: ann granted moderator, then creator');

$t->finish;
done_testing;


sub sql {
    my $out = $t->psql('media', $_[0]);
    die "psql: $_[0]" unless defined $out;
    chomp $out;
    return $out;
}

sub audit_count { sql('SELECT count(*) FROM audit_log') }

sub rows_after {
    my ($id) = @_;
    my $out = sql("SELECT coalesce(json_agg(a ORDER BY id), '[]')"
                  . " FROM (SELECT * FROM audit_log OFFSET $id) a");
    return @{ decode_json($out) };
}

sub last_row {
    my $out = sql('SELECT row_to_json(a) FROM audit_log a'
                  . ' ORDER BY id DESC LIMIT 1');
    return decode_json($out);
}

sub cli {
    my $cmd = join(' ', map { "'$_'" } $admin_bin, '-c', $t->conf_file, @_);
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

sub get {
    my ($path, $token) = @_;
    return $t->http(GET => $path,
                    headers => { $token ? (Authorization => "Bearer $token")
                                        : () });
}

sub patch {
    my ($path, $body, $token) = @_;
    return $t->http(PATCH => $path, body => $json->encode($body),
                    headers => { 'Content-Type' => 'application/json',
                                 $token ? (Authorization => "Bearer $token")
                                        : () });
}

# to the first server, or to the one named (its port)
sub upload {
    my ($token, $bytes, $port) = @_;
    my %h = (body => $bytes,
             headers => { 'Content-Type' => 'audio/wav',
                          Authorization => "Bearer $token" });
    return $t->http(POST => '/api/v1/media', %h) unless $port;

    my $res = HTTP::Tiny->new(timeout => 10)->request(POST =>
        'http://127.0.0.1:' . $t->port($port) . '/api/v1/media', {
            content => $h{body}, headers => $h{headers} });
    $res->{json} = eval { decode_json($res->{content}) };
    return $res;
}

sub spew {
    my ($file, $text) = @_;
    open(my $fh, '>', $file) or die "$file: $!";
    print $fh $text;
    close $fh;
}
