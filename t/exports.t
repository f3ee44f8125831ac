# Exports and enhance through media-exporter, with media made here by
# FFmpeg: every format decodes (ffprobe) to the codec, channels, sample
# rate and duration asked; the loudness preset lands within 1 LU of -14
# LUFS (ebur128), alone and after the other presets; denoise lowers the
# noise floor; the video presets run.  Then the refusals (422 naming each
# field, 404, 409, 402, 429 with Retry-After), the progress the export row
# shows from its job, delete (the file and its bytes go), a job run twice
# (one file), and the storage count following the exports.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP qw(encode_json decode_json);
use POSIX ();
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
    media_export_ttl 2d;
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
$t->start_worker('exporter');

my $user = $t->signup('maker@example.com');
my $other = $t->signup('other@example.com');
my $uid = $user->{user}{id};

my $av = '-c:v libx264 -preset ultrafast -pix_fmt yuv420p';
$t->make_media('tone.wav', '-f lavfi -i sine=frequency=440:sample_rate=44100:duration=3'
                           . ' -ac 2');
$t->make_media('clip.mp4', '-f lavfi -i testsrc2=size=320x240:rate=25:duration=3'
                           . ' -f lavfi -i sine=frequency=300:sample_rate=48000:duration=3'
                           . " -ac 2 $av -c:a aac -shortest");
# about -29 LUFS: the loudness preset has 15 dB to add
$t->make_media('quiet.wav', q{-f lavfi -i "aevalsrc=0.05*sin(440*2*PI*t):s=48000:d=4"});
# a tone in white noise: the noise floor is what is left above 2 kHz
$t->make_media('silent.mp4', '-f lavfi -i testsrc2=size=320x240:rate=25:duration=2'
                             . " $av");
$t->make_media('noisy.wav', '-f lavfi -i sine=frequency=440:sample_rate=48000:duration=4'
               . ' -f lavfi -i anoisesrc=color=white:amplitude=0.02:sample_rate=48000:duration=4'
               . ' -filter_complex "[0][1]amix=inputs=2:normalize=0"');

my %media;
for my $name (qw(tone.wav clip.mp4 quiet.wav noisy.wav silent.mp4)) {
    $media{$name} = upload($user, $name, $name =~ /mp4$/ ? 'video/mp4' : 'audio/wav');
}
for my $name (sort keys %media) {
    is(wait_ready($user, $media{$name}), 'ready', "$name: transcoded");
}

my ($tone, $clip) = @media{qw(tone.wav clip.mp4)};

# --- every format ---------------------------------------------------------

my @formats = (
    [ $tone, { format => 'mp3' }, [ 'mp3', 2, 44100 ] ],
    [ $tone, { format => 'mp3', bitrate => 128000, sample_rate => 22050 },
      [ 'mp3', 2, 22050 ], 128000 ],
    [ $tone, { format => 'wav' }, [ 'pcm_s16le', 2, 44100 ] ],
    [ $tone, { format => 'flac', sample_rate => 48000 }, [ 'flac', 2, 48000 ] ],
    [ $tone, { format => 'ogg' }, [ 'vorbis', 2, 44100 ] ],
    [ $tone, { format => 'ogg', codec => 'opus', bitrate => 96000 },
      [ 'opus', 2, 48000 ], 96000 ],
    [ $tone, { format => 'm4a' }, [ 'aac', 2, 44100 ] ],
    [ $clip, { format => 'mp4' }, [ 'aac', 2, 48000 ], undef, 'h264' ],
    [ $clip, { format => 'webm' }, [ 'opus', 2, 48000 ], undef, 'vp9' ],
    # audio-only exports of a video
    [ $clip, { format => 'mp3' }, [ 'mp3', 2, 48000 ] ],
    [ $clip, { format => 'mp4', audio_only => JSON::PP::true },
      [ 'aac', 2, 48000 ] ],
);

