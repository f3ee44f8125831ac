/*
 * media-admin plans: list, export, import and set the plans catalogue.
 */

#ifndef _MEDIA_ADMIN_PLANS_H_INCLUDED_
#define _MEDIA_ADMIN_PLANS_H_INCLUDED_


#include <libpq-fe.h>


/* argv after "plans"; the exit status, 2 for a usage error */
int media_admin_plans(PGconn *pg, int argc, char **argv);


#endif /* _MEDIA_ADMIN_PLANS_H_INCLUDED_ */
