/*
 * The audit trail, read by admins (sql/021_audit.sql writes it,
 * sql/023_roles.sql's media_audit_page() reads it):
 *
 *   GET /api/v1/admin/audit?actor=&target_type=&target=&action=&since=
 *                          &cursor=&limit=&format=json|csv
 *
 * Newest first; the cursor is the id of the last row of the page before.
 * format=csv is the same filter as a CSV attachment, in pages too: one
 * response holds at most NGX_HTTP_MEDIA_CSV_MAX rows (the memory a
 * response takes stays bounded), and when more remain its Link header
 * (rel="next") and X-Next-Cursor name the next page.  Each read is itself
 * audited ('admin.read' on 'audit_log').
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_roles.h"
#include "ngx_http_media_audit.h"


#define NGX_HTTP_MEDIA_AUDIT_DEFAULT  50
#define NGX_HTTP_MEDIA_AUDIT_MAX      200
#define NGX_HTTP_MEDIA_CSV_MAX        5000

#define NGX_HTTP_MEDIA_CSV_HEADER                                             \
    "id,created_at,actor_id,actor_email,actor_role,action,target_type,"       \
    "target_id,reason,address,before,after,hash\r\n"


typedef struct {
    ngx_uint_t   n;               /* rows shown at most */
    ngx_str_t    params[11];
    unsigned     csv:1;
} ngx_http_media_audit_t;


static ngx_int_t ngx_http_media_audit_filters(ngx_http_request_t *r,
    ngx_http_media_audit_t *a, ngx_int_t *rc);
static ngx_int_t ngx_http_media_audit_check(ngx_http_request_t *r,
    ngx_http_media_audit_t *a);
static ngx_int_t ngx_http_media_audit_arg(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
static ngx_int_t ngx_http_media_audit_refuse(ngx_http_request_t *r,
    const char *field, const char *message);
static ngx_int_t ngx_http_media_audit_word(ngx_str_t *s, size_t min,
    size_t max, const char *first, const char *rest);
static void ngx_http_media_audit_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_audit_csv(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, ngx_http_media_audit_t *a);


static ngx_http_media_pg_stmt_t  ngx_http_media_sql_audit_page =
    ngx_http_media_pg_stmt("audit_page", 11,
        "SELECT cur, item, line FROM media_audit_page($1::uuid, $2,"
        " $3::inet, $4::uuid, $5, $6, $7, $8::timestamptz, $9::bigint,"
        " $10::integer, $11)");


ngx_int_t
ngx_http_media_audit_list(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_http_media_ctx_t    *ctx;
    ngx_http_media_audit_t  *a;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    a = ngx_pcalloc(r->pool, sizeof(ngx_http_media_audit_t));
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_media_audit_filters(r, a, &rc) != NGX_OK) {
        return rc;
    }

    a->params[0] = ctx->user->id;
    a->params[1] = ctx->user->role;
    ngx_http_media_client_address(r, &a->params[2]);

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_audit_page,
            a->params, ngx_http_media_audit_listed, a)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/*
 * The query's filters into params[3..10]: NGX_OK, or NGX_DECLINED with the
 * refusal sent and its rc in *rc (a sent response's rc may be NGX_OK too).
 */
static ngx_int_t
ngx_http_media_audit_filters(ngx_http_request_t *r,
    ngx_http_media_audit_t *a, ngx_int_t *rc)
{
    *rc = ngx_http_media_audit_check(r, a);

    return (*rc == NGX_DONE) ? NGX_OK : NGX_DECLINED;
}


