/*
 * media-admin: what an operator does by hand, on the rows that decide what
 * people may do.
 *
 *   media-admin [-c nginx.conf] users
 *   media-admin [-c nginx.conf] user ID|EMAIL [role=ROLE] [plan=PLAN]
 *   media-admin [-c nginx.conf] plans [list|export|import FILE|set ID k=v…]
 *   media-admin [-c nginx.conf] roles [list | grant ID|EMAIL ROLE [REASON]]
 *   media-admin [-c nginx.conf] audit verify [--head ID:HASH]
 *   media-admin [-c nginx.conf] check [-u USER] [-d SQLDIR]
 *
 * "users" lists the newest hundred accounts; "user" shows one, and sets
 * its role (user, creator, moderator, admin) or plan first when asked (a
 * creator plan is the account's creator plan, any other its viewer plan),
 * each change audited (roles.c says how); "plans" edits the catalogue
 * (plans.c); "roles" and "audit" are in roles.c; "check" (check.c) says
 * what is missing or wrong in the installation.  A change
 * reaches every nginx node within a second (the module reads a users row
 * again once its cached copy is a second old).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"
#include "plans.h"
#include "roles.h"
#include "check.h"


const char  *media_worker_name = "media-admin";


/* the statements of this file, each prepared once per connection */

static media_stmt_t  media_sql_users =
    media_stmt("admin_users", 0,
        "SELECT id, coalesce(email, '-'), role, plan, creator_plan"
        " FROM users ORDER BY created_at DESC LIMIT 100");

static media_stmt_t  media_sql_user_set =
    media_stmt("admin_user_set", 4,
        "SELECT id, coalesce(email, '-'), role, plan, creator_plan"
        " FROM media_user_change((SELECT id FROM users"
        "                          WHERE id::text = lower($1)"
        "                             OR lower(email) = lower($1)), $2, $3,"
        "                         NULL, 'operator', $4, NULL)");


static int media_admin_users(PGconn *pg);
static int media_admin_user(PGconn *pg, int argc, char **argv);
static int media_admin_print(PGresult *res);
static void media_admin_usage(void);


int
main(int argc, char **argv)
{
    int                rv, opt;
    PGconn            *pg;
    const char        *conf;
    media_settings_t   s;

    conf = MEDIA_DEFAULT_CONF;

    /* a site's users, plans and roles: the default tenant's unless -t
     * names another ("*": every tenant, for audit verify) */
    media_worker_tenant = "default";

    /* "+": options stop at the command, whose own start with "--" */
    while ((opt = getopt(argc, argv, "+c:t:")) != -1) {
        switch (opt) {
        case 'c':
            conf = optarg;
            break;
        case 't':
            media_worker_tenant = optarg;
            break;
        default:
            media_admin_usage();
            return 2;
        }
    }

    if (optind >= argc) {
        media_admin_usage();
        return 2;
    }

    media_settings_load(&s, conf);

    /* check reports a database it cannot reach, rather than stopping */
    if (strcmp(argv[optind], "check") == 0) {
        rv = media_admin_check(&s, argc - optind - 1, argv + optind + 1);
        if (rv == 2) {
            media_admin_usage();
        }
        media_settings_free(&s);
        return rv;
    }

    pg = media_pg_connect(&s);
    if (pg == NULL) {
        media_settings_free(&s);
        return 1;
    }

    if (strcmp(argv[optind], "users") == 0 && optind + 1 == argc) {
        rv = media_admin_users(pg);

    } else if (strcmp(argv[optind], "user") == 0 && optind + 1 < argc) {
        rv = media_admin_user(pg, argc - optind - 1, argv + optind + 1);

    } else if (strcmp(argv[optind], "plans") == 0) {
        rv = media_admin_plans(pg, argc - optind - 1, argv + optind + 1);
        if (rv == 2) {
            media_admin_usage();
        }

    } else if (strcmp(argv[optind], "roles") == 0) {
        rv = media_admin_roles(pg, argc - optind - 1, argv + optind + 1);
        if (rv == 2) {
            media_admin_usage();
        }

    } else if (strcmp(argv[optind], "audit") == 0) {
        rv = media_admin_audit(pg, argc - optind - 1, argv + optind + 1);
        if (rv == 2) {
            media_admin_usage();
        }

    } else {
        media_admin_usage();
        rv = 2;
    }

    PQfinish(pg);
    media_settings_free(&s);

    return rv;
}


