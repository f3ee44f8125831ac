/*
 * GET /api/v1/activity?limit=N&cursor=C: what the user did, newest first:
 *
 *   upload     a media they uploaded (deleted ones too: it is history)
 *   export     an export they asked for, with its format and status
 *   download   one use of one of their download links (download_uses),
 *              with the HTTP status it got
 *   purchase   a media they bought (or were granted)
 *
 * One statement: each kind's newest rows after the cursor (an index scan
 * per kind, at most N + 1 each), merged, the first N + 1 kept.  The order
 * is (time, kind, id), descending, so that two events at the same
 * microsecond still have their places; the cursor is the last item's
 * "<microseconds since 1970>.<kind>.<id>".
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_activity.h"


#define NGX_HTTP_MEDIA_ACTIVITY_PAGE  20
#define NGX_HTTP_MEDIA_ACTIVITY_MAX   100


static void ngx_http_media_activity_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_activity_cursor(ngx_str_t *cursor);


/* one kind's rows after the cursor c, newest first */
#define NGX_HTTP_MEDIA_ACTIVITY_AFTER(at, kind, id)                           \
    " AND (c.at IS NULL OR (" at ", '" kind "'::text, " id ") <"              \
    "      (c.at, c.kind, c.id))"                                             \
    " ORDER BY " at " DESC, " id " DESC LIMIT $3)"

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_activity =
    ngx_http_media_pg_stmt("activity_list", 3,
        "WITH c AS ("
        "  SELECT timestamptz 'epoch'"
        "           + split_part($2, '.', 1)::bigint"
        "             * interval '1 microsecond' AS at,"
        "         split_part($2, '.', 2) AS kind,"
        "         split_part($2, '.', 3) AS id),"
        " a AS ("
        "  (SELECT m.created_at AS at, 'upload'::text AS kind,"
        "          m.id::text AS id, json_build_object('type', 'upload',"
        "     'at', media_iso8601(m.created_at),"
        "     'media', json_build_object('id', m.id, 'title', m.title,"
        "       'kind', m.kind, 'status', m.status,"
        "       'deleted', m.deleted_at IS NOT NULL),"
        "     'size', m.source_size) AS item"
        "     FROM media m, c WHERE m.owner_id = $1"
        NGX_HTTP_MEDIA_ACTIVITY_AFTER("m.created_at", "upload", "m.id::text")
        "  UNION ALL"
        "  (SELECT x.created_at, 'export', x.id::text,"
        "     json_build_object('type', 'export',"
        "     'at', media_iso8601(x.created_at),"
        "     'export', json_build_object('id', x.id, 'format', x.format,"
        "       'status', x.status, 'size', x.size,"
        "       'enhance', x.enhance),"
        "     'media', json_build_object('id', m.id, 'title', m.title))"
        "     FROM exports x JOIN media m ON m.id = x.media_id, c"
        "    WHERE x.user_id = $1"
        /* another's media taken down: gone (one's own stay, marked) */
        "      AND (m.status <> 'blocked' OR m.owner_id = $1)"
        NGX_HTTP_MEDIA_ACTIVITY_AFTER("x.created_at", "export", "x.id::text")
        "  UNION ALL"
        "  (SELECT d.created_at, 'download', d.id::text,"
        "     json_build_object('type', 'download',"
        "     'at', media_iso8601(d.created_at),"
        "     'link_id', d.link_id, 'export_id', d.export_id,"
        "     'status', d.status, 'range', d.range,"
        "     'media', json_build_object('id', d.media_id,"
        "                                'title', m.title))"
        "     FROM download_uses d LEFT JOIN media m ON m.id = d.media_id, c"
        "    WHERE d.user_id = $1"
        "      AND (m.status IS DISTINCT FROM 'blocked' OR m.owner_id = $1)"
        NGX_HTTP_MEDIA_ACTIVITY_AFTER("d.created_at", "download", "d.id::text")
        "  UNION ALL"
        "  (SELECT e.created_at, 'purchase', e.media_id::text,"
        "     json_build_object('type', 'purchase',"
        "     'at', media_iso8601(e.created_at),"
        "     'source', e.source, 'amount_cents', e.amount_cents,"
        "     'currency', e.currency,"
        "     'media', json_build_object('id', m.id, 'title', m.title))"
        "     FROM entitlements e JOIN media m ON m.id = e.media_id, c"
        "    WHERE e.user_id = $1"
        "      AND (m.status <> 'blocked' OR m.owner_id = $1)"
        NGX_HTTP_MEDIA_ACTIVITY_AFTER("e.created_at", "purchase",
                                      "e.media_id::text")
        " )"
        " SELECT (extract(epoch FROM a.at) * 1000000)::bigint"
        "          || '.' || a.kind || '.' || a.id, a.item"
        "   FROM a ORDER BY a.at DESC, a.kind DESC, a.id DESC LIMIT $3");


ngx_int_t
ngx_http_media_activity(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t              params[3];
    ngx_uint_t             n;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_page_args(r, NGX_HTTP_MEDIA_ACTIVITY_PAGE,
                                 NGX_HTTP_MEDIA_ACTIVITY_MAX, &n, &params[1],
                                 &params[2], &rc)
        != NGX_OK)
    {
        return rc;
    }

    if (params[1].data
        && ngx_http_media_activity_cursor(&params[1]) != NGX_OK)
    {
        return ngx_http_media_field_error(r, "cursor", "cursor is not one "
                                          "this server gave out: pass "
                                          "next_cursor as it came");
    }

    params[0] = ctx->user->id;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_activity, params,
                                ngx_http_media_activity_listed,
                                (void *) (uintptr_t) n)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_activity_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_finalize_request(r, ngx_http_media_send_page(r, res,
                              (uintptr_t) data, "media activity"));
}


/*
 * "<1 to 18 digits>.<kind>.<id>", the id a UUID or a number: what the
 * statement parses cannot fail there (no 500 for a made-up cursor)
 */
static ngx_int_t
ngx_http_media_activity_cursor(ngx_str_t *cursor)
{
    u_char      *p, *last, *dot;
    ngx_str_t    id;
    ngx_uint_t   i;

    static const ngx_str_t  kinds[] = {
        ngx_string("upload"), ngx_string("export"), ngx_string("download"),
        ngx_string("purchase")
    };

    p = cursor->data;
    last = p + cursor->len;

    for (dot = p; dot < last && *dot >= '0' && *dot <= '9'; dot++) {
        /* void */
    }

    if (dot == p || dot - p > 18 || dot == last || *dot != '.') {
        return NGX_DECLINED;
    }

    p = dot + 1;
    dot = ngx_strlchr(p, last, '.');
    if (dot == NULL) {
        return NGX_DECLINED;
    }

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if ((size_t) (dot - p) == kinds[i].len
            && ngx_strncmp(p, kinds[i].data, kinds[i].len) == 0)
        {
            break;
        }
    }

    if (i == sizeof(kinds) / sizeof(kinds[0])) {
        return NGX_DECLINED;
    }

    id.data = dot + 1;
    id.len = last - id.data;

    if (ngx_http_media_is_uuid(&id) == NGX_OK) {
        return NGX_OK;
    }

    if (id.len == 0 || id.len > 18) {
        return NGX_DECLINED;
    }

    for (p = id.data; p < last; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}