/* NGX_DONE when every filter holds, else the refusal's rc */
static ngx_int_t
ngx_http_media_audit_check(ngx_http_request_t *r, ngx_http_media_audit_t *a)
{
    u_char     *p;
    ngx_int_t   rc, v;
    ngx_str_t   s, *params;

    params = a->params;

    rc = ngx_http_media_audit_arg(r, "format", &s);
    if (rc == NGX_OK && s.len == 3 && ngx_strncmp(s.data, "csv", 3) == 0) {
        a->csv = 1;

    } else if (rc == NGX_OK
               && !(s.len == 4 && ngx_strncmp(s.data, "json", 4) == 0))
    {
        return ngx_http_media_audit_refuse(r, "format",
                                           "format must be json or csv");
    }

    ngx_str_set(&params[10], "json");
    if (a->csv) {
        ngx_str_set(&params[10], "csv");
    }

    if (ngx_http_media_audit_arg(r, "actor", &params[3]) == NGX_OK
        && ngx_http_media_is_uuid(&params[3]) != NGX_OK)
    {
        return ngx_http_media_audit_refuse(r, "actor",
                                           "actor must be a user's id (a "
                                           "UUID, as GET /api/v1/admin/users "
                                           "shows it)");
    }

    if (ngx_http_media_audit_arg(r, "target_type", &params[4]) == NGX_OK
        && ngx_http_media_audit_word(&params[4], 1, 32,
                                     "abcdefghijklmnopqrstuvwxyz_",
                                     "abcdefghijklmnopqrstuvwxyz_")
           != NGX_OK)
    {
        return ngx_http_media_audit_refuse(r, "target_type",
                                           "target_type must be 1 to 32 "
                                           "characters of a-z and _ (user, "
                                           "media, download_link, ...)");
    }

    rc = ngx_http_media_audit_arg(r, "target", &s);
    if (rc == NGX_OK) {
        if (ngx_http_media_arg_text(r, &s, 200, &params[5]) != NGX_OK) {
            return ngx_http_media_audit_refuse(r, "target",
                                               "target must be 1 to 200 "
                                               "characters of UTF-8 text: "
                                               "the id of what was acted "
                                               "on");
        }
    }

    if (ngx_http_media_audit_arg(r, "action", &params[6]) == NGX_OK
        && ngx_http_media_audit_word(&params[6], 2, 64,
                                     "abcdefghijklmnopqrstuvwxyz",
                                     "abcdefghijklmnopqrstuvwxyz"
                                     "0123456789_.")
           != NGX_OK)
    {
        return ngx_http_media_audit_refuse(r, "action",
                                           "action must be a dotted lower "
                                           "case name such as role.grant "
                                           "or admin.read");
    }

    /* a date or an ISO 8601 time; PostgreSQL parses it (a "+" offset is
     * sent as %2B) */
    rc = ngx_http_media_audit_arg(r, "since", &s);
    if (rc == NGX_OK) {
        if (ngx_http_media_arg_text(r, &s, 40, &params[7]) != NGX_OK
            || ngx_http_media_audit_word(&params[7], 10, 40, "0123456789",
                                         "0123456789-:.TZ+ ")
               != NGX_OK)
        {
            return ngx_http_media_audit_refuse(r, "since",
                                               "since must be an ISO 8601 "
                                               "date or time, such as "
                                               "2026-12-03 or "
                                               "2026-12-03T18:00:00Z");
        }
    }

    if (ngx_http_media_audit_arg(r, "cursor", &params[8]) == NGX_OK
        && (params[8].len > 18
            || ngx_atoi(params[8].data, params[8].len) < 1))
    {
        return ngx_http_media_audit_refuse(r, "cursor",
                                           "cursor must be the next_cursor "
                                           "of the page before (a positive "
                                           "number)");
    }

    a->n = a->csv ? NGX_HTTP_MEDIA_CSV_MAX : NGX_HTTP_MEDIA_AUDIT_DEFAULT;

    if (ngx_http_media_audit_arg(r, "limit", &s) == NGX_OK) {
        v = ngx_atoi(s.data, s.len);
        if (v < 1 || (ngx_uint_t) v > (a->csv ? NGX_HTTP_MEDIA_CSV_MAX
                                              : NGX_HTTP_MEDIA_AUDIT_MAX))
        {
            return ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                            "invalid_filter", "limit",
                                            "limit must be a number from 1 "
                                            "to %ui (%s)",
                                            (ngx_uint_t) (a->csv
                                                ? NGX_HTTP_MEDIA_CSV_MAX
                                                : NGX_HTTP_MEDIA_AUDIT_MAX),
                                            a->csv ? "rows of one CSV page"
                                                : "entries of one page");
        }
        a->n = v;
    }

    /* one row more than shown: whether a next page exists */
    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    params[9].data = p;
    params[9].len = ngx_sprintf(p, "%ui", a->n + 1) - p;

    return NGX_DONE;
}


