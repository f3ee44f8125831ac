/*
 * nginx-free configuration reading: a tokenizer for nginx's configuration
 * syntax and parsers for the values our directives take.
 */

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media_conf.h"


#define MEDIA_CONF_MAX_TOKEN  4096
#define MEDIA_CONF_MAX_DEPTH  16      /* includes within includes */


/* what media_conf_parse_file hands down through "include" */
typedef struct {
    media_conf_handler_pt   h;
    void                   *data;
    char                    prefix[4096];   /* the main file's directory */
    int                     depth;
} media_conf_files_t;


static int media_conf_file(media_conf_files_t *fs, const char *path,
    char *err, size_t errlen);
static int media_conf_include(void *data, const char *name, char **args,
    int nargs, int line, char *err, size_t errlen);


typedef struct {
    const char  *p;
    const char  *end;
    int          line;
    char        *err;
    size_t       errlen;
} media_conf_lexer_t;


enum {
    MEDIA_TOK_WORD,
    MEDIA_TOK_SEMI,
    MEDIA_TOK_OPEN,
    MEDIA_TOK_CLOSE,
    MEDIA_TOK_EOF,
    MEDIA_TOK_ERROR
};


static int media_conf_next(media_conf_lexer_t *lx, char *buf, size_t size);


/*
 * Reads one token into buf.  Quoted strings may hold any character, with
 * backslash escaping the next one, as in nginx.
 */
static int
media_conf_next(media_conf_lexer_t *lx, char *buf, size_t size)
{
    char    quote;
    size_t  n;

    for ( ;; ) {
        while (lx->p < lx->end
               && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r'
                   || *lx->p == '\n'))
        {
            if (*lx->p == '\n') {
                lx->line++;
            }
            lx->p++;
        }

        if (lx->p < lx->end && *lx->p == '#') {
            while (lx->p < lx->end && *lx->p != '\n') {
                lx->p++;
            }
            continue;
        }

        break;
    }

    if (lx->p == lx->end) {
        return MEDIA_TOK_EOF;
    }

    switch (*lx->p) {
    case ';':
        lx->p++;
        return MEDIA_TOK_SEMI;
    case '{':
        lx->p++;
        return MEDIA_TOK_OPEN;
    case '}':
        lx->p++;
        return MEDIA_TOK_CLOSE;
    }

    quote = 0;
    if (*lx->p == '"' || *lx->p == '\'') {
        quote = *lx->p++;
    }

    n = 0;

    while (lx->p < lx->end) {
        char  ch = *lx->p;

        if (quote) {
            if (ch == quote) {
                lx->p++;
                goto done;
            }

        } else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'
                   || ch == ';' || ch == '{' || ch == '}')
        {
            goto done;
        }

        if (ch == '\\' && lx->p + 1 < lx->end) {
            lx->p++;
            ch = *lx->p;
        }

        if (ch == '\n') {
            lx->line++;
        }

        if (n + 1 >= size) {
            snprintf(lx->err, lx->errlen, "line %d: token too long", lx->line);
            return MEDIA_TOK_ERROR;
        }

        buf[n++] = ch;
        lx->p++;
    }

    if (quote) {
        snprintf(lx->err, lx->errlen, "line %d: unbalanced quote", lx->line);
        return MEDIA_TOK_ERROR;
    }

done:

    buf[n] = '\0';
    return MEDIA_TOK_WORD;
}


