# Growing past one machine, all of it at once: two nginx nodes loading the
# module behind a third nginx as load balancer, three transcoders, one
# PostgreSQL, Redis through Sentinel (a primary, a replica, three
# sentinels) and the renditions in object storage (s3rver, as in t/s3.t).
# The nodes and the workers share the settings (the same media_url_key and
# media_jwt_key, the same bucket and spool); the test talks to the
# balancer only.
#
# A stream is playing (master, variant and a first segment fetched through
# the balancer) and ten uploads are in when node1 and the transcoder
# holding a job are lost as machines are (every process of theirs stopped,
# then killed: nobody hands the job on or releases it).  Then: the stream
# goes on through node2 (master, variant, the other segments, 200 each),
# ten more uploads go in through the balancer, and every upload ends ready,
# each with one transcode job done once and one set of renditions; the
# lost job is taken by another transcoder once its lease lapses (XAUTOCLAIM
# of the same stream entry) and done in its second attempt; nothing is
# left pending in the consumer group.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time);
use MediaTest qw(wait_until slurp log_messages);

my $s3rver = "$FindBin::Bin/s3/node_modules/\@20minutes/s3rver";
plan(skip_all => "s3rver is not installed (make tools)") unless -d $s3rver;

my $t = MediaTest->new;
my $dir = $t->dir;
my $began = time();
my $bucket = 'media';
my $prefix = 'site1';
my $s3port = $t->port('s3');

# --- the shared engines --------------------------------------------------------

$t->start_postgres;
$t->start_redis(heartbeat => 0);
$t->start_redis_replica('redis-replica');
$t->start_sentinels(3);
$t->use_sentinels;

$t->spawn('s3rver', {}, 'node', "$FindBin::Bin/s3/s3rver.js", "$dir/s3data",
          $s3port, $bucket);
wait_until(sub { slurp("$dir/s3rver.log") =~ /listening/ }, timeout => 30)
    or die 's3rver did not start: ' . slurp("$dir/s3rver.log");

open(my $fh, '>', "$dir/s3.credentials") or die $!;
print $fh "[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n";
close $fh;

# the spool: one directory for both nodes and the transcoders, as a shared
# mount would be (an upload is written there by the node that took it and
# read by whichever transcoder takes its job)
$t->{media_storage} = "s3://$bucket/$prefix spool=$dir/storage";

# --- two nodes, one balancer ----------------------------------------------------

my $node_conf = <<'EOF';
%%MAIN%%
worker_processes 2;
events {}
http {
    %%HTTP%%
    media_s3_endpoint http://127.0.0.1:%%PORT_s3%%;
    media_s3_region us-east-1;
    media_s3_credentials %%DIR%%/s3.credentials;
    media_jwt_key %%DIR%%/jwt.key;
    media_url_key %%DIR%%/url.key;
    media_cookie_secure off;
    media_redis_timeout 1s;
    media_transcode_jobs 1;
    media_job_lease 3s;
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
            proxy_pass http://127.0.0.1:%%PORT_s3%%/media/site1/hls/;
            proxy_method GET;
            proxy_set_header Authorization "";
            proxy_set_header Cookie "";
            proxy_buffer_size 8k;
            proxy_hide_header Cache-Control;
            add_header Cache-Control $media_cache_control;
        }
    }
}
EOF

$t->jwt_key;
$t->key('url');
$t->write_node_conf($_, $node_conf) for qw(node1 node2);
$t->write_lb_conf(qw(node1 node2));
is($t->{front}, $t->port('lb'), 'the tests talk to the balancer');

for my $node (qw(node1 node2)) {
    my ($ok, $out) = $t->nginx_test($t->node_conf_file($node));
    ok($ok, "nginx -t takes $node.conf") or diag($out);
}

$t->migrate(conf => $t->node_conf_file('node1'));

$t->start_nginx_node($_) for qw(node1 node2 lb);

# two transcoders read node1's file, one node2's: the same settings
my %transcoders = ('transcoder-1' => 'node1', 'transcoder-2' => 'node1',
                   'transcoder-3' => 'node2');
$t->start_worker('transcoder', as => $_,
                 conf => $t->node_conf_file($transcoders{$_}))
    for sort keys %transcoders;

