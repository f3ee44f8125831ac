# What the benchmarks share: medians and spreads, the machine's
# description, nginx workers' CPU time, and writing a dated table into
# README.md between a benchmark's markers.  (bench/segments, api and
# webhooks still carry their own copies; new benchmarks use these.)

package MediaBench;

use strict;
use warnings;

use Exporter 'import';
use POSIX ();
use MediaTest qw(slurp);

our @EXPORT_OK = qw(median spread machine nginx_workers cpu_ticks
                    clock_ticks readme_block spew);

sub median {
    my @s = sort { $a <=> $b } @_;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

# "min-max", two decimals
sub spread {
    my @s = sort { $a <=> $b } @_;
    return sprintf '%.2f-%.2f', $s[0], $s[-1];
}

sub machine {
    chomp(my $cores = `nproc 2>/dev/null` || '?');
    my ($cpu) = (eval { slurp('/proc/cpuinfo') } // '')
                =~ /^model name\s*:\s*(.+)$/m;
    my ($nginx) = `nginx -v 2>&1` =~ m{nginx/(\S+)};
    my ($pg) = glob('/usr/lib/postgresql/*/bin/postgres');
    my ($pgv) = $pg ? `$pg --version 2>/dev/null` =~ /([\d.]+)\s*(?:\(|$)/m
                    : ();
    my ($redis) = `redis-server --version 2>/dev/null` =~ /v=(\S+)/;
    chomp(my $kernel = `uname -r`);

    return sprintf 'machine: %s cores (%s), Linux %s, nginx %s, '
                   . 'PostgreSQL %s, Redis %s', $cores,
                   $cpu // 'unknown CPU', $kernel, $nginx // '?',
                   $pgv // 'not installed', $redis // '?';
}

# the nginx master's children
sub nginx_workers {
    my ($master) = @_;
    my @pids;

    for my $stat (glob('/proc/[0-9]*/stat')) {
        my $s = eval { slurp($stat) } // next;
        my ($pid, $ppid) = $s =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        push @pids, $pid if $ppid == $master;
    }
    die "no nginx worker found\n" unless @pids;
    return @pids;
}

sub clock_ticks { POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100 }

# utime + stime of the processes, fields 14 and 15 of /proc/<pid>/stat
sub cpu_ticks {
    my $sum = 0;

    for my $pid (@_) {
        my $s = slurp("/proc/$pid/stat");
        $s =~ s/^.*\) //s;              # the name may hold spaces
        my @f = split ' ', $s;          # $f[0] is field 3
        $sum += $f[11] + $f[12];
    }
    return $sum;
}

# replaces what README.md holds between <!-- $name: begin --> and
# <!-- $name: end --> with $text
sub readme_block {
    my ($file, $name, $text) = @_;
    my $readme = slurp($file);
    my ($begin, $end) = ("<!-- $name: begin -->", "<!-- $name: end -->");

    unless ($readme =~ /\Q$begin\E.*?\Q$end\E/s) {
        warn "$file has no $name markers: not written\n";
        return 0;
    }

    $readme =~ s/\Q$begin\E.*?\Q$end\E/$begin\n$text$end/s;
    spew($file, $readme);
    return 1;
}

sub spew {
    my ($file, $text) = @_;
    open(my $fh, '>', $file) or die "$file: $!";
    print $fh $text;
    close $fh;
}

1;
