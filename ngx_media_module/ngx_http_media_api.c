/*
 * The REST API: the content handler of a "media_api" location and the
 * route table that leads each request to its resource's handler.  It reads
 * and parses the JSON body a route takes; the resources answer through the
 * reply kit (ngx_http_media_reply.c).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/statvfs.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_auth.h"
#include "ngx_http_media_account.h"
#include "ngx_http_media_admin.h"
#include "ngx_http_media_library.h"
#include "ngx_http_media_upload.h"
#include "ngx_http_media_tus.h"
#include "ngx_http_media_plans.h"
#include "ngx_http_media_ads.h"
#include "ngx_http_media_billing.h"
#include "ngx_http_media_hls.h"
#include "ngx_http_media_health.h"
#include "ngx_http_media_webhook.h"
#include "ngx_http_media_exports.h"
#include "ngx_http_media_downloads.h"
#include "ngx_http_media_purchases.h"
#include "ngx_http_media_activity.h"
#include "ngx_http_media_pages.h"
#include "ngx_http_media_playlists.h"
#include "ngx_http_media_history.h"
#include "ngx_http_media_search.h"
#include "ngx_http_media_pictures.h"
#include "ngx_http_media_social.h"
#include "ngx_http_media_moderation.h"
#include "ngx_http_media_reports.h"
#include "ngx_http_media_roles.h"
#include "ngx_http_media_audit.h"
#include "ngx_http_media_api.h"
#include "media_router.h"
#include "media_json.h"


/* route flags */
#define NGX_HTTP_MEDIA_BODY      0x01   /* a JSON object body is required */
#define NGX_HTTP_MEDIA_BODY_OPT  0x02   /* a JSON body may come, or none */
#define NGX_HTTP_MEDIA_USER      0x04   /* a signed-in user is required */
#define NGX_HTTP_MEDIA_ADMIN     0x08   /* ... with the admin role */
#define NGX_HTTP_MEDIA_FILE      0x10   /* a media upload, kept on disk */
#define NGX_HTTP_MEDIA_RAW       0x20   /* the route reads its own body */
#define NGX_HTTP_MEDIA_MODERATOR 0x40   /* ... a moderator or an admin */
#define NGX_HTTP_MEDIA_READ      0x80   /* a POST a suspended user may send */
#define NGX_HTTP_MEDIA_UPLOAD    0x100  /* an upload: media_upload_roles */

#define NGX_HTTP_MEDIA_MAX_JSON  65536


/*
 * A route handler returns NGX_DONE when it will finalize the request
 * later (after PostgreSQL, Redis or a thread answers), or the rc to
 * finalize it with now.  The dispatcher holds the request meanwhile.
 */
typedef ngx_int_t (*ngx_http_media_route_pt)(ngx_http_request_t *r);


typedef struct {
    ngx_http_media_route_pt   handler;
    ngx_uint_t                flags;
} ngx_http_media_route_def_t;


