/*
 * media-admin check [-u USER] [-d SQLDIR]: walks what the service needs
 * and prints a line for each ("ok", "warn" or "FAIL", what, and what to do
 * when it is wrong); exits 1 when any line is FAIL.
 *
 *   keys      each media_*_key file named in the configuration is readable,
 *             not empty, and not readable by every user
 *   postgres  reachable with media_pg's conninfo, every migration of
 *             SQLDIR applied (media-migrate's directory)
 *   redis     reachable, and persistent (appendonly or save): the streams
 *             hold the jobs' deliveries and the download counters
 *   storage   media_storage writable by the workers' user (USER, www-data
 *             by default, as the systemd units run them; checked by a
 *             child process that becomes USER when run as root); with
 *             media_storage s3://, the spool so, and the bucket takes
 *             and deletes an object (what the workers do there)
 *   workers   transcode and sweep consumers alive by their heartbeat
 *             (workers/common/beat.c), billing too when Stripe is set up
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "worker.h"
#include "s3.h"
#include "check.h"


#define MEDIA_CHECK_SQL_DIR  "/usr/share/ngx_media/sql"
#define MEDIA_CHECK_USER     "www-data"
#define MEDIA_CHECK_KEYS     16
#define MEDIA_CHECK_START    3000    /* ms a required worker may take to
                                        show after it started */


typedef struct {
    char  *name[MEDIA_CHECK_KEYS];   /* the directive */
    char  *file[MEDIA_CHECK_KEYS];
    int    n;
} media_check_keys_t;


static int media_check_failed;


static media_stmt_t  media_sql_check_schema =
    media_stmt("check_schema", 0,
        "SELECT coalesce(max(version), 0) FROM media_schema_migrations");


static void media_check_say(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int media_check_key_directive(void *data, const char *name,
    char **args, int nargs, int line, char *err, size_t errlen);
static void media_check_keys(const media_settings_t *s);
static void media_check_postgres(const media_settings_t *s,
    const char *sqldir);
static long media_check_last_migration(const char *dir);
static redisContext *media_check_redis(const media_settings_t *s);
static void media_check_storage(const media_settings_t *s, const char *user);
static void media_check_bucket(const media_settings_t *s);
static int media_check_as(const char *user, const char *dir);
static void media_check_workers(const media_settings_t *s,
    redisContext *rc);


int
media_admin_check(const media_settings_t *s, int argc, char **argv)
{
    int            i;
    const char    *user, *sqldir;
    redisContext  *rc;

    user = MEDIA_CHECK_USER;
    sqldir = MEDIA_CHECK_SQL_DIR;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-u") == 0 && i + 1 < argc) {
            user = argv[++i];

        } else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
            sqldir = argv[++i];

        } else {
            return 2;
        }
    }

    media_check_failed = 0;

    media_check_say("ok", "configuration: %s", s->conf_file);
    media_check_keys(s);
    media_check_postgres(s, sqldir);

    rc = media_check_redis(s);
    media_check_storage(s, user);

    if (rc) {
        media_check_workers(s, rc);
        redisFree(rc);

    } else {
        media_check_say("FAIL", "workers: unknown, Redis holds their "
                        "heartbeat");
    }

    return media_check_failed ? 1 : 0;
}


static void
media_check_say(const char *level, const char *fmt, ...)
{
    va_list  ap;

    if (strcmp(level, "FAIL") == 0) {
        media_check_failed = 1;
    }

    printf("%-5s ", level);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}


/* --- keys ---------------------------------------------------------------- */


/* media_jwt_key, media_url_key, media_download_key, media_stripe_secret_key:
 * every media_ directive naming a key file, whatever the module adds */
