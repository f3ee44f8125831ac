/*
 * media-admin plans: the catalogue an admin edits.
 *
 *   plans                     one line per plan
 *   plans export              the catalogue as JSON, the form import reads
 *   plans import FILE         every plan in FILE created or replaced, in one
 *                             transaction (a plan missing from FILE stays)
 *   plans set ID key=value…   one plan changed, or made when it is new
 *                             (then name= and audience= are needed)
 *
 * Keys: name, audience (viewer|creator), price_cents, currency,
 * stripe_price_id, storage_bytes, media_count, exports_per_month,
 * downloads_per_month, max_rung, ads, is_default, position.  A limit set to
 * "unlimited" is NULL.  PostgreSQL's checks refuse what does not fit
 * (sql/007_billing.sql); max_rung must be a rung the transcoder makes.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"
#include "plans.h"
#include "media_hlspath.h"


typedef struct {
    const char  *key;
    const char  *cast;
    unsigned     limit:1;          /* "unlimited" means NULL */
} media_plan_key_t;


static const media_plan_key_t  media_plan_keys[] = {
    { "name", "text", 0 },
    { "audience", "text", 0 },
    { "price_cents", "integer", 0 },
    { "currency", "text", 0 },
    { "stripe_price_id", "text", 1 },
    { "storage_bytes", "bigint", 1 },
    { "media_count", "integer", 1 },
    { "exports_per_month", "integer", 1 },
    { "downloads_per_month", "integer", 1 },
    { "max_rung", "integer", 1 },
    { "ads", "boolean", 0 },
    { "is_default", "boolean", 0 },
    { "position", "integer", 0 },
};

#define MEDIA_PLAN_NKEYS                                                      \
    (sizeof(media_plan_keys) / sizeof(media_plan_keys[0]))


/* the catalogue as GET /api/v1/plans words it, plus what only admins set */
#define MEDIA_PLANS_EXPORT                                                    \
    "SELECT jsonb_pretty(jsonb_build_object('plans', coalesce(jsonb_agg("     \
    "  jsonb_build_object('id', id, 'name', name, 'audience', audience,"      \
    "    'price_cents', price_cents, 'currency', currency,"                   \
    "    'stripe_price_id', stripe_price_id, 'ads', ads,"                     \
    "    'is_default', is_default, 'position', position,"                     \
    "    'limits', jsonb_build_object('storage_bytes', storage_bytes,"        \
    "      'media_count', media_count,"                                       \
    "      'exports_per_month', exports_per_month,"                           \
    "      'downloads_per_month', downloads_per_month,"                       \
    "      'max_rung', max_rung))"                                            \
    "  ORDER BY position, id), '[]')))"                                       \
    " FROM plans"

/* every plan of the document, whole: absent limits are unlimited */
#define MEDIA_PLANS_IMPORT                                                    \
    "INSERT INTO plans AS p (id, name, audience, price_cents, currency,"      \
    "  stripe_price_id, storage_bytes, media_count, exports_per_month,"       \
    "  downloads_per_month, max_rung, ads, is_default, position)"             \
    " SELECT j.id, j.name, j.audience, coalesce(j.price_cents, 0),"           \
    "   coalesce(j.currency, 'usd'), j.stripe_price_id,"                      \
    "   (j.limits->>'storage_bytes')::bigint,"                                \
    "   (j.limits->>'media_count')::integer,"                                 \
    "   (j.limits->>'exports_per_month')::integer,"                           \
    "   (j.limits->>'downloads_per_month')::integer,"                         \
    "   (j.limits->>'max_rung')::integer,"                                    \
    "   coalesce(j.ads, false), coalesce(j.is_default, false),"               \
    "   coalesce(j.position, j.n * 10)"                                       \
    " FROM ROWS FROM (jsonb_to_recordset("                                    \
    "     coalesce($1::jsonb->'plans', $1::jsonb))"                           \
    "   AS (id text, name text, audience text, price_cents integer,"          \
    "     currency text, stripe_price_id text, limits jsonb, ads boolean,"    \
    "     is_default boolean, position integer))"                             \
    "   WITH ORDINALITY AS j (id, name, audience, price_cents, currency,"     \
    "     stripe_price_id, limits, ads, is_default, position, n)"             \
    " ON CONFLICT (id, tenant) DO UPDATE SET name = excluded.name,"           \
    "   audience = excluded.audience, price_cents = excluded.price_cents,"    \
    "   currency = excluded.currency,"                                        \
    "   stripe_price_id = excluded.stripe_price_id,"                          \
    "   storage_bytes = excluded.storage_bytes,"                              \
    "   media_count = excluded.media_count,"                                  \
    "   exports_per_month = excluded.exports_per_month,"                      \
    "   downloads_per_month = excluded.downloads_per_month,"                  \
    "   max_rung = excluded.max_rung, ads = excluded.ads,"                    \
    "   is_default = excluded.is_default, position = excluded.position"      \
    " RETURNING id, max_rung"


