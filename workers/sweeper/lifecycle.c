/*
 * The lifecycle pass: what has outlived its use, removed, and each removal
 * logged ("lifecycle: ...").  It runs in the sweeper's consumer between
 * jobs, at start and then every media_sweep_interval, in eight steps:
 *
 *   exports    past expires_at (media_export_ttl after they were made),
 *              or deleted through the API: the file exports/<id>.<format>
 *              removed, the row marked deleted (status 'deleted',
 *              deleted_at); the exports' trigger gives the bytes back to
 *              the owner's storage_used
 *   orphans    files exports/<id>.<format> whose export is deleted or
 *              gone (an unlink the API's DELETE missed), a batch of the
 *              directory per pass
 *   links      download_links rows 30 days after the link ended (expired
 *              or revoked; a spent link expires within its TTL anyway),
 *              with their Redis keys; download_uses rows, the audit, stay
 *   keys       Redis keys media:dl:<link id>... whose link row is gone,
 *              a few per pass (SCAN, its cursor kept between passes)
 *   temporary  under media_storage: everything in tmp/ (request bodies),
 *              hls/.<name> (the transcoder's work directories), and in
 *              exports/ .<name>, <name>.tmp and <name>.part (exports
 *              written aside), untouched for a day, and
 *              not owned by a job: a UUID in the name that is a queued or
 *              running job's id or media, or a pending export's id, keeps
 *              the entry however old
 *   purge      the files of media whose account was deleted (purge.c)
 *   avatars    uploaded avatars (covers/avatar-<user id>, PUT
 *              /api/v1/me/avatar) untouched for an hour with no avatar
 *              job of their user queued or running: the transcoder made
 *              them into avatars/<key>-*.jpg, or failed for good, or the
 *              user is gone; nothing reads them again
 *   uploads    resumable uploads expired unfinished: file, then row
 *              (uploads.c)
 *   originals  with media_source_retention set: the upload of a ready
 *              media older than that, with no job or export pending on
 *              it; the renditions stay and play, media.source_removed_at
 *              is set, and storage_used no longer counts it (sql/013)
 *
 * Each step does at most MEDIA_LIFE_BATCH removals, so a pass is short and
 * a backlog drains over a few passes.  Two sweepers may run at once: rows
 * are taken with FOR UPDATE SKIP LOCKED inside a transaction (the file
 * first, then the row, then COMMIT: a sweeper killed in between leaves a
 * row whose file is gone, and the next pass finishes it), and a file
 * another sweeper removed first is not an error.
 */

#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "worker.h"
#include "s3.h"
#include "sweeper.h"


#define MEDIA_LIFE_BATCH     100          /* removals per step per pass */
#define MEDIA_LIFE_TMP_AGE   (24 * 3600)  /* s untouched: abandoned */
#define MEDIA_LIFE_SCAN      1000         /* SCAN ... COUNT, keys step */
#define MEDIA_LIFE_AVATAR_AGE  3600       /* s untouched: its job is over */

/* "{" and 36 characters and "," per id, "}" */
#define MEDIA_LIFE_IDS_LEN   (MEDIA_LIFE_BATCH * 37 + 3)


typedef struct {
    char    ids[MEDIA_LIFE_IDS_LEN];   /* a uuid[] literal */
    size_t  len;
    int     n;
} media_life_ids_t;


static int media_life_exports(const media_settings_t *s, PGconn *pg);
static int media_life_links(PGconn *pg, redisContext *rc);
static int media_life_keys(PGconn *pg, redisContext *rc);
static int media_life_orphans(const media_settings_t *s, PGconn *pg);
static int media_life_temp(const media_settings_t *s, PGconn *pg);
static int media_life_avatars(const media_settings_t *s, PGconn *pg);
static int media_life_temp_dir(const media_settings_t *s, PGconn *pg,
    const char *dir, int hidden_only, int *budget);
static int media_life_owned(PGconn *pg, const char *name);
static time_t media_life_touched(const char *path);
static int media_life_newest(const char *path, const struct stat *sb,
    int flag, struct FTW *ftw);
