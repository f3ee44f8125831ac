# A resumable upload in a real browser (t/browser/tus.js: Debian's
# chromium, headless, through playwright-core) against nginx configured
# from nginx.conf.example: the web client uploads through tus-js-client in
# 8 MB chunks; the page is reloaded while the second chunk is on its way,
# the same file chosen again resumes from HEAD's offset (no new upload),
# and the media it becomes holds every byte of the file.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MediaTest qw(slurp);

my $driver = "$FindBin::Bin/browser/tus.js";
MediaTest::need_browser();

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_nginx;

# two minutes of stereo 48 kHz: 23 MB, three chunks
my $file = $t->make_media('long.wav',
                          '-f lavfi -i sine=frequency=440:duration=120 -ac 2 -ar 48000');
my $size = -s $file;
my $chunk = 8 * 1024 * 1024;

my $seen = $t->browser($driver, 150, $t->url('/'), $file);
is_deeply($seen->{steps}, ['launch', 'sign up', 'upload, held at the second chunk',
                           'reload', 'the same file again: resumed'],
          'every step done')
    or diag('stopped at: ' . ($seen->{error} // ''));

is_deeply($seen->{before}, ['POST', 'PATCH 0', "PATCH $chunk"],
          'before the reload: created, the first chunk sent, the second held')
    or diag(explain($seen->{before}));
ok(($seen->{bar_before} // 0) >= 30, "the bar showed the first chunk ($seen->{bar_before}%)");

my @after = @{ $seen->{after} // [] };
ok(!grep($_ eq 'POST', @after), 'after the reload: no new upload')
    or diag(explain(\@after));
ok(grep($_ eq 'HEAD', @after), '  the offset asked with HEAD');
is((grep(/^PATCH/, @after))[0], "PATCH $chunk", '  and sent from there');
like($seen->{text} // '', qr/Uploaded .*transcoding/, 'the page says uploaded');
is($seen->{error}, '', '  and no error');
like($seen->{title} // '', qr/Resumed/, '  the item has its title');
is($seen->{stored}, 0, '  the fingerprint is gone once finished');

my $media = $seen->{media} // '';
like($media, qr/^[0-9a-f-]{36}$/, 'the media id from Media-Id');
ok(-e "$dir/storage/uploads/$media" && slurp("$dir/storage/uploads/$media") eq slurp($file),
   'the stored upload is byte-identical');
is($t->psql('media', 'SELECT count(*) FROM uploads'), "0\n", 'no upload left');

is(scalar(@{ $seen->{console} // [] }), 0, 'no script error')
    or diag(explain($seen->{console}));
is(scalar(@{ $seen->{offsite} // [] }), 0, 'nothing from another origin');

$t->finish;
done_testing();
