/*
 * media_multipart and media_sniff: every chunking of a body gives the same
 * parts; near-delimiters inside data stay data; broken bodies are named.
 */

#include <stdlib.h>

#include "tap.h"
#include "media_multipart.h"
#include "media_sniff.h"


typedef struct {
    char    names[8][64];
    char    files[8][64];
    char    body[8][4096];
    size_t  len[8];
    int     n;
    int     ended;
} parts_t;


static int
on_begin(void *data, const media_multipart_part_t *part)
{
    parts_t  *ps = data;

    if (ps->n == 8) {
        return -1;
    }

    snprintf(ps->names[ps->n], 64, "%s", part->name);
    snprintf(ps->files[ps->n], 64, "%s", part->filename);
    ps->len[ps->n] = 0;
    ps->n++;
    return 0;
}


static int
on_chunk(void *data, const unsigned char *p, size_t len)
{
    parts_t  *ps = data;
    int       i = ps->n - 1;

    if (ps->len[i] + len > sizeof(ps->body[i])) {
        return -1;
    }

    memcpy(ps->body[i] + ps->len[i], p, len);
    ps->len[i] += len;
    return 0;
}


static int
on_end(void *data)
{
    ((parts_t *) data)->ended++;
    return 0;
}


static const media_multipart_cb_t  cb = { on_begin, on_chunk, on_end };


/* parses body fed in chunks of step bytes; returns finish()'s result */
static int
parse(const char *boundary, const char *body, size_t len, size_t step,
    parts_t *ps, const char **err)
{
    int                 rc;
    size_t              off, n;
    media_multipart_t  *mp;

    memset(ps, 0, sizeof(parts_t));
    mp = media_multipart_new(boundary, &cb, ps);

    rc = 0;
    for (off = 0; off < len && rc == 0; off += n) {
        n = len - off < step ? len - off : step;
        rc = media_multipart_feed(mp, (const unsigned char *) body + off, n);
    }

    if (rc == 0) {
        rc = media_multipart_finish(mp);
    }

    static char  msg[128];
    snprintf(msg, sizeof(msg), "%s", media_multipart_error(mp));
    *err = msg;

    media_multipart_free(mp);
    return rc;
}


