/*
 * media-admin roles and audit.
 *
 *   roles list                       the accounts whose role is not user
 *   roles grant ID|EMAIL ROLE [REASON]
 *                                    sets the role (user, creator,
 *                                    moderator, admin); audited
 *   audit verify                     walks the audit trail's hash chain
 *
 * A change made here is audited as one made through the API is (sql/
 * 023_roles.sql's media_user_change()), with no actor id (the console has
 * no account), the actor role "operator", and a reason naming the Unix
 * user who ran it.  It reaches every nginx node within a second.
 *
 * "audit verify" exits 0 printing "chain intact, N rows", or 1 listing
 * each broken row: its id and what does not hold (sql/021_audit.sql's
 * media_audit_verify()).  A row altered in place breaks its own hash; a
 * row removed breaks the prev_hash of the row after it.  The download uses
 * sealed into the chain are checked against their seals too (sql/028's
 * media_download_verify()).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pwd.h>

#include "worker.h"
#include "roles.h"


#define MEDIA_ADMIN_ROLES_MAX       1000
#define MEDIA_ADMIN_ROLES_MAX_TEXT  "1000"


/* the statements of this file, each prepared once per connection */

static media_stmt_t  media_sql_roles_list =
    media_stmt("admin_roles_list", 0,
        "SELECT role, id, coalesce(email, '-') FROM users"
        " WHERE role <> 'user'"
        " ORDER BY array_position(ARRAY['admin', 'moderator', 'creator'],"
        "                         role), lower(email), id"
        /* a screenful of staff; a platform of creators is searched in
         * the admin area (GET /api/v1/admin/users?q=) */
        " LIMIT " MEDIA_ADMIN_ROLES_MAX_TEXT " + 1");

static media_stmt_t  media_sql_roles_grant =
    media_stmt("admin_roles_grant", 3,
        "SELECT id, coalesce(email, '-'), role, plan, creator_plan"
        " FROM media_user_change((SELECT id FROM users"
        "                          WHERE id::text = lower($1)"
        "                             OR email_key = lower($1)),"
        "                         $2, NULL, NULL, 'operator', $3, NULL)");

/* a head recorded outside the database: is that row still that hash? */
static media_stmt_t  media_sql_audit_head =
    media_stmt("admin_audit_head", 2,
        "SELECT encode(hash, 'hex') = lower($2),"
        "  (SELECT id || ':' || encode(hash, 'hex') FROM audit_log"
        "    ORDER BY id DESC LIMIT 1)"
        " FROM (SELECT 1) one LEFT JOIN audit_log ON id = $1::bigint");

/* one statement, one snapshot: the count and the problems agree */
static media_stmt_t  media_sql_audit_verify =
    media_stmt("admin_audit_verify", 0,
        "SELECT (SELECT count(*) FROM audit_log), v.id, v.problem"
        " FROM (SELECT 1) one"
        " LEFT JOIN (SELECT * FROM media_audit_verify()"
        "            UNION ALL SELECT * FROM media_download_verify()) v"
        "   ON true"
        " ORDER BY v.id");


static const char  *media_roles[] = {
    "user", "creator", "moderator", "admin", NULL
};


static int media_admin_roles_list(PGconn *pg);
static int media_admin_roles_grant(PGconn *pg, int argc, char **argv);
static int media_admin_audit_verify(PGconn *pg, const char *head);


const char *
media_admin_reason(const char *given)
{
    static char     reason[256];
    const char     *who;
    struct passwd  *pw;

    pw = getpwuid(getuid());
    who = pw ? pw->pw_name : "?";

    if (given && given[0]) {
        snprintf(reason, sizeof(reason), "%.190s (media-admin, unix user "
                 "%s)", given, who);
    } else {
        snprintf(reason, sizeof(reason), "media-admin, unix user %s", who);
    }

    return reason;
}


int
media_admin_roles(PGconn *pg, int argc, char **argv)
{
    if (argc == 0 || (argc == 1 && strcmp(argv[0], "list") == 0)) {
        return media_admin_roles_list(pg);
    }

    if ((argc == 3 || argc == 4) && strcmp(argv[0], "grant") == 0) {
        return media_admin_roles_grant(pg, argc - 1, argv + 1);
    }

    return 2;
}


