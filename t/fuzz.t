# The libFuzzer targets build, replay their seed corpus and survive a few
# seconds of fuzzing (make check-fuzz runs them longer).

use strict;
use warnings;

use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
my $build = $ENV{MEDIA_BUILD} || 'build';
$build = "$root/$build" unless $build =~ m{^/};

my @targets = map { m{/([^/]+)\.c$} } glob("$root/t/fuzz/*.c");
ok(@targets, 'fuzz targets: ' . join(' ', @targets));

for my $name (@targets) {
    my $bin = "$build/fuzz/$name";
    ok(-x $bin, "$name: built") or next;

    my $corpus = "$root/t/fuzz/corpus/$name";
    my $out = `$bin -runs=0 $corpus 2>&1`;
    is($? >> 8, 0, "$name: seed corpus replays") or diag($out);

    my $tmp = "$build/fuzz/t-$name";
    mkdir $tmp;
    $out = `$bin -max_total_time=5 -max_len=16384 -artifact_prefix=$tmp/ $tmp $corpus 2>&1`;
    is($? >> 8, 0, "$name: 5 seconds of fuzzing, no crash") or diag($out);
    like($out, qr/Done \d+ runs/, "$name: it ran");
}

done_testing;