static int
media_check_key_directive(void *data, const char *name, char **args,
    int nargs, int line, char *err, size_t errlen)
{
    int                  i;
    size_t               len;
    media_check_keys_t  *keys = data;

    (void) line;
    (void) err;
    (void) errlen;

    len = strlen(name);

    if (strncmp(name, "media_", 6) != 0 || len < 4
        || (strcmp(name + len - 4, "_key") != 0
            && strcmp(name + len - 5, "_keys") != 0))
    {
        return 0;
    }

    for (i = 0; i < nargs && keys->n < MEDIA_CHECK_KEYS; i++) {
        keys->name[keys->n] = strdup(name);
        keys->file[keys->n] = strdup(args[i]);
        keys->n++;
    }

    return 0;
}


static void
media_check_keys(const media_settings_t *s)
{
    int                  i, fd;
    char                 err[256];
    ssize_t              n;
    struct stat          st;
    media_check_keys_t   keys;
    char                 buf[1];

    memset(&keys, 0, sizeof(keys));

    if (media_conf_parse_file(s->conf_file, media_check_key_directive, &keys,
                              err, sizeof(err))
        != 0)
    {
        media_check_say("FAIL", "keys: %s", err);
        return;
    }

    if (keys.n == 0) {
        media_check_say("FAIL", "keys: %s names no key file (media_jwt_key, "
                        "media_url_key): see nginx.conf.example",
                        s->conf_file);
    }

    for (i = 0; i < keys.n; i++) {
        fd = open(keys.file[i], O_RDONLY);

        if (fd < 0 || fstat(fd, &st) != 0) {
            media_check_say("FAIL", "keys: %s %s: %s", keys.name[i],
                            keys.file[i], strerror(errno));

        } else if ((n = read(fd, buf, sizeof(buf))) <= 0) {
            media_check_say("FAIL", "keys: %s %s is empty: make one with "
                            "openssl rand -base64 32 > %s", keys.name[i],
                            keys.file[i], keys.file[i]);

        } else if (st.st_mode & S_IROTH) {
            media_check_say("FAIL", "keys: %s %s is readable by every user: "
                            "chmod o-r %s", keys.name[i], keys.file[i],
                            keys.file[i]);

        } else {
            media_check_say("ok", "keys: %s %s readable (%lld bytes)",
                            keys.name[i], keys.file[i],
                            (long long) st.st_size);
        }

        if (fd >= 0) {
            close(fd);
        }

        free(keys.name[i]);
        free(keys.file[i]);
    }
}


/* --- PostgreSQL ---------------------------------------------------------- */


static void
media_check_postgres(const media_settings_t *s, const char *sqldir)
{
    long         want, have;
    PGconn      *pg;
    PGresult    *res;
    const char  *msg;

    pg = PQconnectdb(s->pg);

    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        msg = pg ? PQerrorMessage(pg) : "out of memory\n";
        media_check_say("FAIL", "postgres: %.*s: check media_pg, that "
                        "PostgreSQL runs, the role's password and "
                        "pg_hba.conf", (int) strcspn(msg, "\n"), msg);
        PQfinish(pg);
        return;
    }

    if (media_pg_tenant(pg, "*") != 0) {
        media_check_say("FAIL", "postgres: cannot set media.tenant: %s",
                        PQerrorMessage(pg));
        PQfinish(pg);
        return;
    }

    res = media_pg_exec(pg, &media_sql_check_schema, NULL);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        msg = PQresultErrorMessage(res);
        media_check_say("FAIL", "postgres: connected as %s to %s, no schema "
                        "(%.*s): run media-migrate", PQuser(pg), PQdb(pg),
                        (int) strcspn(msg, "\n"), msg);
        PQclear(res);
        PQfinish(pg);
        return;
    }

    have = atol(PQgetvalue(res, 0, 0));
    PQclear(res);

    want = media_check_last_migration(sqldir);

    if (want < 0) {
        media_check_say("warn", "postgres: schema version %ld; %s: %s, "
                        "cannot tell whether it is the last (-d SQLDIR)",
                        have, sqldir, strerror(errno));

    } else if (have < want) {
        media_check_say("FAIL", "postgres: schema version %ld, %s has up to "
                        "%ld: run media-migrate", have, sqldir, want);

    } else {
        media_check_say("ok", "postgres: connected as %s to %s, schema "
                        "version %ld", PQuser(pg), PQdb(pg), have);
    }

    PQfinish(pg);
}


