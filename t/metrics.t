# Metrics and the workers' JSON log.  nginx configured from
# nginx.conf.example (its /metrics location), a transcoder started with
# --metrics: /metrics counts requests by route and status with a latency
# histogram, token refusals by check and reason, upload bytes, the
# PostgreSQL and Redis pools, and the jobs' numbers from PostgreSQL;
# `promtool check metrics` passes on it and on the worker's endpoint; a
# real Prometheus scrapes both and its API shows the series; the counters
# outlive a reload; every line the transcoder logs is one JSON object,
# those of a job naming it; refusals: POST /metrics, a path the worker
# does not serve, a bad --metrics, media_metrics with an argument.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP qw(decode_json);
use MediaTest qw(wait_until slurp);

for my $tool (qw(promtool prometheus)) {
    plan skip_all => "$tool not installed (Debian: prometheus)"
        unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}

my $t = MediaTest->new;
my $dir = $t->dir;

$t->start_postgres;
$t->start_redis;
$t->write_example_conf;
$t->migrate;
$t->start_nginx;

my $wport = $t->port('worker_metrics');
$t->spawn('transcoder', $t->sanitizer_env(1),
          $t->build_path('media-transcoder'), '-c', $t->conf_file,
          '--metrics', "127.0.0.1:$wport");

# --- traffic to count ----------------------------------------------------------

my $file = $t->make_media('tone.wav',
    '-f lavfi -i sine=frequency=440:duration=2 -ac 2 -ar 44100');
my $size = -s $file;

my $u = $t->signup('metrics@example.com');
my $auth = { Authorization => "Bearer $u->{access_token}" };

my $r = $t->http(POST => '/api/v1/media', body => slurp($file),
                 headers => { %$auth, 'Content-Type' => 'audio/wav' });
is($r->{status}, 202, 'an upload');
my ($id, $job) = ($r->{json}{media}{id}, $r->{json}{job}{id});

my $s = '';
wait_until(sub {
    $s = $t->http(GET => "/api/v1/media/$id", headers => $auth)->{json}{media}{status} // '';
    $s =~ /^(ready|failed)$/;
}, timeout => 90, interval => 0.3);
is($s, 'ready', 'transcoded');

$r = $t->http(GET => '/api/v1/media', headers => { Authorization => 'Bearer x.y.z' });
is($r->{status}, 401, 'a malformed access token: 401');
$r = $t->http(GET => "/hls/AAAA/$id/master.m3u8");
is($r->{status}, 403, 'a malformed playback token: 403');
$r = $t->http(GET => '/api/v1/nowhere', headers => $auth);
is($r->{status}, 404, 'no such route: 404');

# --- /metrics ------------------------------------------------------------------

my $m;
ok(wait_until(sub {
    $m = $t->http(GET => '/metrics')->{content};
    $m =~ /^media_jobs\{type="transcode",status="done"\} 1$/m;
}, timeout => 15, interval => 1), 'the job done, in media_jobs (cached up to 5 s)')
    or diag($m);

promtool_ok($m, '/metrics');

like($m, qr/^media_http_requests_total\{route="POST \/api\/v1\/media",status="202"\} 1$/m,
     'requests by route and status: the upload');
like($m, qr/^media_http_requests_total\{route="GET \/api\/v1\/media",status="401"\} 1$/m,
     '  a refusal before its route ran, under the route asked for');
like($m, qr/^media_http_requests_total\{route="api",status="404"\} 1$/m,
     '  no route: "api"');
like($m, qr/^media_http_requests_total\{route="hls",status="403"\} 1$/m,
     '  playback: "hls"');
like($m, qr/^media_http_request_duration_seconds_bucket\{route="POST \/api\/v1\/media",le="\+Inf"\} 1$/m,
     'a latency histogram per route');
like($m, qr/^media_http_request_duration_seconds_count\{route="POST \/api\/v1\/media"\} 1$/m,
     '  with its count');
like($m, qr/^media_http_request_duration_seconds_sum\{route="POST \/api\/v1\/media"\} \d+\.\d{3}$/m,
     '  and its sum');