static int media_life_sources(const media_settings_t *s, PGconn *pg);
static int media_life_seal(PGconn *pg);
static int media_life_head(PGconn *pg);
static DIR *media_life_opendir(const media_settings_t *s, const char *name,
    char *dir, size_t size);
static void media_life_ids_add(media_life_ids_t *ids, const char *id);
static const char *media_life_ids(media_life_ids_t *ids);
static int media_life_uuid(const char *s);
static int media_life_tx(PGconn *pg, const char *sql);
static int media_life_check(PGconn *pg, PGresult *res, ExecStatusType want,
    const char *what);
static long media_life_ms(void);


/* the statements of this file, each prepared once per connection */

static media_stmt_t  media_sql_life_exports =
    media_stmt("life_exports", 1,
        "SELECT id::text, format FROM exports"
        " WHERE status NOT IN ('deleted', 'processing')"
        "   AND (deleted_at IS NOT NULL OR expires_at < now())"
        " ORDER BY coalesce(deleted_at, expires_at) LIMIT $1"
        " FOR UPDATE SKIP LOCKED");

static media_stmt_t  media_sql_life_exports_done =
    media_stmt("life_exports_done", 1,
        "UPDATE exports SET status = 'deleted',"
        "   deleted_at = coalesce(deleted_at, now())"
        " WHERE id = ANY ($1::uuid[])"
        " RETURNING id::text, user_id::text, coalesce(size, 0),"
        "   CASE WHEN expires_at < now() THEN 'expired' ELSE 'deleted' END");

static media_stmt_t  media_sql_life_links =
    media_stmt("life_links", 1,
        "DELETE FROM download_links WHERE id IN ("
        "  SELECT id FROM download_links"
        "   WHERE least(expires_at, revoked_at) < now() - interval '30 days'"
        "   ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
        " RETURNING id::text, user_id::text, uses, max_uses,"
        "   media_iso8601(least(expires_at, revoked_at))");

static media_stmt_t  media_sql_life_keys =
    media_stmt("life_keys", 1,
        "SELECT k::text FROM unnest($1::uuid[]) k"
        " WHERE NOT EXISTS (SELECT 1 FROM download_links WHERE id = k)");

static media_stmt_t  media_sql_life_orphans =
    media_stmt("life_orphans", 1,
        "SELECT k::text FROM unnest($1::uuid[]) k"
        " WHERE NOT EXISTS (SELECT 1 FROM exports x WHERE x.id = k"
        "   AND x.status <> 'deleted' AND x.deleted_at IS NULL)");

static media_stmt_t  media_sql_life_owned =
    media_stmt("life_owned", 1,
        "SELECT EXISTS (SELECT 1 FROM jobs"
        "   WHERE status IN ('queued', 'running')"
        "     AND (id = $1::uuid OR media_id = $1::uuid"
        "          OR payload->>'export' = $1::uuid::text))"
        " OR EXISTS (SELECT 1 FROM exports WHERE id = $1::uuid"
        "   AND status IN ('queued', 'processing'))");

/* the users among $1 with no avatar job still to run */
static media_stmt_t  media_sql_life_avatars =
    media_stmt("life_avatars", 1,
        "SELECT k::text FROM unnest($1::uuid[]) k"
        " WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.user_id = k"
        "   AND j.type = 'cover' AND j.payload ? 'avatar'"
        "   AND j.status IN ('queued', 'running'))");

static media_stmt_t  media_sql_life_sources =
    media_stmt("life_sources", 2,
        "SELECT m.id::text, m.owner_id::text FROM media m"
        " WHERE m.deleted_at IS NULL AND m.source_removed_at IS NULL"
        "   AND m.status = 'ready'"
        "   AND m.created_at < now() - $1::bigint * interval '1 millisecond'"
        "   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.media_id = m.id"
        "                    AND j.status IN ('queued', 'running'))"
        "   AND NOT EXISTS (SELECT 1 FROM exports x WHERE x.media_id = m.id"
        "                    AND x.status IN ('queued', 'processing'))"
        " ORDER BY m.created_at LIMIT $2 FOR UPDATE OF m SKIP LOCKED");

