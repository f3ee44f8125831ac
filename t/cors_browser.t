# Playing from another origin in a real browser (Debian's chromium,
# headless, through playwright-core; t/browser/cors.js): nginx configured
# from nginx.conf.example with "media_cors *;" in its server, and a second
# server on another port, another origin, serving a page with hls.js and
# shaka-player from its own origin.  Both players play the stream of the
# server under test; without media_cors the same page cannot.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Copy qw(copy);
use File::Path qw(make_path);
use JSON::PP qw(decode_json encode_json);
use MediaTest qw(wait_until slurp);

my $driver = "$FindBin::Bin/browser/cors.js";
my $hlsjs = "$FindBin::Bin/../www/node_modules/hls.js/dist/hls.min.js";
my $shaka = "$FindBin::Bin/browser/node_modules/shaka-player/dist/"
            . 'shaka-player.compiled.js';
MediaTest::need_browser($shaka => 'shaka-player is missing (make tools installs it)',
                        $hlsjs => 'hls.js is missing (make installs it)');

my $t = MediaTest->new;
my $dir = $t->dir;

# the other site: a page and its players, from its own origin
make_path("$dir/foreign");
copy($hlsjs, "$dir/foreign/hls.min.js") or die "copy: $!";
copy($shaka, "$dir/foreign/shaka-player.compiled.js") or die "copy: $!";
open(my $fh, '>', "$dir/foreign/index.html") or die $!;
print $fh <<'HTML';
<!doctype html>
<meta charset="utf-8">
<title>Another site</title>
<link rel="icon" href="data:,">
<video id="player" muted playsinline width="320"></video>
<script src="hls.min.js"></script>
<script src="shaka-player.compiled.js"></script>
<script>
const q = new URLSearchParams(location.search);
const v = document.getElementById('player');
window.playerEvents = [];
function fail(e) { window.playerError = String(e); }
if (q.get('player') === 'hlsjs') {
  const h = new Hls();
  h.on(Hls.Events.ERROR, (ev, d) => {
    window.playerEvents.push(d.details + (d.fatal ? ' (fatal)' : ''));
    if (d.fatal) fail(d.details);
  });
  h.on(Hls.Events.MANIFEST_PARSED, () => v.play().catch(fail));
  h.loadSource(q.get('src'));
  h.attachMedia(v);
} else {
  shaka.polyfill.installAll();
  const p = new shaka.Player();
  p.addEventListener('error', (e) => fail('shaka ' + e.detail.code));
  p.attach(v).then(() => p.load(q.get('src'))).then(() => v.play())
   .catch((e) => fail('shaka ' + (e.code || e)));
}
</script>
HTML
close $fh;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
my $example = slurp($t->conf_file);
conf("        media_cors *;\n");
$t->migrate;
$t->start_worker('transcoder');
$t->start_nginx;

my $file = $t->make_media('clip.mp4',
    '-f lavfi -i testsrc2=size=640x360:rate=25:duration=6'
    . ' -f lavfi -i sine=frequency=300:duration=6 -c:v libx264'
    . ' -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest');

my $u = $t->signup('cors@example.com');
my $r = $t->http(POST => '/api/v1/media', body => slurp($file),
                 headers => { 'Content-Type' => 'video/mp4',
                              Authorization => "Bearer $u->{access_token}" });
is($r->{status}, 202, 'uploaded');
my $id = $r->{json}{media}{id};
my $s = '';
wait_until(sub {
    $s = api(GET => "/api/v1/media/$id")->{json}{media}{status} // '';
    $s =~ /^(ready|failed)$/;
}, timeout => 120, interval => 0.5);
is($s, 'ready', 'transcoded');

my $page = 'http://127.0.0.1:' . $t->port('foreign') . '/';
my $seen = browse();

is_deeply($seen->{steps}, [ 'launch', 'hlsjs', 'shaka' ], 'every step done')
    or diag('stopped at: ' . ($seen->{error} // '') . "\n"
            . slurp("$dir/browser.err"));
for my $p (qw(hlsjs shaka)) {
    my $x = $seen->{players}{$p} // {};
    isnt($x->{origin}, 'http://127.0.0.1:' . $t->port('http'),
         "$p: the page is another origin ($x->{origin})");
    ok(($x->{time} // 0) > 1.5, "$p plays the stream from it: at "
       . ($x->{time} // '-') . ' s') or diag(explain($x));
    is($x->{error}, undef, "$p: no error");
}
is_deeply($seen->{failed}, [], 'no request failed') or diag(explain($seen->{failed}));
is_deeply($seen->{console}, [], 'no errors in the console')
    or diag(explain($seen->{console}));

# the same page without media_cors: the browser refuses the stream
conf('');
$t->reload_nginx;
ok(wait_until(sub {
    !$t->http(GET => '/api/v1/healthz', headers => { Origin => $page })
        ->{headers}{'access-control-allow-origin'}
}, timeout => 10), 'media_cors removed: reloaded');
$seen = browse();
like($seen->{players}{hlsjs}{error} // '', qr/manifestLoadError|networkError/i,
     'without it, hls.js cannot load the master: '
     . ($seen->{players}{hlsjs}{error} // 'no error'));
ok(($seen->{players}{shaka}{time} // 0) < 0.5 && $seen->{players}{shaka}{error},
   'nor shaka-player: ' . ($seen->{players}{shaka}{error} // 'no error'));

$t->finish;
done_testing;


# the example with $cors in its server, and the other site's server
sub conf {
    my ($cors) = @_;
    my $c = $example;
    $c =~ s{^(        server_name localhost;\n)}{$1$cors}m
        or die 'no server_name line in the example';
    my $other = "    server {\n        listen 127.0.0.1:" . $t->port('foreign')
                . ";\n        root $dir/foreign;\n    }\n}\n";
    $c =~ s{\}\s*\z}{$other} or die 'no closing brace in the example';
    open(my $fh, '>', $t->conf_file) or die $!;
    print $fh $c;
    close $fh;
}

# a playback URL for each player, then the driver
sub browse {
    my @src = map {
        $t->url(api(POST => "/api/v1/media/$id/playback")->{json}{url})
    } 1 .. 2;
    local $ENV{HOME} = $dir;
    my $out = `timeout 100 node '$driver' '$page' '$src[0]' '$src[1]' 2>>'$dir/browser.err'`;
    return eval { decode_json($out) } // { error => "no JSON: $out" };
}

sub api {
    my ($method, $path, $body) = @_;
    return $t->http($method => $path,
                    headers => { Authorization => "Bearer $u->{access_token}",
                                 (defined $body ? ('Content-Type' => 'application/json') : ()) },
                    (defined $body ? (body => encode_json($body)) : ()));
}
