# Upload to HLS through the transcode worker, with media made here by
# FFmpeg: each file ends ready (every variant reads back to its end, within
# a segment of the source) or failed at once, in one attempt, with a reason
# written for users (no library text, no path) and the detail kept for
# admins.  The limits (media_max_pixels, media_max_duration) refuse at
# probe time.  Then the queue under faults: a consumer killed mid-transcode
# (handed on by its supervisor at once), the whole worker killed (the
# lease), Redis restarted empty.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP qw(decode_json);
use Test::More;
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
    media_job_lease 6s;
    media_job_retry 1s;
    media_max_pixels 1920x1080;
    media_max_duration 30s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            media_api;
        }
    }
}
EOF
$t->jwt_key;
$t->migrate;
$t->start_nginx;
$t->start_worker('transcoder');

my $user = $t->signup('maker@example.com');
# more uploads than the Starter plan's 10 media: a Professional creator
$t->psql('media', "UPDATE users SET creator_plan = 'professional'"
                  . " WHERE id = '$user->{user}{id}'");

my $av = '-c:v libx264 -preset ultrafast -pix_fmt yuv420p';
my %files = (
    'landscape.mp4' => "-f lavfi -i testsrc2=size=1280x720:rate=30:duration=7"
                       . " -f lavfi -i sine=frequency=300:duration=7 $av -c:a aac -shortest",
    'portrait-odd.mp4' => "-f lavfi -i testsrc2=size=361x641:rate=25:duration=5"
                          . " -f lavfi -i sine=duration=5 -vf scale=361:641 -c:v libx264"
                          . " -preset ultrafast -pix_fmt yuv444p -c:a aac -shortest",
    'silent.mp4' => "-f lavfi -i testsrc2=size=640x360:rate=24:duration=4 $av",
    'tone.wav' => '-f lavfi -i sine=frequency=440:duration=5',
    # two segments exactly, and the encoder's 21 ms of priming past them
    'twelve.wav' => '-f lavfi -i sine=frequency=440:duration=12',
    # quiet, with near-full-scale clicks: a plain gain to -14 LUFS would
    # clip, so loudnorm's dynamic mode must run (and come back to 48 kHz)
    'peaky.wav' => q{-f lavfi -i "aevalsrc=0.02*sin(440*2*PI*t)+if(lt(mod(t\,0.5)\,0.0005)\,0.95\,0):s=44100:d=8"},
    'hires.flac' => '-f lavfi -i sine=frequency=1000:sample_rate=48000:duration=4'
                    . ' -sample_fmt s32 -bits_per_raw_sample 24',
    # a video of one frame: a rendition of one frame is legitimate
    'one-frame.mp4' => "-f lavfi -i testsrc2=size=1280x720:rate=30 -frames:v 1 $av",
    # its index intact, every byte of picture data random
    'garbage.mp4' => "-f lavfi -i testsrc2=size=640x360:rate=24:duration=3 $av"
                     . ' -movflags +faststart',
    # over the limits: 2560x1440 > 1920x1080, 40 s > 30 s
    'wide.mp4' => "-f lavfi -i testsrc2=size=2560x1440:rate=25 -frames:v 2 $av",
    'long-tone.mp3' => '-f lavfi -i sine=duration=40 -c:a libmp3lame -b:a 32k',
);
$t->make_media($_, $files{$_}) for keys %files;

# an mp3 with cover art (a picture stream that is not video)
$t->make_media('cover.png', '-f lavfi -i color=c=red:size=64x64 -frames:v 1');
$t->make_media('song.mp3', "-f lavfi -i sine=duration=5 -i $dir/media/cover.png"
               . ' -map 0 -map 1 -c:a libmp3lame -c:v png -disposition:v attached_pic'
               . ' -id3v2_version 3');

# a portrait phone video: landscape pixels with a 90-degree display matrix
$t->make_media('sideways.mp4', "-f lavfi -i testsrc2=size=640x360:rate=25:duration=3 $av");
system("ffmpeg -nostdin -loglevel error -y -i $dir/media/sideways.mp4 -c copy"
       . " -metadata:s:v:0 rotate=90 $dir/media/rotated.mp4") == 0 or die;

