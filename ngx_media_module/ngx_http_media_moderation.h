/*
 * The moderators' room: the report queue and the actions on media,
 * comments and users; and the answer kit the reports room shares.
 */

#ifndef _NGX_HTTP_MEDIA_MODERATION_H_INCLUDED_
#define _NGX_HTTP_MEDIA_MODERATION_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_pg.h"


/* the columns of a media_moderation_answer row (sql/025) */
#define NGX_HTTP_MEDIA_ANSWER_COLUMNS                                        \
    "status, code, field, message, body,"                                   \
    " array_to_string(publish, E'\\n'), array_to_string(sessions, E'\\n')"


ngx_int_t ngx_http_media_admin_reports(ngx_http_request_t *r);
ngx_int_t ngx_http_media_admin_action(ngx_http_request_t *r);

/*
 * A string member of the body, NULL data when absent or null; NGX_ERROR
 * when it is of another type, longer than max characters, or absent and
 * required: the 422 is sent and its rc put in *rc.
 */
ngx_int_t ngx_http_media_moderation_str(ngx_http_request_t *r,
    const char *name, size_t max, ngx_uint_t required, ngx_str_t *out,
    ngx_int_t *rc);

/* target_type (media, comment or user) and target_id (its UUID) from the
 * body: NGX_OK, or NGX_ERROR with *rc the answer naming the field */
ngx_int_t ngx_http_media_moderation_target(ngx_http_request_t *r,
    ngx_str_t *type, ngx_str_t *id, ngx_int_t *rc);

/* a PostgreSQL handler: sends a media_moderation_answer row; data is the
 * log's site */
void ngx_http_media_moderation_answered(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);


#endif /* _NGX_HTTP_MEDIA_MODERATION_H_INCLUDED_ */