like($m, qr/^media_token_refusals_total\{check="access",reason="bad_header"\} 1$/m,
     'token refusals: the access token');
like($m, qr/^media_token_refusals_total\{check="playback",reason="malformed"\} 1$/m,
     '  the playback token');
like($m, qr/^media_upload_bytes_total $size$/m, "upload bytes: $size");
like($m, qr/^media_pg_connections\{state="idle"\} [1-9]/m, 'PostgreSQL connections');
like($m, qr/^media_pg_connects_total [1-9]/m, '  connects');
like($m, qr/^media_pg_errors_total 0$/m, '  no errors');
like($m, qr/^media_redis_connections [1-9]$/m, 'Redis: connected');
like($m, qr/^media_queue_depth\{type="transcode"\} 0$/m, 'queue depth');
like($m, qr/^media_queue_oldest_seconds\{type="transcode"\} 0$/m, '  oldest queued');
my ($secs) = $m =~ /^media_transcode_seconds_total (\S+)$/m;
ok(defined $secs && $secs > 0, "transcode seconds: $secs");
like($m, qr/^media_jobs_age_seconds [0-5]$/m, 'how old the job numbers are');

$r = $t->http(POST => '/metrics');
is($r->{status}, 405, 'POST /metrics: 405');

# --- the worker's /metrics -----------------------------------------------------

my $w = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$wport/metrics");
is($w->{status}, 200, 'the worker answers /metrics');
like($w->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, '  text format 0.0.4');
promtool_ok($w->{content}, "the worker's /metrics");
like($w->{content},
     qr/^media_worker_jobs_total\{worker="media-transcoder",outcome="done"\} 1$/m,
     '  jobs done: 1');
like($w->{content}, qr/^media_worker_job_seconds_total\{worker="media-transcoder"\} \d+\.\d{3}$/m,
     '  seconds in jobs');
like($w->{content}, qr/^media_worker_consumers\{worker="media-transcoder"\} 1$/m,
     '  one consumer');
is(HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$wport/")->{status}, 404,
   '  another path: 404');

# a client that connects and says nothing does not stop the worker
my $silent = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$wport") or die $!;
$w = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$wport/metrics");
is($w->{status}, 200, '  answers beside a silent client');
close $silent;

# every worker takes --metrics: the sweeper and the exporter too
for my $name (qw(sweeper exporter)) {
    my $port = $t->port("${name}_metrics");
    $t->spawn($name, $t->sanitizer_env(1), $t->build_path("media-$name"),
              '-c', $t->conf_file, '--metrics', "127.0.0.1:$port");
    my $got;
    ok(wait_until(sub {
        $got = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$port/metrics");
        $got->{status} == 200
            && $got->{content} =~ /^media_worker_consumers\{worker="media-$name"\} 1$/m;
    }, timeout => 20, interval => 0.5), "media-$name --metrics: its consumer counted");
    promtool_ok($got->{content}, "media-${name}'s /metrics");
    $t->stop_proc($name);
}

# --- a real Prometheus scrapes both --------------------------------------------

my $pport = $t->port('prometheus');
my $nport = $t->port('http');
open(my $fh, '>', "$dir/prometheus.yml") or die $!;
print $fh <<"EOF";
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: ngx_media
    static_configs:
      - targets: ['127.0.0.1:$nport']
  - job_name: media_workers
    static_configs:
      - targets: ['127.0.0.1:$wport']
EOF
close $fh;

$t->spawn('prometheus', {}, 'prometheus', "--config.file=$dir/prometheus.yml",
          "--storage.tsdb.path=$dir/prometheus", '--web.listen-address',
          "127.0.0.1:$pport", '--log.level=warn');

my $api = sub {
    my $q = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$pport/api/v1/query?query="
                                               . $_[0]);
    return $q->{status} == 200 ? decode_json($q->{content})->{data}{result} : [];
};

my $up;
ok(wait_until(sub {
    $up = $api->('up');
    (grep { $_->{value}[1] eq '1' } @$up) == 2;
}, timeout => 60, interval => 1), 'Prometheus scrapes both targets: up 1')
    or diag(explain($up));

