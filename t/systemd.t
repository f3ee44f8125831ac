# The systemd units and make install / uninstall: `make install` into a
# throwaway DESTDIR puts the module (enabled in modules-enabled, as Debian
# does), the workers, the web client, the SQL and the units (dist/systemd,
# paths filled in) in place; every unit
# passes `systemd-analyze verify` and runs its worker as www-data,
# sandboxed, stopping with SIGTERM to the supervisor; `make uninstall`
# removes exactly what install put there.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Find;
use File::Temp qw(tempdir);
use MediaTest qw(slurp);

my $root = "$FindBin::Bin/..";
my $build = $ENV{MEDIA_BUILD} // 'build';
plan skip_all => 'systemd-analyze is missing'
    unless `which systemd-analyze 2>/dev/null`;
plan skip_all => 'build first (make)' unless -e "$root/$build/media-transcoder";

my $dest = tempdir('media-install-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my %paths = (BINDIR => '/usr/bin', UNITDIR => '/lib/systemd/system',
             MODDIR => '/usr/share/nginx/modules',
             MODCONF => '/usr/share/nginx/modules-available',
             MODENABLED => '/etc/nginx/modules-enabled',
             SHAREDIR => '/usr/share/ngx_media');
my $vars = join(' ', map { "$_=$paths{$_}" } sort keys %paths);

my $out = `make -s -C '$root' BUILD=$build DESTDIR='$dest' $vars install 2>&1`;
is($?, 0, 'make install into a DESTDIR') or diag($out);

my @units = map { s{.*/}{}r } glob("$dest/lib/systemd/system/*.service");
is_deeply([ sort @units ],
          [ qw(media-billing.service media-exporter.service
               media-sweeper.service media-transcoder@.service) ],
          'the four units installed');
ok(-e "$dest/usr/bin/$_", "$_ installed")
    for qw(media-transcoder media-exporter media-billing media-sweeper
           media-admin media-migrate);
ok(-e "$dest/usr/share/nginx/modules/ngx_http_media_module.so",
   'the module, where Debian\'s nginx looks');
is(slurp("$dest/usr/share/nginx/modules-available/mod-http-media.conf"),
   "load_module /usr/share/nginx/modules/ngx_http_media_module.so;\n",
   '  its modules-available snippet');
is(readlink("$dest/etc/nginx/modules-enabled/50-mod-http-media.conf"),
   '/usr/share/nginx/modules-available/mod-http-media.conf',
   '  enabled as Debian\'s module packages do');
ok(-e "$dest/usr/share/ngx_media/www/index.html", 'the web client');
ok(-e "$dest/usr/share/ngx_media/sql/001_init.sql", 'the SQL');

# systemd-analyze checks that ExecStart's program exists: the installed
# tree's, seen through a copy of the units pointing into it
my $check = tempdir('media-units-XXXXXX', TMPDIR => 1, CLEANUP => 1);
for my $u (@units) {
    my $text = slurp("$dest/lib/systemd/system/$u");

    like($text, qr{^ExecStart=/usr/bin/media-\w+ -c /etc/nginx/nginx\.conf$}m,
         "$u: ExecStart, the installed worker reading nginx.conf");
    like($text, qr/^User=www-data$/m, "$u: runs as www-data");
    like($text, qr{^ReadWritePaths=/var/lib/ngx_media$}m,
         "$u: writes the storage only");
    for my $k (qw(ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes
                  KillMode=mixed KillSignal=SIGTERM Restart=on-failure)) {
        like($text, qr/^\Q$k\E$/m, "$u: $k");
    }
    like($text, qr/^TimeoutStopSec=\d+s$/m, "$u: TimeoutStopSec");
    unlike($text, qr/\@[A-Z]+\@/, "$u: no placeholder left");

    (my $local = $text) =~ s{^ExecStart=/usr/bin/}{ExecStart=$dest/usr/bin/}m;
    open(my $fh, '>', "$check/$u") or die $!;
    print $fh $local;
    close $fh;
}
$out = `cd '$check' && systemd-analyze verify ./*.service 2>&1`;
is($?, 0, 'systemd-analyze verify passes on every unit') or diag($out);
is($out, '', '  and says nothing') or diag($out);
$out = `cd '$check' && systemd-analyze verify ./media-transcoder\@2.service 2>&1`;
is($?, 0, '  an instance of the transcoder\'s template too') or diag($out);

# the check can fail: a unit whose program is missing
(my $bad = slurp("$check/media-billing.service"))
    =~ s{^ExecStart=\S+}{ExecStart=$dest/usr/bin/media-nothing}m;
open(my $fh, '>', "$check/media-billing.service") or die $!;
print $fh $bad;
close $fh;
$out = `cd '$check' && systemd-analyze verify ./media-billing.service 2>&1`;
isnt($?, 0, '  (a unit whose program is missing fails it: '
     . ($out =~ /(not executable[^\n]*)/ ? $1 : $out) . ')');

$out = `make -s -C '$root' BUILD=$build DESTDIR='$dest' $vars uninstall 2>&1`;
is($?, 0, 'make uninstall') or diag($out);
my @left;
find({ wanted => sub { push @left, $File::Find::name if -f $_ || -l $_ },
       no_chdir => 1 }, $dest);
is_deeply(\@left, [], 'nothing of it is left') or diag(explain(\@left));

done_testing;