# a wav with an mp4 name, a truncated mp4
system("cp $dir/media/tone.wav $dir/media/wav-named.mp4") == 0 or die;
my $full = slurp("$dir/media/landscape.mp4");
scramble_mdat("$dir/media/garbage.mp4");
spew("$dir/media/truncated.mp4", substr($full, 0, int(length($full) / 2)));

my %expect = (
    'landscape.mp4'    => { kind => 'video', rungs => [qw(720p 480p 360p)] },
    'portrait-odd.mp4' => { kind => 'video', rungs => [qw(360p)] },
    'silent.mp4'       => { kind => 'video', rungs => [qw(360p)], noaudio => 1 },
    'rotated.mp4'      => { kind => 'video', rungs => [qw(360p)], portrait => 1,
                            noaudio => 1 },
    'tone.wav'         => { kind => 'audio', rungs => [qw(a256 a128 a64)] },
    'twelve.wav'       => { kind => 'audio', rungs => [qw(a256 a128 a64)] },
    'peaky.wav'        => { kind => 'audio', rungs => [qw(a256 a128 a64)],
                            dynamic => 1 },
    'hires.flac'       => { kind => 'audio', rungs => [qw(a256 a128 a64)] },
    'song.mp3'         => { kind => 'audio', rungs => [qw(a256 a128 a64)], poster => 1 },
    'wav-named.mp4'    => { kind => 'audio', rungs => [qw(a256 a128 a64)] },
    'one-frame.mp4'    => { kind => 'video', rungs => [qw(720p 480p 360p)],
                            noaudio => 1 },
    'truncated.mp4'    => { failed => qr/^the file is not a media file we can read/,
                            detail => qr/moov atom not found|Invalid data/ },
    'garbage.mp4'      => { failed => qr/^the file holds no picture we could decode/,
                            detail => qr/no frame decoded/ },
    'wide.mp4'         => { failed => qr/^the video is 2560x1440 pixels, more than the 1920x1080 .* accepts/,
                            detail => qr/media_max_pixels/ },
    'long-tone.mp3'    => { failed => qr/^the file lasts 40s; this server accepts at most 30s/,
                            detail => qr/media_max_duration/ },
);

# the ladder's rates (workers/transcoder/ladder.c): the video rungs'
# maxrate, plus AAC 128k stereo when the source has sound
my %video_rate = ('1080p' => 5e6, '720p' => 2.5e6, '480p' => 1e6,
                  '360p' => 5e5);
my %audio_rate = (a64 => 64e3, a128 => 128e3, a256 => 256e3);

my (%media, @wire);
for my $name (sort keys %expect) {
    my $type = $name =~ /\.(mp4)$/ ? 'video/mp4' : $name =~ /\.wav$/ ? 'audio/wav'
             : $name =~ /\.flac$/ ? 'audio/flac' : 'audio/mpeg';
    my $r = upload("$dir/media/$name", $type);
    is($r->{status}, 202, "$name: accepted");
    $media{$name} = $r->{json}{media}{id};
}

