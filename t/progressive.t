# Playable while it transcodes: the transcoder publishes each rung as it
# grows, into a generation of its own (hls/<id>/g<N>/).  Playback is issued
# while the media is still "processing" once a rung is listed (two
# segments); the playlist grows between two reads and ends with
# #EXT-X-ENDLIST; a retried job starts a new generation, never mixed with
# the old one, which goes once the new one is complete; Cache-Control
# follows each state.
#
# The worker runs with MEDIA_TEST_TRANSCODE_PACE=2 (at most 2 s of source
# per second: a test-only throttle the transcoder reads at each job), so
# that a 30 s clip is still transcoding while it is played.  Its lowest
# rung has a head start (a pass of its own, listed before the other rung
# has a segment) and ends cut and timed as the other rung.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json);
use MediaTest qw(wait_until slurp);

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;

$t->write_conf(<<'EOF');
%%MAIN%%
events {}
http {
    %%HTTP%%
    media_jwt_key %%DIR%%/jwt.key;
    media_cookie_secure off;
    media_url_key %%DIR%%/jwt.key;
    media_url_ttl 1h;
    media_job_lease 6s;
    media_job_retry 1s;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /api/ {
            media_api;
        }

        location /hls/ {
            media_hls /_media_files/;
        }

        location /_media_files/ {
            internal;
            alias %%DIR%%/storage/hls/;
            types {
                application/vnd.apple.mpegurl m3u8;
                video/mp2t ts;
                image/jpeg jpg;
            }
            add_header Cache-Control $media_cache_control;
        }
    }
}
EOF
$t->jwt_key;
$t->migrate;
$t->start_nginx;
$ENV{MEDIA_TEST_TRANSCODE_PACE} = 2;
$t->start_worker('transcoder');

my $ann = $t->signup('ann@example.com');

$t->make_media('clip.mp4', '-f lavfi -i testsrc2=size=854x480:rate=25:duration=30'
               . ' -f lavfi -i sine=duration=30 -c:v libx264 -preset ultrafast'
               . ' -g 50 -pix_fmt yuv420p -c:a aac -shortest');

# --- before a rung is listed --------------------------------------------------

my $id = upload('clip.mp4');
my $r = api(POST => "/api/v1/media/$id/playback");
is($r->{status}, 409, 'no rung listed yet: 409');
is($r->{json}{error}{code}, 'not_ready', '... not_ready');
is(api(GET => "/api/v1/media/$id")->{json}{media}{playable}, JSON::PP::false,
   'playable: false');

# --- a rung is listed only with two segments, the lowest first ---------------

# sampled on disk while the job runs: whatever rungs.txt lists has two
# segments in its playlist already
my ($samples, $short) = (0, 0);
my ($m, $higher);
ok(wait_until(sub {
    for my $line (split /\n/, slurp("$dir/storage/hls/$id/rungs.txt") // '') {
        my ($name, $gen) = (split ' ', $line)[0, 7];
        my $pl = slurp("$dir/storage/hls/$id/$gen/$name/index.m3u8") // '';
        my $n = () = $pl =~ /^seg_\d+\.ts$/mg;
        $samples++;
        $short++ if $n < 2;
    }
    $m = api(GET => "/api/v1/media/$id")->{json}{media};
    # the higher rung's segments on disk when the media became playable
    $higher = () = glob("$dir/storage/hls/$id/g1/480p/seg_*.ts") if $m->{playable};
    $m->{playable};
}, timeout => 60, interval => 0.05), 'playable while it transcodes');
is($m->{status}, 'processing', '... with the status still processing');
ok(@{ $m->{renditions} } >= 1, 'renditions: the rungs listed so far: '
   . join(' ', map { $_->{name} } @{ $m->{renditions} }));
is($short, 0, "rungs.txt never listed a rung with fewer than two segments ($samples looks)");
# the head start: the lowest rung's pass ran alone until it was listed
is($higher, 0, 'the higher rung had no segment yet when the lowest was listed');

