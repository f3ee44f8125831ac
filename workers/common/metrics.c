/*
 * A worker's counters for Prometheus.
 *
 * The consumers are processes of their own (run.c), so the counters live
 * in one anonymous shared mapping made before the first fork: each
 * consumer counts the jobs it ends and marks the one it runs in a slot of
 * its own; the supervisor, which takes no job, reads them all.
 *
 * With --metrics host:port the supervisor also listens there and answers
 * GET /metrics in Prometheus' text format (0.0.4) from its wait between
 * turns (media_metrics_wait): poll() on the listener and on a handful of
 * clients, every socket non-blocking, so a slow or silent client costs a
 * slot and never a stall; it is closed after MEDIA_METRICS_IDLE ms.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"
#include "queue.h"
#include "metrics.h"


#define MEDIA_METRICS_SLOTS     64      /* consumers */
#define MEDIA_METRICS_CLIENTS   8
#define MEDIA_METRICS_IDLE      5000    /* ms a client may take */
#define MEDIA_METRICS_BODY      32768


typedef struct {
    int                 pid;            /* 0: free; the consumer's */
    long                since;          /* ms (realtime); 0: not yet set */
    char                job[40];
    char                media[40];
} media_metrics_slot_t;


typedef struct {
    long                done;
    long                failed;
    long                released;
    long                job_ms;         /* in jobs that ended */
    int                 consumers;
    media_metrics_slot_t  running[MEDIA_METRICS_SLOTS];
} media_metrics_sh_t;


typedef struct {
    int                 fd;             /* -1: free */
    long                since;
    size_t              inlen;
    char                in[1024];
    char               *out;            /* the answer, once the request
                                           is in */
    size_t              outlen;
    size_t              sent;
} media_metrics_client_t;


static void media_metrics_accept(void);
static void media_metrics_read(media_metrics_client_t *c);
static void media_metrics_write(media_metrics_client_t *c);
static void media_metrics_close(media_metrics_client_t *c);
static int media_metrics_answer(media_metrics_client_t *c);
static size_t media_metrics_body(char *buf, size_t size);
static long media_metrics_now(void);


static media_metrics_sh_t      *media_metrics_sh;
static media_metrics_slot_t    *media_metrics_mine;   /* a consumer's */
static long                     media_metrics_started; /* its job, ms */
static int                      media_metrics_listener = -1;
static long                     media_metrics_start_time;
static media_metrics_client_t   media_metrics_clients[MEDIA_METRICS_CLIENTS];


