/*
 * nginx-free text for the public pages: HTML escaping (every text a user
 * wrote goes through it, in elements and in attributes alike), the
 * oEmbed url parameter (which media a share or embed link names) and
 * handles (what /u/<handle> and PATCH /me accept).
 */

#ifndef _MEDIA_HTML_H_INCLUDED_
#define _MEDIA_HTML_H_INCLUDED_


#include <stddef.h>


/*
 * Writes src escaped for HTML text and quoted attribute values (& < > "
 * and ' as entities) to dst, which has room for media_html_escape(NULL, ...)
 * bytes; returns the bytes written.  dst NULL: only counts them, for
 * the allocation.
 */
size_t media_html_escape(char *dst, const char *src, size_t len);


#define MEDIA_OEMBED_OK       0
#define MEDIA_OEMBED_BAD     -1   /* not an http(s) URL of a page */
#define MEDIA_OEMBED_FOREIGN -2   /* a well-formed URL of another site or
                                     of a page that is not a media's */

/*
 * Which media a share or embed link names: url (already percent-decoded)
 * is http:// or https://, then host (compared without case, a port
 * included when the site has one), then /m/<uuid> or /embed/<uuid>, then
 * nothing, or a query or fragment.  id gets the UUID in lowercase with a
 * NUL.  Returns MEDIA_OEMBED_OK, _BAD or _FOREIGN.
 */
int media_oembed_url(const char *url, size_t len, const char *host,
    size_t hlen, char id[37]);


/*
 * The embed player's size: at most 640 wide (120 high for audio); a
 * video's height follows its picture (src_w x src_h; 0: 16:9), then the
 * whole is scaled down to fit maxw x maxh (0: no limit), as oEmbed's
 * maxwidth and maxheight ask; never below 1.
 */
void media_embed_size(unsigned src_w, unsigned src_h, int video,
    unsigned maxw, unsigned maxh, unsigned *w, unsigned *h);


/*
 * A handle as stored: 3 to 30 of a-z, 0-9 and _, any case given (handles
 * are case-insensitive, kept lowercase).  Writes the lowercase spelling to
 * dst (len bytes) and returns 1, or returns 0 when src is not a handle.
 */
int media_handle_norm(char *dst, const char *src, size_t len);


#endif /* _MEDIA_HTML_H_INCLUDED_ */