# --- playback while processing ------------------------------------------------

$r = api(POST => "/api/v1/media/$id/playback");
is($r->{status}, 200, 'playback: 200 while processing');
my $url = $r->{json}{url};
(my $base = $url) =~ s/master\.m3u8$//;

$r = $t->http(GET => $url);
is($r->{status}, 200, 'master: 200');
my @variants = $r->{content} =~ /^(g\d+\/\w+)\/index\.m3u8$/mg;
ok(@variants >= 1 && !(grep { !/^g1\// } @variants),
   "master: every rung in generation g1: @variants");
is($r->{headers}{'cache-control'}, 'private, no-cache',
   'a growing master: private, no-cache');

my $v = "$base$variants[-1]/index.m3u8";
$r = $t->http(GET => $v);
is($r->{status}, 200, 'variant: 200');
my @first = $r->{content} =~ /^(seg_\d+\.ts)$/mg;
ok(@first >= 2, 'variant: two segments at least (' . scalar(@first) . ')');
like($r->{content}, qr/^#EXT-X-PLAYLIST-TYPE:EVENT$/m, 'variant: EVENT');
unlike($r->{content}, qr/#EXT-X-ENDLIST/, 'variant: no ENDLIST yet');
is($r->{headers}{'cache-control'}, 'no-cache', 'a growing playlist: no-cache');

my $s = $t->http(GET => "$base$variants[-1]/$first[0]");
is($s->{status}, 200, 'segment: 200');
ok(length $s->{content} > 1000 && substr($s->{content}, 0, 1) eq 'G',
   'segment: a TS file');
like($s->{headers}{'cache-control'} // '', qr/^public, max-age=(\d+), immutable$/,
     'segment: public, immutable');
my ($age) = ($s->{headers}{'cache-control'} // '') =~ /max-age=(\d+)/;
ok($age && $age <= 3600 && $age > 3500,
   "segment under a token: max-age within the token's life ($age)");

# the playlist grows between two reads, the first segments unchanged
my @later;
ok(wait_until(sub {
    @later = $t->http(GET => $v)->{content} =~ /^(seg_\d+\.ts)$/mg;
    @later > @first;
}, timeout => 30, interval => 0.2),
   'the playlist grew: ' . scalar(@first) . ' then ' . scalar(@later) . ' segments');
is_deeply([ @later[0 .. $#first] ], \@first, '... the first ones unchanged');

# the other rung joins (checked after the growing playlist, which the
# lowest rung's head start ends sooner)
ok(wait_until(sub { slurp("$dir/transcoder.log") =~ /480p listed/ }, timeout => 30),
   'both rungs listed');
like(slurp("$dir/transcoder.log"), qr/g1\/360p listed, playable.*g1\/480p listed/s,
     'the lowest rung first');

# no half-written file is ever a playback file
$r = $t->http(GET => "$base$variants[-1]/seg_99999.ts.tmp");
is($r->{status}, 400, 'seg_N.ts.tmp: refused by the path parser');

# --- the end ------------------------------------------------------------------

$m = wait_final($id);
is($m->{status}, 'ready', 'ready');
is($m->{playable}, JSON::PP::true, 'playable: true');
is_deeply([ map { $_->{name} } @{ $m->{renditions} } ], [qw(480p 360p)], 'every rung');

$r = $t->http(GET => $v);
like($r->{content}, qr/#EXT-X-ENDLIST\s*\z/, 'the playlist ends with ENDLIST');
like($r->{headers}{'cache-control'} // '', qr/^public, max-age=\d+, immutable$/,
     'an ended playlist: public, immutable');
($age) = ($r->{headers}{'cache-control'} // '') =~ /max-age=(\d+)/;
ok($age && $age <= 3600, "... within the token's life ($age)");
my $d = `ffprobe -v error -show_entries format=duration -of csv=p=0 '@{[ $t->url($v) ]}' 2>/dev/null`;
ok($d =~ /^([\d.]+)/ && abs($1 - 30) < 1, "the whole clip reads back ($d)");

# the lowest rung came from its own pass, the other from the ladder's:
# the same cuts, each segment starting where the other rung's does, its
# sound with its picture, and its timeline whole
like(slurp("$dir/transcoder.log"), qr/g1\/360p head start pass done/,
     'the lowest rung had a pass of its own');
my %rung = map { $_ => rung_segments("$dir/storage/hls/$id/g1/$_") } qw(360p 480p);
is_deeply([ map { $_->{extinf} } @{ $rung{'360p'} } ],
          [ map { $_->{extinf} } @{ $rung{'480p'} } ],
          'both rungs cut alike: ' . join(' ', map { $_->{extinf} } @{ $rung{'360p'} }));
is_deeply([ map { $_->{video} } @{ $rung{'360p'} } ],
          [ map { $_->{video} } @{ $rung{'480p'} } ],
          '... each segment starting at the same timestamp');
my ($low) = @{ $rung{'360p'} };
is($low->{video}, 126000, 'the lowest rung presents its first frame at 1.4 s');
is($low->{audio}, $low->{video}, '... and its sound starts with it');
my @gaps = grep { abs($rung{'360p'}[$_]{video} - $rung{'360p'}[$_ - 1]{video}
                      - 90000 * $rung{'360p'}[$_ - 1]{extinf}) > 90000 / 25 }
           1 .. $#{ $rung{'360p'} };
is("@gaps", '', 'its segments follow each other without a gap or an overlap');

$r = $t->http(GET => $url);
like($r->{headers}{'cache-control'} // '', qr/^private, max-age=(\d+)$/,
     'a finished master: private, max-age');
($age) = ($r->{headers}{'cache-control'} // '') =~ /max-age=(\d+)/;
ok($age && $age <= 3600, "... within the token's life ($age)");

# the URL shape of masters made before generations reaches the rung's
# current generation
$r = $t->http(GET => "${base}360p/index.m3u8");
is($r->{status}, 200, 'a rung URL without a generation: 200');
like($r->{content}, qr/#EXT-X-ENDLIST/, '... the same playlist');

# --- cookie mode: media_cookie_ttl (default 30 minutes) ----------------------

$r = api(POST => "/api/v1/media/$id/playback", '{"mode":"cookie"}');
is($r->{status}, 200, 'cookie mode: 200');
my ($cookie) = ($r->{headers}{'set-cookie'} // '') =~ /^(media_play=[^;]+)/;
like($r->{headers}{'set-cookie'} // '', qr/Max-Age=1800;/, 'the cookie lives 30 minutes');
$r = $t->http(GET => $r->{json}{url}, headers => { Cookie => $cookie });
like($r->{headers}{'cache-control'} // '', qr/^private, max-age=\d+$/,
     'cookie mode: the master is private (one URL, different rung caps)');
($age) = ($r->{headers}{'cache-control'} // '') =~ /max-age=(\d+)/;
ok($age && $age <= 1800, "... and within the cookie's token ($age)");
my ($cv) = $r->{content} =~ /^(g\d+\/\w+)\/index\.m3u8$/m;
$r = $t->http(GET => "/hls/c/$id/$cv/seg_00000.ts", headers => { Cookie => $cookie });
is($r->{status}, 200, 'cookie mode: a segment');
is($r->{headers}{'cache-control'}, 'public, max-age=2592000, immutable',
   'cookie mode: a segment is long-lived (the path is not the credential)');

# --- a retried job: a new generation, never mixed with the old ---------------

my $re = upload('clip.mp4');
ok(wait_until(sub { api(GET => "/api/v1/media/$re")->{json}{media}{playable} },
              timeout => 60, interval => 0.2), 'the second media is playable');
my $purl = api(POST => "/api/v1/media/$re/playback")->{json}{url};
(my $pbase = $purl) =~ s/master\.m3u8$//;
my ($old) = $t->http(GET => $purl)->{content} =~ /^(g\d+\/360p)\/index\.m3u8$/m;
is(($old // '') =~ s/\/.*//r, 'g1', 'its rungs are in g1');

my ($worker) = job_row($re, 'worker') =~ /-(\d+)$/;
kill 'KILL', $worker;
ok(wait_until(sub { job_row($re, 'attempts') == 2 }, timeout => 10, interval => 0.1),
   'the job runs again');

# until g2 lists a rung, masters list g1; then only g2; never both, and
# every playlist's segments are its own generation's
my (%gens, $mixed, $looks);
wait_until(sub {
    my $master = $t->http(GET => $purl)->{content} // '';
    my %in = map { $_ => 1 } $master =~ /^(g\d+)\//mg;
    $mixed++ if keys %in > 1;
    $gens{$_}++ for keys %in;
    $looks++;
    api(GET => "/api/v1/media/$re")->{json}{media}{status} eq 'ready';
}, timeout => 120, interval => 0.2);
is($mixed // 0, 0, "no master listed two generations ($looks looks)");
ok($gens{g2}, 'masters moved to g2: ' . join(' ', sort keys %gens));

my $g2 = $t->http(GET => $purl)->{content};
ok($g2 =~ /^g2\/360p\/index\.m3u8$/m && $g2 !~ /^g1\//m, 'the final master: g2 only');
$r = $t->http(GET => "${pbase}g2/360p/index.m3u8");
like($r->{content}, qr/#EXT-X-ENDLIST/, 'g2 ended');
unlike($r->{content}, qr{/}, 'its segments are relative, in g2');
ok(!-e "$dir/storage/hls/$re/g1", 'g1 removed once g2 was complete');
is($t->http(GET => "${pbase}g1/360p/index.m3u8")->{status}, 404, 'g1 is gone');
like(slurp("$dir/transcoder.log"), qr/superseded by g2/, 'the worker says so');
is($t->psql('media', "SELECT count(*) FROM renditions WHERE media_id = '$re'") + 0,
   2, 'one set of renditions');
my @tmp = glob("$dir/storage/hls/$re/*/*/*.tmp $dir/storage/hls/$re/.*.tmp");
is(scalar(@tmp), 0, 'no temporary file left');

$t->finish;
done_testing;


sub api {
    my ($method, $path, $body) = @_;
    return $t->http($method => $path,
                    headers => { Authorization => "Bearer $ann->{access_token}",
                                 ($body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => $body) : ()));
}

sub upload {
    my ($name) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => slurp("$dir/media/$name"),
                     headers => { 'Content-Type' => 'video/mp4',
                                  Authorization => "Bearer $ann->{access_token}" });
    die "upload: $r->{status}" unless $r->{status} == 202;
    return $r->{json}{media}{id};
}

sub wait_final {
    my ($id) = @_;
    my $m;
    wait_until(sub {
        $m = api(GET => "/api/v1/media/$id")->{json}{media};
        $m && $m->{status} =~ /^(ready|failed)$/;
    }, timeout => 120, interval => 0.5);
    return $m;
}

# a rung's segments: EXTINF, and the first video and audio PTS (90 kHz)
sub rung_segments {
    my ($rdir) = @_;
    my (@segs, $extinf);
    for (split /\n/, slurp("$rdir/index.m3u8") // '') {
        if (/^#EXTINF:([\d.]+)/) {
            $extinf = $1;
        } elsif (/^(seg_\d+\.ts)$/) {
            my %s = (extinf => $extinf);
            for (`ffprobe -v error -show_entries packet=codec_type,pts -of csv=p=0 '$rdir/$1' 2>/dev/null`) {
                my ($type, $pts) = split /,/;
                next unless defined $pts && $pts =~ /^(\d+)/;
                $s{$type} = $1 if !defined $s{$type} || $1 < $s{$type};
            }
            push @segs, \%s;
        }
    }
    return \@segs;
}

sub job_row {
    my ($media, $what) = @_;
    my $v = $t->psql('media', "SELECT $what FROM jobs WHERE media_id = '$media'");
    chomp $v if defined $v;
    return $v // '';
}