int
media_metrics_init(void)
{
    int                  i, one;
    media_addr_t         addr;
    struct sockaddr_in   sin;

    media_metrics_start_time = time(NULL);

    for (i = 0; i < MEDIA_METRICS_CLIENTS; i++) {
        media_metrics_clients[i].fd = -1;
    }

    media_metrics_sh = mmap(NULL, sizeof(media_metrics_sh_t),
                            PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (media_metrics_sh == MAP_FAILED) {
        media_metrics_sh = NULL;
        media_log_error("metrics: mmap: %s", strerror(errno));
        return -1;
    }

    if (media_worker_metrics == NULL) {
        return 0;
    }

    /* a literal IPv4 address and a port: this is for the machine's own
     * Prometheus (or a firewalled network), never resolved */
    memset(&sin, 0, sizeof(sin));

    if (media_conf_parse_addr(media_worker_metrics,
                              strlen(media_worker_metrics), 0, &addr) != 0
        || addr.port == 0
        || inet_pton(AF_INET, addr.host, &sin.sin_addr) != 1)
    {
        media_log_error("metrics: --metrics \"%s\": expected an IPv4 "
                        "address and a port, such as 127.0.0.1:9465",
                        media_worker_metrics);
        return -1;
    }

    sin.sin_family = AF_INET;
    sin.sin_port = htons(addr.port);

    media_metrics_listener = socket(AF_INET,
                                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                    0);
    if (media_metrics_listener < 0) {
        media_log_error("metrics: socket: %s", strerror(errno));
        return -1;
    }

    one = 1;
    (void) setsockopt(media_metrics_listener, SOL_SOCKET, SO_REUSEADDR, &one,
                      sizeof(one));

    if (bind(media_metrics_listener, (struct sockaddr *) &sin, sizeof(sin))
        != 0
        || listen(media_metrics_listener, 16) != 0)
    {
        media_log_error("metrics: listen on %s: %s", media_worker_metrics,
                        strerror(errno));
        close(media_metrics_listener);
        media_metrics_listener = -1;
        return -1;
    }

    media_log_info("metrics: serving /metrics on %s", media_worker_metrics);

    return 0;
}


void
media_metrics_done(void)
{
    int  i;

    for (i = 0; i < MEDIA_METRICS_CLIENTS; i++) {
        media_metrics_close(&media_metrics_clients[i]);
    }

    if (media_metrics_listener >= 0) {
        close(media_metrics_listener);
        media_metrics_listener = -1;
    }
}


/* a consumer: its slot claimed for the job, then filled, then published */
void
media_metrics_job_start(const char *job, const char *media)
{
    int                    i, pid;
    media_metrics_slot_t  *s;

    media_metrics_started = media_metrics_now();

    if (media_metrics_sh == NULL) {
        return;
    }

    pid = getpid();

    for (i = 0; i < MEDIA_METRICS_SLOTS; i++) {
        s = &media_metrics_sh->running[i];

        if (__atomic_load_n(&s->pid, __ATOMIC_ACQUIRE) == pid
            || __sync_bool_compare_and_swap(&s->pid, 0, pid))
        {
            snprintf(s->job, sizeof(s->job), "%s", job);
            snprintf(s->media, sizeof(s->media), "%s", media);
            __atomic_store_n(&s->since, media_metrics_started,
                             __ATOMIC_RELEASE);
            media_metrics_mine = s;
            return;
        }
    }

    media_metrics_mine = NULL;
}


void
media_metrics_job_end(int outcome)
{
    long  *counter;

    if (media_metrics_sh == NULL) {
        return;
    }

    counter = outcome == 0 ? &media_metrics_sh->done
              : outcome == MEDIA_JOB_RELEASE ? &media_metrics_sh->released
              : &media_metrics_sh->failed;

    __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&media_metrics_sh->job_ms,
                       media_metrics_now() - media_metrics_started,
                       __ATOMIC_RELAXED);

    if (media_metrics_mine) {
        __atomic_store_n(&media_metrics_mine->since, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&media_metrics_mine->pid, 0, __ATOMIC_RELEASE);
        media_metrics_mine = NULL;
    }
}


void
media_metrics_consumers(int n)
{
    int  i;

    if (media_metrics_sh == NULL) {
        return;
    }

    media_metrics_sh->consumers = n;

    /* a consumer that died mid-job left its slot: its pid is gone */
    for (i = 0; i < MEDIA_METRICS_SLOTS; i++) {
        media_metrics_slot_t  *s = &media_metrics_sh->running[i];
        int                    pid = __atomic_load_n(&s->pid,
                                                     __ATOMIC_ACQUIRE);

        if (pid && kill(pid, 0) != 0 && errno == ESRCH) {
            __atomic_store_n(&s->since, 0, __ATOMIC_RELEASE);
            (void) __sync_bool_compare_and_swap(&s->pid, pid, 0);
        }
    }
}


