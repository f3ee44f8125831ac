/*
 * Names shared by the nginx module and the workers: directive (setting)
 * names, Redis stream names, job statuses.  Both sides include this one
 * header so that a name is spelled in exactly one place.
 *
 * No nginx types here: the workers build without nginx.
 */

#ifndef _MEDIA_SHARED_H_INCLUDED_
#define _MEDIA_SHARED_H_INCLUDED_


/* settings, read by nginx as directives and by the workers from the same file */
#define MEDIA_SET_PG              "media_pg"
#define MEDIA_SET_PG_POOL         "media_pg_pool"
#define MEDIA_SET_PG_TIMEOUT      "media_pg_timeout"
#define MEDIA_SET_PG_REPLICA      "media_pg_replica"
#define MEDIA_SET_PG_REPLICA_LAG  "media_pg_replica_max_lag"
#define MEDIA_SET_REDIS           "media_redis"
#define MEDIA_SET_REDIS_TIMEOUT   "media_redis_timeout"
#define MEDIA_SET_STORAGE         "media_storage"
#define MEDIA_SET_UPLOAD_MAX      "media_upload_max_size"
/* media_storage s3://bucket/prefix [spool=path]: the bucket, reached so */
#define MEDIA_SET_S3_ENDPOINT     "media_s3_endpoint"
#define MEDIA_SET_S3_REGION       "media_s3_region"
#define MEDIA_SET_S3_CREDENTIALS  "media_s3_credentials"       /* a file */
#define MEDIA_STORAGE_SPOOL       "spool="

/* read by the workers; nginx checks them and otherwise ignores them */
#define MEDIA_SET_JOB_LEASE       "media_job_lease"
#define MEDIA_SET_JOB_RETRY       "media_job_retry"
#define MEDIA_SET_JOB_STALL       "media_job_stall"
#define MEDIA_SET_TRANSCODE_JOBS  "media_transcode_jobs"
#define MEDIA_SET_TRANSCODE_THREADS "media_transcode_threads"
#define MEDIA_SET_TRANSCODE_MEMORY "media_transcode_memory"
#define MEDIA_SET_MAX_PIXELS      "media_max_pixels"
#define MEDIA_SET_MAX_DURATION    "media_max_duration"
#define MEDIA_SET_STRIPE_KEY      "media_stripe_secret_key"   /* a file */
#define MEDIA_SET_STRIPE_API_URL  "media_stripe_api_url"
#define MEDIA_SET_PUBLIC_URL      "media_public_url"
#define MEDIA_SET_EXPORT_TTL      "media_export_ttl"
#define MEDIA_SET_SWEEP_INTERVAL  "media_sweep_interval"
#define MEDIA_SET_SOURCE_RETENTION "media_source_retention"   /* or off */
#define MEDIA_SET_AUDIO_RATE      "media_audio_sample_rate"  /* 44100, 48000 */

#define MEDIA_DEFAULT_JOB_LEASE   60000     /* ms */
#define MEDIA_DEFAULT_JOB_RETRY   5000      /* ms, doubled per attempt */
#define MEDIA_DEFAULT_JOB_STALL   120000    /* ms without progress */
#define MEDIA_DEFAULT_MAX_WIDTH   8192      /* media_max_pixels 8192x4320 */
#define MEDIA_DEFAULT_MAX_HEIGHT  4320
#define MEDIA_DEFAULT_MAX_DURATION  (6L * 3600 * 1000)    /* ms */
#define MEDIA_DEFAULT_TRANSCODE_MEMORY  (4L << 30)        /* bytes */
#define MEDIA_DEFAULT_STRIPE_API_URL  "https://api.stripe.com"
#define MEDIA_DEFAULT_EXPORT_TTL  (7L * 24 * 3600 * 1000)      /* ms */
#define MEDIA_DEFAULT_SWEEP_INTERVAL  (10L * 60 * 1000)   /* ms */
#define MEDIA_DEFAULT_AUDIO_RATE  44100     /* Hz, the audio ladder's */

/*
 * Pictures (sql/020_pictures.sql): media.pictures is a set of these bits,
 * written by the transcoder, read by the module to list their URLs.  The
 * files are in hls/<media id>/, served on the playback token path.
 */