ok(wait_until(sub {
    my $h = $t->http(GET => '/api/v1/healthz')->{json} // {};
    ($h->{redis} // '') eq 'ok' && ($h->{postgres} // '') eq 'ok'
}, timeout => 30, interval => 0.3), 'healthz through the balancer: ok');
ok(wait_until(sub {
    (grep { log_messages(slurp("$dir/$_.log"))
                =~ /ready: postgres and redis connected/ } keys %transcoders)
        == 3
}, timeout => 30, interval => 0.3), 'the three transcoders found Redis through the sentinels');

my $ann = $t->signup('ann@example.com');
# twenty media and more: a plan that holds them
$t->psql('media', "UPDATE users SET creator_plan = 'professional'");

my $av = '-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest';
$t->make_media('play.mp4', '-f lavfi -i testsrc2=size=320x240:rate=25:duration=14'
               . " -f lavfi -i sine=duration=14 $av");
$t->make_media('long.mp4', '-f lavfi -i testsrc2=size=640x360:rate=25:duration=30'
               . " -f lavfi -i sine=duration=30 $av");
$t->make_media('short.mp4', '-f lavfi -i testsrc2=size=320x240:rate=25:duration=2'
               . " -f lavfi -i sine=duration=2 $av");

# --- a stream playing ------------------------------------------------------------

my @media = (upload('play.mp4'));
is(wait_ready($media[0], 60), 'ready', 'the first upload is ready');

my $r = api(POST => "/api/v1/media/$media[0]/playback");
is($r->{status}, 200, 'a playback URL through the balancer');
my $url = $r->{json}{url} // '/none';
(my $base = $url) =~ s/master\.m3u8$//;

$r = $t->http(GET => $url);
is($r->{status}, 200, 'master: 200');
my ($variant) = $r->{content} =~ /^(\S+)\/index\.m3u8$/m;
ok($variant, "  names a rung ($variant)");
$r = $t->http(GET => "$base$variant/index.m3u8");
is($r->{status}, 200, 'variant playlist: 200');
my @segs = $r->{content} =~ /^(seg_\d+\.ts)$/mg;
ok(@segs >= 3, '  ' . scalar(@segs) . ' segments');
my %seg_bytes;
$r = $t->http(GET => "$base$variant/$segs[0]");
is($r->{status}, 200, 'the first segment: 200');
$seg_bytes{ $segs[0] } = length $r->{content};

# --- ten uploads in, then node1 and a transcoder holding a job are lost --------

push @media, upload('long.mp4');
push @media, upload('short.mp4') for 1 .. 8;
is(scalar @media, 10, 'ten uploads through the balancer: 202 each');

my ($lost, $holder, $worker) = ('', '', '');
ok(wait_until(sub {
    my $row = $t->psql('media', "SELECT id || ' ' || worker FROM jobs"
                       . " WHERE type = 'transcode' AND status = 'running'"
                       . "   AND attempts = 1"
                       # the long one if it runs: far from its end
                       . " ORDER BY media_id = '$media[1]' DESC, started_at"
                       . " LIMIT 1") // '';
    chomp $row;
    ($lost, $worker) = split / /, $row;
    return 0 unless $worker && $worker =~ /-(\d+)$/;
    my $pid = $1;
    ($holder) = grep { my $n = $_; grep { $_ == $pid } $t->proc_tree($n) }
                keys %transcoders;
    $holder;
}, timeout => 30, interval => 0.1), "a job runs ($lost, held by $worker: $holder)");

my ($entry1) = log_messages(slurp("$dir/$holder.log"))
               =~ /job \Q$lost\E: attempt 1 of \d+ \(entry (\S+)\)/;
ok($entry1, "  taken from stream entry $entry1");

my $node1_pid = $t->pid('node1');
my @gone = $t->kill_host('node1', $holder);
my $killed_at = time();
ok(!(grep { kill(0, $_) && !MediaTest::_zombie($_) } @gone),
   'node1 (master and workers) and ' . $holder . ' (supervisor and consumer) are gone: '
   . scalar(@gone) . ' processes');
# its listening sockets close as the last of its processes finishes
# exiting, which a loaded kernel may take a moment over
ok(wait_until(sub {
       !IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $t->port('node1'), Timeout => 1)
   }, timeout => 5, interval => 0.1),
   '  node1 refuses connections');

# --- the stream goes on through node2 ----------------------------------------------

my $node2_log = "$dir/node2/access.log";
my $node2_before = -s $node2_log;