static media_stmt_t  media_sql_life_sources_done =
    media_stmt("life_sources_done", 1,
        "UPDATE media SET source_removed_at = now()"
        " WHERE id = ANY ($1::uuid[])"
        " RETURNING id::text, owner_id::text, coalesce(source_size, 0)");


/* the download uses not sealed yet into the audit trail, in batches
 * (sql/028: one 'download.seal' row per batch) */
static media_stmt_t  media_sql_life_seal =
    media_stmt("life_seal", 1,
        "SELECT media_download_seal($1::integer)");

/* the chain's last row, for the log: a record outside the database */
static media_stmt_t  media_sql_life_head =
    media_stmt("life_head", 0,
        "SELECT id, encode(hash, 'hex') FROM audit_log"
        " ORDER BY id DESC LIMIT 1");

#define MEDIA_LIFE_SEAL_ROWS     10000   /* uses per seal */
#define MEDIA_LIFE_SEAL_BATCHES  100     /* seals per pass at most */


static long  media_life_next;            /* ms: when the next pass is due */
static char  media_life_cursor[32] = "0";   /* the keys step's SCAN */
static long  media_life_orphan_pos;      /* exports/ entries done so far */
static time_t  media_life_max;           /* media_life_newest's answer */


int
media_lifecycle(const media_settings_t *s, PGconn *pg, redisContext *rc)
{
    long  now;

    now = media_life_ms();

    /* on its own clock: every few minutes, whatever the pass's interval */
    (void) media_trending(s, pg);

    if (media_life_next != 0 && now < media_life_next) {
        return 0;
    }

    media_life_next = now + s->sweep_interval;

    /* a step that fails is logged and the next one runs: each is whole */
    (void) media_life_exports(s, pg);
    (void) media_life_links(pg, rc);
    (void) media_life_keys(pg, rc);
    (void) media_life_orphans(s, pg);
    (void) media_life_temp(s, pg);
    (void) media_purge(s, pg);
    (void) media_life_avatars(s, pg);
    (void) media_uploads_sweep(s, pg);
    (void) media_life_seal(pg);
    (void) media_life_head(pg);

    if (s->source_retention > 0) {
        (void) media_life_sources(s, pg);
    }

    /* a lost connection: the consumer makes it again */
    return PQstatus(pg) != CONNECTION_OK || rc->err ? -1 : 0;
}


/* download uses sealed into the audit trail -------------------------- */

