/*
 * media-admin check: what is missing or wrong in an installation.
 */

#ifndef _MEDIA_ADMIN_CHECK_H_INCLUDED_
#define _MEDIA_ADMIN_CHECK_H_INCLUDED_


#include "worker.h"


/* argv after "check"; the exit status: 0 all well, 1 something wrong,
 * 2 a usage error */
int media_admin_check(const media_settings_t *s, int argc, char **argv);


#endif /* _MEDIA_ADMIN_CHECK_H_INCLUDED_ */