my @ready;
for my $f (@formats) {
    my ($media, $body, $want, $rate, $video) = @$f;
    my $what = encode_json($body);

    my $r = create($user, $media, $body);
    is($r->{status}, 202, "$what: 202") or diag($r->{content});
    my $e = $r->{json}{export};
    is($e->{status}, 'queued', "$what: queued");
    is($r->{json}{job}{id}, $e->{job_id}, "$what: its job");
    is($e->{bitrate}, $rate, "$what: bitrate " . ($rate // 'the default'))
        if defined $rate;

    $e = wait_export($user, $e->{id});
    is($e->{status}, 'ready', "$what: ready") or diag($e->{error});
    is($e->{progress}, 100, "$what: progress 100");

    my $file = "$dir/storage/exports/$e->{id}.$body->{format}";
    ok(-f $file, "$what: exports/<id>.$body->{format}");
    is($e->{size}, -s $file, "$what: size $e->{size} is the file's");

    my $p = probe($file);
    my @audio = grep { $_->{codec_type} eq 'audio' } @{ $p->{streams} };
    my @video = grep { $_->{codec_type} eq 'video' } @{ $p->{streams} };
    is(scalar @audio, 1, "$what: one audio stream");
    is_deeply([ map { $audio[0]{$_} // '' } qw(codec_name channels sample_rate) ],
              $want, "$what: @$want");
    is($e->{sample_rate}, $want->[2], "$what: the row says $want->[2] Hz");

    if ($video) {
        is(scalar @video, 1, "$what: one video stream");
        is($video[0]{codec_name}, $video, "$what: $video");
        is("$video[0]{width}x$video[0]{height}", '320x240', "$what: 320x240, as the source");
    } else {
        is(scalar @video, 0, "$what: no picture");
    }

    my $d = $p->{format}{duration};
    ok(abs($d - 3) <= 0.1, sprintf("$what: %.3f s, within 0.1 s of 3", $d));
    ok(abs($e->{duration_ms} / 1000 - $d) <= 0.1,
       "$what: the row's duration_ms $e->{duration_ms} matches");

    my $left = time() + 2 * 86400;
    ok(abs(iso_epoch($e->{expires_at}) - $left) < 600,
       "$what: expires in media_export_ttl (2d): $e->{expires_at}");

    push @ready, $e;
}

# --- enhance --------------------------------------------------------------

my $r = $t->http(GET => '/api/v1/enhance/presets');
is($r->{status}, 200, 'presets: 200, signed in or not');
is_deeply([ map { "$_->{name}:$_->{applies_to}" } @{ $r->{json}{presets} } ],
          [ qw(rumble:audio denoise:audio voice:audio loudness:audio
               video_denoise:video sharpen:video) ], 'presets: all six, in the order they apply');
is_deeply([ map { $_->{name} } @{ $r->{json}{formats} } ],
          [ qw(mp3 wav flac ogg m4a mp4 webm) ], 'presets: the formats, with their rates');

my $quiet = lufs("$dir/media/quiet.wav");
ok($quiet < -25, sprintf('quiet.wav: %.1f LUFS before', $quiet));

for my $set ([ 'loudness' ], [ qw(voice rumble denoise loudness) ]) {
    my $e = export_ready($user, $media{'quiet.wav'},
                         { format => 'flac', enhance => $set });
    is_deeply($e->{enhance}, [ ordered(@$set) ],
              "enhance @$set: kept in the order they apply");
    my $l = lufs("$dir/storage/exports/$e->{id}.flac");
    ok(abs($l + 14) <= 1, sprintf("enhance @$set: %.1f LUFS, within 1 LU of -14", $l));
}

my $raw = export_ready($user, $media{'noisy.wav'}, { format => 'wav' });
my $clean = export_ready($user, $media{'noisy.wav'},
                         { format => 'wav', enhance => [ 'denoise' ] });
my $before = noise_floor("$dir/storage/exports/$raw->{id}.wav");
my $after = noise_floor("$dir/storage/exports/$clean->{id}.wav");
ok($after < $before - 3,
   sprintf('denoise: the noise floor from %.1f dB to %.1f dB', $before, $after));

my $e;
my $v = export_ready($user, $clip, { format => 'mp4',
                                     enhance => [ qw(sharpen video_denoise) ] });
is($v->{status}, 'ready', 'video presets: sharpen and video_denoise, ready');
is_deeply($v->{enhance}, [ qw(video_denoise sharpen) ], 'video presets: in order');

# --- refusals -------------------------------------------------------------

my @bad = (
    [ {}, 'format', qr/format must be one of mp3, wav, flac, ogg, m4a, mp4 or webm/ ],
    [ { format => 'aiff' }, 'format', qr/one of mp3/ ],
    [ { format => 'mp3', codec => 'opus' }, 'codec', qr/codec must be mp3 for mp3/ ],
    [ { format => 'ogg', codec => 'aac' }, 'codec', qr/codec must be vorbis or opus/ ],
    [ { format => 'wav', bitrate => 128000 }, 'bitrate', qr/does not apply to wav: it is lossless/ ],
    [ { format => 'mp3', bitrate => 100000 }, 'bitrate', qr/one of 32000, .* or 320000/ ],
    [ { format => 'mp3', bitrate => '192k' }, 'bitrate', qr/positive whole number/ ],
    [ { format => 'm4a', sample_rate => 12345 }, 'sample_rate', qr/in Hz, one of 16000, .* or 96000/ ],
    [ { format => 'ogg', codec => 'opus', sample_rate => 44100 }, 'sample_rate', qr/one of 48000/ ],
    [ { format => 'mp3', audio_only => 'yes' }, 'audio_only', qr/true or false/ ],
    [ { format => 'mp3', enhance => 'loudness' }, 'enhance', qr/a list of preset names/ ],
    [ { format => 'mp3', enhance => [ 'reverb' ] }, 'enhance', qr/item 1 is not a preset/ ],
    [ { format => 'mp3', enhance => [ qw(denoise denoise) ] }, 'enhance', qr/names denoise twice/ ],
    [ { format => 'mp3', enhance => [ 'sharpen' ] }, 'enhance', qr/sharpen filters the picture/ ],
    [ { format => 'webm', audio_only => JSON::PP::true, enhance => [ 'video_denoise' ] },
      'enhance', qr/this export has none \(webm, audio_only\)/ ],
);
for my $b (@bad) {
    my ($body, $field, $msg) = @$b;
    my $r = create($user, $clip, $body);
    is($r->{status}, 422, encode_json($body) . ": 422");
    is($r->{json}{error}{field}, $field, encode_json($body) . ": names $field");
    like($r->{json}{error}{message} // '', $msg, encode_json($body) . ": $r->{json}{error}{message}");
}

$r = create($user, $tone, { format => 'mp4' });
is($r->{status}, 422, 'mp4 of an audio media: 422');
is($r->{json}{error}{field}, 'format', 'mp4 of an audio media: names format');
like($r->{json}{error}{message}, qr/mp4 holds a picture, and this media is audio/,
     'mp4 of an audio media: says why');

$r = create($other, $tone, { format => 'mp3' });
is($r->{status}, 404, "someone else's media: 404");
$r = create($user, '00000000-0000-4000-8000-000000000000', { format => 'mp3' });
is($r->{status}, 404, 'no such media: 404');
$r = create($user, 'not-a-uuid', { format => 'mp3' });
is($r->{status}, 404, 'not an id: 404');
is(api(GET => "/api/v1/exports/$ready[0]{id}", $other)->{status}, 404,
   "someone else's export: 404");
is(api(DELETE => "/api/v1/exports/$ready[0]{id}", $other)->{status}, 404,
   "someone else's export: no delete");
is(api(GET => "/api/v1/media/$tone/exports", $other)->{status}, 404,
   "someone else's media: no export list");
is(create(undef, $tone, { format => 'mp3' })->{status}, 401, 'signed out: 401');

$t->psql('media', "UPDATE media SET status = 'processing' WHERE id = '$tone'");
$r = create($user, $tone, { format => 'mp3' });
is($r->{status}, 409, 'a media not ready: 409');
like($r->{json}{error}{message}, qr/the media is processing, not ready/,
     'a media not ready: says so');
$t->psql('media', "UPDATE media SET status = 'ready' WHERE id = '$tone'");

# the plan's exports a month: Starter has 50
my $used = sub {
    q1("SELECT used FROM usage_counters WHERE user_id = '$uid'"
       . " AND quantity = 'exports' AND period = media_period_start()");
};
my $made = $used->();
is($made, scalar(@formats) + 5, "usage: $made exports counted this month");
$t->psql('media', "UPDATE usage_counters SET used = 50 WHERE user_id = '$uid'"
         . " AND quantity = 'exports'");
$r = create($user, $tone, { format => 'mp3' });
is($r->{status}, 402, 'the 51st export on Starter: 402');
is($r->{json}{error}{code}, 'quota_exceeded', '402: quota_exceeded');
is($r->{json}{error}{limit}, 'exports', '402: the exports limit');
is($r->{json}{error}{allowed}, 50, '402: 50 allowed');
is($r->{json}{error}{lifted_by}, 'creator', '402: the Creator plan lifts it');
like($r->{json}{error}{message}, qr/50 of the 50 exports a month the starter plan allows/,
     '402: says what to do');
is($used->(), 50, '402: the refused export is not counted');

# two at once for the last export: one passes, under the lock on the user
$t->psql('media', "UPDATE usage_counters SET used = 49 WHERE user_id = '$uid'"
         . " AND quantity = 'exports'");
$t->redis('DEL', "media:export:rate:$uid");
my @pids;
for my $i (1 .. 4) {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        my $r = api(POST => "/api/v1/media/$tone/exports", $user,
                    encode_json({ format => 'wav' }));
        open(my $fh, '>', "$dir/race.$i") or die $!;
        print $fh $r->{status};
        close $fh;
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
waitpid($_, 0) for @pids;
is_deeply([ sort map { slurp("$dir/race.$_") } 1 .. 4 ], [ 202, 402, 402, 402 ],
          'four at once for the last export: one 202, three 402');
is($used->(), 50, 'and 50 counted');
$t->psql('media', "UPDATE usage_counters SET used = $made + 1 WHERE user_id = '$uid'"
         . " AND quantity = 'exports'");

# 10 a minute per user
$t->redis('DEL', "media:export:rate:$other->{user}{id}");
my @codes = map { create($other, '00000000-0000-4000-8000-000000000000',
                         { format => 'mp3' })->{status} } 1 .. 10;
is_deeply(\@codes, [ (404) x 10 ], 'rate: 10 starts in a minute are let through');
$r = create($other, '00000000-0000-4000-8000-000000000000', { format => 'mp3' });
is($r->{status}, 429, 'rate: the 11th is 429');
is($r->{json}{error}{code}, 'rate_limited', '429: rate_limited');
ok($r->{headers}{'retry-after'} >= 1 && $r->{headers}{'retry-after'} <= 60,
   "429: Retry-After $r->{headers}{'retry-after'}");
is(create($user, '00000000-0000-4000-8000-000000000000', { format => 'mp3' })->{status},
   404, 'rate: per user, others go on');

# --- a failure, on the row ------------------------------------------------

my $allowance = $used->();
$r = create($user, $media{'silent.mp4'}, { format => 'mp3' });
is($r->{status}, 202, 'mp3 of a silent video: accepted (the row does not know)');
$e = wait_export($user, $r->{json}{export}{id});
is($e->{status}, 'failed', 'mp3 of a silent video: failed');
like($e->{error} // '', qr/^the media holds no sound to export: choose a video format/,
     "with a reason for people: $e->{error}");
is(api(GET => "/api/v1/jobs/$e->{job_id}", $user)->{json}{job}{attempts}, 1,
   'at once: no retry can help');
ok(!glob("$dir/storage/exports/*$e->{id}*"), 'and no file left');
is($used->(), $allowance, 'a failed export gives its place in the month back');
$e = export_ready($user, $media{'silent.mp4'}, { format => 'mp4' });
my @silent = grep { $_->{codec_type} eq 'audio' }
             @{ probe("$dir/storage/exports/$e->{id}.mp4")->{streams} };
is(scalar @silent, 0, 'mp4 of a silent video: the picture alone');

# --- progress, from the job, while the exporter is away --------------------

$t->stop_proc('exporter');
$r = create($user, $tone, { format => 'wav' });
is($r->{status}, 202, 'with no exporter: still accepted');
my $waiting = $r->{json}{export};
$t->psql('media', "UPDATE jobs SET progress = 37 WHERE id = '$waiting->{job_id}'");
$e = api(GET => "/api/v1/exports/$waiting->{id}", $user)->{json}{export};
is("$e->{status} $e->{progress}", 'processing 37', 'the export shows its job\'s progress');
$t->start_worker('exporter');
$e = wait_export($user, $waiting->{id});
is("$e->{status} $e->{progress}", 'ready 100', 'the exporter back: ready');

# --- the list, delete, the storage count ----------------------------------

my $storage = sub {
    q1("SELECT storage_used FROM users WHERE id = '$uid'");
};
my $truth = sub {
    q1("SELECT (SELECT coalesce(sum(source_size), 0) FROM media"
       . " WHERE owner_id = '$uid' AND deleted_at IS NULL)"
       . " + (SELECT coalesce(sum(size), 0) FROM exports"
       . " WHERE user_id = '$uid' AND deleted_at IS NULL)");
};
is($storage->(), $truth->(), 'storage_used counts the uploads and the exports');

my $list = api(GET => "/api/v1/media/$tone/exports", $user)->{json}{items};
my @ids = map { $_->{id} } @$list;
ok((grep { $_ eq $ready[0]{id} } @ids) && @ids >= 7, 'list: the media\'s exports');
ok($list->[0]{created_at} ge $list->[-1]{created_at}, 'list: newest first');

my $gone = $ready[2];      # the wav: the largest
my $was = $storage->();
is(api(DELETE => "/api/v1/exports/$gone->{id}", $user)->{status}, 204, 'delete: 204');
ok(!-e "$dir/storage/exports/$gone->{id}.wav", 'delete: the file is gone');
is($storage->(), $was - $gone->{size}, "delete: storage_used drops by $gone->{size}");
is(api(GET => "/api/v1/exports/$gone->{id}", $user)->{status}, 404, 'delete: then 404');
is(api(DELETE => "/api/v1/exports/$gone->{id}", $user)->{status}, 404, 'delete: once');
ok(!(grep { $_->{id} eq $gone->{id} }
     @{ api(GET => "/api/v1/media/$tone/exports", $user)->{json}{items} }),
   'delete: not listed');

# --- a job run twice: one file --------------------------------------------

my $again = $ready[0];
my $job = $again->{job_id};
$was = $storage->();

# delivered again after it finished: the export is left as it is
my ($made_file) = glob("$dir/storage/exports/$again->{id}.*");
my $mtime = (stat $made_file)[9];
utime($mtime - 100, $mtime - 100, $made_file);
$t->psql('media', "UPDATE jobs SET status = 'queued', run_after = now()"
         . " WHERE id = '$job'");
$t->redis('XADD', 'media:export', '*', 'job', $job);
ok(wait_until(sub {
    (q1("SELECT status || attempts FROM jobs WHERE id = '$job'") // '') eq 'done2'
}, timeout => 60, interval => 0.2), 'delivered again when done: the job ends');
is((stat $made_file)[9], $mtime - 100, '  without writing the file again');
is(api(GET => "/api/v1/exports/$again->{id}", $user)->{json}{export}{status},
   'ready', '  and the export stays ready all along');

# run again after an attempt that died before marking it ready
$t->psql('media', "UPDATE exports SET status = 'processing'"
         . " WHERE id = '$again->{id}'");
$t->psql('media', "UPDATE jobs SET status = 'queued', run_after = now()"
         . " WHERE id = '$job'");
$t->redis('XADD', 'media:export', '*', 'job', $job);
ok(wait_until(sub {
    (q1("SELECT status || attempts FROM jobs WHERE id = '$job'") // '') eq 'done3'
}, timeout => 60, interval => 0.2), 'run twice: the job ran again');
$e = wait_export($user, $again->{id});
is($e->{status}, 'ready', 'run twice: ready');
my @files = glob("$dir/storage/exports/$again->{id}.* $dir/storage/exports/.$again->{id}.*");
is(scalar @files, 1, 'run twice: one file') or diag("@files");
is($e->{size}, -s $files[0], 'run twice: the row has its size');
is($storage->(), $was - $again->{size} + $e->{size}, 'run twice: counted once');

$t->finish;
done_testing;


sub api {
    my ($method, $path, $u, $body) = @_;
    return $t->http($method => $path,
                    headers => { ($u ? (Authorization => "Bearer $u->{access_token}") : ()),
                                 ($body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => $body) : ()));
}

sub create {
    my ($u, $media, $body) = @_;
    # the main user makes more than 10 a minute here: its rate is reset
    $t->redis('DEL', "media:export:rate:$uid") if $u && $u == $user;
    return api(POST => "/api/v1/media/$media/exports", $u, encode_json($body));
}

sub export_ready {
    my ($u, $media, $body) = @_;
    my $r = create($u, $media, $body);
    die "export: $r->{status} $r->{content}" unless $r->{status} == 202;
    my $e = wait_export($u, $r->{json}{export}{id});
    diag("export failed: $e->{error}") unless $e->{status} eq 'ready';
    return $e;
}

sub wait_export {
    my ($u, $id) = @_;
    my $e = {};
    wait_until(sub {
        $e = api(GET => "/api/v1/exports/$id", $u)->{json}{export} // {};
        ($e->{status} // '') =~ /^(ready|failed)$/;
    }, timeout => 90, interval => 0.3);
    return $e;
}

sub upload {
    my ($u, $name, $type) = @_;
    my $r = $t->http(POST => '/api/v1/media', body => slurp("$dir/media/$name"),
                     headers => { 'Content-Type' => $type,
                                  Authorization => "Bearer $u->{access_token}" });
    die "upload: $r->{status}" unless $r->{status} == 202;
    return $r->{json}{media}{id};
}

sub wait_ready {
    my ($u, $id) = @_;
    my $s = '';
    wait_until(sub {
        $s = api(GET => "/api/v1/media/$id", $u)->{json}{media}{status} // '';
        $s =~ /^(ready|failed)$/;
    }, timeout => 120, interval => 0.5);
    return $s;
}

sub probe {
    my ($file) = @_;
    my $out = `ffprobe -v error -show_streams -show_format -of json '$file' 2>&1`;
    my $p = eval { decode_json($out) };
    diag("ffprobe $file: $out") unless $p;
    return $p // { streams => [], format => { duration => -1 } };
}

sub lufs {
    my ($file) = @_;
    my $out = `ffmpeg -nostdin -hide_banner -i '$file' -af ebur128 -f null - 2>&1`;
    my ($l) = $out =~ /Integrated loudness:\s+I:\s+(-?[\d.]+) LUFS/;
    return $l // 0;
}

# RMS above 2 kHz after the first second: the noise, not the tone
sub noise_floor {
    my ($file) = @_;
    my $out = `ffmpeg -nostdin -hide_banner -i '$file' -af 'atrim=start=1,highpass=f=2000,astats=measure_overall=RMS_level:measure_perchannel=none' -f null - 2>&1`;
    my ($db) = $out =~ /RMS level dB:\s+(-?[\d.]+)/;
    return $db // 0;
}

sub ordered {
    my %want = map { $_ => 1 } @_;
    return grep { $want{$_} } qw(rumble denoise voice loudness video_denoise sharpen);
}

# one value from PostgreSQL, as text
sub q1 {
    my $v = $t->psql('media', $_[0]);
    chomp $v if defined $v;
    return $v;
}

sub iso_epoch {
    my ($iso) = @_;
    my $s = `date -u -d '$iso' +%s`;
    chomp $s;
    return $s;
}