static int
media_life_seal(PGconn *pg)
{
    int          i;
    char         rows[16];
    PGresult    *res;
    const char  *params[1];

    snprintf(rows, sizeof(rows), "%d", MEDIA_LIFE_SEAL_ROWS);
    params[0] = rows;

    for (i = 0; i < MEDIA_LIFE_SEAL_BATCHES; i++) {
        res = media_pg_exec(pg, &media_sql_life_seal, params);
        if (media_life_check(pg, res, PGRES_TUPLES_OK, "seal download uses")
            != 0)
        {
            return -1;
        }

        if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
            PQclear(res);
            return 0;            /* nothing more, or nothing old enough */
        }

        media_log_info("lifecycle: download uses sealed into the audit "
                       "trail: row %s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }

    return 0;
}


/*
 * The audit trail's head in the log, each time it moved: the service's
 * own role owns audit_log and could rewrite rows and hash them again; a
 * head recorded outside the database (this log, shipped elsewhere) is
 * what `media-admin audit verify --head ID:HASH` holds the chain to.
 */
static int
media_life_head(PGconn *pg)
{
    PGresult            *res;
    static char          last[32];

    res = media_pg_exec(pg, &media_sql_life_head, NULL);
    if (media_life_check(pg, res, PGRES_TUPLES_OK, "audit trail head") != 0)
    {
        return -1;
    }

    if (PQntuples(res) == 1 && strcmp(last, PQgetvalue(res, 0, 0)) != 0) {
        snprintf(last, sizeof(last), "%s", PQgetvalue(res, 0, 0));
        media_log_info("lifecycle: audit trail head: --head %s:%s",
                       PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    }

    PQclear(res);

    return 0;
}


/* exports past their time, or deleted: file, then row ------------------- */

static int
media_life_exports(const media_settings_t *s, PGconn *pg)
{
    int                i, n;
    char               path[4096], batch[16], key[128], err[512];
    PGresult          *res;
    const char        *params[1], *id;
    media_life_ids_t   ids;

    if (media_life_tx(pg, "BEGIN") != 0) {
        return -1;
    }

    snprintf(batch, sizeof(batch), "%d", MEDIA_LIFE_BATCH);
    params[0] = batch;

    res = media_pg_exec(pg, &media_sql_life_exports, params);
    if (media_life_check(pg, res, PGRES_TUPLES_OK, "find expired exports")
        != 0)
    {
        return -1;
    }

    memset(&ids, 0, sizeof(ids));
    n = PQntuples(res);

    for (i = 0; i < n; i++) {
        id = PQgetvalue(res, i, 0);

        if (media_path(path, sizeof(path), "%s/" MEDIA_DIR_EXPORTS "/%s.%s",
                       s->storage, id, PQgetvalue(res, i, 1)) != 0
            || media_sweep_remove(path) != 0)
        {
            media_log_error("lifecycle: export %s: remove %s: %s; kept for "
                            "the next pass", id, path, strerror(errno));
            continue;
        }

        snprintf(key, sizeof(key), MEDIA_DIR_EXPORTS "/%s.%s", id,
                 PQgetvalue(res, i, 1));

        if (s->s3.on && media_s3_delete(s, key, err, sizeof(err)) != 0) {
            media_log_error("lifecycle: export %s: %s; kept for the next "
                            "pass", id, err);
            continue;
        }

        media_life_ids_add(&ids, id);
    }

    PQclear(res);

    params[0] = media_life_ids(&ids);

    res = media_pg_exec(pg, &media_sql_life_exports_done, params);
    if (media_life_check(pg, res, PGRES_TUPLES_OK, "mark exports deleted")
        != 0)
    {
        return -1;
    }

    if (media_life_tx(pg, "COMMIT") != 0) {
        PQclear(res);
        return -1;
    }

    for (i = 0; i < PQntuples(res); i++) {
        media_log_info("lifecycle: export %s of user %s %s: removed its file "
                       "(%s bytes freed)", PQgetvalue(res, i, 0),
                       PQgetvalue(res, i, 1), PQgetvalue(res, i, 3),
                       PQgetvalue(res, i, 2));
    }

    PQclear(res);
    return 0;
}


/* links 30 days after they ended: the row, and its Redis key ------------ */

static int
media_life_links(PGconn *pg, redisContext *rc)
{
    int          i;
    char         batch[16];
    PGresult    *res;
    redisReply  *reply;
    const char  *id, *params[1];

    snprintf(batch, sizeof(batch), "%d", MEDIA_LIFE_BATCH);
    params[0] = batch;

    res = media_pg_exec(pg, &media_sql_life_links, params);
    if (media_life_check(pg, res, PGRES_TUPLES_OK, "remove old links") != 0) {
        return -1;
    }

    for (i = 0; i < PQntuples(res); i++) {
        /* the row is gone: a key left by a failure here is the keys
         * step's to find */
        id = PQgetvalue(res, i, 0);
        reply = redisCommand(rc, "DEL " MEDIA_KEY_DOWNLOAD "%s}:n "
                             MEDIA_KEY_DOWNLOAD "%s}:c "
                             MEDIA_KEY_DOWNLOAD "%s}:r", id, id, id);
        if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
            media_log_error("lifecycle: DEL " MEDIA_KEY_DOWNLOAD "%s}:*: %s",
                            id, reply ? reply->str : rc->errstr);
        }

        if (reply) {
            freeReplyObject(reply);
        }

        media_log_info("lifecycle: download link %s of user %s (%s of %s "
                       "uses), ended %s: its bookkeeping removed, its uses' "
                       "audit kept", PQgetvalue(res, i, 0),
                       PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                       PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
    }

    PQclear(res);
    return 0;
}


/* Redis keys of links whose row is gone, a SCAN step per pass ------------ */

static int
media_life_keys(PGconn *pg, redisContext *rc)
{
    int                i, j;
    size_t             k, skip;
    PGresult          *res;
    redisReply        *reply, *keys, *del;
    const char        *params[1], *key;
    media_life_ids_t   ids;

    reply = redisCommand(rc, "SCAN %s MATCH " MEDIA_KEY_DOWNLOAD "* COUNT %d",
                         media_life_cursor, MEDIA_LIFE_SCAN);

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_ARRAY)
    {
        media_log_error("lifecycle: SCAN %s: %s", media_life_cursor,
                        reply == NULL ? rc->errstr
                        : reply->type == REDIS_REPLY_ERROR ? reply->str
                        : "an answer of another shape");
        if (reply) {
            freeReplyObject(reply);
        }
        return -1;
    }

    snprintf(media_life_cursor, sizeof(media_life_cursor), "%s",
             reply->element[0]->str);

    keys = reply->element[1];
    skip = sizeof(MEDIA_KEY_DOWNLOAD) - 1;
    memset(&ids, 0, sizeof(ids));

    for (k = 0; k < keys->elements && ids.n < MEDIA_LIFE_BATCH; k++) {
        key = keys->element[k]->str;
        if (key && strlen(key) >= skip + 36 && media_life_uuid(key + skip)) {
            char  id[37];

            memcpy(id, key + skip, 36);
            id[36] = '\0';
            media_life_ids_add(&ids, id);
        }
    }

    if (ids.n == 0) {
        freeReplyObject(reply);
        return 0;
    }

    params[0] = media_life_ids(&ids);

    res = media_pg_exec(pg, &media_sql_life_keys, params);
    if (media_life_check(pg, res, PGRES_TUPLES_OK, "find links of keys")
        != 0)
    {
        freeReplyObject(reply);
        return -1;
    }

    for (i = 0; i < PQntuples(res); i++) {
        for (k = 0; k < keys->elements; k++) {
            key = keys->element[k]->str;
            if (key == NULL || strlen(key) < skip + 36
                || strncmp(key + skip, PQgetvalue(res, i, 0), 36) != 0)
            {
                continue;
            }

            del = redisCommand(rc, "DEL %s", key);
            j = del && del->type == REDIS_REPLY_INTEGER;

            if (j) {
                media_log_info("lifecycle: key %s of a link that is gone: "
                               "removed", key);
            } else {
                media_log_error("lifecycle: DEL %s: %s", key,
                                del ? del->str : rc->errstr);
            }

            if (del) {
                freeReplyObject(del);
            }
        }
    }

    PQclear(res);
    freeReplyObject(reply);
    return 0;
}


/*
 * Published export files whose export is deleted or gone (the API's
 * DELETE marks the row first and then unlinks; an unlink that failed, or
 * a file published after the row was marked, is left for here): a batch
 * of exports/ per pass, the next pass going on where this one stopped.
 */
static int
media_life_orphans(const media_settings_t *s, PGconn *pg)
{
    DIR               *d;
    int                i, j, n, end;
    long               pos;
    char               dir[4096], path[4096];
    char               names[MEDIA_LIFE_BATCH][64];
    PGresult          *res;
    const char        *params[1];
    struct dirent     *e;
    media_life_ids_t   ids;

    d = media_life_opendir(s, MEDIA_DIR_EXPORTS, dir, sizeof(dir));
    if (d == NULL) {
        return -1;
    }

    memset(&ids, 0, sizeof(ids));
    n = 0;
    pos = 0;
    end = 0;

    while (n < MEDIA_LIFE_BATCH) {
        e = readdir(d);
        if (e == NULL) {
            end = 1;
            break;
        }

        /* <uuid>.<format>; work in progress (.<name>) is the temporary
         * step's */
        if (!media_life_uuid(e->d_name) || e->d_name[36] != '.'
            || strlen(e->d_name) >= sizeof(names[0]))
        {
            continue;
        }

        if (pos++ < media_life_orphan_pos) {
            continue;
        }

        strcpy(names[n], e->d_name);
        names[n][36] = '\0';
        media_life_ids_add(&ids, names[n]);
        names[n][36] = '.';
        n++;
    }

    closedir(d);

    media_life_orphan_pos = end ? 0 : media_life_orphan_pos + n;

    if (n == 0) {
        return 0;
    }

    params[0] = media_life_ids(&ids);

    res = media_pg_exec(pg, &media_sql_life_orphans, params);
    if (media_life_check(pg, res, PGRES_TUPLES_OK, "find orphan exports")
        != 0)
    {
        return -1;
    }

    for (i = 0; i < PQntuples(res); i++) {
        for (j = 0; j < n; j++) {
            if (strncmp(names[j], PQgetvalue(res, i, 0), 36) != 0
                || media_path(path, sizeof(path), "%s/%s", dir, names[j])
                   != 0)
            {
                continue;
            }

            if (media_sweep_remove(path) != 0) {
                media_log_error("lifecycle: remove %s: %s", path,
                                strerror(errno));
                continue;
            }

            media_log_info("lifecycle: removed %s: its export is deleted",
                           path);
        }
    }

    PQclear(res);
    return 0;
}


/* temporary files nobody finished with --------------------------------- */

static int
media_life_temp(const media_settings_t *s, PGconn *pg)
{
    int   budget;
    char  dir[4096];

    budget = MEDIA_LIFE_BATCH;

    if (media_path(dir, sizeof(dir), "%s/" MEDIA_DIR_TMP, s->storage) == 0) {
        (void) media_life_temp_dir(s, pg, dir, 0, &budget);
    }

    if (media_path(dir, sizeof(dir), "%s/" MEDIA_DIR_HLS, s->storage) == 0) {
        (void) media_life_temp_dir(s, pg, dir, 1, &budget);
    }

    if (media_path(dir, sizeof(dir), "%s/" MEDIA_DIR_EXPORTS, s->storage)
        == 0)
    {
        (void) media_life_temp_dir(s, pg, dir, 1, &budget);
    }

    return 0;
}


/*
 * One directory's abandoned entries.  hidden_only: only work in progress
 * (".name", "*.tmp", "*.part"), as the rest of hls/ and exports/ is
 * published media.
 */
static int
media_life_temp_dir(const media_settings_t *s, PGconn *pg, const char *dir,
    int hidden_only, int *budget)
{
    DIR            *d;
    char            path[4096];
    time_t          now, touched;
    const char     *name;
    struct dirent  *e;

    (void) s;

    d = opendir(dir);
    if (d == NULL) {
        if (errno != ENOENT) {
            media_log_error("lifecycle: opendir %s: %s", dir,
                            strerror(errno));
        }
        return -1;
    }

    now = time(NULL);

    while (*budget > 0 && (e = readdir(d)) != NULL) {
        name = e->d_name;

        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            continue;
        }

        if (hidden_only && name[0] != '.' && strstr(name, ".tmp") == NULL
            && strstr(name, ".part") == NULL)
        {
            continue;
        }

        if (media_path(path, sizeof(path), "%s/%s", dir, name) != 0) {
            continue;
        }

        touched = media_life_touched(path);

        if (touched == 0 || now - touched < MEDIA_LIFE_TMP_AGE) {
            continue;
        }

        if (media_life_owned(pg, name) != 0) {
            continue;
        }

        (*budget)--;

        if (media_sweep_remove(path) != 0) {
            media_log_error("lifecycle: remove %s: %s", path,
                            strerror(errno));
            continue;
        }

        media_log_info("lifecycle: removed %s: temporary, untouched for "
                       "%ld h and no job's", path,
                       (long) (now - touched) / 3600);
    }

    closedir(d);
    return 0;
}


