/*
 * media-transcoder: takes transcode jobs from the media:transcode stream.
 */

#include "worker.h"


const char  *media_worker_name = "media-transcoder";


int
main(int argc, char **argv)
{
    static const media_queue_t  queue = {
        MEDIA_STREAM_TRANSCODE, MEDIA_GROUP_TRANSCODE
    };

    return media_worker_main(argc, argv, &queue);
}
