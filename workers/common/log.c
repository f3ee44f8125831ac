/*
 * The workers' log, one implementation for every program: in the
 * long-running workers one JSON object a line on stderr, written with
 * yajl, so that a message holding quotes, newlines or bytes from a broken
 * file still makes one well-formed line (text that is not well-formed
 * UTF-8, and control characters, are made safe first: media_utf8_safe);
 * in the command-line tools a line of text for the person who ran them.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "worker.h"
#include "media_utf8.h"


/* set by media_worker_main: a long-running worker's log is for machines;
 * the command-line tools (media-admin, media-migrate) write for people */
int                     media_log_json;

/* the job this process runs (a consumer runs one at a time) */
static char             media_log_job_id[40];
static char             media_log_media_id[40];
static int              media_log_attempt;
static struct timespec  media_log_since;


static void media_log_str(yajl_gen g, const char *key, const char *value);


void
media_log_job(const char *id, const char *media, int attempt)
{
    snprintf(media_log_job_id, sizeof(media_log_job_id), "%s",
             id ? id : "");
    snprintf(media_log_media_id, sizeof(media_log_media_id), "%s",
             media ? media : "");
    media_log_attempt = attempt;
    clock_gettime(CLOCK_MONOTONIC, &media_log_since);
}


void
media_log(const char *level, const char *fmt, ...)
{
    char              ts[40], msg[2048];
    size_t            len;
    va_list           args;
    yajl_gen          g;
    struct tm         tm;
    struct timespec   now, mono;
    const unsigned char  *buf;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    len = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + len, sizeof(ts) - len, ".%03ldZ", now.tv_nsec / 1000000);

    va_start(args, fmt);
    vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);

    g = media_log_json ? yajl_gen_alloc(NULL) : NULL;
    if (g == NULL) {
        fprintf(stderr, "%s %s[%d] %s: %s\n", ts, media_worker_name,
                (int) getpid(), level, msg);
        return;
    }

    yajl_gen_map_open(g);
    media_log_str(g, "time", ts);
    media_log_str(g, "level", level);
    media_log_str(g, "worker", media_worker_name);
    yajl_gen_string(g, (const unsigned char *) "pid", 3);
    yajl_gen_integer(g, getpid());
    media_log_str(g, "message", msg);

    if (media_log_job_id[0]) {
        clock_gettime(CLOCK_MONOTONIC, &mono);

        media_log_str(g, "job", media_log_job_id);
        if (media_log_media_id[0]) {
            media_log_str(g, "media", media_log_media_id);
        }
        yajl_gen_string(g, (const unsigned char *) "attempt", 7);
        yajl_gen_integer(g, media_log_attempt);
        yajl_gen_string(g, (const unsigned char *) "duration", 8);
        yajl_gen_double(g, (double) (mono.tv_sec - media_log_since.tv_sec)
                           + (mono.tv_nsec - media_log_since.tv_nsec) / 1e9);
    }

    yajl_gen_map_close(g);

    if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok) {
        /* one write per line, so lines from several processes do not
         * mix */
        fprintf(stderr, "%.*s\n", (int) len, (const char *) buf);
        fflush(stderr);
    }

    yajl_gen_free(g);
}


static void
media_log_str(yajl_gen g, const char *key, const char *value)
{
    size_t  len;
    char    safe[2048];

    len = strlen(value);
    if (len > sizeof(safe)) {
        len = sizeof(safe);
    }

    len = media_utf8_safe((unsigned char *) safe,
                          (const unsigned char *) value, len);

    yajl_gen_string(g, (const unsigned char *) key, strlen(key));
    yajl_gen_string(g, (const unsigned char *) safe, len);
}
