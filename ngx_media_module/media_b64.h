/*
 * base64url (RFC 4648 section 5) without padding, as JWT uses it, and
 * base64 (section 4), as tus' Upload-Metadata does.
 */

#ifndef _MEDIA_B64_H_INCLUDED_
#define _MEDIA_B64_H_INCLUDED_


#include <stddef.h>


#define media_b64url_encoded_len(n)  (((n) * 4 + 2) / 3)
#define media_b64url_decoded_max(n)  (((n) * 3) / 4 + 1)


/* writes media_b64url_encoded_len(len) bytes, no NUL */
size_t media_b64url_encode(unsigned char *dst, const unsigned char *src,
    size_t len);

/*
 * Returns the decoded length, or (size_t) -1 for a character outside the
 * alphabet, padding, a length no encoder produces, or unused bits that are
 * not zero (a non-canonical encoding).  dst must hold
 * media_b64url_decoded_max(len) bytes.
 */
size_t media_b64url_decode(unsigned char *dst, const unsigned char *src,
    size_t len);


/*
 * base64 (RFC 4648 section 4): the standard alphabet, with or without its
 * padding; otherwise as media_b64url_decode.
 */
size_t media_b64_decode(unsigned char *dst, const unsigned char *src,
    size_t len);


/* the value of one hexadecimal digit (either case), or -1 */
int media_hex_value(int c);


#endif /* _MEDIA_B64_H_INCLUDED_ */