/* the statements of this file, each prepared once per connection */

static media_stmt_t  media_sql_plans =
    media_stmt("admin_plans", 0,
        "SELECT id, audience, name, price_cents || ' ' || currency,"
        "  coalesce(stripe_price_id, '-'),"
        "  'storage=' || coalesce(storage_bytes::text, 'unlimited'),"
        "  'media=' || coalesce(media_count::text, 'unlimited'),"
        "  'exports=' || coalesce(exports_per_month::text, 'unlimited'),"
        "  'downloads=' || coalesce(downloads_per_month::text, 'unlimited'),"
        "  'max_rung=' || coalesce(max_rung::text, 'unlimited'),"
        "  CASE WHEN ads THEN 'ads' ELSE 'no-ads' END,"
        "  CASE WHEN is_default THEN 'default' ELSE '-' END"
        " FROM plans ORDER BY position, id");

static media_stmt_t  media_sql_export =
    media_stmt("admin_plans_export", 0, MEDIA_PLANS_EXPORT);

static media_stmt_t  media_sql_import =
    media_stmt("admin_plans_import", 1, MEDIA_PLANS_IMPORT);

static media_stmt_t  media_sql_new =
    media_stmt("admin_plans_new", 3,
        "INSERT INTO plans (id, name, audience) VALUES ($1, $2, $3)"
        " ON CONFLICT (id, tenant) DO NOTHING");

/* its text is made from media_plan_keys on first use */
static media_stmt_t  media_sql_set =
    media_stmt("admin_plans_set", MEDIA_PLAN_NKEYS + 2, NULL);


static int media_plans_list(PGconn *pg);
static int media_plans_export(PGconn *pg);
static int media_plans_import(PGconn *pg, const char *file);
static int media_plans_set(PGconn *pg, int argc, char **argv);
static int media_plans_rung(const char *v);
static int media_plans_done(PGresult *res, const char *what);
static char *media_plans_read(const char *file);


int
media_admin_plans(PGconn *pg, int argc, char **argv)
{
    if (argc == 0 || (argc == 1 && strcmp(argv[0], "list") == 0)) {
        return media_plans_list(pg);
    }

    if (argc == 1 && strcmp(argv[0], "export") == 0) {
        return media_plans_export(pg);
    }

    if (argc == 2 && strcmp(argv[0], "import") == 0) {
        return media_plans_import(pg, argv[1]);
    }

    if (argc >= 3 && strcmp(argv[0], "set") == 0) {
        return media_plans_set(pg, argc - 1, argv + 1);
    }

    return 2;
}


static int
media_plans_list(PGconn *pg)
{
    int        r, c;
    PGresult  *res;

    res = media_pg_exec(pg, &media_sql_plans, NULL);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        return media_plans_done(res, "plans");
    }

    for (r = 0; r < PQntuples(res); r++) {
        for (c = 0; c < PQnfields(res); c++) {
            printf("%s%s", c ? "\t" : "", PQgetvalue(res, r, c));
        }
        printf("\n");
    }

    PQclear(res);

    return 0;
}


static int
media_plans_export(PGconn *pg)
{
    PGresult  *res;

    res = media_pg_exec(pg, &media_sql_export, NULL);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        return media_plans_done(res, "plans export");
    }

    printf("%s\n", PQgetvalue(res, 0, 0));
    PQclear(res);

    return 0;
}


static int
media_plans_import(PGconn *pg, const char *file)
{
    int          r, n;
    char        *json;
    PGresult    *res;
    const char  *params[1];

    json = media_plans_read(file);
    if (json == NULL) {
        return 1;
    }

    params[0] = json;

    res = PQexec(pg, "BEGIN");
    PQclear(res);

    res = media_pg_exec(pg, &media_sql_import, params);
    free(json);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(PQexec(pg, "ROLLBACK"));
        return media_plans_done(res, "plans import");
    }

    n = PQntuples(res);

    for (r = 0; r < n; r++) {
        if (!PQgetisnull(res, r, 1) && !media_plans_rung(PQgetvalue(res, r, 1)))
        {
            media_log_error("plans import: plan \"%s\": max_rung %s is not a "
                            "rung the transcoder makes ("
                            MEDIA_HLS_VIDEO_RUNGS_TEXT "); nothing imported",
                            PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
            PQclear(res);
            PQclear(PQexec(pg, "ROLLBACK"));
            return 1;
        }
    }

    PQclear(res);

    res = PQexec(pg, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        return media_plans_done(res, "plans import");
    }

    PQclear(res);
    printf("imported %d plans\n", n);

    return 0;
}