/* a present, non-empty argument: NGX_OK; absent or empty: NGX_DECLINED
 * (value null, the filter off) */
static ngx_int_t
ngx_http_media_audit_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), value) != NGX_OK
        || value->len == 0)
    {
        ngx_str_null(value);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_media_audit_refuse(ngx_http_request_t *r, const char *field,
    const char *message)
{
    return ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                    "invalid_filter", field, "%s", message);
}


/* min to max bytes, the first from first, the others from rest */
static ngx_int_t
ngx_http_media_audit_word(ngx_str_t *s, size_t min, size_t max,
    const char *first, const char *rest)
{
    size_t  i;

    if (s->len < min || s->len > max) {
        return NGX_DECLINED;
    }

    for (i = 0; i < s->len; i++) {
        if (s->data[i] == '\0'
            || strchr(i ? rest : first, s->data[i]) == NULL)
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static void
ngx_http_media_audit_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_audit_t  *a = data;

    /* 22007, 22008: PostgreSQL could not read since as a time */
    if (res->status == NGX_HTTP_MEDIA_PG_ERROR
        && (ngx_strncmp(res->sqlstate, "22007", 5) == 0
            || ngx_strncmp(res->sqlstate, "22008", 5) == 0))
    {
        ngx_http_finalize_request(r, ngx_http_media_audit_refuse(r, "since",
                                  "since is not a time PostgreSQL can read; "
                                  "use ISO 8601, such as "
                                  "2026-12-03T18:00:00Z"));
        return;
    }

    if (!a->csv) {
        ngx_http_finalize_request(r, ngx_http_media_send_page(r, res, a->n,
                                  "media audit list"));
        return;
    }

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->ncols < 3) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media audit csv"));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_media_audit_csv(r, res, a));
}


/* the page as a CSV attachment (RFC 4180, CRLF line ends) */
static ngx_int_t
ngx_http_media_audit_csv(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, ngx_http_media_audit_t *a)
{
    size_t        len;
    u_char       *p;
    ngx_buf_t    *b;
    ngx_str_t    *line, *next, value;
    ngx_uint_t    i, rows;

    rows = ngx_min(res->nrows, a->n);
    len = sizeof(NGX_HTTP_MEDIA_CSV_HEADER) - 1;

    for (i = 0; i < rows; i++) {
        len += ngx_http_media_pg_value(res, i, 2)->len + 2;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, NGX_HTTP_MEDIA_CSV_HEADER,
                         sizeof(NGX_HTTP_MEDIA_CSV_HEADER) - 1);

    for (i = 0; i < rows; i++) {
        line = ngx_http_media_pg_value(res, i, 2);
        b->last = ngx_cpymem(b->last, line->data, line->len);
        *b->last++ = '\r';
        *b->last++ = '\n';
    }

    if (res->nrows > a->n) {
        next = ngx_http_media_pg_value(res, a->n - 1, 0);

        if (ngx_http_media_add_header(r, "X-Next-Cursor", next) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* the same query from this cursor on: ngx_http_arg() takes an
         * argument's first occurrence, so the new cursor goes first */
        len = sizeof("<?cursor=&>; rel=\"next\"") - 1 + r->uri.len
              + r->args.len + next->len;
        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        value.data = p;
        value.len = ngx_sprintf(p, "<%V?cursor=%V&%V>; rel=\"next\"",
                                &r->uri, next, &r->args) - p;

        if (ngx_http_media_add_header(r, "Link", &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_str_set(&value, "attachment; filename=\"audit.csv\"");
    if (ngx_http_media_add_header(r, "Content-Disposition", &value)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&value, "no-store");
    if (ngx_http_media_add_header(r, "Cache-Control", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_media_send_buf(r, "text/csv; charset=utf-8", b);
}