static unsigned ngx_http_media_api_method(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_api_space(ngx_http_request_t *r,
    ngx_http_media_main_conf_t *mmcf);
static void ngx_http_media_api_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_api_file(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_api_parse(ngx_http_request_t *r,
    ngx_http_media_ctx_t *ctx, ngx_int_t *rc);
static void ngx_http_media_api_run(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_api_json(ngx_http_request_t *r,
    ngx_http_media_ctx_t *ctx);
static void ngx_http_media_json_cleanup(void *data);


/* media_route_t.id indexes ngx_http_media_route_defs */
static const media_route_t  ngx_http_media_routes[] = {
    { MEDIA_GET, "/api/v1/healthz", 0 },
    { MEDIA_POST, "/api/v1/auth/signup", 1 },
    { MEDIA_POST, "/api/v1/auth/login", 2 },
    { MEDIA_POST, "/api/v1/auth/refresh", 3 },
    { MEDIA_POST, "/api/v1/auth/logout", 4 },
    { MEDIA_GET, "/api/v1/auth/me", 5 },
    { MEDIA_GET, "/api/v1/admin/users", 6 },
    { MEDIA_POST, "/api/v1/media", 7 },
    { MEDIA_GET, "/api/v1/media", 8 },
    { MEDIA_GET, "/api/v1/media/{id}", 9 },
    { MEDIA_PATCH, "/api/v1/media/{id}", 10 },
    { MEDIA_DELETE, "/api/v1/media/{id}", 11 },
    { MEDIA_GET, "/api/v1/jobs/{id}", 12 },
    { MEDIA_POST, "/api/v1/media/{id}/playback", 13 },
    { MEDIA_PATCH, "/api/v1/admin/users/{id}", 14 },
    { MEDIA_GET, "/api/v1/plans", 15 },
    { MEDIA_GET, "/api/v1/subscription", 16 },
    { MEDIA_GET, "/api/v1/usage", 17 },
    { MEDIA_GET, "/api/v1/admin/ads", 18 },
    { MEDIA_PUT, "/api/v1/admin/ads/{id}", 19 },
    { MEDIA_DELETE, "/api/v1/admin/ads/{id}", 20 },
    { MEDIA_POST, "/api/v1/ads/{id}/impressions", 21 },
    { MEDIA_POST, "/api/v1/billing/checkout", 22 },
    { MEDIA_POST, "/api/v1/billing/portal", 23 },
    { MEDIA_POST, "/api/v1/webhooks/stripe", 24 },
    { MEDIA_POST, "/api/v1/media/{id}/exports", 25 },
    { MEDIA_GET, "/api/v1/media/{id}/exports", 26 },
    { MEDIA_GET, "/api/v1/exports/{id}", 27 },
    { MEDIA_DELETE, "/api/v1/exports/{id}", 28 },
    { MEDIA_GET, "/api/v1/enhance/presets", 29 },
    { MEDIA_POST, "/api/v1/downloads", 30 },
    { MEDIA_GET, "/api/v1/downloads", 31 },
    { MEDIA_DELETE, "/api/v1/downloads/{id}", 32 },
    { MEDIA_POST, "/api/v1/media/{id}/purchase", 33 },
    { MEDIA_GET, "/api/v1/library/purchases", 34 },
    { MEDIA_GET, "/api/v1/activity", 35 },
    { MEDIA_GET, "/api/v1/oembed", 36 },
    { MEDIA_GET, "/api/v1/users/{handle}", 37 },
    { MEDIA_PATCH, "/api/v1/me", 38 },
    { MEDIA_POST, "/api/v1/playlists", 39 },
    { MEDIA_GET, "/api/v1/playlists", 40 },
    { MEDIA_GET, "/api/v1/playlists/{id}", 41 },
    { MEDIA_PATCH, "/api/v1/playlists/{id}", 42 },
    { MEDIA_DELETE, "/api/v1/playlists/{id}", 43 },
    { MEDIA_PUT | MEDIA_DELETE, "/api/v1/playlists/{id}/items/{media_id}",
      44 },
    { MEDIA_PUT, "/api/v1/playlists/{id}/order", 45 },
    { MEDIA_PUT, "/api/v1/media/{id}/progress", 46 },
    { MEDIA_GET, "/api/v1/media/{id}/progress", 47 },
    { MEDIA_GET, "/api/v1/history", 48 },
    { MEDIA_GET, "/api/v1/stats", 49 },
    { MEDIA_GET, "/api/v1/trending", 50 },
    { MEDIA_GET, "/api/v1/search", 51 },
    { MEDIA_GET, "/api/v1/catalog", 52 },
    { MEDIA_PUT, "/api/v1/media/{id}/cover", 53 },
    { MEDIA_POST, "/api/v1/media/{id}/comments", 54 },
    { MEDIA_GET, "/api/v1/media/{id}/comments", 55 },
    { MEDIA_DELETE, "/api/v1/comments/{id}", 56 },
    { MEDIA_PUT, "/api/v1/media/{id}/like", 57 },
    { MEDIA_DELETE, "/api/v1/media/{id}/like", 58 },
    { MEDIA_PUT, "/api/v1/media/{id}/repost", 59 },
    { MEDIA_DELETE, "/api/v1/media/{id}/repost", 60 },
    { MEDIA_PUT, "/api/v1/users/{id}/follow", 61 },
    { MEDIA_DELETE, "/api/v1/users/{id}/follow", 62 },
    { MEDIA_GET, "/api/v1/feed", 63 },
    { MEDIA_GET, "/api/v1/media/{id}/social", 64 },
    { MEDIA_POST, "/api/v1/reports", 65 },
    { MEDIA_GET, "/api/v1/admin/reports", 66 },
    { MEDIA_POST, "/api/v1/admin/actions", 67 },
    { MEDIA_POST, "/api/v1/reports/{id}/appeal", 68 },
    { MEDIA_GET, "/api/v1/me/notices", 69 },
    { MEDIA_POST, "/api/v1/me/notices/{id}/seen", 70 },
    { MEDIA_POST, "/api/v1/media/{id}/publish", 71 },
    { MEDIA_GET, "/api/v1/admin/audit", 72 },
    { MEDIA_DELETE, "/api/v1/me", 73 },
    { MEDIA_PUT, "/api/v1/me/avatar", 74 },
    { MEDIA_OPTIONS, "/api/v1/uploads", 75 },
    { MEDIA_POST, "/api/v1/uploads", 76 },
    { MEDIA_OPTIONS, "/api/v1/uploads/{id}", 77 },
    { MEDIA_HEAD, "/api/v1/uploads/{id}", 78 },
    { MEDIA_PATCH, "/api/v1/uploads/{id}", 79 },
    { MEDIA_DELETE, "/api/v1/uploads/{id}", 80 },
};


static const ngx_http_media_route_def_t  ngx_http_media_route_defs[] = {
    { ngx_http_media_healthz, 0 },
    { ngx_http_media_signup, NGX_HTTP_MEDIA_BODY },
    { ngx_http_media_login, NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_READ },
    { ngx_http_media_refresh, NGX_HTTP_MEDIA_BODY_OPT | NGX_HTTP_MEDIA_READ },
    { ngx_http_media_logout,
      NGX_HTTP_MEDIA_BODY_OPT | NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_READ },
    { ngx_http_media_me, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_admin_users,
      NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_ADMIN },
    { ngx_http_media_upload,
      NGX_HTTP_MEDIA_FILE | NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_UPLOAD },
    { ngx_http_media_list, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_get, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_patch, NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_delete, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_job, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_playback, NGX_HTTP_MEDIA_BODY_OPT | NGX_HTTP_MEDIA_READ },
    { ngx_http_media_admin_user_patch,
      NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_ADMIN },
    { ngx_http_media_plans, 0 },
    { ngx_http_media_subscription, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_usage, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_ads, NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_ADMIN },
    { ngx_http_media_ad_put,
      NGX_HTTP_MEDIA_BODY_OPT | NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_ADMIN },
    { ngx_http_media_ad_delete, NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_ADMIN },
    { ngx_http_media_ad_impression,
      NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_READ },
    { ngx_http_media_billing_checkout,
      NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_billing_portal,
      NGX_HTTP_MEDIA_BODY_OPT | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_webhook_stripe, NGX_HTTP_MEDIA_RAW },
    { ngx_http_media_export_create,
      NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_export_list, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_export_get, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_export_delete, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_enhance_presets, 0 },
    { ngx_http_media_download_create,
      NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_download_list, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_download_revoke, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_purchase, NGX_HTTP_MEDIA_BODY_OPT | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_purchases, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_activity, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_oembed, 0 },
    { ngx_http_media_user_get, 0 },
    { ngx_http_media_me_patch, NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_playlist_create,
      NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_playlist_list, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_playlist_get, 0 },
    { ngx_http_media_playlist_patch,
      NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_playlist_delete, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_playlist_item, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_playlist_order,
      NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_progress_put,
      NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_READ },
    { ngx_http_media_progress_get, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_history, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_stats, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_trending, 0 },
    { ngx_http_media_search, 0 },
    { ngx_http_media_catalog, 0 },
    { ngx_http_media_cover_put,
      NGX_HTTP_MEDIA_RAW | NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_UPLOAD },
    { ngx_http_media_comment_create,
      NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_comment_list, 0 },
    { ngx_http_media_comment_delete, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_like, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_like, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_repost, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_repost, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_follow, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_follow, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_feed, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_social_state, 0 },
    { ngx_http_media_report_create, NGX_HTTP_MEDIA_BODY },
    { ngx_http_media_admin_reports,
      NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_MODERATOR },
    { ngx_http_media_admin_action,
      NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_MODERATOR },
    { ngx_http_media_report_appeal,
      NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_READ },
    { ngx_http_media_notices, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_notice_seen, NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_READ },
    { ngx_http_media_publish, NGX_HTTP_MEDIA_BODY_OPT | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_audit_list, NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_ADMIN },
    { ngx_http_media_me_delete, NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_avatar_put, NGX_HTTP_MEDIA_RAW | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_tus_options, NGX_HTTP_MEDIA_READ },
    { ngx_http_media_tus_create,
      NGX_HTTP_MEDIA_RAW | NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_UPLOAD },
    { ngx_http_media_tus_options, NGX_HTTP_MEDIA_READ },
    { ngx_http_media_tus_head, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_tus_patch,
      NGX_HTTP_MEDIA_RAW | NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_UPLOAD },
    { ngx_http_media_tus_delete, NGX_HTTP_MEDIA_USER },
};


/*
 * The content handler: route, check who may call it, read the body if it
 * takes one, then run it.  Whatever the route does, the request is
 * finalized exactly once, by ngx_http_media_api_run or by the route's last
 * asynchronous step.
 */
ngx_int_t
ngx_http_media_api_handler(ngx_http_request_t *r)
{
    int                                 rc;
    char                                allow[64];
    u_char                              until[sizeof("-2147483648-01-01T"
                                                     "00:00:00Z")];
    ngx_str_t                           value;
    ngx_int_t                           drc;
    media_route_match_t                 m;
    ngx_http_media_ctx_t               *ctx;
    const ngx_http_media_route_def_t   *def;

    ctx = ngx_http_media_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = media_route_match(ngx_http_media_routes,
                           sizeof(ngx_http_media_routes)
                           / sizeof(ngx_http_media_routes[0]),
                           ngx_http_media_api_method(r),
                           (char *) r->uri.data, r->uri.len, &m);

    if (rc == MEDIA_ROUTE_NOT_FOUND) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such API route: %V", &r->uri);
    }

    if (rc == MEDIA_ROUTE_NOT_ALLOWED) {
        value.len = media_route_allow_header(m.allow, allow, sizeof(allow));
        value.data = (u_char *) allow;

        if (ngx_http_media_add_header(r, "Allow", &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_media_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                         "method_not_allowed",
                                         "%V is not allowed here; allowed: %V",
                                         &r->method_name, &value);
    }

    def = &ngx_http_media_route_defs[m.id];
    ctx->route = (void *) def;

    /*
     * Ids are canonical, lowercase, as PostgreSQL prints a uuid: every
     * route, and every URL made from an id (a playback URL's path is
     * compared byte for byte), sees one spelling of it.
     */
    if (m.ncaptures) {
        ctx->capture.len = m.captures[0].len;
        ctx->capture.data = ngx_pnalloc(r->pool, ctx->capture.len);
        if (ctx->capture.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_strlow(ctx->capture.data, (u_char *) m.captures[0].data,
                   ctx->capture.len);
    }

    if ((def->flags & NGX_HTTP_MEDIA_USER) && ctx->user == NULL) {
        return ngx_http_media_unauthorized(r, "missing_token",
                                           "sign in first: send "
                                           "\"Authorization: Bearer <access "
                                           "token>\" or the media_access "
                                           "cookie");
    }

    if ((def->flags & NGX_HTTP_MEDIA_ADMIN)
        && !(ctx->user->role.len == 5
             && ngx_strncmp(ctx->user->role.data, "admin", 5) == 0))
    {
        return ngx_http_media_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                         "this route is for admins; you are "
                                         "signed in as %V", &ctx->user->role);
    }

    if ((def->flags & NGX_HTTP_MEDIA_MODERATOR)
        && !(ctx->user->role.len == 5
             && ngx_strncmp(ctx->user->role.data, "admin", 5) == 0)
        && !(ctx->user->role.len == 9
             && ngx_strncmp(ctx->user->role.data, "moderator", 9) == 0))
    {
        return ngx_http_media_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                         "this route is for moderators and "
                                         "admins; you are signed in as %V",
                                         &ctx->user->role);
    }

    /*
     * A suspended user reads, and writes nothing: every method but GET
     * and HEAD is refused, but for the routes that only read (playback,
     * refresh, logout ...).  The user cache says until when; an action
     * drops the user's entries, so it counts from the next request.
     */
    if (ctx->user && ctx->user->suspended_until > ngx_time()
        && !(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))
        && !(def->flags & NGX_HTTP_MEDIA_READ))
    {
        *ngx_http_media_iso8601(until, ctx->user->suspended_until) = '\0';

        return ngx_http_media_send_error(r, NGX_HTTP_FORBIDDEN, "suspended",
                                         "your account is suspended until "
                                         "%s: you may read and play, but "
                                         "not upload or change anything "
                                         "until then", until);
    }

    if ((def->flags & NGX_HTTP_MEDIA_UPLOAD)
        && ngx_http_media_upload_allowed(r, &drc) != NGX_OK)
    {
        return drc;
    }

    /* every body's size is known, and checked, before it is read */
    if ((def->flags & (NGX_HTTP_MEDIA_FILE | NGX_HTTP_MEDIA_BODY
                       | NGX_HTTP_MEDIA_BODY_OPT | NGX_HTTP_MEDIA_RAW))
        && r->headers_in.chunked)
    {
        return ngx_http_media_send_error(r, NGX_HTTP_LENGTH_REQUIRED,
                                         "length_required", "send the body "
                                         "with a Content-Length, not "
                                         "chunked");
    }

    if (def->flags & NGX_HTTP_MEDIA_FILE) {
        return ngx_http_media_api_file(r);
    }

    /* it checks the size, reads the body and finalizes, as a content
     * handler does */
    if (def->flags & NGX_HTTP_MEDIA_RAW) {
        return def->handler(r);
    }

    if (def->flags & (NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_BODY_OPT)) {
        if (r->headers_in.content_length_n > NGX_HTTP_MEDIA_MAX_JSON) {
            return ngx_http_media_send_error(r,
                                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                   "body_too_large", "a JSON body may hold "
                                   "at most %d bytes", NGX_HTTP_MEDIA_MAX_JSON);
        }

        /* one buffer when it fits client_body_buffer_size */
        r->request_body_in_single_buf = 1;

        drc = ngx_http_read_client_request_body(r, ngx_http_media_api_body);
        if (drc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return drc;
        }

        return NGX_DONE;
    }

    drc = ngx_http_discard_request_body(r);
    if (drc != NGX_OK) {
        return drc;
    }

    /* the reference ngx_http_media_api_run's finalization gives back */
    r->main->count++;
    ngx_http_media_api_run(r);

    return NGX_DONE;
}


/*
 * A media upload: an audio or video type as the body, or multipart.
 * nginx writes it to a temp file in <media_storage>/tmp, never memory.
 */
static ngx_int_t
ngx_http_media_api_file(ngx_http_request_t *r)
{
    ngx_str_t                   *ct;
    ngx_uint_t                   i;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    ct = r->headers_in.content_type ? &r->headers_in.content_type->value
                                    : NULL;

    /* a media type is ASCII (RFC 9110 8.3); it is stored as sent */
    for (i = 0; ct && i < ct->len; i++) {
        if (ct->data[i] < 0x20 || ct->data[i] > 0x7e) {
            return ngx_http_media_bad_field(r, NGX_HTTP_MEDIA_UNPROCESSABLE,
                                            "invalid_field", "Content-Type",
                                            "the Content-Type header holds "
                                            "a byte that is not printable "
                                            "ASCII at %ui; send a media "
                                            "type such as video/mp4", i);
        }
    }

    if (ct == NULL
        || !((ct->len > 6 && ngx_strncasecmp(ct->data, (u_char *) "audio/", 6)
                             == 0)
             || (ct->len > 6
                 && ngx_strncasecmp(ct->data, (u_char *) "video/", 6) == 0)
             || (ct->len > 19
                 && ngx_strncasecmp(ct->data,
                                    (u_char *) "multipart/form-data", 19)
                    == 0)))
    {
        return ngx_http_media_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                         "unsupported_media_type",
                                         "send the file as the body with an "
                                         "audio/* or video/* Content-Type, "
                                         "or as the field \"file\" of a "
                                         "multipart/form-data body");
    }

    if (r->headers_in.content_length_n > mmcf->upload_max) {
        return ngx_http_media_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "too_large", "the upload is %O "
                                         "bytes; this server takes at most "
                                         "%O (media_upload_max_size)",
                                         r->headers_in.content_length_n,
                                         mmcf->upload_max);
    }

    if (ngx_http_media_api_space(r, mmcf) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_INSUFFICIENT_STORAGE,
                                         "storage_full", "the server's "
                                         "storage has no room for this "
                                         "upload of %O bytes; try again "
                                         "later",
                                         r->headers_in.content_length_n);
    }

    r->request_body_in_file_only = 1;
    r->request_body_in_persistent_file = 1;
    r->request_body_in_clean_file = 1;

    /* the plan's quota decides before the body is read */
    return ngx_http_media_upload_gate(r, ngx_http_media_api_run);
}


