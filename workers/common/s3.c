/*
 * Object storage over libcurl (s3.h).  One easy handle per request: the
 * workers publish a few dozen files per transcode, and a fresh handle
 * keeps every request's state (signature, headers, body) its own.
 *
 * The canonical query string SigV4 signs is the query as written in the
 * URL (libcurl signs it as it is), so every query here is built already
 * sorted by name and with its values encoded (media_s3_escape).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "worker.h"
#include "s3.h"


#define MEDIA_S3_URL_MAX        4096


typedef struct {
    char        *data;
    size_t       len;
    size_t       size;
} media_s3_buf_t;


/* one request, and what came back */
typedef struct {
    const char      *method;     /* GET, PUT, POST, DELETE */
    const char      *key;        /* under the bucket's prefix; NULL: the
                                    bucket itself */
    const char      *query;      /* sorted and encoded, or NULL */
    int              fd;         /* PUT: length bytes of fd from offset */
    off_t            offset;
    off_t            length;
    off_t            sent;
    const char      *type;       /* PUT: Content-Type */
    const char      *body;       /* POST: the body */
    media_s3_buf_t   reply;      /* the answer's body */
    char             etag[128];  /* the answer's ETag, quotes and all */
    long             status;
} media_s3_req_t;


static int media_s3_run(const media_settings_t *s, media_s3_req_t *rq,
    char *err, size_t errlen);
static int media_s3_once(const media_settings_t *s, media_s3_req_t *rq,
    char *curl_err);
static int media_s3_multipart(const media_settings_t *s, const char *key,
    int fd, off_t size, const char *type, char *err, size_t errlen);
static size_t media_s3_read(char *buf, size_t size, size_t n, void *data);
static size_t media_s3_write(char *buf, size_t size, size_t n, void *data);
static size_t media_s3_header(char *buf, size_t size, size_t n, void *data);
static int media_s3_tag(const char *xml, const char *tag, const char **from,
    char *out, size_t size);
static int media_s3_tree(const media_settings_t *s, const char *dir,
    const char *key_prefix, int depth, char *err, size_t errlen);
static int media_s3_delete_one(void *data, const char *key);
static off_t media_s3_part_size(void);


/* objects ----------------------------------------------------------------- */

int
media_s3_put_file(const media_settings_t *s, const char *key,
    const char *path, const char *type, char *err, size_t errlen)
{
    int              fd, rc;
    struct stat      sb;
    media_s3_req_t   rq;

    fd = open(path, O_RDONLY);
    if (fd == -1 || fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "s3 PUT %s: open %s: %s", key, path,
                 strerror(errno));
        if (fd != -1) {
            close(fd);
        }
        return -1;
    }

    if (sb.st_size > (media_s3_part_size() == MEDIA_S3_PART_SIZE
                      ? MEDIA_S3_MULTIPART : media_s3_part_size()))
    {
        rc = media_s3_multipart(s, key, fd, sb.st_size, type, err, errlen);
        close(fd);
        return rc;
    }

    memset(&rq, 0, sizeof(media_s3_req_t));
    rq.method = "PUT";
    rq.key = key;
    rq.fd = fd;
    rq.length = sb.st_size;
    rq.type = type;

    rc = media_s3_run(s, &rq, err, errlen);

    close(fd);
    free(rq.reply.data);

    return rc;
}


/*
 * Large files in parts (CreateMultipartUpload, UploadPart each, then
 * CompleteMultipartUpload): the object appears whole at the completion,
 * never before; a failure aborts the upload so no part is kept.
 */
