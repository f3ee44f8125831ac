/*
 * Roles: user (listens and watches), creator, moderator, admin.  A role is
 * a users row's, read in the access phase (the user cache keeps it for a
 * second at most), never an identity provider's claim.
 *
 *   media_upload_roles creator admin;
 *
 * restricts every upload route of the API (a new media, a cover) to the
 * roles named; without it any signed-in user may upload.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_roles.h"
#include "media_utf8.h"


typedef struct {
    ngx_str_t   name;
    ngx_uint_t  bit;
} ngx_http_media_role_t;


static ngx_http_media_role_t  ngx_http_media_roles[] = {
    { ngx_string("user"), NGX_HTTP_MEDIA_ROLE_USER },
    { ngx_string("creator"), NGX_HTTP_MEDIA_ROLE_CREATOR },
    { ngx_string("moderator"), NGX_HTTP_MEDIA_ROLE_MODERATOR },
    { ngx_string("admin"), NGX_HTTP_MEDIA_ROLE_ADMIN },
    { ngx_null_string, 0 }
};


ngx_uint_t
ngx_http_media_role_bit(ngx_str_t *role)
{
    ngx_http_media_role_t  *ro;

    for (ro = ngx_http_media_roles; ro->bit; ro++) {
        if (role->len == ro->name.len
            && ngx_strncmp(role->data, ro->name.data, role->len) == 0)
        {
            return ro->bit;
        }
    }

    return 0;
}


/* media_upload_roles role ...; the set in mlcf->upload_roles (0: unset) */
char *
ngx_http_media_upload_roles(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_loc_conf_t *mlcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, bit, set;

    if (mlcf->upload_roles != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    set = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        bit = ngx_http_media_role_bit(&value[i]);

        if (bit == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid media_upload_roles role \"%V\": "
                               "expected user, creator, moderator or admin",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        set |= bit;
    }

    mlcf->upload_roles = set;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_media_upload_allowed(ngx_http_request_t *r, ngx_int_t *rc)
{
    u_char                     *p, names[64];
    ngx_uint_t                  n;
    ngx_http_media_ctx_t       *ctx;
    ngx_http_media_role_t      *ro;
    ngx_http_media_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (mlcf->upload_roles == 0
        || (ngx_http_media_role_bit(&ctx->user->role) & mlcf->upload_roles))
    {
        return NGX_OK;
    }

    /* "creator or admin": the roles allowed, in the table's order */
    p = names;
    n = 0;

    for (ro = ngx_http_media_roles; ro->bit; ro++) {
        if (!(mlcf->upload_roles & ro->bit)) {
            continue;
        }

        if (n++) {
            p = ngx_cpymem(p, ", ", 2);
        }

        p = ngx_cpymem(p, ro->name.data, ro->name.len);
    }

    *rc = ngx_http_media_send_error(r, NGX_HTTP_FORBIDDEN, "role_required",
                                    "uploads here are for these roles: %*s; "
                                    "you are signed in as %V (an admin "
                                    "grants roles)", (size_t) (p - names),
                                    names, &ctx->user->role);
    return NGX_ERROR;
}


ngx_int_t
ngx_http_media_arg_text(ngx_http_request_t *r, ngx_str_t *raw, size_t max,
    ngx_str_t *out)
{
    u_char  *dst, *src;

    if (raw->len == 0) {
        return NGX_DECLINED;
    }

    /* the decoded text is never longer than the raw one */
    out->data = ngx_pnalloc(r->pool, raw->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    dst = out->data;
    src = raw->data;
    ngx_unescape_uri(&dst, &src, raw->len, 0);
    out->len = dst - out->data;

    if (out->len == 0
        || !media_utf8_valid(out->data, out->len)
        || media_utf8_chars(out->data, out->len) > max)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}