static int
media_admin_users(PGconn *pg)
{
    int        rv;
    PGresult  *res;

    res = media_pg_exec(pg, &media_sql_users, NULL);

    rv = media_admin_print(res);
    PQclear(res);

    return rv;
}


/* argv: ID|EMAIL [role=ROLE] [plan=PLAN] */
static int
media_admin_user(PGconn *pg, int argc, char **argv)
{
    int          i, rv;
    PGresult    *res;
    const char  *params[4];

    params[0] = argv[0];
    params[1] = NULL;
    params[2] = NULL;
    params[3] = media_admin_reason(NULL);

    for (i = 1; i < argc; i++) {
        if (strncmp(argv[i], "role=", 5) == 0) {
            params[1] = argv[i] + 5;

        } else if (strncmp(argv[i], "plan=", 5) == 0) {
            params[2] = argv[i] + 5;

        } else {
            media_log_error("user: \"%s\" is neither role=ROLE nor "
                            "plan=PLAN", argv[i]);
            return 2;
        }
    }

    /* the users table checks role; a plan is a name like an identifier */
    if (params[2] && (strlen(params[2]) == 0 || strlen(params[2]) > 32
                      || strspn(params[2], "abcdefghijklmnopqrstuvwxyz"
                                           "0123456789_-")
                         != strlen(params[2])))
    {
        media_log_error("user: plan \"%s\": use 1 to 32 characters of "
                        "a-z, 0-9, _ and -", params[2]);
        return 2;
    }

    /* as PATCH /api/v1/admin/users/{id} does it; an unknown plan fails
     * the foreign key */
    res = media_pg_exec(pg, &media_sql_user_set, params);

    if (PQresultStatus(res) == PGRES_FATAL_ERROR
        && strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23503") == 0)
    {
        media_log_error("user: no plan \"%s\"; \"%s plans\" lists them",
                        params[2], media_worker_name);
        PQclear(res);
        return 1;
    }

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
        media_log_error("user: no account has the id or email \"%s\"",
                        argv[0]);
        PQclear(res);
        return 1;
    }

    rv = media_admin_print(res);
    PQclear(res);

    return rv;
}


/* rows as tab-separated lines; the error with context otherwise */
static int
media_admin_print(PGresult *res)
{
    int  r, c;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        media_log_error("query: %s", PQresultErrorMessage(res));
        return 1;
    }

    for (r = 0; r < PQntuples(res); r++) {
        for (c = 0; c < PQnfields(res); c++) {
            printf("%s%s", c ? "\t" : "", PQgetvalue(res, r, c));
        }
        printf("\n");
    }

    return 0;
}


static void
media_admin_usage(void)
{
    fprintf(stderr,
            "usage: %s [-c nginx.conf] [-t TENANT] users\n"
            "       %s [-c nginx.conf] user ID|EMAIL [role=user|creator|"
            "moderator|admin] [plan=PLAN]\n"
            "       %s [-c nginx.conf] plans [list | export | import FILE |"
            " set ID key=value...]\n"
            "       %s [-c nginx.conf] roles [list | grant ID|EMAIL "
            "user|creator|moderator|admin [REASON]]\n"
            "       %s [-c nginx.conf] audit verify [--head ID:HASH]\n"
            "       %s [-c nginx.conf] check [-u USER] [-d SQLDIR]\n"
            "  -t TENANT: the site of media_tenant TENANT (default: the one "
            "without;\n  \"*\": every tenant)\n",
            media_worker_name, media_worker_name, media_worker_name,
            media_worker_name, media_worker_name, media_worker_name);
}