/*
 * NGX_DECLINED for an upload the storage has no room for, refused (507)
 * before a byte is read rather than filling the disk under the workers.
 * Uploads running at the same time may still fill it; nginx's failed
 * write then ends in 507 as well (ngx_http_media_errors.c).
 */
static ngx_int_t
ngx_http_media_api_space(ngx_http_request_t *r,
    ngx_http_media_main_conf_t *mmcf)
{
    off_t           left;
    struct statvfs  fs;

    if (statvfs((char *) mmcf->tmp_path->name.data, &fs) == -1) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "media upload space: statvfs(\"%V\") failed, "
                      "request_id: %V", &mmcf->tmp_path->name,
                      ngx_http_media_request_id(r));
        return NGX_OK;    /* the write will tell */
    }

    left = (off_t) fs.f_bavail * fs.f_frsize;

    if (r->headers_in.content_length_n <= left) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "media upload space: %O bytes left in \"%V\", the upload "
                  "is %O, request_id: %V", left, &mmcf->tmp_path->name,
                  r->headers_in.content_length_n,
                  ngx_http_media_request_id(r));

    return NGX_DECLINED;
}


/* the methods of the routes at r->uri, for nginx's own 405 */
ngx_int_t
ngx_http_media_api_allow(ngx_http_request_t *r, ngx_str_t *allow)
{
    char                 buf[64];
    media_route_match_t  m;

    /* no route takes method 0: a known path is MEDIA_ROUTE_NOT_ALLOWED */
    if (media_route_match(ngx_http_media_routes,
                          sizeof(ngx_http_media_routes)
                          / sizeof(ngx_http_media_routes[0]),
                          0, (char *) r->uri.data, r->uri.len, &m)
        != MEDIA_ROUTE_NOT_ALLOWED)
    {
        return NGX_DECLINED;
    }

    allow->len = media_route_allow_header(m.allow, buf, sizeof(buf));

    allow->data = ngx_pnalloc(r->pool, allow->len);
    if (allow->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(allow->data, buf, allow->len);

    return NGX_OK;
}


ngx_uint_t
ngx_http_media_api_nroutes(void)
{
    return sizeof(ngx_http_media_routes) / sizeof(ngx_http_media_routes[0]);
}


const char *
ngx_http_media_api_route(ngx_uint_t i, unsigned *methods)
{
    *methods = ngx_http_media_routes[i].methods;

    return ngx_http_media_routes[i].pattern;
}


ngx_int_t
ngx_http_media_api_route_of(ngx_http_request_t *r, ngx_uint_t *upload)
{
    int                                 rc;
    unsigned                            method;
    media_route_match_t                 m;
    ngx_http_media_ctx_t               *ctx;
    const ngx_http_media_route_def_t   *def;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ctx && ctx->route) {
        def = ctx->route;
        *upload = (def->flags & NGX_HTTP_MEDIA_FILE) != 0;

        /* media_route_t.id indexes the defs, which follow the routes */
        return def - ngx_http_media_route_defs;
    }

    /*
     * Refused before the content phase (a token, limit_req): the route
     * the request asked for.  An error page's redirect made the method
     * GET; the request line keeps the one sent.
     */
    method = r->error_page
             ? media_route_method_of((char *) r->request_line.data,
                                     r->request_line.len)
             : ngx_http_media_api_method(r);

    rc = media_route_match(ngx_http_media_routes,
                           sizeof(ngx_http_media_routes)
                           / sizeof(ngx_http_media_routes[0]),
                           method, (char *) r->uri.data, r->uri.len, &m);

    *upload = 0;

    return rc >= 0 ? rc : NGX_DECLINED;
}


