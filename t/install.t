# The README's "Install on Debian 12" section, run as written, as root, in
# a throwaway copy of this system: a private mount, network and pid
# namespace (unshare) whose / is an overlay over the real one, its writes
# in memory.  Debian's nginx, PostgreSQL and Redis are installed there as
# on a server, started first; there is no systemd, so t/tools/systemctl
# stands in for it, running each unit's command as the unit's user.  The
# section's shell blocks, in order, build the packages, install them,
# make the keys, the role and the database, turn on Redis persistence,
# put the snippets in place, migrate, start the workers and reload nginx;
# then the site answers over https (HTTP/2, HSTS, port 80 redirecting)
# and an upload is transcoded and played.  The real system is untouched.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use MediaTest qw(slurp);

plan skip_all => 'not root: the install runs as root in a throwaway tree'
    if $> != 0;
plan skip_all => 'no unshare(1): cannot make the throwaway tree'
    unless system('unshare --mount --net --pid --fork true 2>/dev/null') == 0;
plan skip_all => 'no nginx-dev: make deb builds against its source'
    unless -d '/usr/share/nginx/src/debian';
plan skip_all => 'no PostgreSQL cluster to start (pg_lsclusters)'
    unless `pg_lsclusters --no-header 2>/dev/null` =~ /^\d/m;

my $root = MediaTest->new->root;
my $dir = tempdir('ngx_media_install_XXXXXX', TMPDIR => 1, CLEANUP => 1);

# --- the README's section, its ```sh blocks in order ----------------------

my $readme = slurp("$root/README.md");
my ($section) = $readme =~ /^## Install on Debian 12\n(.*?)^## /ms;
ok($section, 'README has the install section');
my @blocks = $section =~ /^```sh\n(.*?)^```$/msg;
cmp_ok(scalar @blocks, '>=', 4, scalar(@blocks) . ' shell blocks in it');
my $words = () = $section =~ /\S+/g;
cmp_ok($words, '<', 1300, "short enough to read in five minutes ($words words)");

# the server as it stands before the install: its services running
my $script = <<"EOF";
set -e
ip link set lo up
export PATH=$root/t/tools:\$PATH
systemctl start postgresql redis-server nginx
cd $root
echo '== README'
set -x
@{[ join("\n", @blocks) ]}
set +x
echo '== checks'
. $dir/check.sh
EOF

# --- what an admin does next: upload a file and play it --------------------

my $check = <<'EOF';
site=https://127.0.0.1
api=$site/api/v1
curl() { command curl -k "$@"; }
# the reload ends when nginx's old workers have left; until then they
# too take port 80's connections, and serve Debian's default site there
for i in $(seq 1 40); do
    code=$(curl -s -o /tmp/healthz -w '%{http_code}' $api/healthz || true)
    [ "$code" = 200 ] && break
    sleep 0.5
done
echo "RESULT healthz $code $(cat /tmp/healthz)"
for i in $(seq 1 40); do
    redirect=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' \
               -H 'Host: media.example.com' http://127.0.0.1/ || true)
    [ "${redirect%% *}" = 301 ] && break
    sleep 0.5
done
echo "RESULT redirect $redirect"
echo "RESULT hsts $(curl -sI $site/ | grep -ci '^strict-transport-security: max-age=')"
echo "RESULT http2 $(curl -s --http2 -o /dev/null -w '%{http_version}' $site/)"
echo "RESULT workers_user $(ps -o user= -C media-transcoder | sort -u | tr '\n' ' ')"
echo "RESULT module_link $(readlink /etc/nginx/modules-enabled/50-mod-http-media.conf)"
token=$(curl -s -X POST $api/auth/signup -H 'Content-Type: application/json' \
        -d '{"email":"ann@example.com","password":"a good password"}' \
        | jq -r .access_token)
echo "RESULT signed_up ${#token}"
ffmpeg -nostdin -loglevel error -f lavfi -i testsrc=duration=2:size=320x240:rate=25 \
       -f lavfi -i sine=duration=2 -c:v libx264 -c:a aac -shortest -y /tmp/in.mp4
id=$(curl -s -X POST $api/media -H "Authorization: Bearer $token" \
     -H 'Content-Type: video/mp4' --data-binary @/tmp/in.mp4 | jq -r .media.id)
