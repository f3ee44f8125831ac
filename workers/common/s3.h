/*
 * Object storage for the workers: what they publish goes to the bucket
 * media_storage names (media_storage s3://bucket/prefix), over libcurl,
 * each request signed by libcurl itself (CURLOPT_AWS_SIGV4 with the key
 * pair as CURLOPT_USERPWD).  Keys are relative to the prefix
 * ("hls/<id>/g1/720p/seg_0.ts").  Every call retries what may pass on a
 * second try (no connection, a timeout, 5xx, 429) a few times with a
 * growing pause, then fails with a message naming the request, the key
 * and the cause, for the job's error.
 */

#ifndef _MEDIA_S3_WORKER_H_INCLUDED_
#define _MEDIA_S3_WORKER_H_INCLUDED_


#include "worker.h"


#define MEDIA_S3_TRIES        4        /* per request */
#define MEDIA_S3_PART_SIZE    (8 * 1024 * 1024)   /* multipart: per part */
#define MEDIA_S3_MULTIPART    (16 * 1024 * 1024)  /* larger: multipart */


/* the settings (media_storage s3://, media_s3_*) are read by worker.c */

/* the file at path as key, with this Content-Type; multipart when large */
int media_s3_put_file(const media_settings_t *s, const char *key,
    const char *path, const char *type, char *err, size_t errlen);

/* every regular file under dir as key_prefix/<its path under dir> */
int media_s3_put_tree(const media_settings_t *s, const char *dir,
    const char *key_prefix, char *err, size_t errlen);

/* 0 when gone (or never there) */
int media_s3_delete(const media_settings_t *s, const char *key, char *err,
    size_t errlen);

/*
 * Each key under prefix (relative to the bucket's prefix, as given to the
 * other calls) to each(); each returning -1 stops the walk (-1).
 */
typedef int (*media_s3_each_pt)(void *data, const char *key);

int media_s3_list(const media_settings_t *s, const char *prefix,
    media_s3_each_pt each, void *data, char *err, size_t errlen);

/* every key under prefix, deleted; the number gone, or -1 */
int media_s3_delete_prefix(const media_settings_t *s, const char *prefix,
    char *err, size_t errlen);

/* a Content-Type for a published file, by its name */
const char *media_s3_type(const char *name);


#endif /* _MEDIA_S3_WORKER_H_INCLUDED_ */