$r = $t->http(GET => "$base$variant/index.m3u8");
is($r->{status}, 200, 'after the loss: the variant playlist 200');
for my $seg (@segs[1 .. $#segs]) {
    $r = $t->http(GET => "$base$variant/$seg");
    is($r->{status}, 200, "  $seg: 200");
    $seg_bytes{$seg} = length $r->{content};
}
$r = $t->http(GET => $url);
is($r->{status}, 200, '  the master again: 200');
$r = $t->http(HEAD => "$base$variant/$segs[-1]");
is($r->{status}, 200, '  HEAD of the last segment: 200');
$r = $t->http(GET => "$base$variant/$segs[0]");
is(length($r->{content}), $seg_bytes{ $segs[0] }, '  the first segment again, the same bytes');

my $served = substr(slurp($node2_log), $node2_before);
my $n2 = () = $served =~ m{GET \Q$base$variant\E/seg_\d+\.ts HTTP/1\.1" 200 }g;
is($n2, scalar(@segs), "  node2 served every segment asked after the loss ($n2)");
like(slurp("$dir/lb-error.log"), qr/connect\(\) failed \(111: Connection refused\) while connecting to upstream.*127\.0\.0\.1:@{[ $t->port('node1') ]}/,
     '  the balancer found node1 refusing and passed the request on');

# --- ten more uploads ----------------------------------------------------------

push @media, upload('short.mp4') for 1 .. 10;
is(scalar @media, 20, 'ten more uploads through the balancer, with node1 gone: 202 each');

# --- every upload ready, each job done once ---------------------------------------

my %status;
for my $id (@media) {
    $status{$id} = wait_ready($id, 90);
}
is((grep { $status{$_} eq 'ready' } @media), 20, 'all 20 uploads are ready')
    or diag(join ' ', map { "$_=$status{$_}" } @media);

my %jobs = map { my ($m, $j, $s, $a) = split / /; ($m => [$j, $s, $a]) }
           split /\n/, $t->psql('media', "SELECT media_id || ' ' || id || ' '"
                                . " || status || ' ' || attempts FROM jobs"
                                . " WHERE type = 'transcode'") // '';
my $rows = $t->psql('media', "SELECT count(*) FROM jobs WHERE type = 'transcode'") // '';
chomp $rows;
is($rows, 20, 'twenty transcode jobs, one a media');

my ($lost_media) = grep { $jobs{$_}[0] eq $lost } keys %jobs;
is((grep { $_ ne ($lost_media // '') && "$jobs{$_}[1] $jobs{$_}[2]" eq 'done 1' } @media),
   19, 'nineteen of them done in their first attempt');
is(join(' ', @{ $jobs{$lost_media // ''} // [] }[1, 2]), 'done 2',
   'the lost job done in its second attempt');

my $logs = join '', map { log_messages(slurp("$dir/$_.log")) } sort keys %transcoders;
my %done;
$done{$1}++ while $logs =~ /job (\S+): done$/mg;
is((grep { ($done{ $jobs{$_}[0] } // 0) == 1 } @media), 20, 'each job done once, by one transcoder');
is(scalar(keys %done), 20, '  and no other job done');

my ($taker) = grep { $_ ne $holder
                     && log_messages(slurp("$dir/$_.log"))
                        =~ /job \Q$lost\E: attempt 2 of \d+ \(entry \Q$entry1\E\)/ }
              keys %transcoders;
ok($taker, "the lost job was taken by $taker, from the same entry $entry1 (XAUTOCLAIM)");
ok(log_messages(slurp("$dir/$holder.log")) !~ /job \Q$lost\E: (done|released)/,
   "  $holder never finished nor released it");

# a job's row is final before its entry is acknowledged: a moment later
my $pending;
wait_until(sub {
    ($pending) = split /\n/, $t->redis('XPENDING', 'media:transcode', 'transcoders');
    $pending eq '0';
}, timeout => 15, interval => 0.2);
is($pending, 0, 'XPENDING media:transcode transcoders: nothing pending')
    or diag($t->redis('XPENDING', 'media:transcode', 'transcoders', '-', '+', 10));

# one set of renditions a media: rows, and one generation in the bucket
my %rend = map { split / / } split /\n/,
    $t->psql('media', "SELECT media_id || ' ' || count(*) FROM renditions GROUP BY media_id") // '';
is((grep { ($rend{$_} // 0) >= 1 } @media), 20, 'every media has its renditions');
(my $p = "$prefix/hls/") =~ s{/}{%2F}g;
my %gens;
my $token;
do {
    my $xml = s3("?list-type=2&prefix=$p" . ($token ? "&continuation-token=$token" : ''));
    $gens{$1}{$2} = 1 while $xml =~ m{<Key>\Q$prefix\E/hls/([^/<]+)/(g\d+)/}g;
    ($token) = $xml =~ m{<NextContinuationToken>([^<]+)<};
} while ($token);
is((grep { keys(%{ $gens{$_} || {} }) == 1 } @media), 20,
   'the bucket holds one generation of each media');

my $secs = time() - $began;
ok($secs < 90, sprintf('the drill took %.0f s', $secs));

$t->finish;
done_testing();


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
    die "upload: $r->{status} $r->{content}" unless $r->{status} == 202;
    return $r->{json}{media}{id};
}

sub wait_ready {
    my ($id, $timeout) = @_;
    my $s = '';
    wait_until(sub {
        $s = api(GET => "/api/v1/media/$id")->{json}{media}{status} // '';
        $s =~ /^(ready|failed)$/;
    }, timeout => $timeout, interval => 0.3);
    return $s;
}

# the bucket as another S3 client sees it: curl's own SigV4
sub s3 {
    my ($path) = @_;
    return scalar `curl -s --aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' 'http://127.0.0.1:$s3port/$bucket$path'`;
}
