# The web client in a real browser: Debian's chromium, headless, driven by
# playwright-core (t/browser/play.js) against nginx configured from
# nginx.conf.example as it stands, so the page, its Content-Security-Policy
# and the HLS locations are all the shipped ones.  It signs up, uploads with
# a progress bar, follows the transcode in the library, plays the video for
# 5 s with hls.js, switches quality, and plays an audio-only media.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json);
use List::Util ();
use MediaTest;

my $driver = "$FindBin::Bin/browser/play.js";
MediaTest::need_browser();

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
{   # a cookie of 20 s, so the player's renewal shows within the test
    my $conf = MediaTest::slurp($t->conf_file);
    $conf =~ s/^(\s*)(media_cookie_secure auto;)$/$1$2\n$1media_cookie_ttl 20s;/m
        or die 'nginx.conf.example: no media_cookie_secure line';
    open(my $fh, '>', $t->conf_file) or die $!;
    print $fh $conf;
    close $fh;
}
$t->migrate;
$t->start_worker('transcoder');
$t->start_nginx;

# 12 s of 720p with sound (a three-rung ladder), and 8 s of a tone
my $video = $t->make_media('pattern.mp4',
    '-f lavfi -i testsrc2=size=1280x720:rate=30:duration=12'
    . ' -f lavfi -i sine=frequency=440:duration=12 -c:v libx264'
    . ' -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest');
my $audio = $t->make_media('tone.wav', '-f lavfi -i sine=frequency=330:duration=8');

my $email = 'viewer@example.com';
local $ENV{EMAIL} = $email;

