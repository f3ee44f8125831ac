# Checks the compiler does not make:
# - the nginx-free cores (ngx_media_module/media_*) use no nginx symbol, so
#   unit tests, fuzzers and the workers link them without nginx;
# - nginx's printf-like calls (ngx_log_error, ngx_conf_log_error,
#   ngx_sprintf, ...) get as many arguments as their format has
#   conversions, since gcc cannot check nginx's own format language;
# - every error log message starts with a site tag ("media ...") so a log
#   line leads to one place in the code;
# - the glue files include each other without a circle: a file and its
#   header are one room, and the rooms stand on floors (kit, identity,
#   resources, the route table, the module) that only look down.

use strict;
use warnings;

use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";

# --- cores are nginx-free ------------------------------------------------

for my $file (glob("$root/ngx_media_module/media_*.[ch]")) {
    my $src = strip_comments(slurp($file));
    $src =~ s/"(?:[^"\\]|\\.)*"/""/g;    # a path may say ngx_media
    my @hits = $src =~ /\b((?:ngx|NGX)_\w+)/g;
    (my $name = $file) =~ s{.*/}{};
    ok(!@hits, "$name uses no nginx symbol") or diag("found: @hits");
}

# --- nginx format strings ------------------------------------------------

# function => index of the format argument (0-based)
my %fmt_arg = (
    ngx_log_error      => 3,
    ngx_conf_log_error => 3,
    ngx_sprintf        => 1,
    ngx_snprintf       => 2,
    ngx_slprintf       => 2,
    ngx_http_media_send_error => 3,
    ngx_http_media_bad_field  => 4,
    ngx_http_media_field_error => 2,
);
$fmt_arg{"ngx_log_debug$_"} = 3 for 0 .. 8;

my ($calls, @bad, @untagged) = (0);

for my $file (glob("$root/ngx_media_module/ngx_*.c")) {
    my $src = strip_comments(slurp($file));
    (my $name = $file) =~ s{.*/}{};

    while ($src =~ /\b(ngx_log_error|ngx_conf_log_error|ngx_sprintf|ngx_snprintf|ngx_slprintf|ngx_log_debug\d|ngx_http_media_send_error|ngx_http_media_bad_field|ngx_http_media_field_error)\s*\(/g) {
        my $fn = $1;
        my $args = call_args($src, pos($src));
        next unless $args;    # a prototype or macro definition
        next if @$args <= $fmt_arg{$fn};

        my $fmt = $args->[ $fmt_arg{$fn} ];
        next unless $fmt =~ /"/;    # a format built elsewhere
        $calls++;

        my $text = join('', $fmt =~ /"((?:[^"\\]|\\.)*)"/g);
        my $want = count_conversions($text);
        my $have = @$args - $fmt_arg{$fn} - 1;

        push @bad, "$name: $fn(\"$text\"): $want conversions, $have arguments"
            if $want != $have;

        push @untagged, "$name: \"$text\""
            if $fn eq 'ngx_log_error' && $text !~ /^(media |%s: )/
               && $fmt !~ /^\s*"%s: "/;
    }
}

ok($calls > 20, "checked $calls format calls");
ok(!@bad, 'every nginx format call has one argument per conversion')
    or diag(join("\n", @bad));
ok(!@untagged, 'every ngx_log_error message starts with its site tag')
    or diag(join("\n", @untagged));

# --- no include circles between glue rooms --------------------------------

my %deps;

for my $file (glob("$root/ngx_media_module/ngx_http_media_*.[ch]")) {
    (my $room = $file) =~ s{.*/ngx_http_media_(\w+)\.[ch]$}{$1};
    my $src = strip_comments(slurp($file));
    $deps{$room} ||= {};
    for my $inc ($src =~ /^#include\s+"ngx_http_media_(\w+)\.h"/mg) {
        $deps{$room}{$inc} = 1 if $inc ne $room;
    }
}

ok(keys %deps > 10, 'read ' . scalar(keys %deps) . ' glue rooms');

my (%state, @circle);

sub visit {
    my ($room, @path) = @_;
    return if ($state{$room} // '') eq 'done';
    if (($state{$room} // '') eq 'open') {
        my @seen = (@path, $room);
        shift @seen while $seen[0] ne $room;
        @circle = @seen unless @circle;
        return;
    }
    $state{$room} = 'open';
    visit($_, @path, $room) for sort keys %{ $deps{$room} };
    $state{$room} = 'done';
}

visit($_) for sort keys %deps;
ok(!@circle, 'no include circle between glue files')
    or diag('circle: ' . join(' -> ', @circle));

ok(!keys %{ $deps{types} }, 'the shared types header includes no glue file')
    or diag('types includes: ' . join(' ', keys %{ $deps{types} }));

done_testing;


sub slurp {
    open(my $fh, '<', $_[0]) or die "$_[0]: $!";
    local $/;
    return <$fh>;
}

sub strip_comments {
    my ($s) = @_;
    $s =~ s{/\*.*?\*/}{ }gs;
    return $s;
}

# the top-level arguments of the call whose "(" ends just before $pos
sub call_args {
    my ($src, $pos) = @_;
    my ($depth, $cur, @args, $in_str) = (1, '');

    for (my $i = $pos; $i < length $src; $i++) {
        my $c = substr($src, $i, 1);

        if ($in_str) {
            $cur .= $c;
            if ($c eq '\\') { $cur .= substr($src, ++$i, 1); next }
            $in_str = 0 if $c eq $in_str;
            next;
        }
        if ($c eq '"' || $c eq "'") { $in_str = $c; $cur .= $c; next }
        if ($c eq '(') { $depth++ }
        if ($c eq ')') {
            if (--$depth == 0) {
                push @args, $cur;
                return [ grep { /\S/ } @args ];
            }
        }
        if ($c eq ',' && $depth == 1) { push @args, $cur; $cur = ''; next }
        $cur .= $c;
    }
    return undef;
}

# nginx conversions (src/core/ngx_string.c): flags 0 m X x . * digits,
# then one of the letters below; "%*s" takes a length argument too
sub count_conversions {
    my ($fmt) = @_;
    my $n = 0;

    # %[0][width][x|X][.frac][*]type, as ngx_vslprintf reads it
    while ($fmt =~ /%(0?)(\d*)([xX]?)((?:\.\d+)?)(\*?)(%|[lLiuzOdTMmPDVvsScfrpeNZA])/g) {
        next if $6 eq '%' || $6 eq 'Z' || $6 eq 'N';
        $n += 1 + ($5 ? 1 : 0);
    }
    return $n;
}