static int
media_s3_multipart(const media_settings_t *s, const char *key, int fd,
    off_t size, const char *type, char *err, size_t errlen)
{
    int              rc, part, parts;
    off_t            psize;
    char            *xml, *x, id[512], eid[1536], query[1700];
    char             curl_err[CURL_ERROR_SIZE];
    size_t           xml_size;
    const char      *from;
    media_s3_req_t   rq;

    memset(&rq, 0, sizeof(media_s3_req_t));
    rq.method = "POST";
    rq.key = key;
    rq.query = "uploads=";
    rq.type = type;
    rq.body = "";

    rc = media_s3_run(s, &rq, err, errlen);

    from = rq.reply.data;
    if (rc == 0
        && media_s3_tag(rq.reply.data, "UploadId", &from, id, sizeof(id))
           != 0)
    {
        snprintf(err, errlen, "s3 POST %s?uploads: no UploadId in the "
                 "answer", key);
        rc = -1;
    }

    free(rq.reply.data);

    if (rc != 0) {
        return -1;
    }

    media_s3_escape(id, strlen(id), eid, sizeof(eid));

    psize = media_s3_part_size();
    parts = (int) ((size + psize - 1) / psize);
    xml_size = 64 + (size_t) parts * 256;
    xml = malloc(xml_size);
    if (xml == NULL) {
        snprintf(err, errlen, "s3 PUT %s: out of memory", key);
        rc = -1;
        goto abort;
    }

    x = xml + snprintf(xml, xml_size, "<CompleteMultipartUpload>");

    for (part = 1; part <= parts; part++) {
        memset(&rq, 0, sizeof(media_s3_req_t));
        snprintf(query, sizeof(query), "partNumber=%d&uploadId=%s", part,
                 eid);
        rq.method = "PUT";
        rq.key = key;
        rq.query = query;
        rq.fd = fd;
        rq.offset = (off_t) (part - 1) * psize;
        rq.length = size - rq.offset < psize ? size - rq.offset : psize;

        rc = media_s3_run(s, &rq, err, errlen);
        free(rq.reply.data);

        if (rc == 0 && rq.etag[0] == '\0') {
            snprintf(err, errlen, "s3 PUT %s part %d: no ETag in the "
                     "answer", key, part);
            rc = -1;
        }

        if (rc != 0) {
            goto abort;
        }

        x += snprintf(x, xml_size - (x - xml), "<Part><PartNumber>%d"
                      "</PartNumber><ETag>%s</ETag></Part>", part, rq.etag);
    }

    snprintf(x, xml_size - (x - xml), "</CompleteMultipartUpload>");

    memset(&rq, 0, sizeof(media_s3_req_t));
    snprintf(query, sizeof(query), "uploadId=%s", eid);
    rq.method = "POST";
    rq.key = key;
    rq.query = query;
    rq.body = xml;
    rq.type = "application/xml";

    rc = media_s3_run(s, &rq, err, errlen);

    /* S3 may answer 200 and put the error in the body */
    if (rc == 0 && rq.reply.data && strstr(rq.reply.data, "<Error>")) {
        snprintf(err, errlen, "s3 POST %s?uploadId: %.200s", key,
                 rq.reply.data);
        rc = -1;
    }

    free(rq.reply.data);

abort:

    free(xml);

    if (rc != 0) {
        /* the parts go; the error stays the one that happened first */
        memset(&rq, 0, sizeof(media_s3_req_t));
        snprintf(query, sizeof(query), "uploadId=%s", eid);
        rq.method = "DELETE";
        rq.key = key;
        rq.query = query;
        (void) media_s3_once(s, &rq, curl_err);
        free(rq.reply.data);
        return -1;
    }

    return 0;
}


int
media_s3_put_tree(const media_settings_t *s, const char *dir,
    const char *key_prefix, char *err, size_t errlen)
{
    return media_s3_tree(s, dir, key_prefix, 0, err, errlen);
}


/* a generation is two levels deep (g<N>/<rung>/seg_N.ts): a few more */
static int
media_s3_tree(const media_settings_t *s, const char *dir,
    const char *key_prefix, int depth, char *err, size_t errlen)
{
    int             rc;
    DIR            *d;
    char            path[4096], key[1024];
    struct stat     sb;
    struct dirent  *e;

    d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errlen, "s3 upload: open %s: %s", dir, strerror(errno));
        return -1;
    }

    rc = 0;

    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }

        if (media_path(path, sizeof(path), "%s/%s", dir, e->d_name) != 0
            || media_path(key, sizeof(key), "%s/%s", key_prefix, e->d_name)
               != 0
            || lstat(path, &sb) != 0)
        {
            snprintf(err, errlen, "s3 upload: %s/%s: %s", dir, e->d_name,
                     strerror(errno));
            rc = -1;

        } else if (S_ISDIR(sb.st_mode) && depth < 4) {
            rc = media_s3_tree(s, path, key, depth + 1, err, errlen);

        } else if (S_ISREG(sb.st_mode)) {
            rc = media_s3_put_file(s, key, path, media_s3_type(e->d_name),
                                   err, errlen);
        }
    }

    closedir(d);

    return rc;
}