/* the body has been read (ngx_http_read_client_request_body took a ref) */
static void
ngx_http_media_api_body(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_api_parse(r, ctx, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    ngx_http_media_api_run(r);
}


static void
ngx_http_media_api_run(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_http_media_ctx_t               *ctx;
    const ngx_http_media_route_def_t   *def;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    def = ctx->route;

    rc = def->handler(r);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


/*
 * The body as a JSON object into ctx->json: NGX_OK.  Otherwise the refusal
 * is sent, its rc put in *rc (a sent response may well be NGX_OK), and
 * NGX_DECLINED returned.  Bodies are small (64 KB at most); one that nginx
 * wrote to a temporary file is read back from it.
 */
static ngx_int_t
ngx_http_media_api_parse(ngx_http_request_t *r, ngx_http_media_ctx_t *ctx,
    ngx_int_t *rc)
{
    *rc = ngx_http_media_api_json(r, ctx);

    return ctx->json || *rc == NGX_DECLINED ? NGX_OK : NGX_DECLINED;
}


/* NGX_DECLINED: no body, and none needed; else see above */
static ngx_int_t
ngx_http_media_api_json(ngx_http_request_t *r, ngx_http_media_ctx_t *ctx)
{
    off_t                               size;
    u_char                             *text, *p;
    char                                err[256], field[64];
    ssize_t                             n;
    ngx_buf_t                          *b;
    yajl_val                            json;
    ngx_chain_t                        *cl;
    ngx_table_elt_t                    *ct;
    ngx_pool_cleanup_t                 *cln;
    const ngx_http_media_route_def_t   *def;

    def = ctx->route;

    size = 0;
    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            size += ngx_buf_size(cl->buf);
        }
    }

    if (size == 0) {
        if (def->flags & NGX_HTTP_MEDIA_BODY_OPT) {
            return NGX_DECLINED;
        }

        return ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         "body_required", "send a JSON "
                                         "object with Content-Type: "
                                         "application/json");
    }

    if (size > NGX_HTTP_MEDIA_MAX_JSON) {
        return ngx_http_media_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "body_too_large", "a JSON body may "
                                         "hold at most %d bytes",
                                         NGX_HTTP_MEDIA_MAX_JSON);
    }

    ct = r->headers_in.content_type;

    if (ct == NULL || ct->value.len < 16
        || ngx_strncasecmp(ct->value.data, (u_char *) "application/json", 16)
           != 0
        || (ct->value.len > 16 && ct->value.data[16] != ';'
            && ct->value.data[16] != ' '))
    {
        return ngx_http_media_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                         "unsupported_media_type",
                                         "send the body as "
                                         "Content-Type: application/json");
    }

    text = ngx_pnalloc(r->pool, (size_t) size + 1);
    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = text;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, (size_t) (b->file_last
                                                    - b->file_pos),
                              b->file_pos);
            if (n == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
            p += n;

        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    *p = '\0';

    switch (media_json_parse((char *) text, p - text, &json, err,
                             sizeof(err), field, sizeof(field)))
    {
    case MEDIA_JSON_OK:
        break;

    case MEDIA_JSON_NUL:
        if (field[0]) {
            return ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                            "invalid_json", field,
                                            "\"%s\" holds a NUL character "
                                            "(\\u0000 or a zero byte); "
                                            "remove it", field);
        }

        return ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_json", "the body holds a "
                                         "NUL character (\\u0000 or a zero "
                                         "byte); remove it");

    default:
        return ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_json", "the body is not a "
                                         "JSON object: %s", err);
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        yajl_tree_free(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_media_json_cleanup;
    cln->data = json;
    ctx->json = json;

    return NGX_OK;
}


static void
ngx_http_media_json_cleanup(void *data)
{
    yajl_tree_free(data);
}


static unsigned
ngx_http_media_api_method(ngx_http_request_t *r)
{
    switch (r->method) {
    case NGX_HTTP_GET:
        return MEDIA_GET;
    case NGX_HTTP_HEAD:
        return MEDIA_HEAD;
    case NGX_HTTP_POST:
        return MEDIA_POST;
    case NGX_HTTP_PUT:
        return MEDIA_PUT;
    case NGX_HTTP_PATCH:
        return MEDIA_PATCH;
    case NGX_HTTP_DELETE:
        return MEDIA_DELETE;
    case NGX_HTTP_OPTIONS:
        return MEDIA_OPTIONS;
    default:
        return 0;
    }
}