echo "RESULT uploaded $id"
for i in $(seq 1 240); do
    status=$(curl -s $api/media/$id -H "Authorization: Bearer $token" | jq -r .media.status)
    case $status in ready|failed) break ;; esac
    sleep 0.5
done
echo "RESULT status $status"
url=$(curl -s -X POST $api/media/$id/playback -H "Authorization: Bearer $token" \
      | jq -r .url)
base=$site${url%/master.m3u8}
variant=$(curl -s "$site$url" | grep -v '^#' | head -1)
segment=$(curl -s "$base/$variant" | grep -v '^#' | head -1)
echo "RESULT segment $(curl -s -o /tmp/seg -w '%{http_code} %{size_download}' "$base/${variant%/*}/$segment")"
echo "RESULT files_owner $(stat -c %U /var/lib/ngx_media/hls/$id)"
echo "RESULT check_exit $(media-admin check >/tmp/check.out 2>&1; echo $?)"
sed 's/^/CHECK /' /tmp/check.out
EOF

open(my $fh, '>', "$dir/install.sh") or die $!;
print $fh $script;
close $fh;
open($fh, '>', "$dir/check.sh") or die $!;
print $fh $check;
close $fh;

# --- the throwaway tree ----------------------------------------------------

my $ov = "$dir/ov";
mkdir $ov;
my $setup = join("\n",
    "set -e",
    "mount -t tmpfs tmpfs $ov",
    "mkdir $ov/upper $ov/work $ov/root",
    "mount -t overlay overlay -o lowerdir=/,upperdir=$ov/upper,workdir=$ov/work $ov/root",
    "mount -t proc proc $ov/root/proc",
    "mount --rbind /dev $ov/root/dev",
    "mount -t tmpfs tmpfs $ov/root/dev/shm",
    "mount -t tmpfs tmpfs $ov/root/run",
    "mount --bind $dir $ov/root$dir",
    "exec chroot $ov/root /bin/bash $dir/install.sh");

# what the install writes, absent here before and after
my @admin_files = grep { !-e } qw(/etc/nginx/conf.d/media.conf
    /etc/nginx/sites-enabled/media /etc/ngx_media/jwt.key
    /usr/bin/media-transcoder /usr/lib/nginx/modules/ngx_http_media_module.so);

# the README's commands as an admin types them, not under the make that
# runs this suite: make check-asan's SAN=1 (in MAKEFLAGS, and in the
# environment: make exports what its command line sets) would build the
# packages into build-asan, where the README's apt-get finds none
delete local @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL SAN)};
my $out = `timeout 900 unshare --mount --net --pid --fork --propagation private /bin/sh -c '$setup' 2>&1`;
my $rc = $? >> 8;
open($fh, '>', "$dir/../install.log") and print $fh $out;
is($rc, 0, 'the README\'s commands and the checks ran to their end')
    or diag(substr($out, -4000));

my %r = map { /^RESULT (\S+) ?(.*)$/ ? ($1 => $2) : () } split /\n/, $out;

like($r{healthz} // '', qr/^200 .*"transcode":1/,
     'healthz 200 with a transcoder');
is($r{redirect}, '301 https://media.example.com/',
   'port 80 sends browsers to https');
is($r{hsts}, 1, 'HSTS on the web client over https');
is($r{http2}, 2, 'HTTP/2');
like($r{module_link} // '', qr{modules-available/mod-http-media\.conf$},
     'the module enabled by its package');
like($r{workers_user} // '', qr/^www-data\s*$/, 'the workers run as www-data');
cmp_ok($r{signed_up} // 0, '>', 20, 'signed up');
like($r{uploaded} // '', qr/^[0-9a-f-]{36}$/, 'uploaded');
is($r{status}, 'ready', 'transcoded');
like($r{segment} // '', qr/^200 [1-9]\d+$/, 'a segment played');
is($r{files_owner}, 'www-data', 'the renditions are www-data\'s');
is($r{check_exit}, '0', 'media-admin check: all well')
    or diag(join("\n", $out =~ /^CHECK (.*)$/mg));

is(join(' ', grep { -e } @admin_files), '',
   'the real system is untouched: ' . scalar(@admin_files)
   . ' files the install made are not here');

done_testing;