int
media_conf_parse(const char *text, size_t len, media_conf_handler_pt h,
    void *data, char *err, size_t errlen)
{
    int                 tok, depth, nwords, line, rc, i;
    char               *words[MEDIA_CONF_MAX_ARGS + 1];
    char                buf[MEDIA_CONF_MAX_TOKEN];
    media_conf_lexer_t  lx;

    lx.p = text;
    lx.end = text + len;
    lx.line = 1;
    lx.err = err;
    lx.errlen = errlen;

    depth = 0;
    nwords = 0;
    line = 1;
    rc = -1;

    for ( ;; ) {
        tok = media_conf_next(&lx, buf, sizeof(buf));

        switch (tok) {

        case MEDIA_TOK_ERROR:
            goto done;

        case MEDIA_TOK_WORD:
            if (nwords == 0) {
                line = lx.line;
            }

            /* long directives we do not read (a log_format) are skipped */
            if (nwords <= MEDIA_CONF_MAX_ARGS) {
                words[nwords] = strdup(buf);
                if (words[nwords] == NULL) {
                    snprintf(err, errlen, "out of memory");
                    goto done;
                }
            }
            nwords++;
            break;

        case MEDIA_TOK_SEMI:
            if (nwords == 0) {
                snprintf(err, errlen, "line %d: unexpected \";\"", lx.line);
                goto done;
            }

            if (nwords <= MEDIA_CONF_MAX_ARGS
                && h(data, words[0], words + 1, nwords - 1, line, err, errlen)
                   != 0)
            {
                goto done;
            }
            goto reset;

        case MEDIA_TOK_OPEN:
            depth++;
            goto reset;

        case MEDIA_TOK_CLOSE:
            if (nwords || depth == 0) {
                snprintf(err, errlen, "line %d: unexpected \"}\"", lx.line);
                goto done;
            }
            depth--;
            break;

        case MEDIA_TOK_EOF:
            if (nwords || depth) {
                snprintf(err, errlen, "unexpected end of file, "
                         "expecting \";\" or \"}\"");
                goto done;
            }
            rc = 0;
            goto done;
        }

        continue;

    reset:

        for (i = 0; i < nwords && i <= MEDIA_CONF_MAX_ARGS; i++) {
            free(words[i]);
        }
        nwords = 0;
    }

done:

    for (i = 0; i < nwords && i <= MEDIA_CONF_MAX_ARGS; i++) {
        free(words[i]);
    }

    return rc;
}


/*
 * The file and those it includes, as nginx reads them: "include" at any
 * depth, a relative path against the main file's directory (nginx's
 * configuration prefix), a pattern with *, ? or [ expanded by glob(3) in
 * sorted order and matching nothing without error, a plain path that
 * must exist.
 */
int
media_conf_parse_file(const char *path, media_conf_handler_pt h, void *data,
    char *err, size_t errlen)
{
    const char          *slash;
    media_conf_files_t   fs;

    fs.h = h;
    fs.data = data;
    fs.depth = 0;

    slash = strrchr(path, '/');

    if (slash == NULL) {
        snprintf(fs.prefix, sizeof(fs.prefix), ".");

    } else if ((size_t) (slash - path) >= sizeof(fs.prefix)) {
        snprintf(err, errlen, "\"%s\": the path is too long", path);
        return -1;

    } else {
        snprintf(fs.prefix, sizeof(fs.prefix), "%.*s",
                 (int) (slash == path ? 1 : slash - path), path);
    }

    return media_conf_file(&fs, path, err, errlen);
}


static int
media_conf_file(media_conf_files_t *fs, const char *path, char *err,
    size_t errlen)
{
    int     rc;
    char   *text, msg[1024];
    long    size;
    FILE   *f;

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "open \"%s\": %s", path, strerror(errno));
        return -1;
    }

    text = NULL;
    rc = -1;

    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        snprintf(err, errlen, "read \"%s\": %s", path, strerror(errno));
        goto done;
    }

    text = malloc(size + 1);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    if (fread(text, 1, size, f) != (size_t) size) {
        snprintf(err, errlen, "read \"%s\": short read", path);
        goto done;
    }

    rc = media_conf_parse(text, size, media_conf_include, fs, msg,
                          sizeof(msg));
    if (rc != 0) {
        /* an included file's error names its own file already */
        if (msg[0] == '/') {
            snprintf(err, errlen, "%s", msg);
        } else {
            snprintf(err, errlen, "%s: %s", path, msg);
        }
    }

done:

    free(text);
    fclose(f);
    return rc;
}


