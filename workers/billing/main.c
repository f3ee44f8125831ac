/*
 * media-billing: takes billing jobs from the media:billing stream.
 */

#include "worker.h"
#include "queue.h"


const char  *media_worker_name = "media-billing";


int
main(int argc, char **argv)
{
    /* billing jobs come with the billing issue: connect and wait */
    static const media_queue_t  queue = {
        "billing", MEDIA_STREAM_BILLING, MEDIA_GROUP_BILLING, NULL, NULL
    };

    return media_worker_main(argc, argv, &queue);
}