int
main(void)
{
    int          all;
    char         b[128];
    size_t       step, len;
    parts_t      ps;
    const char  *err;

    /* data holding CRLF, "--", a near-boundary and a CR at its end */
    static const char  data[] = "line1\r\n--XYZ not it\r\n--XY\r\r\n-\r";
    static char  body[16384];

    len = (size_t) snprintf(body, sizeof(body),
        "preamble to ignore\r\n"
        "--XYZZY\r\n"
        "Content-Disposition: form-data; name=\"title\"\r\n"
        "\r\n"
        "My \"song\"\r\n"
        "--XYZZY  \r\n"
        "Content-Disposition: form-data; name=\"file\"; "
        "filename=\"a b.wav\"\r\n"
        "Content-Type: audio/wav\r\n"
        "\r\n"
        "%s\r\n"
        "--XYZZY--\r\n"
        "epilogue", data);

    all = 1;
    for (step = 1; step <= len; step++) {
        if (parse("XYZZY", body, len, step, &ps, &err) != 0 || ps.n != 2
            || ps.ended != 2 || ps.len[1] != sizeof(data) - 1
            || memcmp(ps.body[1], data, ps.len[1]) != 0
            || ps.len[0] != 9 || memcmp(ps.body[0], "My \"song\"", 9) != 0)
        {
            all = 0;
            diag_step:
            printf("# failed at step %zu: %s, %d parts\n", step, err, ps.n);
            break;
        }
    }
    ok(all, "every chunk size from 1 to %zu bytes gives the same parts", len);
    if (0) goto diag_step;

    parse("XYZZY", body, len, 7, &ps, &err);
    ok(strcmp(ps.names[0], "title") == 0 && strcmp(ps.names[1], "file") == 0,
       "part names");
    ok(strcmp(ps.files[1], "a b.wav") == 0, "quoted filename with a space");

    /* body that starts with the delimiter, no preamble, empty part */
    len = (size_t) snprintf(body, sizeof(body),
        "--b\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--b--");
    ok(parse("b", body, len, 1, &ps, &err) == 0 && ps.n == 1
       && ps.len[0] == 0, "empty part, no preamble, no final CRLF");

    len = (size_t) snprintf(body, sizeof(body),
        "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nabc");
    ok(parse("b", body, len, 3, &ps, &err) != 0
       && strstr(err, "truncated"), "truncated body: %s", err);

    ok(parse("b", "no parts here", 13, 4, &ps, &err) != 0
       && strstr(err, "boundary"), "no part at all: %s", err);

    len = (size_t) snprintf(body, sizeof(body),
        "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--");
    ok(parse("b", body, len, 5, &ps, &err) != 0
       && strstr(err, "Content-Disposition"), "no disposition: %s", err);

    len = (size_t) snprintf(body, sizeof(body),
        "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--");
    ok(parse("b", body, len, 5, &ps, &err) != 0 && strstr(err, "name"),
       "no name: %s", err);

    len = (size_t) snprintf(body, sizeof(body), "--b\r\nX: %0*d", 9000, 0);
    ok(parse("b", body, len, 100, &ps, &err) != 0
       && strstr(err, "too long"), "endless headers: %s", err);

    len = (size_t) snprintf(body, sizeof(body), "--bXX");
    ok(parse("b", body, len, 1, &ps, &err) != 0 && strstr(err, "garbage"),
       "garbage after boundary: %s", err);

    ok(media_multipart_boundary("multipart/form-data; boundary=abc", 33, b,
                                sizeof(b)) == 0 && strcmp(b, "abc") == 0,
       "boundary token");
    ok(media_multipart_boundary("Multipart/Form-Data; charset=x; "
                                "boundary=\"a b;c\"", 48, b, sizeof(b)) == 0
       && strcmp(b, "a b;c") == 0, "quoted boundary, other params first");
    ok(media_multipart_boundary("multipart/form-data", 19, b, sizeof(b))
       == -1, "no boundary");
    ok(media_multipart_boundary("multipart/mixed; boundary=a", 27, b,
                                sizeof(b)) == -1, "not form-data");
    ok(media_multipart_new("", &cb, &ps) == NULL, "empty boundary refused");

    /* sniffing */
    ok(media_sniff((const unsigned char *) "\0\0\0\x20" "ftypisom", 12)
       && strcmp(media_sniff((const unsigned char *) "\0\0\0\x20" "ftypisom",
                             12), "mp4") == 0, "mp4");
    ok(strcmp(media_sniff((const unsigned char *) "RIFF\x24\0\0\0WAVEfmt ",
                          16), "wav") == 0, "wav");
    ok(media_sniff((const unsigned char *) "JUNK\x24\0\0\0WAVEfmt ", 16)
       == NULL, "WAVE without RIFF refused");
    ok(strcmp(media_sniff((const unsigned char *) "fLaC\0", 5), "flac") == 0,
       "flac");
    ok(strcmp(media_sniff((const unsigned char *) "ID3\x04", 4), "mp3") == 0,
       "mp3 with ID3");
    ok(strcmp(media_sniff((const unsigned char *) "\xff\xfb\x90", 3), "mp3")
       == 0, "bare mp3 frame");
    ok(strcmp(media_sniff((const unsigned char *) "\x1a\x45\xdf\xa3", 4),
              "matroska") == 0, "webm/mkv");
    ok(media_sniff((const unsigned char *) "hello, I am text", 16) == NULL,
       "text refused");
    ok(media_sniff((const unsigned char *) "\x89PNG\r\n", 6) == NULL,
       "png refused");
    ok(media_sniff((const unsigned char *) "PK\3\4", 4) == NULL,
       "zip refused");
    ok(media_sniff((const unsigned char *) "ftyp", 4) == NULL,
       "too short for any signature");

    return done_testing();
}
