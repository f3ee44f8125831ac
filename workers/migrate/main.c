/*
 * media-migrate: applies sql/NNN_name.sql in order, each in its own
 * transaction, recording it in media_schema_migrations so that running it
 * again is a no-op.  An advisory lock keeps two runs from racing.
 *
 *   media-migrate [-c nginx.conf] [-d sqldir]
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"


#define MEDIA_SQL_DIR  "/usr/share/ngx_media/sql"


const char  *media_worker_name = "media-migrate";


static media_stmt_t  media_sql_applied =
    media_stmt("migrate_applied", 1,
        "SELECT 1 FROM media_schema_migrations WHERE version = $1");

static media_stmt_t  media_sql_record =
    media_stmt("migrate_record", 2,
        "INSERT INTO media_schema_migrations (version, name)"
        " VALUES ($1, $2)");


static int media_sql_file(const struct dirent *d);
static int media_exec(PGconn *pg, const char *what, const char *sql);
static int media_apply(PGconn *pg, const char *dir, const char *file);
static char *media_read_file(const char *path);


int
main(int argc, char **argv)
{
    int                i, n, rv, opt;
    PGconn            *pg;
    const char        *conf, *dir;
    struct dirent    **files;
    media_settings_t   s;

    conf = MEDIA_DEFAULT_CONF;
    dir = MEDIA_SQL_DIR;

    while ((opt = getopt(argc, argv, "c:d:")) != -1) {
        switch (opt) {
        case 'c':
            conf = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        default:
            fprintf(stderr, "usage: %s [-c nginx.conf] [-d sqldir]\n",
                    media_worker_name);
            return 2;
        }
    }

    media_settings_load(&s, conf);

    pg = media_pg_connect(&s);
    if (pg == NULL) {
        media_settings_free(&s);
        return 1;
    }

    rv = 1;
    files = NULL;
    n = 0;

    if (media_exec(pg, "lock", "SELECT pg_advisory_lock(7411001)") != 0
        || media_exec(pg, "create media_schema_migrations",
                      "CREATE TABLE IF NOT EXISTS media_schema_migrations ("
                      " version integer PRIMARY KEY,"
                      " name text NOT NULL,"
                      " applied_at timestamptz NOT NULL DEFAULT now())")
           != 0)
    {
        goto done;
    }

    n = scandir(dir, &files, media_sql_file, alphasort);
    if (n < 0) {
        media_log_error("migrate: %s: %s", dir, strerror(errno));
        goto done;
    }

    for (i = 0; i < n; i++) {
        if (media_apply(pg, dir, files[i]->d_name) != 0) {
            goto done;
        }
    }

    rv = 0;

done:

    for (i = 0; i < n; i++) {
        free(files[i]);
    }
    free(files);

    PQfinish(pg);
    media_settings_free(&s);

    return rv;
}


/* "001_init.sql": digits, an underscore, a name, ".sql" */
static int
media_sql_file(const struct dirent *d)
{
    size_t       len;
    const char  *p;

    for (p = d->d_name; *p >= '0' && *p <= '9'; p++) { /* void */ }

    len = strlen(d->d_name);

    return p != d->d_name && *p == '_' && len > 4
           && strcmp(d->d_name + len - 4, ".sql") == 0;
}


static int
media_exec(PGconn *pg, const char *what, const char *sql)
{
    PGresult  *res;
    int        ok;

    res = PQexec(pg, sql);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK
         || PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok) {
        media_log_error("migrate: %s: %s", what, PQerrorMessage(pg));
    }

    PQclear(res);
    return ok ? 0 : -1;
}


static int
media_apply(PGconn *pg, const char *dir, const char *file)
{
    int          rv;
    char         path[4096], version[16];
    char        *sql;
    PGresult    *res;
    const char  *params[2];

    snprintf(version, sizeof(version), "%d", atoi(file));
    params[0] = version;
    params[1] = file;

    res = media_pg_exec(pg, &media_sql_applied, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        media_log_error("migrate: %s: %s", file, PQerrorMessage(pg));
        PQclear(res);
        return -1;
    }

    if (PQntuples(res) == 1) {
        PQclear(res);
        return 0;
    }

    PQclear(res);

    snprintf(path, sizeof(path), "%s/%s", dir, file);

    sql = media_read_file(path);
    if (sql == NULL) {
        return -1;
    }

    rv = -1;

    if (media_exec(pg, "begin", "BEGIN") != 0) {
        goto done;
    }

    if (media_exec(pg, file, sql) != 0) {
        (void) media_exec(pg, "rollback", "ROLLBACK");
        goto done;
    }

    res = media_pg_exec(pg, &media_sql_record, params);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        media_log_error("migrate: record %s: %s", file, PQerrorMessage(pg));
        PQclear(res);
        (void) media_exec(pg, "rollback", "ROLLBACK");
        goto done;
    }
    PQclear(res);

    if (media_exec(pg, "commit", "COMMIT") != 0) {
        goto done;
    }

    media_log_info("migrate: applied %s", file);
    rv = 0;

done:

    free(sql);
    return rv;
}


static char *
media_read_file(const char *path)
{
    char    *buf;
    long     size;
    FILE    *f;

    f = fopen(path, "r");
    if (f == NULL) {
        media_log_error("migrate: open %s: %s", path, strerror(errno));
        return NULL;
    }

    buf = NULL;

    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0
        && fseek(f, 0, SEEK_SET) == 0
        && (buf = malloc(size + 1)) != NULL)
    {
        if (fread(buf, 1, size, f) == (size_t) size) {
            buf[size] = '\0';

        } else {
            free(buf);
            buf = NULL;
        }
    }

    if (buf == NULL) {
        media_log_error("migrate: read %s failed", path);
    }

    fclose(f);
    return buf;
}