void
media_metrics_wait(long ms)
{
    int                      i, n, rc;
    long                     end, now;
    struct pollfd            pfd[MEDIA_METRICS_CLIENTS + 1];
    media_metrics_client_t  *c, *map[MEDIA_METRICS_CLIENTS + 1];

    if (media_metrics_listener < 0) {
        media_sleep(ms);
        return;
    }

    end = media_metrics_now() + ms;

    while (!media_worker_stop && (now = media_metrics_now()) < end) {
        n = 0;

        pfd[n].fd = media_metrics_listener;
        pfd[n].events = POLLIN;
        map[n++] = NULL;

        for (i = 0; i < MEDIA_METRICS_CLIENTS; i++) {
            c = &media_metrics_clients[i];
            if (c->fd < 0) {
                continue;
            }

            if (now - c->since > MEDIA_METRICS_IDLE) {
                media_metrics_close(c);
                continue;
            }

            pfd[n].fd = c->fd;
            pfd[n].events = c->out ? POLLOUT : POLLIN;
            map[n++] = c;
        }

        rc = poll(pfd, n, (int) (end - now));
        if (rc <= 0) {
            continue;               /* timed out, or a signal */
        }

        for (i = 1; i < n; i++) {
            if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL)
                && !(pfd[i].revents & POLLIN))
            {
                media_metrics_close(map[i]);

            } else if (pfd[i].revents & POLLOUT) {
                media_metrics_write(map[i]);

            } else if (pfd[i].revents & POLLIN) {
                media_metrics_read(map[i]);
            }
        }

        if (pfd[0].revents & POLLIN) {
            media_metrics_accept();
        }
    }
}


static void
media_metrics_accept(void)
{
    int                      i, fd;
    media_metrics_client_t  *c;

    for ( ;; ) {
        fd = accept4(media_metrics_listener, NULL, NULL,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;                 /* EAGAIN: none left */
        }

        for (i = 0; i < MEDIA_METRICS_CLIENTS; i++) {
            if (media_metrics_clients[i].fd < 0) {
                break;
            }
        }

        if (i == MEDIA_METRICS_CLIENTS) {
            close(fd);              /* busy: Prometheus tries again */
            continue;
        }

        c = &media_metrics_clients[i];
        memset(c, 0, sizeof(media_metrics_client_t));
        c->fd = fd;
        c->since = media_metrics_now();
    }
}


static void
media_metrics_read(media_metrics_client_t *c)
{
    ssize_t  n;

    n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, 0);

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        media_metrics_close(c);
        return;
    }

    if (n < 0) {
        return;
    }

    c->inlen += n;
    c->in[c->inlen] = '\0';

    if (strstr(c->in, "\r\n\r\n") == NULL && strstr(c->in, "\n\n") == NULL)
    {
        if (c->inlen == sizeof(c->in) - 1) {
            media_metrics_close(c);     /* headers too large */
        }
        return;
    }

    if (media_metrics_answer(c) != 0) {
        media_metrics_close(c);
        return;
    }

    media_metrics_write(c);
}


static void
media_metrics_write(media_metrics_client_t *c)
{
    ssize_t  n;

    n = send(c->fd, c->out + c->sent, c->outlen - c->sent, MSG_NOSIGNAL);

    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }

    if (n > 0) {
        c->sent += n;
        if (c->sent < c->outlen) {
            return;
        }
    }

    media_metrics_close(c);
}


static void
media_metrics_close(media_metrics_client_t *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }

    free(c->out);
    memset(c, 0, sizeof(media_metrics_client_t));
    c->fd = -1;
}


/* GET (or HEAD) /metrics: 200 with the counters; anything else 404/405 */
static int
media_metrics_answer(media_metrics_client_t *c)
{
    int          head;
    char        *body, *sp;
    size_t       blen, hlen;
    const char  *status;

    head = strncmp(c->in, "HEAD ", 5) == 0;

    body = malloc(MEDIA_METRICS_BODY + 256);
    if (body == NULL) {
        return -1;
    }

    c->out = body;
    blen = 0;

    if (!head && strncmp(c->in, "GET ", 4) != 0) {
        status = "405 Method Not Allowed";

    } else {
        sp = c->in + (head ? 5 : 4);

        if (strncmp(sp, "/metrics ", 9) == 0
            || strncmp(sp, "/metrics?", 9) == 0)
        {
            status = "200 OK";
            blen = media_metrics_body(body + 256, MEDIA_METRICS_BODY);

        } else {
            status = "404 Not Found";
        }
    }

    hlen = snprintf(body, 256, "HTTP/1.1 %s\r\n"
                    "Content-Type: text/plain; version=0.0.4; "
                    "charset=utf-8\r\n"
                    "Content-Length: %zu\r\n"
                    "Connection: close\r\n\r\n", status, blen);

    memmove(body + hlen, body + 256, head ? 0 : blen);
    c->outlen = hlen + (head ? 0 : blen);
    c->sent = 0;

    return 0;
}