int
media_s3_delete(const media_settings_t *s, const char *key, char *err,
    size_t errlen)
{
    int              rc;
    media_s3_req_t   rq;

    memset(&rq, 0, sizeof(media_s3_req_t));
    rq.method = "DELETE";
    rq.key = key;

    rc = media_s3_run(s, &rq, err, errlen);
    free(rq.reply.data);

    return rc;
}


/* ListObjectsV2, a thousand keys a page, pages followed to the end */
int
media_s3_list(const media_settings_t *s, const char *prefix,
    media_s3_each_pt each, void *data, char *err, size_t errlen)
{
    int              rc, more;
    char             full[1024], efull[3072], token[1024], etoken[3072];
    char             key[1024], query[6400];
    size_t           skip;
    const char      *from;
    media_s3_req_t   rq;

    if (media_path(full, sizeof(full), "%s%s%s", s->s3.url.prefix,
                   s->s3.url.prefix[0] ? "/" : "", prefix) != 0)
    {
        snprintf(err, errlen, "s3 list %s: prefix too long", prefix);
        return -1;
    }

    media_s3_escape(full, strlen(full), efull, sizeof(efull));
    skip = s->s3.url.prefix[0] ? strlen(s->s3.url.prefix) + 1 : 0;
    token[0] = '\0';

    do {
        media_s3_escape(token, strlen(token), etoken, sizeof(etoken));

        if (token[0]) {
            snprintf(query, sizeof(query), "continuation-token=%s"
                     "&list-type=2&prefix=%s", etoken, efull);
        } else {
            snprintf(query, sizeof(query), "list-type=2&prefix=%s", efull);
        }

        memset(&rq, 0, sizeof(media_s3_req_t));
        rq.method = "GET";
        rq.query = query;

        rc = media_s3_run(s, &rq, err, errlen);

        from = rq.reply.data;

        while (rc == 0
               && media_s3_tag(from, "Key", &from, key, sizeof(key)) == 0)
        {
            if (strlen(key) > skip && each(data, key + skip) != 0) {
                snprintf(err, errlen, "s3 list %s: stopped at %s", prefix,
                         key + skip);
                rc = -1;
            }
        }

        from = rq.reply.data;
        more = rc == 0 && rq.reply.data
               && strstr(rq.reply.data, "<IsTruncated>true</IsTruncated>")
               && media_s3_tag(from, "NextContinuationToken", &from, token,
                               sizeof(token)) == 0;

        free(rq.reply.data);

    } while (more);

    return rc;
}


typedef struct {
    const media_settings_t  *settings;
    char                    *err;
    size_t                   errlen;
    int                      gone;
} media_s3_sweep_t;


int
media_s3_delete_prefix(const media_settings_t *s, const char *prefix,
    char *err, size_t errlen)
{
    media_s3_sweep_t  sw;

    sw.settings = s;
    sw.err = err;
    sw.errlen = errlen;
    sw.gone = 0;

    /* deleting while listing: S3 lists from where it was, not again */
    if (media_s3_list(s, prefix, media_s3_delete_one, &sw, err, errlen)
        != 0)
    {
        return -1;
    }

    return sw.gone;
}


static int
media_s3_delete_one(void *data, const char *key)
{
    media_s3_sweep_t  *sw = data;

    if (media_s3_delete(sw->settings, key, sw->err, sw->errlen) != 0) {
        return -1;
    }

    sw->gone++;

    return 0;
}


/*
 * MEDIA_S3_PART_SIZE; for tests only, MEDIA_TEST_S3_PART_SIZE bytes (and
 * files over that many in parts), so that a small file goes in several
 * parts (AWS wants 5 MB at least but the last; s3rver takes any size)
 */
static off_t
media_s3_part_size(void)
{
    long           n;
    const char    *env;
    static off_t   size;

    if (size == 0) {
        env = getenv("MEDIA_TEST_S3_PART_SIZE");
        n = env ? atol(env) : 0;
        size = n > 0 ? (off_t) n : MEDIA_S3_PART_SIZE;
    }

    return size;
}