/*
 * 1 when a job may still want the entry (or the question could not be
 * asked: then nothing is removed), 0 when nobody owns it
 */
static int
media_life_owned(PGconn *pg, const char *name)
{
    int          owned;
    PGresult    *res;
    const char  *p, *params[1];
    char         id[37];

    for (p = name; *p && strlen(p) >= 36; p++) {
        if (media_life_uuid(p)) {
            break;
        }
    }

    if (*p == '\0' || strlen(p) < 36) {
        return 0;               /* no id in the name: no job's */
    }

    memcpy(id, p, 36);
    id[36] = '\0';
    params[0] = id;

    res = media_pg_exec(pg, &media_sql_life_owned, params);
    if (media_life_check(pg, res, PGRES_TUPLES_OK, "ask who owns a file")
        != 0)
    {
        return 1;
    }

    owned = PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] != 'f';
    PQclear(res);

    return owned;
}


/* when anything in the tree was last written; 0 when it cannot be read */
static time_t
media_life_touched(const char *path)
{
    media_life_max = 0;

    if (nftw(path, media_life_newest, 16, FTW_PHYS) != 0) {
        return 0;
    }

    return media_life_max;
}


static int
media_life_newest(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
    (void) path;
    (void) ftw;

    if (flag != FTW_NS && sb->st_mtime > media_life_max) {
        media_life_max = sb->st_mtime;
    }

    return 0;
}