for my $name (sort keys %expect) {
    my $e = $expect{$name};
    my $m = wait_final($media{$name});

    if ($e->{failed}) {
        is($m->{status}, 'failed', "$name: failed");
        like($m->{error} // '', $e->{failed}, "$name: with a reason: " . ($m->{error} // ''));
        unlike($m->{error} // '', qr{/|Invalid data|moov}, "$name: no path, no FFmpeg text");
        my $job = get("/api/v1/jobs/$m->{job_id}")->{json}{job};
        is($job->{status}, 'failed', "$name: its job failed at once (bad input, no retry)");
        is($job->{attempts}, 1, "$name: after one attempt");
        is($job->{error}, $m->{error}, "$name: the job says the same");
        like($t->psql('media', "SELECT error_detail FROM jobs WHERE id = '$m->{job_id}'"),
             $e->{detail}, "$name: the detail kept for admins");
        next;
    }

    is(get("/api/v1/jobs/$m->{job_id}")->{json}{job}{attempts}, 1,
       "$name: in one attempt");

    is($m->{status}, 'ready', "$name: ready") or diag($m->{error});
    is($m->{kind}, $e->{kind}, "$name: $e->{kind}");
    is_deeply([ map { $_->{name} } @{ $m->{renditions} } ], $e->{rungs},
              "$name: rungs @{ $e->{rungs} }, none above the source");

    my $src = probe_duration("$dir/media/$name");
    for my $r (@{ $m->{renditions} }) {
        my $playlist = playlist($m->{id}, $r->{name});
        my $d = probe_duration($playlist);
        ok(defined $d && abs($d - $src) <= 6,
           sprintf("$name $r->{name}: reads back to its end (%.2fs of %.2fs)",
                   $d // -1, $src));
        ok($r->{bandwidth} >= $r->{average_bandwidth} && $r->{average_bandwidth} > 0,
           "$name $r->{name}: measured peak $r->{bandwidth} >= average $r->{average_bandwidth}");

        # the bytes on the wire per second against the rung's nominal rate
        my ($wire, $secs) = wire_rate($playlist);
        my $nominal = nominal_rate($r->{name}, !$e->{noaudio});
        my $bound = $e->{kind} eq 'audio' ? 1.25 * $nominal
                  : 1.1 * vbv_bound($r->{name}, $secs, !$e->{noaudio});
        ok(defined $wire && $wire <= $bound,
           sprintf("$name $r->{name}: on the wire %.0f kb/s, nominal %.0f,"
                   . " at most %.0f", ($wire // 0) / 1000, $nominal / 1000,
                   $bound / 1000));
        push @wire, sprintf('%-16s %-5s %6.0f kb/s nominal %5.0f (%.0f%%)',
                            $name, $r->{name}, ($wire // 0) / 1000,
                            $nominal / 1000, 100 * ($wire // 0) / $nominal);

        # every stream of every rung starts presenting at one timestamp,
        # the TS muxer's 1.4 s (hls.js anchors at the first video DTS: a
        # stream starting later is a hole at 0 it skips with an error)
        my $s = starts($playlist);
        if ($e->{kind} eq 'video') {
            is($s->{video}, 126000, "$name $r->{name}: the first frame presented at 1.4 s");
            is($s->{dts}, $s->{video}, "$name $r->{name}: from its DTS");
        }
        is($s->{audio}, $e->{noaudio} ? undef : 126000,
           "$name $r->{name}: " . ($e->{noaudio} ? 'no audio' : 'the first audio at 1.4 s'));

        if ($e->{kind} eq 'audio') {
            # no tail of a frame or two after the last full segment
            my @extinf = slurp($playlist) =~ /#EXTINF:([\d.]+)/g;
            ok(@extinf == 1 || $extinf[-1] >= 1,
               "$name $r->{name}: no short tail segment (@extinf)");
        }

        if ($e->{kind} eq 'video') {
            ok($r->{width} % 2 == 0 && $r->{height} % 2 == 0,
               "$name $r->{name}: even dimensions $r->{width}x$r->{height}");
            like($r->{codecs}, $e->{noaudio} ? qr/^avc1\.[0-9a-f]{6}$/
                                             : qr/^avc1\.[0-9a-f]{6},mp4a\.40\.2$/,
                 "$name $r->{name}: codecs $r->{codecs}");
        } else {
            is($r->{codecs}, 'mp4a.40.2', "$name $r->{name}: AAC");

            # EBU R128, measured on what was published
            my $out = `ffmpeg -nostdin -hide_banner -i '$playlist' -af ebur128 -f null - 2>&1`;
            my ($lufs) = $out =~ /Integrated loudness:\s+I:\s+(-?[\d.]+) LUFS/;
            ok(defined $lufs && abs($lufs + 14) <= 1,
               "$name $r->{name}: loudness " . ($lufs // '?') . " LUFS, within "
               . "1 LU of -14");
            like(`ffprobe -v error -show_entries stream=sample_rate -of csv=p=0 '$playlist'`,
                 qr/^44100$/m, "$name $r->{name}: 44.1 kHz (the default)");
        }
    }

    if ($e->{kind} eq 'audio') {
        my $w = eval { decode_json(slurp("$dir/storage/hls/$m->{id}/waveform.json")) };
        ok($w && $w->{version} == 2 && $w->{bits} == 8 && $w->{length} > 100
           && @{ $w->{data} } == 2 * $w->{length},
           "$name: waveform.json in audiowaveform v2 form");
        my $wsecs = $w ? $w->{length} * $w->{samples_per_pixel} / $w->{sample_rate} : -1;
        ok(abs($wsecs - $src) < 0.1,
           sprintf("$name: the waveform as long as the sound (%.3f s of %.3f s)",
                   $wsecs, $src));
        my $mode = $t->psql('media', "SELECT loudnorm_mode || ' ' || loudness_lufs"
                            . " FROM media WHERE id = '$m->{id}'");
        like($mode, $e->{dynamic} ? qr/^dynamic / : qr/^linear /,
             "$name: mode and loudness recorded: $mode");

        # libebur128 at the source's rate reads what FFmpeg's ebur128
        # filter reads at 48 kHz
        my $ff = `ffmpeg -nostdin -hide_banner -i '$dir/media/$name' -af ebur128 -f null - 2>&1`;
        my ($src) = $ff =~ /Integrated loudness:\s+I:\s+(-?[\d.]+) LUFS/;
        my ($rec) = ($mode // '') =~ / (-?[\d.]+)$/;
        ok(defined $src && defined $rec && abs($src - $rec) <= 0.2,
           "$name: the loudness recorded, " . ($rec // '?') . ' LUFS, is '
           . "FFmpeg's ebur128 reading within 0.2 LU: " . ($src // '?'));
    }

    if ($e->{portrait}) {
        my $r = $m->{renditions}[0];
        ok($r->{height} > $r->{width}, "$name: rotation applied ($r->{width}x$r->{height})");
    }

    if ($e->{kind} eq 'video') {
        my @poster = glob("$dir/storage/hls/$m->{id}/poster.*");
        ok(@poster == 1 && -s $poster[0] > 100, "$name: poster");
    }

    # an audio file's cover in its two sizes (t/pictures.t decodes them)
    if ($e->{poster}) {
        ok(-s "$dir/storage/hls/$m->{id}/cover-512.jpg"
           && -s "$dir/storage/hls/$m->{id}/cover-128.jpg", "$name: cover art");
    }
}

diag("wire bitrates:\n" . join("\n", @wire));

# A/V sync kept: the source's tone starts with its first frame, so the
# sound starts where that frame was (before it was shown from its DTS:
# the next frame's time less a frame), in every rung
for my $rung (qw(720p 480p 360p)) {
    my $s = starts(playlist($media{'landscape.mp4'}, $rung));
    my $frame0 = $s->{second} - $s->{step};
    my $onset = onset($s->{segment}, $s->{audio});
    ok(defined $onset && abs($onset - $frame0) <= 0.002 * 90000,
       sprintf("landscape.mp4 $rung: the sound starts with the first frame"
               . " (%.4f s, the frame %.4f s)", ($onset // 0) / 90000,
               $frame0 / 90000));
}

# keyframes on the same 2 s grid in every rung, so players can switch
my $l = $media{'landscape.mp4'};
my @grids = map { keyframes(playlist($l, $_)) } qw(720p 360p);
is_deeply($grids[0], $grids[1], "keyframes line up across rungs: @{ $grids[0] }");
is_deeply($grids[0], ['0.0', '2.0', '4.0', '6.0'], 'on a 2 s grid');

is(scalar(() = glob("$dir/storage/hls/.[0-9a-f]*")), 0,
   'no temporary directories left');

# --- by hand (media-transcoder transcode SOURCE DIR), as bench/transcode
# runs it: no queue, no database, the worker's own defaults --------------

$t->make_media('clip.mp4', "-f lavfi -i testsrc2=size=640x360:rate=30:duration=2"
               . " -f lavfi -i sine=duration=2 $av -c:a aac -shortest");
my $hand = "$dir/by-hand";
my $bin = $t->build_path('media-transcoder');
my $said = `'$bin' transcode '$dir/media/clip.mp4' '$hand' 2>'$dir/by-hand.err'`;
chomp(my $made = $said);
is($?, 0, 'by hand: media-transcoder transcode exits 0')
    or diag(slurp("$dir/by-hand.err"));
like($said, qr/^360p 640x360 peak \d+ average \d+ avc1\.[0-9a-f]{6},mp4a\.40\.2$/m,
     "by hand: it says what it made: $made");
my $hd = probe_duration("$hand/360p/index.m3u8");
ok(defined $hd && abs($hd - 2) <= 0.5,
   sprintf('by hand: the rung reads back to its end (%.2fs of 2s)', $hd // -1));
my ($hw) = wire_rate("$hand/360p/index.m3u8");
ok(defined $hw && $hw <= 1.1 * vbv_bound('360p', 2, 1),
   sprintf('by hand: on the wire %.0f kb/s', ($hw // 0) / 1000));

# --- a consumer killed, its supervisor alive: the job is handed on at once ---

$t->make_media('long.mp4', "-f lavfi -i testsrc2=size=1920x1080:rate=30:duration=20"
               . " -f lavfi -i sine=duration=20 $av -c:a aac -shortest");
my $src = probe_duration("$dir/media/long.mp4");

my $crash = upload("$dir/media/long.mp4", 'video/mp4')->{json}{media}{id};
ok(wait_until(sub { (get("/api/v1/media/$crash")->{json}{media}{progress} // 0) > 0 },
              timeout => 60), 'transcode under way');

my ($worker, $attempts) = split ' ', job_row($crash, "worker || ' ' || attempts");
my ($consumer) = ($worker // '') =~ /-(\d+)$/;
ok($consumer && $consumer != $t->pid('transcoder'),
   "the job runs in a consumer ($worker), not in the supervisor");

# media_transcode_memory (4g by default) bounds what the consumer allocates
SKIP: {
    skip 'no RLIMIT_DATA under AddressSanitizer', 1 if $t->{asan};
    like(slurp("/proc/$consumer/limits"), qr/^Max data size\s+4294967296\s+4294967296\s+bytes/m,
         'the consumer runs under RLIMIT_DATA 4g');
}

kill 'KILL', $consumer;
my $row = '';
ok(wait_until(sub {
    $row = job_row($crash, "status || ' ' || coalesce(worker, '-')") // '';
    $row =~ /^running (\S+)$/ && $1 ne $worker;
}, timeout => 5, interval => 0.1), "within 5 s it runs again, on another consumer: $row");
is(job_row($crash, 'attempts'), $attempts + 1, 'attempts up by exactly one');
like(slurp("$dir/transcoder.log"), qr/consumer $consumer was killed by signal 9; handing on its job/,
     'the supervisor says what happened');

my $m = wait_final($crash, 180);
is($m->{status}, 'ready', 'and it finished');
is(job_row($crash, 'attempts'), $attempts + 1, 'still counted once for the crash');
is_deeply([ map { $_->{name} } @{ $m->{renditions} } ], [qw(1080p 720p 480p 360p)],
          'every rung');
for my $r (@{ $m->{renditions} }) {
    my $d = probe_duration(playlist($crash, $r->{name}));
    ok(defined $d && abs($d - $src) <= 0.5,
       sprintf("$r->{name}: complete (%.2fs of %.2fs)", $d // -1, $src));
}
is(scalar(() = glob("$dir/storage/hls/.$crash.*")), 0,
   "the killed consumer's half-made output is gone");
is_deeply([ map { m{/(g\d+)$} } glob("$dir/storage/hls/$crash/g*") ], ['g2'],
          "only the second attempt's generation is left");

# --- the whole host lost: supervisor and consumer at once; the lease --------

my $long = upload("$dir/media/long.mp4", 'video/mp4')->{json}{media}{id};
ok(wait_until(sub { (get("/api/v1/media/$long")->{json}{media}{progress} // 0) > 0 },
              timeout => 60), 'long transcode under way');
($worker) = split ' ', job_row($long, 'worker');
($consumer) = $worker =~ /-(\d+)$/;

# stopped first, so that it cannot act on its supervisor's death
kill 'STOP', $consumer;
kill 'KILL', $t->pid('transcoder');
$t->stop_proc('transcoder');
kill 'KILL', $consumer;
$t->start_worker('transcoder');

$m = wait_final($long, 180);
is($m->{status}, 'ready', 'after the lease lapsed the job was reclaimed and finished');
my $job = get("/api/v1/jobs/$m->{job_id}")->{json}{job};
is($job->{attempts}, 2, 'attempts: 2');
is($t->psql('media', "SELECT count(*) FROM renditions WHERE media_id = '$long'") + 0,
   4, 'exactly one set of renditions');
is(scalar(() = glob("$dir/storage/hls/.$long.*")), 0,
   "the killed worker's half-made output is gone");
is_deeply([ map { m{/(g\d+)$} } glob("$dir/storage/hls/$long/g*") ], ['g2'],
          "the killed worker's generation went once the next was complete");
like(slurp("$dir/transcoder.log"), qr/$long\/g1, superseded by g2/, 'and it says so');

# --- Redis restarted empty while jobs wait ------------------------------------

$t->stop_proc('transcoder');
my @waiting = map { upload("$dir/media/tone.wav", 'audio/wav')->{json}{media}{id} } 1 .. 2;
$t->stop_redis;
$t->start_redis;
is($t->redis('XLEN', 'media:transcode'), '0', 'redis came back empty');
$t->start_worker('transcoder');
for my $id (@waiting) {
    is(wait_final($id)->{status}, 'ready', 'a job lost with Redis still finished');
}
like(slurp("$dir/transcoder.log"), qr/reconcile: \d+ queued transcode job/,
     'the reconciler put them back');

# --- the limits' syntax: nginx -t and the workers agree -----------------------

for my $c (['media_max_pixels 3840x2160', 1], ['media_max_pixels 8294400', 1],
           ['media_max_duration 90m', 1], ['media_transcode_memory 2g', 1],
           ['media_transcode_memory off', 1], ['media_max_pixels 0x100', 0],
           ['media_max_pixels big', 0], ['media_max_duration 0', 0],
           ['media_transcode_memory lots', 0])
{
    my ($line, $ok) = @$c;
    my $file = "$dir/limit.conf";
    my $conf = slurp($t->conf_file);
    $conf =~ s/^(\s*media_max_duration 30s;)/$1\n    $line;/m or die;
    spew($file, $conf);
    unlink "$dir/nginx-t.err";
    my ($nginx_ok, $out) = $t->nginx_test($file);
    if ($ok) {
        ok($nginx_ok, "nginx -t takes '$line'") or diag($out);
    } else {
        ok(!$nginx_ok && slurp("$dir/nginx-t.err") =~ /invalid \Q${\ (split ' ', $line)[0]}\E/,
           "nginx -t refuses '$line', naming it");
    }
}

$t->finish;
done_testing;


sub upload {
    my ($file, $type) = @_;
    return $t->http(POST => '/api/v1/media', body => slurp($file),
                    headers => { 'Content-Type' => $type,
                                 Authorization => "Bearer $user->{access_token}" });
}

sub get {
    my ($path) = @_;
    return $t->http(GET => $path,
                    headers => { Authorization => "Bearer $user->{access_token}" });
}

sub wait_final {
    my ($id, $timeout) = @_;
    my $m;
    wait_until(sub {
        $m = get("/api/v1/media/$id")->{json}{media};
        $m && $m->{status} =~ /^(ready|failed)$/;
    }, timeout => $timeout || 120, interval => 0.5);
    return $m;
}

sub job_row {
    my ($media, $what) = @_;
    my $v = $t->psql('media', "SELECT $what FROM jobs WHERE media_id = '$media'");
    chomp $v if defined $v;
    return $v;
}

# a rung's playlist on disk: in the transcode's generation, hls/<id>/g<N>/
sub playlist {
    my ($id, $rung) = @_;
    my ($p) = glob("$dir/storage/hls/$id/g*/$rung/index.m3u8");
    return $p // "$dir/storage/hls/$id/$rung/index.m3u8";
}

sub probe_duration {
    my ($file) = @_;
    my $d = `ffprobe -v error -show_entries format=duration -of csv=p=0 '$file' 2>/dev/null`;
    return $d =~ /^([\d.]+)/ ? $1 : undef;
}

# a rung's bits per second on the wire: its TS segments' bytes over the
# playlist's EXTINF sum
sub wire_rate {
    my ($playlist) = @_;
    my ($bytes, $secs) = (0, 0);
    (my $rdir = $playlist) =~ s{/[^/]+$}{};
    for (split /\n/, slurp($playlist)) {
        if (/^#EXTINF:([\d.]+)/) {
            $secs += $1;
        } elsif (/^([^#\s]\S*\.ts)$/) {
            $bytes += -s "$rdir/$1" // 0;
        }
    }
    return $secs > 0 ? (8 * $bytes / $secs, $secs) : (undef, 0);
}

sub nominal_rate {
    my ($rung, $sound) = @_;
    return $audio_rate{$rung}
           // ($video_rate{$rung} // 4e5) + ($sound ? 128e3 : 0);
}

# what the encoder's VBV allows over a clip of $secs: maxrate for the
# length plus one buffer (bufsize = 2 x maxrate), which a short clip can
# spend at once
sub vbv_bound {
    my ($rung, $secs, $sound) = @_;
    my $v = $video_rate{$rung} // 4e5;
    return $v * ($secs + 2) / $secs + ($sound ? 128e3 : 0);
}

# the times of the video keyframes, from the start of the stream
# the keyframes' times from the first frame's (not from where it is
# shown: its DTS, starts() below)
sub keyframes {
    my ($playlist) = @_;
    my @pkts = `ffprobe -v error -select_streams v -show_entries packet=pts_time,flags -of csv=p=0 '$playlist' 2>/dev/null`;
    my ($first, @k, @pts);
    for (@pkts) {
        my ($pts, $flags) = split /,/;
        next unless defined $flags && $pts =~ /^[\d.]+$/;
        push @pts, [ $pts, $flags ];
    }
    my @sorted = sort { $a <=> $b } map { $_->[0] } @pts;
    $first = @sorted > 2 ? 2 * $sorted[1] - $sorted[2] : $sorted[0];
    push @k, sprintf('%.1f', $_->[0] == $sorted[0] ? 0 : $_->[0] - $first)
        for grep { $_->[1] =~ /K/ } @pts;
    return \@k;
}

# a rung's first segment: its first video PTS and DTS, its first audio
# PTS (90 kHz), the second frame's PTS and the step to the third
sub starts {
    my ($playlist) = @_;
    (my $seg = $playlist) =~ s{index\.m3u8$}{seg_00000.ts};
    my %s = (segment => $seg);
    my @v;
    for (`ffprobe -v error -show_entries packet=codec_type,pts,dts -of csv=p=0 '$seg' 2>/dev/null`) {
        my ($type, $pts, $dts) = split /,/;
        next unless defined $dts && $pts =~ /^\d+$/;
        $dts =~ s/\s+$//;
        if ($type eq 'video') {
            $s{dts} //= $dts;
            push @v, $pts;
        } elsif ($type eq 'audio') {
            $s{audio} //= $pts;
        }
    }
    @v = sort { $a <=> $b } @v;
    @s{qw(video second)} = @v[0, 1];
    $s{step} = $v[2] - $v[1] if @v > 2;
    return \%s;
}

# where a segment's sound starts (90 kHz), its audio decoded from $pts on
sub onset {
    my ($seg, $pts) = @_;
    my $raw = `ffmpeg -nostdin -v error -i '$seg' -map 0:a -ac 1 -ar 48000 -f f32le - 2>/dev/null`;
    my @x = unpack('f<*', $raw);
    for my $i (0 .. $#x) {
        return $pts + $i * 90000 / 48000 if abs($x[$i]) > 0.01;
    }
    return undef;
}

# random bytes over the picture data, the mp4 index (moov, in front) kept
sub scramble_mdat {
    my ($file) = @_;
    my $d = slurp($file);
    my $at = index($d, 'mdat') + 4;
    die "$file: no mdat" if $at < 4;
    srand(1);
    substr($d, $at + 16) = join('', map { chr(int(rand(256))) }
                                    1 .. length($d) - $at - 16);
    spew($file, $d);
}

sub spew {
    my ($file, $text) = @_;
    open(my $fh, '>:raw', $file) or die $!;
    print $fh $text;
    close $fh;
}