const char *
media_s3_type(const char *name)
{
    size_t       i, n, len;

    static const char  *types[][2] = {
        { ".m3u8", "application/vnd.apple.mpegurl" },
        { ".ts", "video/mp2t" },
        { ".m4s", "video/iso.segment" },
        { ".mp4", "video/mp4" },
        { ".jpg", "image/jpeg" },
        { ".png", "image/png" },
        { ".vtt", "text/vtt" },
        { ".json", "application/json" },
        { ".txt", "text/plain" },
        /* exports, as the download location's types {} name them */
        { ".mp3", "audio/mpeg" },
        { ".wav", "audio/wav" },
        { ".flac", "audio/flac" },
        { ".ogg", "audio/ogg" },
        { ".m4a", "audio/mp4" },
        { ".webm", "video/webm" },
    };

    len = strlen(name);

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        n = strlen(types[i][0]);
        if (len > n && strcmp(name + len - n, types[i][0]) == 0) {
            return types[i][1];
        }
    }

    return "application/octet-stream";
}


/* requests ---------------------------------------------------------------- */

/*
 * A request, tried up to MEDIA_S3_TRIES times while it fails in a way a
 * later try may not (no connection, a timeout, 5xx, 429: the bucket is
 * down or busy), with a pause doubling from 200 ms between tries.  A 404
 * to a DELETE is success: the object is gone either way.
 */
static int
media_s3_run(const media_settings_t *s, media_s3_req_t *rq, char *err,
    size_t errlen)
{
    int          try, rc;
    long         wait, cur;
    char         curl_err[CURL_ERROR_SIZE], code[64];
    const char  *from;

    cur = 100;

    for (try = 1; ; try++) {
        free(rq->reply.data);
        memset(&rq->reply, 0, sizeof(media_s3_buf_t));
        rq->etag[0] = '\0';
        rq->sent = 0;

        rc = media_s3_once(s, rq, curl_err);

        if (rc == 0 && rq->status / 100 == 2) {
            return 0;
        }

        if (rc == 0 && rq->status == 404 && strcmp(rq->method, "DELETE") == 0)
        {
            return 0;
        }

        if (rc == 0 && rq->status < 500 && rq->status != 429) {
            break;                      /* a later try would be refused too */
        }

        if (try == MEDIA_S3_TRIES || media_worker_stop) {
            break;
        }

        wait = media_backoff(&cur, 2000);
        media_log_info("s3 %s %s: %s, try %d of %d in %ld ms", rq->method,
                       rq->key ? rq->key : "(bucket)",
                       rc ? curl_err : "server error", try + 1,
                       MEDIA_S3_TRIES, wait);
        media_sleep(wait);
    }

    if (rc != 0) {
        snprintf(err, errlen, "s3 %s %s: %s (%s, %d tries)", rq->method,
                 rq->key ? rq->key : "(bucket)", curl_err, s->s3.endpoint,
                 try);
        return -1;
    }

    code[0] = '\0';
    from = rq->reply.data;
    (void) media_s3_tag(rq->reply.data, "Code", &from, code, sizeof(code));

    snprintf(err, errlen, "s3 %s %s: HTTP %ld%s%s%s", rq->method,
             rq->key ? rq->key : "(bucket)", rq->status,
             code[0] ? " " : "", code, rq->status >= 500 || rq->status == 429
             ? " (the bucket is busy or down; tried 4 times)" : "");
    return -1;
}