/* uploaded avatars done with ------------------------------------------- */

static int
media_life_avatars(const media_settings_t *s, PGconn *pg)
{
    DIR               *d;
    int                i, n;
    char               dir[4096], path[4096];
    time_t             now, touched;
    PGresult          *res;
    const char        *params[1];
    struct dirent     *e;
    media_life_ids_t   ids;

    d = media_life_opendir(s, MEDIA_DIR_COVERS, dir, sizeof(dir));
    if (d == NULL) {
        return -1;
    }

    memset(&ids, 0, sizeof(ids));
    now = time(NULL);

    /* avatar-<uuid>; covers/<media id> are the media's, kept with it */
    while (ids.n < MEDIA_LIFE_BATCH && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "avatar-", 7) != 0
            || !media_life_uuid(e->d_name + 7) || e->d_name[43] != '\0'
            || media_path(path, sizeof(path), "%s/%s", dir, e->d_name) != 0)
        {
            continue;
        }

        touched = media_life_touched(path);

        if (touched == 0 || now - touched < MEDIA_LIFE_AVATAR_AGE) {
            continue;
        }

        media_life_ids_add(&ids, e->d_name + 7);
    }

    closedir(d);

    if (ids.n == 0) {
        return 0;
    }

    params[0] = media_life_ids(&ids);

    res = media_pg_exec(pg, &media_sql_life_avatars, params);
    if (media_life_check(pg, res, PGRES_TUPLES_OK, "find avatars done with")
        != 0)
    {
        return -1;
    }

    n = PQntuples(res);

    for (i = 0; i < n; i++) {
        if (media_path(path, sizeof(path), "%s/avatar-%s", dir,
                       PQgetvalue(res, i, 0))
            != 0)
        {
            continue;
        }

        if (media_sweep_remove(path) != 0) {
            media_log_error("lifecycle: remove %s: %s", path,
                            strerror(errno));
            continue;
        }

        media_log_info("lifecycle: removed %s: an uploaded avatar of user "
                       "%s, no job of theirs left to read it", path,
                       PQgetvalue(res, i, 0));
    }

    PQclear(res);
    return 0;
}