static size_t
media_metrics_body(char *buf, size_t size)
{
    int                    i;
    long                   now, since, running;
    size_t                 n;
    const char            *w;
    media_metrics_sh_t    *sh;
    media_metrics_slot_t  *s;

#define media_metrics_add(...)                                               \
    if (n < size) {                                                          \
        n += snprintf(buf + n, size - n, __VA_ARGS__);                       \
    }

    sh = media_metrics_sh;
    w = media_worker_name;
    now = media_metrics_now();
    n = 0;
    running = 0;

    for (i = 0; i < MEDIA_METRICS_SLOTS; i++) {
        if (__atomic_load_n(&sh->running[i].since, __ATOMIC_ACQUIRE)) {
            running++;
        }
    }

    media_metrics_add(
        "# HELP media_worker_jobs_total Jobs this worker ended, by outcome "
        "(failed: to be retried, dead or failed for good; released: given "
        "back on stopping).\n"
        "# TYPE media_worker_jobs_total counter\n"
        "media_worker_jobs_total{worker=\"%s\",outcome=\"done\"} %ld\n"
        "media_worker_jobs_total{worker=\"%s\",outcome=\"failed\"} %ld\n"
        "media_worker_jobs_total{worker=\"%s\",outcome=\"released\"} %ld\n"
        "# HELP media_worker_job_seconds_total Seconds spent in the jobs "
        "that ended.\n"
        "# TYPE media_worker_job_seconds_total counter\n"
        "media_worker_job_seconds_total{worker=\"%s\"} %ld.%03ld\n"
        "# HELP media_worker_jobs_running Jobs running now.\n"
        "# TYPE media_worker_jobs_running gauge\n"
        "media_worker_jobs_running{worker=\"%s\"} %ld\n"
        "# HELP media_worker_consumers Consumer processes running.\n"
        "# TYPE media_worker_consumers gauge\n"
        "media_worker_consumers{worker=\"%s\"} %d\n"
        "# HELP media_worker_start_time_seconds When this worker started, "
        "in seconds since the epoch.\n"
        "# TYPE media_worker_start_time_seconds gauge\n"
        "media_worker_start_time_seconds{worker=\"%s\"} %ld\n"
        "# HELP media_worker_current_job_seconds How long each running job "
        "has run, by consumer, job and media.\n"
        "# TYPE media_worker_current_job_seconds gauge\n",
        w, __atomic_load_n(&sh->done, __ATOMIC_RELAXED),
        w, __atomic_load_n(&sh->failed, __ATOMIC_RELAXED),
        w, __atomic_load_n(&sh->released, __ATOMIC_RELAXED),
        w, __atomic_load_n(&sh->job_ms, __ATOMIC_RELAXED) / 1000,
        __atomic_load_n(&sh->job_ms, __ATOMIC_RELAXED) % 1000,
        w, running, w, sh->consumers, w, media_metrics_start_time);

    for (i = 0; i < MEDIA_METRICS_SLOTS; i++) {
        s = &sh->running[i];
        since = __atomic_load_n(&s->since, __ATOMIC_ACQUIRE);

        if (since == 0) {
            continue;
        }

        /* the ids are UUIDs from the row: nothing to escape */
        media_metrics_add("media_worker_current_job_seconds{worker=\"%s\","
                          "consumer=\"%d\",job=\"%.36s\",media=\"%.36s\"} "
                          "%ld.%03ld\n", w, s->pid, s->job, s->media,
                          (now - since) / 1000, (now - since) % 1000);
    }

#undef media_metrics_add

    return n < size ? n : size - 1;
}


/* ms since the epoch: the same clock in every process */
static long
media_metrics_now(void)
{
    struct timespec  now;

    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec * 1000 + now.tv_nsec / 1000000;
}
