/*
 * Tenants: several sites on one nginx and one database (media_tenant in a
 * server {} block; sql/031_tenants.sql).
 */

#ifndef _NGX_HTTP_MEDIA_TENANT_H_INCLUDED_
#define _NGX_HTTP_MEDIA_TENANT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_types.h"


/* media_tenant name; */
char *ngx_http_media_tenant_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

void *ngx_http_media_create_srv_conf(ngx_conf_t *cf);
char *ngx_http_media_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);

/* the tenant of the request's server */
ngx_http_media_tenant_t *ngx_http_media_tenant(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_TENANT_H_INCLUDED_ */