/* originals past media_source_retention ----------------------------------- */

static int
media_life_sources(const media_settings_t *s, PGconn *pg)
{
    int                i, n;
    char               path[4096], batch[16], keep[24], key[128], err[512];
    PGresult          *res;
    const char        *params[2], *id;
    media_life_ids_t   ids;

    if (media_life_tx(pg, "BEGIN") != 0) {
        return -1;
    }

    snprintf(keep, sizeof(keep), "%ld", s->source_retention);
    snprintf(batch, sizeof(batch), "%d", MEDIA_LIFE_BATCH);
    params[0] = keep;
    params[1] = batch;

    res = media_pg_exec(pg, &media_sql_life_sources, params);
    if (media_life_check(pg, res, PGRES_TUPLES_OK, "find old originals")
        != 0)
    {
        return -1;
    }

    memset(&ids, 0, sizeof(ids));
    n = PQntuples(res);

    for (i = 0; i < n; i++) {
        id = PQgetvalue(res, i, 0);

        if (media_path(path, sizeof(path), "%s/" MEDIA_DIR_UPLOADS "/%s",
                       s->storage, id) != 0
            || media_sweep_remove(path) != 0)
        {
            media_log_error("lifecycle: original of media %s: remove %s: "
                            "%s; kept for the next pass", id, path,
                            strerror(errno));
            continue;
        }

        /* and the bucket's copy (media_storage s3://) */
        snprintf(key, sizeof(key), MEDIA_DIR_UPLOADS "/%s", id);

        if (s->s3.on && media_s3_delete(s, key, err, sizeof(err)) != 0) {
            media_log_error("lifecycle: original of media %s: %s; kept for "
                            "the next pass", id, err);
            continue;
        }

        media_life_ids_add(&ids, id);
    }

    PQclear(res);

    params[0] = media_life_ids(&ids);

    res = media_pg_exec(pg, &media_sql_life_sources_done, params);
    if (media_life_check(pg, res, PGRES_TUPLES_OK, "mark originals removed")
        != 0)
    {
        return -1;
    }

    if (media_life_tx(pg, "COMMIT") != 0) {
        PQclear(res);
        return -1;
    }

    for (i = 0; i < PQntuples(res); i++) {
        media_log_info("lifecycle: original of media %s of user %s, older "
                       "than %s: removed (%s bytes freed), its renditions "
                       "kept", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                       MEDIA_SET_SOURCE_RETENTION, PQgetvalue(res, i, 2));
    }

    PQclear(res);
    return 0;
}