my $res = $api->('media_http_requests_total%7Broute%3D%22POST%20%2Fapi%2Fv1%2Fmedia%22%7D');
is(scalar(@$res) && $res->[0]{value}[1], '1', '  its API has the requests by route');
$res = $api->('media_worker_jobs_total%7Boutcome%3D%22done%22%7D');
is(scalar(@$res) && $res->[0]{value}[1], '1', "  and the worker's jobs done");
$t->stop_proc('prometheus');

# --- counters outlive a reload ---------------------------------------------------

ok($t->reload_nginx_settled, 'reloaded');
$m = $t->http(GET => '/metrics')->{content};
like($m, qr/^media_http_requests_total\{route="POST \/api\/v1\/media",status="202"\} 1$/m,
     '  the counters are kept');

# --- the transcoder's log: JSON lines --------------------------------------------

my @lines = split /\n/, slurp("$dir/transcoder.log");
my @bad = grep { !eval { decode_json($_); 1 } } @lines;
ok(@lines > 5 && !@bad, scalar(@lines) . ' lines, each a JSON object')
    or diag(join("\n", @bad[0 .. ($#bad < 5 ? $#bad : 5)]));
my @log = map { decode_json($_) } grep { my $l = $_; !grep { $_ eq $l } @bad } @lines;
is(scalar(grep { !($_->{time} && $_->{level} && $_->{worker} && $_->{pid}
                   && defined $_->{message}) } @log), 0,
   '  each with time, level, worker, pid, message');
like($log[0]{time}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, '  time in UTC, ms');
my ($done) = grep { ($_->{message} // '') eq "job $job: done" } @log;
ok($done, 'the job\'s "done" line');
is($done->{job}, $job, '  names the job');
is($done->{media}, $id, '  and the media');
is($done->{attempt}, 1, '  the attempt');
ok($done->{duration} > 0, "  and how long it ran: $done->{duration} s");
ok(!grep({ $_->{job} } grep { $_->{message} =~ /^ready:/ } @log),
   '  a line outside a job names none');
like(slurp("$dir/transcoder.log"), qr/"message":"metrics: serving \/metrics on 127\.0\.0\.1:$wport"/,
     '  the listener said where');

# --- refusals ------------------------------------------------------------------------

for my $bad ('localhost:9465', '127.0.0.1', "127.0.0.1:$wport") {
    my $cmd = join ' ', $t->build_path('media-transcoder'), '-c', $t->conf_file,
                        '--metrics', $bad;
    my $out = `timeout 20 $cmd 2>&1`;
    isnt($? >> 8, 0, "--metrics $bad: exits");
    like($out, $bad eq "127.0.0.1:$wport"
               ? qr/metrics: listen on 127\.0\.0\.1:$wport: Address already in use/
               : qr/--metrics \\"\Q$bad\E\\": expected an IPv4 address and a port/,
         '  saying why');
}

my $out = `timeout 5 @{[ $t->build_path('media-transcoder') ]} --metrics 2>&1`;
like($out, qr/usage: media-transcoder \[-c nginx.conf\] \[--metrics 127.0.0.1:PORT\]/,
     '--metrics without an address: usage');

my $conf = slurp($t->conf_file);
(my $badconf = $conf) =~ s/media_metrics;/media_metrics on;/ or die;
open($fh, '>', "$dir/bad.conf") or die $!;
print $fh $badconf;
close $fh;
my ($ok, $msg) = $t->nginx_test("$dir/bad.conf");
ok(!$ok, 'media_metrics with an argument: nginx -t fails');
like(slurp("$dir/nginx-t.err") . $msg, qr/invalid number of arguments in "media_metrics"/,
     '  saying so');

$t->finish;
done_testing;


sub promtool_ok {
    my ($text, $what) = @_;
    open(my $p, '>', "$dir/scrape.txt") or die $!;
    print $p $text;
    close $p;
    my $out = `promtool check metrics < $dir/scrape.txt 2>&1`;
    is($?, 0, "promtool check metrics: $what") or diag($out);
}