my $seen = $t->browser($driver, 300, $t->url('/'), $video, $audio, $dir);
is_deeply($seen->{steps}, [
    'launch', 'sign up', 'session survives a reload', 'log out and back in',
    'upload the video', 'transcode the video', 'play the video',
    'switch quality', 'an expired cookie is renewed',
    'the cookie is renewed before it ends',
    'audio: upload, transcode, play', 'privacy and delete',
], 'every step done') or diag("stopped at: " . ($seen->{error} // ''));

# --- accounts ---------------------------------------------------------------

like($seen->{short_password_error} // '', qr/password.*at least 8/,
     'a short password: the page says what the rule is');
is($seen->{who}, $email, 'signed up: the header shows the account');
is($seen->{reload_who}, $email, 'a reload keeps the session (cookies)');
like($seen->{wrong_password_error} // '', qr/email or the password is wrong/,
     'a wrong password: the page says so');

# --- upload and transcode ---------------------------------------------------

my $up = $seen->{video_upload} // {};
my @between = grep { $_ > 0 && $_ < 100 } @{ $up->{bar} // [] };
cmp_ok(scalar @between, '>=', 5,
       'the upload bar moved through intermediate values')
    or diag(explain($up->{bar}));
ok((grep { $_ == 100 } @{ $up->{bar} // [] }), 'the upload bar reached 100');
like($up->{text} // '', qr/^Uploaded [\d.]+ MB; transcoding\.$/,
     'the page says the upload is done');
is($up->{error}, '', 'no upload error');

my $tc = $seen->{video_transcode} // {};
is($tc->{final}{status}, 'ready', 'the library shows the video ready');
ok((grep { $_ eq 'processing' } @{ $tc->{statuses} // [] }),
   'the library showed it processing on the way') or diag(explain($tc));
my @mid = grep { $_ > 0 && $_ < 100 } @{ $tc->{progress} // [] };
cmp_ok(scalar @mid, '>=', 2,
       'the library showed live transcode progress between 0 and 100')
    or diag(explain($tc->{progress}));
ok(!$tc->{final}{shown}, 'the progress bar goes away when ready');

# --- playing ----------------------------------------------------------------

my $play = $seen->{video_play} // {};
ok($play->{ok}, 'the video played 5 s') or diag(explain($play));
ok(!$play->{last}{paused}, 'and is still playing');

my @heights = map { $_->{height} } @{ $seen->{levels} // [] };
is_deeply(\@heights, [360, 480, 720], 'hls.js sees the free plan\'s rungs');
is_deeply([ map { $_->{text} } @{ $seen->{menu} // [] } ],
          [ 'Auto', map { "${_}p" } @heights ], 'the quality menu lists them');

my $res = $seen->{responses} // [];
# (but for the refusals the test itself made, below: its 403s, as many)
my @hls = grep { $_->{path} =~ m{^/hls/} } @$res;
my @bad = grep { $_->{status} != 200 && $_->{status} != 403 } @hls;
ok(@hls > 5 && !@bad, scalar(@hls) . ' HLS requests, all 200')
    or diag(explain(\@bad));
is(scalar(grep { $_->{status} == 403 } @hls), $seen->{refused} // 0,
   '  but for the 403s the test made');
ok((grep { $_->{path} =~ m{/poster\.jpg$} } @hls), 'the poster was shown');

is(($seen->{first_level} // {})->{height}, 480,
   'the video starts at the 480p rung (its first fragment)')
    or diag(explain($seen->{first_level}));
is($seen->{start_level}, (grep { $heights[$_] == 480 } 0 .. $#heights)[0],
   '  hls.js\'s startLevel: the 480p level');
is_deeply($seen->{start_rules}, [ 2, 0, 0, -1 ],
          '  elsewhere: the nearest rung below, the smallest, the short side, none for audio');
my $to = $seen->{switch_to} // -1;
is($seen->{switched}{level}, $to, 'the quality menu switched hls.js\'s level');
my $rung = defined $heights[$to] ? "$heights[$to]p" : 'none';
ok((grep { $_->{path} =~ m{/\Q$rung\E/seg_\d+\.ts$} } @hls),
   "segments were fetched from the chosen rung ($rung)");
ok($seen->{after_switch}{ok}, 'playing went on 3 s after the switch')
    or diag(explain($seen->{after_switch}));
# an immediate switch flushes what was buffered ahead: a short stall while
# the new rung's fragment comes may be reported, never anything else
is_deeply([ grep { $_->{fatal} || $_->{details} ne 'bufferStalledError' }
            @{ $seen->{switch_errors} // [] } ], [],
          '  the switch caused no error but a stall while refilling')
    or diag(explain($seen->{switch_errors}));
like($seen->{level_label} // '', qr/^playing \Q$rung\E, \d+ kb\/s$/,
     'the page says which quality plays');

my $rn = $seen->{renewal} // {};
like($seen->{cookie_url} // '', qr{^/hls/c/[0-9a-f-]{36}/master\.m3u8$},
     'the player plays in signed-cookie mode (one URL for every viewer)');
cmp_ok($seen->{refused} // 0, '>', 0,
       'segments with the expired cookie were refused (403)');
my @r403 = grep { ($_->{code} // 0) == 403 } @{ $rn->{errors} // [] };
ok(@r403, 'which reached hls.js') or diag(explain($rn->{errors}));
cmp_ok($rn->{signed} // 0, '>=', 2, 'the player asked for a new cookie');
cmp_ok(scalar @r403, '<=', 3,
       '  at the first refusal, not after hls.js\'s retries ran out')
    or diag(explain(\@r403));
is($rn->{url}, $seen->{cookie_url}, '  and went on with the same URL');
ok($rn->{ok}, 'and played on past the refused segment, to 8 s')
    or diag(explain($rn));
is($rn->{shown}, '', 'with no error shown to the viewer');

my $be = $seen->{before_end} // {};
like($seen->{ttl_answer}{expires_at} // '', qr/^\d{4}-\d\d-\d\dT/,
     'the playback answer says when the cookie ends');
cmp_ok($be->{renewals} // 0, '>=', 1,
       'the player renewed the cookie before it ended (media_cookie_ttl 20s)');
cmp_ok($be->{waited_ms} // 0, '>=', 22000, '  and was still open after the first cookie\'s 20 s');
ok($be->{ok}, 'segments it never had then played (a quality switch)')
    or diag(explain($be));
my @hls_after = @{ $be->{responses} // [] };
cmp_ok(scalar(grep { $_->{path} =~ /seg_\d+\.ts$/ } @hls_after), '>', 0,
       '  fetched after the first cookie had ended');
is_deeply([ grep { $_->{status} != 200 && $_->{status} != 206 } @hls_after ], [],
          '  every one 200: never refused, no renewal on a 403')
    or diag(explain(\@hls_after));
ok(!(grep { $_->{fatal} } @{ $be->{errors} // [] }), '  no fatal hls.js error')
    or diag(explain($be->{errors}));

my $a = $seen->{audio_transcode} // {};
is($a->{final}{status}, 'ready', 'the audio is ready');
ok($seen->{audio_play}{ok}, 'the audio-only media played 3 s in hls.js')
    or diag(explain($seen->{audio_play}));
is(scalar(grep { !$_->{height} && ($_->{codecs} // '') =~ /^mp4a/ }
          @{ $seen->{audio_levels} // [] }), 3,
   'as three audio-only levels (AAC)') or diag(explain($seen->{audio_levels}));

# A start from 0 with no hole for hls.js to step over.  It anchors its
# timeline at the first video DTS; the first frame used to be presented
# x264's B-frame delay later (0.067 s) and the audio 0.045 s later (its
# AAC priming earlier than the frame), and hls.js stepped over that gap
# with a non-fatal bufferSeekOverHole on some loads.  Every stream of a
# rung now starts at the first frame's DTS (t/transcode.t measures it).
ok(defined $seen->{buffered_start} && $seen->{buffered_start} < 0.001,
   'what played is buffered from 0 (' . ($seen->{buffered_start} // 'nothing') . ' s)');
is_deeply([ grep { $_->{details} =~ /Hole/ } @{ $seen->{start_errors} // [] } ], [],
          'a start from 0: no bufferSeekOverHole or bufferHole event')
    or diag(explain($seen->{start_errors}));
my @errors = (@{ $seen->{hls_errors_before_renewal} // [] },
              @{ $seen->{hls_errors} // [] });
# but for a stall the page's own clock explains: when the machine is
# starved (other suites on 2 cores) the page itself gets no CPU for a
# while, and hls.js may find its buffer run dry meanwhile, a non-fatal
# bufferStalledError that says nothing of the stream.  A stall is put down
# to that only when play.js's 100 ms timer in the page fired at least
# 250 ms late, ending within the 5 s before the event (or just after it:
# hls.js's own check ran late too); any other error, or a stall of a page
# that was not starved, fails.
my @starved = @{ $seen->{starved} // [] };
my @excused = grep {
    my $e = $_;
    !$e->{fatal} && $e->{details} eq 'bufferStalledError'
    && defined $e->{t}
    && grep { $_->{t} >= $e->{t} - 5000 && $_->{t} <= $e->{t} + 1000 } @starved
} @errors;
my %excused = map { $_ => 1 } @excused;
is_deeply([ grep { !$excused{$_} } @errors ], [], 'no hls.js error events')
    or diag(explain(\@errors, \@starved));
note(sprintf('the page\'s clock: %d ticks 250 ms late or more, the latest %d ms',
             scalar @starved, List::Util::max(0, map { $_->{late_ms} } @starved)));
note('a stall while the page was starved (the page\'s clock): '
     . explain(\@excused, \@starved)) if @excused;
ok(!(grep { $_->{fatal} } @{ $seen->{hls_errors_before_renewal} // [] },
                          @{ $seen->{hls_errors} // [] }),
   'none fatal (but the refused token\'s, above)');

# --- privacy and delete ----------------------------------------------------

is($seen->{patch_status}, 200, 'the privacy menu saves (PATCH 200)');
is($seen->{privacy_after_reload}, 'public', 'and the choice is there after a reload');
like($seen->{confirm} // '', qr/^Delete "Test pattern"\? This cannot be undone\.$/,
     'delete asks first, naming the media');
is($seen->{delete_status}, 204, 'then deletes (204)');
is_deeply($seen->{titles_after_delete}, ['Sine tone'], 'the item leaves the library at once');
is_deeply($seen->{titles_after_reload}, ['Sine tone'], 'and stays gone after a reload');

# --- the page itself --------------------------------------------------------

is_deeply($seen->{offsite}, [], 'nothing was loaded from another origin');
my @console = grep { !/^error: Failed to load resource: the server responded with a status of (401|403|422)\b/ }
              @{ $seen->{console} // [] };
is_deeply(\@console, [],
          'console: no script error or CSP violation (only the 401/403/422 answers the test asked for)');

$t->finish;
done_testing;
