/*
 * libFuzzer target for Stripe-Signature verification: the input is a
 * header, a newline, then the body.  Whatever the header, verification
 * returns one of its results; and the body signed with our secret always
 * verifies.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media_stripe.h"


#define NOW  1700000000L


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static media_stripe_secret_t  keys[2];
    static int                    ready;
    char                          h[MEDIA_STRIPE_HEADER_LEN];
    size_t                        hlen, n;
    media_stripe_rc_e             rc;
    media_stripe_sig_t            sig;
    const uint8_t                *nl, *body;

    if (!ready) {
        media_stripe_secret(&keys[0], (const unsigned char *)
                            "whsec_current_secret_0123", 25);
        media_stripe_secret(&keys[1], (const unsigned char *)
                            "whsec_previous_secret_456", 25);
        ready = 1;
    }

    nl = memchr(data, '\n', size);
    hlen = nl ? (size_t) (nl - data) : size;
    body = nl ? nl + 1 : data + size;

    rc = media_stripe_verify(keys, 2, (const char *) data, hlen, body,
                             size - (size_t) (body - data), NOW,
                             MEDIA_STRIPE_TOLERANCE, &sig);

    if (rc > MEDIA_STRIPE_STALE
        || (rc == MEDIA_STRIPE_MALFORMED && sig.error == NULL)
        || sig.nv1 > MEDIA_STRIPE_MAX_V1)
    {
        abort();
    }

    n = media_stripe_sign(&keys[1], NOW, body, size - (size_t) (body - data),
                          h);
    if (n == 0
        || media_stripe_verify(keys, 2, h, n, body,
                               size - (size_t) (body - data), NOW + 1,
                               MEDIA_STRIPE_TOLERANCE, &sig)
           != MEDIA_STRIPE_OK)
    {
        abort();
    }

    return 0;
}