/* one try: 0 with rq->status set, or -1 with libcurl's error in curl_err */
static int
media_s3_once(const media_settings_t *s, media_s3_req_t *rq, char *curl_err)
{
    int                  n;
    CURL                *c;
    char                 url[MEDIA_S3_URL_MAX], sigv4[64], type[160];
    char                 userpwd[MEDIA_S3_KEY_ID_MAX + MEDIA_S3_SECRET_MAX + 2];
    CURLcode             rc;
    struct curl_slist   *h, *l;

    curl_err[0] = '\0';

    n = snprintf(url, sizeof(url), "%s/%s%s%s%s%s%s%s", s->s3.endpoint,
                 s->s3.url.bucket, rq->key ? "/" : "",
                 rq->key && s->s3.url.prefix[0] ? s->s3.url.prefix : "",
                 rq->key && s->s3.url.prefix[0] ? "/" : "",
                 rq->key ? rq->key : "", rq->query ? "?" : "",
                 rq->query ? rq->query : "");
    if (n < 0 || (size_t) n >= sizeof(url)) {
        snprintf(curl_err, CURL_ERROR_SIZE, "URL too long");
        return -1;
    }

    c = curl_easy_init();
    if (c == NULL) {
        snprintf(curl_err, CURL_ERROR_SIZE, "curl_easy_init failed");
        return -1;
    }

    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", s->s3.region);
    snprintf(userpwd, sizeof(userpwd), "%s:%s", s->s3.keys.key_id,
             s->s3.keys.secret);

    /* the payload unsigned: TLS protects it, and a file is signed without
     * being read twice; S3-compatible servers all take it */
    /*
     * libcurl signs every header set here, as it is written: no "Expect:"
     * to drop its 100-continue, which would be signed empty and not sent
     */
    h = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    l = h;

    if (l && rq->type) {
        snprintf(type, sizeof(type), "Content-Type: %s", rq->type);
        l = curl_slist_append(h, type);
    }

    if (l == NULL) {
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        snprintf(curl_err, CURL_ERROR_SIZE, "out of memory");
        return -1;
    }

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, media_s3_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &rq->reply);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, media_s3_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, rq);

    if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, media_s3_read);
        curl_easy_setopt(c, CURLOPT_READDATA, rq);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t) rq->length);

    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(rq->body));

    } else if (strcmp(rq->method, "DELETE") == 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    }

    rc = curl_easy_perform(c);

    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rq->status);

    } else if (curl_err[0] == '\0') {
        snprintf(curl_err, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
    }

    OPENSSL_cleanse(userpwd, sizeof(userpwd));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);

    return rc == CURLE_OK ? 0 : -1;
}


static size_t
media_s3_read(char *buf, size_t size, size_t n, void *data)
{
    media_s3_req_t  *rq = data;

    ssize_t  got;
    size_t   want;

    want = size * n;
    if ((off_t) want > rq->length - rq->sent) {
        want = (size_t) (rq->length - rq->sent);
    }

    if (want == 0) {
        return 0;
    }

    got = pread(rq->fd, buf, want, rq->offset + rq->sent);
    if (got <= 0) {
        return CURL_READFUNC_ABORT;
    }

    rq->sent += got;

    return (size_t) got;
}


/* the answer's body, kept up to 1 MB (a list page is ~250 KB) */
static size_t
media_s3_write(char *buf, size_t size, size_t n, void *data)
{
    media_s3_buf_t  *b = data;

    char    *p;
    size_t   len, want;

    len = size * n;

    if (b->len + len + 1 > b->size) {
        want = b->size ? b->size * 2 : 16384;
        while (want < b->len + len + 1) {
            want *= 2;
        }

        if (want > 1024 * 1024) {
            return 0;
        }

        p = realloc(b->data, want);
        if (p == NULL) {
            return 0;
        }

        b->data = p;
        b->size = want;
    }

    memcpy(b->data + b->len, buf, len);
    b->len += len;
    b->data[b->len] = '\0';

    return len;
}


static size_t
media_s3_header(char *buf, size_t size, size_t n, void *data)
{
    media_s3_req_t  *rq = data;

    size_t  len, v;

    len = size * n;

    if (len > 5 && strncasecmp(buf, "etag:", 5) == 0) {
        for (v = 5; v < len && buf[v] == ' '; v++) { /* void */ }
        while (len > v && (buf[len - 1] == '\r' || buf[len - 1] == '\n')) {
            len--;
        }

        if (len - v < sizeof(rq->etag)) {
            memcpy(rq->etag, buf + v, len - v);
            rq->etag[len - v] = '\0';
        }
    }

    return size * n;
}


/*
 * The text of the next <tag>...</tag> from *from on, into out (the XML
 * escapes our keys and ids can hold, &amp; &quot; ..., are not undone:
 * keys are [A-Za-z0-9._/-], ids are opaque and sent back escaped);
 * *from moves past it.  -1: none, or too long.
 */
static int
media_s3_tag(const char *xml, const char *tag, const char **from, char *out,
    size_t size)
{
    char         open[64], close[64];
    size_t       n;
    const char  *p, *q;

    if (xml == NULL || *from == NULL) {
        return -1;
    }

    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);

    p = strstr(*from, open);
    if (p == NULL) {
        return -1;
    }

    p += strlen(open);
    q = strstr(p, close);
    if (q == NULL) {
        return -1;
    }

    n = q - p;
    *from = q + strlen(close);

    if (n >= size) {
        return -1;
    }

    memcpy(out, p, n);
    out[n] = '\0';

    return 0;
}