/* the highest NNN of dir's NNN_name.sql; -1 (errno set) when unreadable */
static long
media_check_last_migration(const char *dir)
{
    long            v, last;
    char           *end;
    DIR            *d;
    struct dirent  *e;

    d = opendir(dir);
    if (d == NULL) {
        return -1;
    }

    last = 0;

    while ((e = readdir(d)) != NULL) {
        v = strtol(e->d_name, &end, 10);

        if (end != e->d_name && *end == '_' && strlen(end) > 4
            && strcmp(end + strlen(end) - 4, ".sql") == 0 && v > last)
        {
            last = v;
        }
    }

    closedir(d);

    return last;
}


/* --- Redis --------------------------------------------------------------- */


static redisContext *
media_check_redis(const media_settings_t *s)
{
    int            persistent, known;
    redisReply    *reply;
    redisContext  *rc;

    rc = media_redis_connect(s);
    if (rc == NULL) {
        if (s->redis.nsentinels) {
            media_check_say("FAIL", "redis: no primary named \"%s\" "
                            "reachable through its %d sentinel(s) (the "
                            "reason is above): check media_redis and that "
                            "Redis and Sentinel run", s->redis.master,
                            s->redis.nsentinels);
        } else {
            media_check_say("FAIL", "redis: unreachable at %s:%d (the "
                            "reason is above): check media_redis and that "
                            "Redis runs", s->redis.addr.port
                            ? s->redis.addr.host : s->redis.addr.path,
                            s->redis.addr.port);
        }
        return NULL;
    }

    persistent = 0;
    known = 0;

    reply = redisCommand(rc, "CONFIG GET appendonly");
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
        known = 1;
        persistent |= strcmp(reply->element[1]->str, "yes") == 0;
    }
    freeReplyObject(reply);

    reply = redisCommand(rc, "CONFIG GET save");
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
        known = 1;
        persistent |= reply->element[1]->str[0] != '\0';
    }
    freeReplyObject(reply);

    if (!known) {
        media_check_say("warn", "redis: reachable; CONFIG is refused, "
                        "cannot tell whether it persists");

    } else if (!persistent) {
        media_check_say("FAIL", "redis: reachable but not persistent (no "
                        "appendonly, no save): a restart loses download "
                        "counts and login limits; set appendonly yes in "
                        "redis.conf");

    } else {
        media_check_say("ok", "redis: reachable and persistent");
    }

    return rc;
}


/* --- storage ------------------------------------------------------------- */


static void
media_check_storage(const media_settings_t *s, const char *user)
{
    int          rv;
    const char  *who;

    who = geteuid() == 0 ? user : "this user";

    rv = media_check_as(geteuid() == 0 ? user : NULL, s->storage);

    if (rv == 0) {
        media_check_say("ok", "storage: %s writable by %s", s->storage, who);

    } else if (rv == 3) {
        media_check_say("FAIL", "storage: no user %s (-u USER: the one the "
                        "workers run as)", user);

    } else {
        media_check_say("FAIL", "storage: %s not writable by %s: %s; "
                        "install -d -o %s %s", s->storage, who,
                        strerror(rv == 1 ? EACCES : ENOENT), user,
                        s->storage);
    }

    if (s->s3.on) {
        media_check_bucket(s);
    }
}


