// t/s3.t's S3 server: s3rver on 127.0.0.1:<port>, buckets on <dir>, one
// bucket made at start.  It checks SigV4 signatures (header and query)
// against the key pair S3RVER / S3RVER.
//   node s3rver.js <dir> <port> <bucket>
'use strict';

const S3rver = require('@20minutes/s3rver');

const [dir, port, bucket] = process.argv.slice(2);

new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory: dir,
  silent: false,
  vhostBuckets: false,
  configureBuckets: [{ name: bucket, configs: [] }],
})
  .run()
  .then(({ port: p }) => console.log('s3rver listening on 127.0.0.1:%d', p));