static int
media_admin_roles_list(PGconn *pg)
{
    int        r;
    PGresult  *res;

    res = media_pg_exec(pg, &media_sql_roles_list, NULL);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        media_log_error("roles list: %s", PQresultErrorMessage(res));
        PQclear(res);
        return 1;
    }

    for (r = 0; r < PQntuples(res) && r < MEDIA_ADMIN_ROLES_MAX; r++) {
        printf("%s\t%s\t%s\n", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
               PQgetvalue(res, r, 2));
    }

    if (PQntuples(res) > MEDIA_ADMIN_ROLES_MAX) {
        fprintf(stderr, "roles list: the first %d shown, there are more; "
                "search them in the admin area (GET /api/v1/admin/users?q=)"
                "\n", MEDIA_ADMIN_ROLES_MAX);
    }

    PQclear(res);

    return 0;
}


/* argv: ID|EMAIL ROLE [REASON] */
static int
media_admin_roles_grant(PGconn *pg, int argc, char **argv)
{
    int          i, c;
    PGresult    *res;
    const char  *params[3];

    for (i = 0; media_roles[i]; i++) {
        if (strcmp(argv[1], media_roles[i]) == 0) {
            break;
        }
    }

    if (media_roles[i] == NULL) {
        media_log_error("roles grant: \"%s\" is no role; use user, creator, "
                        "moderator or admin", argv[1]);
        return 2;
    }

    params[0] = argv[0];
    params[1] = argv[1];
    params[2] = media_admin_reason(argc == 3 ? argv[2] : NULL);

    res = media_pg_exec(pg, &media_sql_roles_grant, params);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        media_log_error("roles grant: %s", PQresultErrorMessage(res));
        PQclear(res);
        return 1;
    }

    if (PQntuples(res) == 0) {
        media_log_error("roles grant: no account has the id or email "
                        "\"%s\"", argv[0]);
        PQclear(res);
        return 1;
    }

    for (c = 0; c < PQnfields(res); c++) {
        printf("%s%s", c ? "\t" : "", PQgetvalue(res, 0, c));
    }
    printf("\n");

    PQclear(res);

    return 0;
}


int
media_admin_audit(PGconn *pg, int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "verify") == 0) {
        return media_admin_audit_verify(pg, NULL);
    }

    if (argc == 3 && strcmp(argv[0], "verify") == 0
        && strcmp(argv[1], "--head") == 0)
    {
        return media_admin_audit_verify(pg, argv[2]);
    }

    return 2;
}


static int
media_admin_audit_verify(PGconn *pg, const char *head)
{
    int          r, broken, held;
    char         id[32];
    PGresult    *res;
    const char  *colon, *params[2];

    held = 1;

    /* ID:HASH, as the sweeper logs it: the chain must still end in it or
     * pass through it, since a rewrite by the table's owner can leave a
     * chain that holds in itself */
    if (head) {
        colon = strchr(head, ':');
        if (colon == NULL || colon == head || colon - head >= 20
            || strlen(colon + 1) != 64)
        {
            media_log_error("audit verify --head: expected ID:HASH (the "
                            "row's id and its 64 hex digits), as the "
                            "sweeper's log prints it, not \"%s\"", head);
            return 2;
        }

        snprintf(id, sizeof(id), "%.*s", (int) (colon - head), head);
        params[0] = id;
        params[1] = colon + 1;

        res = media_pg_exec(pg, &media_sql_audit_head, params);

        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            media_log_error("audit verify: %s", PQresultErrorMessage(res));
            PQclear(res);
            return 1;
        }

        held = PQgetvalue(res, 0, 0)[0] == 't';

        if (!held) {
            printf("row %s: %s the head recorded outside the database "
                   "(the trail was rewritten since; its head now: %s)\n",
                   id, PQgetisnull(res, 0, 0) ? "gone: it was"
                                              : "its hash is not",
                   PQgetisnull(res, 0, 1) ? "none" : PQgetvalue(res, 0, 1));
        }

        PQclear(res);
    }

    res = media_pg_exec(pg, &media_sql_audit_verify, NULL);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) {
        media_log_error("audit verify: %s", PQresultErrorMessage(res));
        PQclear(res);
        return 1;
    }

    broken = 0;

    for (r = 0; r < PQntuples(res); r++) {
        if (PQgetisnull(res, r, 1)) {
            continue;
        }

        printf("row %s: %s\n", PQgetvalue(res, r, 1), PQgetvalue(res, r, 2));
        broken++;
    }

    if (!held) {
        broken++;
    }

    if (broken) {
        printf("chain broken: %d problem%s in %s rows\n", broken,
               broken == 1 ? "" : "s", PQgetvalue(res, 0, 0));
    } else {
        printf("chain intact, %s rows%s\n", PQgetvalue(res, 0, 0),
               head ? ", through the head given" : "");
    }

    PQclear(res);

    return broken ? 1 : 0;
}