#define MEDIA_PIC_COVER           1         /* cover-512.jpg, cover-128.jpg */
#define MEDIA_PIC_POSTER          2         /* poster.jpg */
#define MEDIA_PIC_THUMBS          4         /* thumbs.jpg, thumbs.vtt */
#define MEDIA_PIC_WAVEFORM        8         /* waveform.json */
#define MEDIA_COVER_SIZES         { 512, 128 }
#define MEDIA_AVATAR_SIZES        { 256, 64 }
#define MEDIA_DIR_AVATARS         "avatars"   /* avatars/<key>-256.jpg */
#define MEDIA_COVER_MAX_SIDE      8000      /* an uploaded cover, pixels */
#define MEDIA_COVER_MAX_SIZE      (10L << 20)   /* bytes */

/* under media_storage */
#define MEDIA_DIR_TMP             "tmp"       /* request bodies arrive here */
#define MEDIA_DIR_UPLOADS         "uploads"   /* uploads/<media id> */
#define MEDIA_DIR_HLS             "hls"       /* hls/<media id>/<rung>/ */
#define MEDIA_DIR_EXPORTS         "exports"   /* exports/<export id>.<format> */
#define MEDIA_DIR_COVERS          "covers"    /* covers/<media id>: uploaded */

/* Redis keys the module writes and the workers may read */
#define MEDIA_KEY_LOGIN_ACCOUNT   "media:login:acct:"  /* + lower(email) */
/* + tenant ":" lower(email): a named tenant's accounts (media_tenant) */
#define MEDIA_KEY_LOGIN_TENANT_ACCOUNT  "media:login:tacct:"
#define MEDIA_KEY_LOGIN_ADDRESS   "media:login:addr:"  /* + client address */
#define MEDIA_KEY_AD_SHOWN        "media:ad:shown:"    /* + token:address */
#define MEDIA_KEY_EXPORT_RATE     "media:export:rate:" /* + user id */
#define MEDIA_KEY_COMMENT_RATE    "media:comment:rate:" /* + user id */
/* a download link's keys, in one hash slot: "media:dl:{<link id>}:n" its
 * uses, ":c" the clients that spent one, ":r" revoked; the sweeper drops
 * them with the link's row */
#define MEDIA_KEY_DOWNLOAD        "media:dl:{"
/* the workers' heartbeats, one sorted set per job type (+ "transcode"):
 * member a consumer's name (host-pid), score the Unix time in ms of its
 * last beat; healthz counts the members seen within MEDIA_WORKERS_SEEN */
#define MEDIA_KEY_WORKERS         "media:workers:"
#define MEDIA_WORKERS_BEAT        5000      /* ms between a consumer's beats */
#define MEDIA_WORKERS_SEEN        30000     /* ms: alive if seen this late */

#define MEDIA_DEFAULT_PG_POOL     4
#define MEDIA_DEFAULT_PG_TIMEOUT  5000      /* ms */
#define MEDIA_DEFAULT_REDIS_TIMEOUT 2000    /* ms */
#define MEDIA_DEFAULT_REDIS_PORT  6379
#define MEDIA_DEFAULT_STORAGE     "/var/lib/ngx_media"

/* one Redis stream and one consumer group per job type */
#define MEDIA_STREAM_TRANSCODE    "media:transcode"
#define MEDIA_STREAM_BILLING      "media:billing"
#define MEDIA_STREAM_SWEEP        "media:sweep"
#define MEDIA_STREAM_EXPORT       "media:export"
#define MEDIA_STREAM_COVER        "media:cover"
#define MEDIA_GROUP_TRANSCODE     "transcoders"
#define MEDIA_GROUP_BILLING       "billing"
#define MEDIA_GROUP_SWEEP         "sweepers"
#define MEDIA_GROUP_EXPORT        "exporters"
#define MEDIA_GROUP_COVER         "covers"

/* a stream entry only points at its row: XADD <stream> * job <uuid> */
#define MEDIA_STREAM_FIELD_JOB    "job"

/* jobs.status values; sql/001_init.sql checks the same set */
#define MEDIA_JOB_QUEUED          "queued"
#define MEDIA_JOB_RUNNING         "running"
#define MEDIA_JOB_DONE            "done"
#define MEDIA_JOB_FAILED          "failed"
#define MEDIA_JOB_DEAD            "dead"


#endif /* _MEDIA_SHARED_H_INCLUDED_ */