/* a small object put, then deleted, with the workers' key pair */
static void
media_check_bucket(const media_settings_t *s)
{
    int    fd;
    char   path[64], key[128], err[512];

    snprintf(path, sizeof(path), "/tmp/media-check-XXXXXX");
    fd = mkstemp(path);
    if (fd == -1 || write(fd, "check\n", 6) != 6) {
        media_check_say("FAIL", "storage: a temporary file: %s",
                        strerror(errno));
        if (fd != -1) {
            close(fd);
            unlink(path);
        }
        return;
    }

    close(fd);
    snprintf(key, sizeof(key), "check/%d", (int) getpid());

    if (media_s3_put_file(s, key, path, "text/plain", err, sizeof(err)) == 0
        && media_s3_delete(s, key, err, sizeof(err)) == 0)
    {
        media_check_say("ok", "storage: bucket s3://%s/%s at %s takes and "
                        "deletes objects", s->s3.url.bucket,
                        s->s3.url.prefix, s->s3.endpoint);

    } else {
        media_check_say("FAIL", "storage: bucket s3://%s/%s: %s; check "
                        "media_s3_endpoint, media_s3_credentials and the "
                        "key's permissions (PutObject, GetObject, "
                        "DeleteObject, ListBucket)", s->s3.url.bucket,
                        s->s3.url.prefix, err);
    }

    unlink(path);
}


/*
 * In a child that becomes user (NULL: stays who it is): creates and
 * removes a file in dir.  0 when it could; 1 not writable; 2 missing;
 * 3 no such user.
 */
static int
media_check_as(const char *user, const char *dir)
{
    int             fd, status;
    char            path[4096];
    pid_t           pid;
    struct passwd  *pw;

    pid = fork();

    if (pid < 0) {
        return 1;
    }

    if (pid == 0) {
        if (user) {
            pw = getpwnam(user);
            if (pw == NULL) {
                _exit(3);
            }

            if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0
                || setuid(pw->pw_uid) != 0)
            {
                _exit(1);
            }
        }

        if (access(dir, F_OK) != 0) {
            _exit(2);
        }

        if (media_path(path, sizeof(path), "%s/.media-check-XXXXXX", dir)
            != 0)
        {
            _exit(1);
        }

        fd = mkstemp(path);
        if (fd < 0) {
            _exit(1);
        }

        close(fd);
        _exit(unlink(path) == 0 ? 0 : 1);
    }

    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return 1;
        }
    }

    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}


/* --- workers ------------------------------------------------------------- */


static void
media_check_workers(const media_settings_t *s, redisContext *rc)
{
    int              i, need;
    long             now, wait;
    redisReply      *reply;
    struct timeval   tv;

    static const char  *types[] = { "transcode", "sweep", "billing",
                                    "export" };
    static const char  *programs[] = { "media-transcoder@1", "media-sweeper",
                                       "media-billing", "media-exporter" };

    for (i = 0, wait = 0; i < 4; i++) {
        gettimeofday(&tv, NULL);
        now = tv.tv_sec * 1000L + tv.tv_usec / 1000;

        reply = redisCommand(rc, "ZCOUNT " MEDIA_KEY_WORKERS "%s %ld +inf",
                             types[i], now - MEDIA_WORKERS_SEEN);

        if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
            media_check_say("FAIL", "workers: %s: %s", types[i],
                            reply ? reply->str : rc->errstr);
            freeReplyObject(reply);
            return;
        }

        /* billing only once Stripe is set up; exports are optional */
        need = i < 2 || (i == 2 && s->stripe_key_file != NULL);

        /* workers started a moment ago (systemctl enable --now, then
         * this) beat once connected: give them that moment */
        if (need && reply->type == REDIS_REPLY_INTEGER
            && reply->integer == 0 && wait < MEDIA_CHECK_START)
        {
            freeReplyObject(reply);
            media_sleep(250);
            wait += 250;
            i--;
            continue;
        }

        if (reply->integer > 0) {
            media_check_say("ok", "workers: %s, %lld alive", types[i],
                            reply->integer);

        } else {
            media_check_say(need ? "FAIL" : "warn", "workers: no %s consumer "
                            "seen in the last %d s: systemctl start %s",
                            types[i], MEDIA_WORKERS_SEEN / 1000, programs[i]);
        }

        freeReplyObject(reply);
    }
}