static int
media_conf_include(void *data, const char *name, char **args, int nargs,
    int line, char *err, size_t errlen)
{
    media_conf_files_t *fs = data;

    int      rc;
    char     path[4096];
    size_t   i;
    glob_t   g;

    if (strcmp(name, "include") != 0) {
        return fs->h(fs->data, name, args, nargs, line, err, errlen);
    }

    if (nargs != 1) {
        snprintf(err, errlen, "line %d: \"include\" takes one file or "
                 "pattern", line);
        return -1;
    }

    if (fs->depth >= MEDIA_CONF_MAX_DEPTH) {
        snprintf(err, errlen, "line %d: include \"%s\": includes nested "
                 "more than %d deep (does a file include itself?)", line,
                 args[0], MEDIA_CONF_MAX_DEPTH);
        return -1;
    }

    if ((size_t) snprintf(path, sizeof(path), "%s%s%s",
                          args[0][0] == '/' ? "" : fs->prefix,
                          args[0][0] == '/' ? "" : "/", args[0])
        >= sizeof(path))
    {
        snprintf(err, errlen, "line %d: include \"%s\": the path is too "
                 "long", line, args[0]);
        return -1;
    }

    fs->depth++;

    if (strpbrk(args[0], "*?[") == NULL) {
        rc = media_conf_file(fs, path, err, errlen);
        fs->depth--;
        return rc;
    }

    rc = glob(path, 0, NULL, &g);

    if (rc == GLOB_NOMATCH) {
        fs->depth--;
        return 0;                  /* as nginx: a pattern may match none */
    }

    if (rc != 0) {
        fs->depth--;
        snprintf(err, errlen, "line %d: include \"%s\": glob failed", line,
                 path);
        return -1;
    }

    rc = 0;

    for (i = 0; i < g.gl_pathc && rc == 0; i++) {
        rc = media_conf_file(fs, g.gl_pathv[i], err, errlen);
    }

    globfree(&g);
    fs->depth--;

    return rc;
}


int
media_conf_parse_msec(const char *s, size_t len, long *ms)
{
    long    n, scale;
    size_t  i;

    n = 0;

    for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (n > 100000000) {
            return -1;
        }
        n = n * 10 + (s[i] - '0');
    }

    if (i == 0) {
        return -1;
    }

    s += i;
    len -= i;

    if (len == 0 || (len == 1 && s[0] == 's')) {
        scale = 1000;

    } else if (len == 2 && s[0] == 'm' && s[1] == 's') {
        scale = 1;

    } else if (len == 1 && s[0] == 'm') {
        scale = 60 * 1000;

    } else if (len == 1 && s[0] == 'h') {
        scale = 3600 * 1000;

    } else if (len == 1 && s[0] == 'd') {
        scale = 24L * 3600 * 1000;

    } else {
        return -1;
    }

    *ms = n * scale;
    return 0;
}


int
media_conf_parse_addr(const char *s, size_t len, int default_port,
    media_addr_t *addr)
{
    long         port;
    size_t       hlen;
    const char  *colon;

    memset(addr, 0, sizeof(media_addr_t));

    if (len > 5 && memcmp(s, "unix:", 5) == 0) {
        if (len - 5 >= sizeof(addr->path) || s[5] != '/') {
            return -1;
        }
        memcpy(addr->path, s + 5, len - 5);
        return 0;
    }

    colon = memchr(s, ':', len);
    hlen = colon ? (size_t) (colon - s) : len;

    if (hlen == 0 || hlen >= sizeof(addr->host)
        || memchr(s, '/', hlen) != NULL)
    {
        return -1;
    }

    memcpy(addr->host, s, hlen);

    if (colon == NULL) {
        addr->port = default_port;
        return 0;
    }

    if (media_conf_parse_uint(colon + 1, len - hlen - 1, 65535, &port) != 0) {
        return -1;
    }

    addr->port = (int) port;
    return 0;
}