/* argv: ID key=value... */
static int
media_plans_set(PGconn *pg, int argc, char **argv)
{
    int          i, k, rv;
    char         given[512], *eq, *p, *last;
    static char  sql[4096];
    PGresult    *res;
    const char  *params[MEDIA_PLAN_NKEYS + 2];

    memset(params, 0, sizeof(params));
    params[0] = argv[0];
    given[0] = '\0';

    for (i = 1; i < argc; i++) {
        eq = strchr(argv[i], '=');

        for (k = 0; eq && k < (int) MEDIA_PLAN_NKEYS; k++) {
            if (strlen(media_plan_keys[k].key) == (size_t) (eq - argv[i])
                && strncmp(argv[i], media_plan_keys[k].key, eq - argv[i]) == 0)
            {
                break;
            }
        }

        if (eq == NULL || k == (int) MEDIA_PLAN_NKEYS) {
            media_log_error("plans set: \"%s\" is not key=value with a key "
                            "of: name, audience, price_cents, currency, "
                            "stripe_price_id, storage_bytes, media_count, "
                            "exports_per_month, downloads_per_month, "
                            "max_rung, ads, is_default, position", argv[i]);
            return 2;
        }

        params[k + 1] = (media_plan_keys[k].limit
                         && strcmp(eq + 1, "unlimited") == 0)
                        ? NULL : eq + 1;

        if (strcmp(media_plan_keys[k].key, "max_rung") == 0 && params[k + 1]
            && !media_plans_rung(params[k + 1]))
        {
            media_log_error("plans set: max_rung %s is not a rung the "
                            "transcoder makes (" MEDIA_HLS_VIDEO_RUNGS_TEXT
                            ", or unlimited)", eq + 1);
            return 1;
        }

        strncat(given, ",", sizeof(given) - strlen(given) - 1);
        strncat(given, media_plan_keys[k].key,
                sizeof(given) - strlen(given) - 1);
    }

    strncat(given, ",", sizeof(given) - strlen(given) - 1);
    params[MEDIA_PLAN_NKEYS + 1] = given;

    /* a new plan is made first, when name and audience are given */
    if (params[1] && params[2]) {
        res = media_pg_exec(pg, &media_sql_new, params);
        rv = media_plans_done(res, "plans set");
        if (rv) {
            return rv;
        }
    }

    /* one statement for any set of keys: each column keeps its value
     * unless the key list names it; the text is the same every time */
    p = sql;
    last = sql + sizeof(sql);
    p += snprintf(p, last - p, "UPDATE plans SET ");

    for (k = 0; k < (int) MEDIA_PLAN_NKEYS; k++) {
        p += snprintf(p, last - p,
                      "%s%s = CASE WHEN strpos($%d, ',%s,') > 0"
                      " THEN $%d::%s ELSE %s END",
                      k ? ", " : "", media_plan_keys[k].key,
                      (int) MEDIA_PLAN_NKEYS + 2, media_plan_keys[k].key,
                      k + 2, media_plan_keys[k].cast, media_plan_keys[k].key);
    }

    snprintf(p, last - p, " WHERE id = $1 RETURNING id");
    media_sql_set.sql = sql;

    res = media_pg_exec(pg, &media_sql_set, params);

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
        PQclear(res);
        media_log_error("plans set: no plan \"%s\"; to make one, give "
                        "name=NAME and audience=viewer|creator", argv[0]);
        return 1;
    }

    rv = media_plans_done(res, "plans set");

    return rv ? rv : media_plans_list(pg);
}


static int
media_plans_rung(const char *v)
{
    char  *end;
    long   n;

    n = strtol(v, &end, 10);

    return *end == '\0' && n > 0 && n < 65536
           && media_hls_rung_known((unsigned) n);
}


/* 0 for a result that went through; the server's refusal, said, else */
static int
media_plans_done(PGresult *res, const char *what)
{
    ExecStatusType  st;

    st = PQresultStatus(res);

    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        PQclear(res);
        return 0;
    }

    media_log_error("%s: %s", what, PQresultErrorMessage(res));
    PQclear(res);

    return 1;
}


static char *
media_plans_read(const char *file)
{
    FILE    *f;
    long     size;
    char    *buf;

    f = fopen(file, "r");
    if (f == NULL) {
        media_log_error("plans import: cannot open %s: %m", file);
        return NULL;
    }

    buf = NULL;

    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0
        && size < 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0
        && (buf = malloc(size + 1)) != NULL)
    {
        if (fread(buf, 1, size, f) == (size_t) size) {
            buf[size] = '\0';

        } else {
            free(buf);
            buf = NULL;
        }
    }

    fclose(f);

    if (buf == NULL) {
        media_log_error("plans import: cannot read %s (at most 1 MB)", file);
    }

    return buf;
}
