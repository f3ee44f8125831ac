/*
 * media-billing: takes billing jobs from the media:billing stream.
 */

#include "worker.h"


const char  *media_worker_name = "media-billing";


int
main(int argc, char **argv)
{
    static const media_queue_t  queue = {
        MEDIA_STREAM_BILLING, MEDIA_GROUP_BILLING
    };

    return media_worker_main(argc, argv, &queue);
}
