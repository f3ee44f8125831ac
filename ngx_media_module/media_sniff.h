/*
 * nginx-free media sniffing: the first bytes of a file against the
 * signatures of the containers FFmpeg reads, so that what is plainly not
 * media (a text file, an image, an archive) is refused at upload with 415.
 * It decides nothing finer: the transcoder probes what it gets.
 */

#ifndef _MEDIA_SNIFF_H_INCLUDED_
#define _MEDIA_SNIFF_H_INCLUDED_


#include <stddef.h>


#define MEDIA_SNIFF_LEN  512     /* bytes worth reading */


/* a container name ("mp4", "wav", ...) or NULL when nothing matches */
const char *media_sniff(const unsigned char *p, size_t len);


#endif /* _MEDIA_SNIFF_H_INCLUDED_ */
