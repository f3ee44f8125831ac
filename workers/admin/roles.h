/*
 * media-admin roles and audit: who holds which role, granting one, and
 * checking the audit trail's hash chain.
 */

#ifndef _MEDIA_ADMIN_ROLES_H_INCLUDED_
#define _MEDIA_ADMIN_ROLES_H_INCLUDED_


#include <libpq-fe.h>


/* the audit row's reason for a change made here: who ran media-admin */
const char *media_admin_reason(const char *given);

/* argv after "roles"; the exit status, 2 for a usage error */
int media_admin_roles(PGconn *pg, int argc, char **argv);

/* argv after "audit"; the exit status, 2 for a usage error */
int media_admin_audit(PGconn *pg, int argc, char **argv);


#endif /* _MEDIA_ADMIN_ROLES_H_INCLUDED_ */