/*
 * "sentinel://h:p,h:p/name": each sentinel a host and port (no unix
 * socket: Sentinel names its primary by a network address anyway), the
 * name as in the sentinels' "sentinel monitor" line.
 */
int
media_conf_parse_redis(const char *s, size_t len, int default_port,
    media_redis_addr_t *rd)
{
    size_t       n, i;
    const char  *end, *p, *comma, *slash;

    memset(rd, 0, sizeof(media_redis_addr_t));

    if (len < 11 || memcmp(s, "sentinel://", 11) != 0) {
        return media_conf_parse_addr(s, len, default_port, &rd->addr);
    }

    p = s + 11;
    end = s + len;

    slash = memchr(p, '/', end - p);
    if (slash == NULL) {
        return -1;
    }

    n = end - slash - 1;
    if (n == 0 || n >= sizeof(rd->master)) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (slash[1 + i] <= ' ' || slash[1 + i] == '/' || slash[1 + i] >= 127) {
            return -1;
        }
    }

    memcpy(rd->master, slash + 1, n);

    while (p < slash) {
        if (rd->nsentinels == MEDIA_SENTINELS_MAX) {
            return -1;
        }

        comma = memchr(p, ',', slash - p);
        if (comma == NULL) {
            comma = slash;
        }

        if (comma - p > 5 && memcmp(p, "unix:", 5) == 0) {
            return -1;
        }

        if (media_conf_parse_addr(p, comma - p, MEDIA_SENTINEL_PORT,
                                  &rd->sentinels[rd->nsentinels])
            != 0)
        {
            return -1;
        }

        rd->nsentinels++;
        p = comma + 1;

        if (comma < slash && p == slash) {
            return -1;                     /* a trailing comma */
        }
    }

    return rd->nsentinels ? 0 : -1;
}


int
media_conf_parse_uint(const char *s, size_t len, long max, long *n)
{
    long    v;
    size_t  i;

    if (len == 0) {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        v = v * 10 + (s[i] - '0');
        if (v > max) {
            return -1;
        }
    }

    if (v == 0) {
        return -1;
    }

    *n = v;
    return 0;
}


int
media_conf_parse_pixels(const char *s, size_t len, long *pixels, long *w,
    long *h)
{
    const char  *x;

    x = memchr(s, 'x', len);

    if (x == NULL) {
        *w = 0;
        *h = 0;
        return media_conf_parse_uint(s, len, 1L << 40, pixels);
    }

    /* each side as FFmpeg's av_image_check_size allows */
    if (media_conf_parse_uint(s, x - s, 65535, w) != 0
        || media_conf_parse_uint(x + 1, len - (x - s) - 1, 65535, h) != 0)
    {
        return -1;
    }

    *pixels = *w * *h;
    return 0;
}


int
media_conf_parse_size(const char *s, size_t len, long *bytes)
{
    long  n, scale;

    scale = 1;

    if (len > 1) {
        switch (s[len - 1]) {
        case 'k': case 'K':
            scale = 1L << 10;
            break;
        case 'm': case 'M':
            scale = 1L << 20;
            break;
        case 'g': case 'G':
            scale = 1L << 30;
            break;
        }
    }

    if (media_conf_parse_uint(s, scale == 1 ? len : len - 1, 1L << 50, &n)
        != 0
        || n > (1L << 50) / scale)
    {
        return -1;
    }

    *bytes = n * scale;
    return 0;
}


int
media_conf_parse_url(const char *s, size_t len)
{
    size_t  i, host;

    if (len > 7 && strncmp(s, "http://", 7) == 0) {
        host = 7;

    } else if (len > 8 && strncmp(s, "https://", 8) == 0) {
        host = 8;

    } else {
        return -1;
    }

    if (s[host] == '/' || s[host] == ':') {
        return -1;             /* no host */
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] <= ' ' || s[i] == 0x7f || s[i] == '?'
            || s[i] == '#' || s[i] == '"' || s[i] == '\\')
        {
            return -1;
        }
    }

    return 0;
}
