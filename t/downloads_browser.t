# The library's Download button in a real browser (t/browser/downloads.js:
# Debian's chromium, headless, through playwright-core) against nginx
# configured from nginx.conf.example: a click makes a one-use link and the
# browser saves the file under the media's title, Japanese and emoji
# included (Content-Disposition's filename*), with the uploaded bytes.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json);
use MediaTest;

my $driver = "$FindBin::Bin/browser/downloads.js";
MediaTest::need_browser();

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_nginx;

my $file = $t->make_media('tone.wav', '-f lavfi -i sine=frequency=440:duration=2');

local $ENV{OUT_DIR} = $dir;

my $seen = $t->browser($driver, 150, $t->url('/'), $file);
is_deeply($seen->{steps}, ['launch', 'sign up', 'upload', 'download',
                           'download again'], 'every step done')
    or diag('stopped at: ' . ($seen->{error} // ''));

my @saved = @{ $seen->{saved} // [] };
my $size = -s $file;

# JSON::PP gives characters: the expected names as characters too
is($saved[0]{name}, "\x{591c}\x{660e}\x{3051}\x{306e}\x{6b4c}.wav",
   'a Japanese title: saved as 夜明けの歌.wav');
is($saved[1]{name}, "\x{1f3b8} riff.wav", 'an emoji title: saved as 🎸 riff.wav');
is($saved[$_]{size}, $size, "download $_: every byte of the upload") for 0 .. 2;
ok(!defined $saved[$_]{failure}, "download $_: no failure") for 0 .. 2;
like($saved[0]{url} // '', qr{^/dl/}, 'through a /dl/ link');
isnt($saved[2]{url}, $saved[0]{url}, 'a second click makes a new link');
is($seen->{item_error}, '', 'and shows no error');

is(scalar(@{ $seen->{console} // [] }), 0, 'signed in: no script error or warning')
    or diag(explain($seen->{console}));
is(scalar(@{ $seen->{offsite} // [] }), 0, 'nothing from another origin');

ok(!grep(!/status of 401/, @{ $seen->{console_signed_out} // [] }),
   'signed out: only the 401s of the first calls')
    or diag(explain($seen->{console_signed_out}));
is($t->psql('media', 'SELECT count(*) FROM download_uses'), "3\n",
   'three audit rows');

$t->finish;
done_testing();
