/*
 * media-sweeper: what storage no longer needs.
 *
 * main.c        the media:sweep jobs: a deleted media's files
 * lifecycle.c   the periodic pass (every media_sweep_interval): expired
 *               exports, old links' bookkeeping, abandoned temporary
 *               files, and originals past media_source_retention
 * trending.c    the trending table, refreshed every few minutes
 * purge.c       the files of media whose account was deleted
 * uploads.c     resumable uploads that expired unfinished
 */

#ifndef _MEDIA_SWEEPER_H_INCLUDED_
#define _MEDIA_SWEEPER_H_INCLUDED_


#include "worker.h"


/* the pass, when it is due: media_worker_tick */
int media_lifecycle(const media_settings_t *s, PGconn *pg, redisContext *rc);

/* the trending table refreshed, when it is due (trending.c) */
int media_trending(const media_settings_t *s, PGconn *pg);

/* the lifecycle pass's purge step (purge.c) */
int media_purge(const media_settings_t *s, PGconn *pg);

/* the lifecycle pass's uploads step (uploads.c): how many, or -1 */
int media_uploads_sweep(const media_settings_t *s, PGconn *pg);

/* a file or a whole tree; 0 also when it was not there */
int media_sweep_remove(const char *path);

/* with media_storage s3://: a media's objects in the bucket (its HLS
 * tree, its original), deleted; 0, or -1 with why in err */
int media_sweep_objects(const media_settings_t *s, const char *id, char *err,
    size_t errlen);


#endif /* _MEDIA_SWEEPER_H_INCLUDED_ */