/* helpers ------------------------------------------------------------------ */

/* media_storage/<name> opened, its path in dir; NULL when it cannot be */
static DIR *
media_life_opendir(const media_settings_t *s, const char *name, char *dir,
    size_t size)
{
    if (media_path(dir, size, "%s/%s", s->storage, name) != 0) {
        return NULL;
    }

    return opendir(dir);
}


static void
media_life_ids_add(media_life_ids_t *ids, const char *id)
{
    if (ids->n >= MEDIA_LIFE_BATCH || strlen(id) != 36) {
        return;
    }

    ids->ids[ids->len++] = ids->n ? ',' : '{';
    memcpy(ids->ids + ids->len, id, 36);
    ids->len += 36;
    ids->n++;
}


/* the uuid[] literal: "{a,b}", or "{}" */
static const char *
media_life_ids(media_life_ids_t *ids)
{
    if (ids->n == 0) {
        ids->ids[ids->len++] = '{';
    }

    ids->ids[ids->len++] = '}';
    ids->ids[ids->len] = '\0';

    return ids->ids;
}


/* 8-4-4-4-12 lowercase hex digits at s (more may follow) */
static int
media_life_uuid(const char *s)
{
    int  i;

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }

        } else if (!((s[i] >= '0' && s[i] <= '9')
                     || (s[i] >= 'a' && s[i] <= 'f')))
        {
            return 0;
        }
    }

    return 1;
}


/* BEGIN, COMMIT: transaction control, not statements to prepare */
static int
media_life_tx(PGconn *pg, const char *sql)
{
    PGresult  *res;

    res = PQexec(pg, sql);

    if (media_life_check(pg, res, PGRES_COMMAND_OK, sql) != 0) {
        return -1;
    }

    PQclear(res);
    return 0;
}


/* 0 when res is what was wanted; else logged, cleared, rolled back, -1 */
static int
media_life_check(PGconn *pg, PGresult *res, ExecStatusType want,
    const char *what)
{
    if (PQresultStatus(res) == want) {
        return 0;
    }

    media_log_error("lifecycle: %s: %s", what,
                    res ? PQresultErrorMessage(res) : PQerrorMessage(pg));
    PQclear(res);

    if (PQtransactionStatus(pg) != PQTRANS_IDLE
        && PQstatus(pg) == CONNECTION_OK)
    {
        res = PQexec(pg, "ROLLBACK");
        PQclear(res);
    }

    return -1;
}


static long
media_life_ms(void)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000 + now.tv_nsec / 1000000;
}
