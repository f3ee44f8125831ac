/*
 * media_conf: the tokenizer the workers read nginx.conf with, and the
 * value parsers both sides share.
 */

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "media_conf.h"


typedef struct {
    char  seen[16][128];
    int   n;
    int   stop_at;
} collect_t;


static int
collect(void *data, const char *name, char **args, int nargs, int line,
    char *err, size_t errlen)
{
    int         i;
    collect_t  *c = data;
    char       *p;

    if (c->stop_at && line == c->stop_at) {
        snprintf(err, errlen, "line %d: stopped", line);
        return -1;
    }

    p = c->seen[c->n++ % 16];
    p += sprintf(p, "%d:%s", line, name);

    for (i = 0; i < nargs; i++) {
        p += snprintf(p, 40, "|%s", args[i]);
    }

    return 0;
}


/* dir/name with text, for the include tests */
static void
spew(const char *dir, const char *name, const char *text)
{
    char   path[512];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        printf("Bail out! cannot write %s\n", path);
        exit(1);
    }
}


static int
parse(const char *text, collect_t *c, char *err)
{
    memset(c, 0, sizeof(collect_t));
    return media_conf_parse(text, strlen(text), collect, c, err, 256);
}


int
main(void)
{
    long                ms, n, w, h;
    char                err[256];
    collect_t           c;
    media_addr_t        a;
    media_redis_addr_t  rd;

    ok(parse("media_pg \"host=x port=5\";\nhttp {\n  media_redis 1.2.3.4:6;"
             "\n  server { listen 80; }\n}\n", &c, err) == 0, "nested file");
    ok(c.n == 3, "three simple directives (%d)", c.n);
    ok(strcmp(c.seen[0], "1:media_pg|host=x port=5") == 0, "quoted: %s",
       c.seen[0]);
    ok(strcmp(c.seen[1], "3:media_redis|1.2.3.4:6") == 0, "line numbers: %s",
       c.seen[1]);

    ok(parse("# comment ; {\na 'b c' \"d\\\"e\"; # tail\n", &c, err) == 0,
       "comments, single quotes, escapes");
    ok(strcmp(c.seen[0], "2:a|b c|d\"e") == 0, "tokens: %s", c.seen[0]);

    ok(parse("log_format x 'a' 'b' 'c' 'd' 'e' 'f' 'g' 'h' 'i' 'j';", &c,
             err) == 0 && c.n == 0, "a long directive is skipped, not fatal");

    ok(parse("a \"b;\n", &c, err) != 0 && strstr(err, "unbalanced quote"),
       "unbalanced quote: %s", err);
    ok(parse("http {\n a b;\n", &c, err) != 0
       && strstr(err, "unexpected end"), "missing brace: %s", err);
    ok(parse("}\n", &c, err) != 0 && strstr(err, "unexpected \"}\""),
       "stray brace: %s", err);
    ok(parse("a b\n}", &c, err) != 0, "directive without ';' before '}'");
    ok(parse(";", &c, err) != 0, "lone ';'");

    memset(&c, 0, sizeof(c));
    c.stop_at = 2;
    ok(media_conf_parse("a;\nb;\n", 5, collect, &c, err, sizeof(err)) != 0
       && strcmp(err, "line 2: stopped") == 0, "handler stops the parse");

    ok(media_conf_parse_file("/nonexistent/x.conf", collect, &c, err,
                             sizeof(err)) != 0
       && strstr(err, "/nonexistent/x.conf"), "missing file named: %s", err);

    /* include, as nginx: Debian's layout, relative to the main file's
     * directory, patterns sorted, a pattern matching nothing is fine */
    {
        char  dir[] = "/tmp/media-conf-XXXXXX", sub[600], main_conf[600];
        char  abs[1200];

        if (mkdtemp(dir) == NULL) {
            printf("Bail out! mkdtemp\n");
            return 1;
        }
        snprintf(sub, sizeof(sub), "%s/conf.d", dir);
        mkdir(sub, 0700);
        snprintf(sub, sizeof(sub), "%s/sites-enabled", dir);
        mkdir(sub, 0700);
        snprintf(main_conf, sizeof(main_conf), "%s/nginx.conf", dir);
        snprintf(abs, sizeof(abs), "media_storage /srv/m;\n"
                 "include %s/conf.d/b-media.conf;\n", dir);

        spew(dir, "nginx.conf", "user www-data;\nhttp {\n"
             "    include conf.d/*.conf;\n"
             "    include sites-enabled/*;\n"
             "    include none/*.conf;\n}\n");
        spew(dir, "conf.d/b-media.conf", "media_redis 127.0.0.1:6380;\n");
        spew(dir, "conf.d/a-media.conf", "media_pg \"dbname=media\";\n");
        spew(dir, "conf.d/readme.txt", "not a conf file\n");
        spew(dir, "sites-enabled/default", abs);

        memset(&c, 0, sizeof(c));
        ok(media_conf_parse_file(main_conf, collect, &c, err, sizeof(err))
           == 0, "include: Debian's layout read (%s)", err);
        ok(c.n == 5, "  every directive seen, included ones too (%d)", c.n);
        ok(strcmp(c.seen[1], "1:media_pg|dbname=media") == 0
           && strcmp(c.seen[2], "1:media_redis|127.0.0.1:6380") == 0,
           "  conf.d/*.conf in sorted order, relative to nginx.conf's "
           "directory: %s, %s", c.seen[1], c.seen[2]);
        ok(strcmp(c.seen[3], "1:media_storage|/srv/m") == 0
           && strcmp(c.seen[4], "1:media_redis|127.0.0.1:6380") == 0,
           "  sites-enabled/* and an absolute include inside it: %s, %s",
           c.seen[3], c.seen[4]);

        spew(dir, "sites-enabled/default", "include missing.conf;\n");
        memset(&c, 0, sizeof(c));
        ok(media_conf_parse_file(main_conf, collect, &c, err, sizeof(err))
           != 0 && strstr(err, "/missing.conf") && strstr(err, "open"),
           "  a plain include that is missing: %s", err);

        spew(dir, "sites-enabled/default", "\n\nmedia_pg;\n");
        memset(&c, 0, sizeof(c));
        c.stop_at = 3;
        ok(media_conf_parse_file(main_conf, collect, &c, err, sizeof(err))
           != 0 && strstr(err, "sites-enabled/default: line 3: stopped"),
           "  an error names the included file and its line: %s", err);

        spew(dir, "sites-enabled/default", "include sites-enabled/*;\n");
        memset(&c, 0, sizeof(c));
        ok(media_conf_parse_file(main_conf, collect, &c, err, sizeof(err))
           != 0 && strstr(err, "nested more than 16 deep"),
           "  a file including itself: %s", err);

        spew(dir, "sites-enabled/default", "include a b;\n");
        ok(media_conf_parse_file(main_conf, collect, &c, err, sizeof(err))
           != 0 && strstr(err, "takes one file"), "  two arguments: %s",
           err);

        snprintf(sub, sizeof(sub), "rm -rf '%s'", dir);
        if (system(sub) != 0) {
            printf("# could not remove %s\n", dir);
        }
    }

    ok(media_conf_parse_msec("250ms", 5, &ms) == 0 && ms == 250, "250ms");
    ok(media_conf_parse_msec("5s", 2, &ms) == 0 && ms == 5000, "5s");
    ok(media_conf_parse_msec("5", 1, &ms) == 0 && ms == 5000, "bare seconds");
    ok(media_conf_parse_msec("2m", 2, &ms) == 0 && ms == 120000, "2m");
    ok(media_conf_parse_msec("1h", 2, &ms) == 0 && ms == 3600000, "1h");
    ok(media_conf_parse_msec("7d", 2, &ms) == 0 && ms == 604800000L, "7d");
    ok(media_conf_parse_msec("5x", 2, &ms) != 0, "bad unit");
    ok(media_conf_parse_msec("ms", 2, &ms) != 0, "no number");
    ok(media_conf_parse_msec("99999999999999s", 15, &ms) != 0, "overflow");

    ok(media_conf_parse_addr("10.0.0.1:6380", 13, 6379, &a) == 0
       && strcmp(a.host, "10.0.0.1") == 0 && a.port == 6380, "host:port");
    ok(media_conf_parse_addr("redis", 5, 6379, &a) == 0 && a.port == 6379,
       "default port");
    ok(media_conf_parse_addr("unix:/run/r.sock", 16, 6379, &a) == 0
       && a.port == 0 && strcmp(a.path, "/run/r.sock") == 0, "unix socket");
    ok(media_conf_parse_addr("unix:rel", 8, 6379, &a) != 0,
       "relative unix path refused");
    ok(media_conf_parse_addr("h:0", 3, 6379, &a) != 0, "port 0 refused");
    ok(media_conf_parse_addr("h:70000", 7, 6379, &a) != 0, "port too big");
    ok(media_conf_parse_addr(":6379", 5, 6379, &a) != 0, "no host");
    ok(media_conf_parse_addr("h:", 2, 6379, &a) != 0, "empty port");

#define R(s)  media_conf_parse_redis(s, sizeof(s) - 1, 6379, &rd)
    ok(R("10.0.0.1:6380") == 0 && rd.nsentinels == 0
       && rd.addr.port == 6380, "media_redis: a plain address");
    ok(R("sentinel://10.0.0.1,10.0.0.2:26380/media") == 0
       && rd.nsentinels == 2 && rd.sentinels[0].port == 26379
       && strcmp(rd.sentinels[1].host, "10.0.0.2") == 0
       && rd.sentinels[1].port == 26380 && strcmp(rd.master, "media") == 0,
       "sentinel://: sentinels, default port, the name");
    ok(R("sentinel://10.0.0.1/") != 0, "sentinel://: no name refused");
    ok(R("sentinel://10.0.0.1") != 0, "sentinel://: no slash refused");
    ok(R("sentinel:///media") != 0, "sentinel://: no sentinel refused");
    ok(R("sentinel://a,/media") != 0, "sentinel://: empty entry refused");
    ok(R("sentinel://a:0/media") != 0, "sentinel://: port 0 refused");
    ok(R("sentinel://unix:/s.sock/media") != 0,
       "sentinel://: unix socket refused");
    ok(R("sentinel://a/b c") != 0, "sentinel://: space in the name refused");
    ok(R("sentinel://a,b,c,d,e,f,g,h,i/m") != 0, "sentinel://: at most 8");
#undef R

    ok(media_conf_parse_uint("16", 2, 1024, &n) == 0 && n == 16, "uint");
    ok(media_conf_parse_uint("0", 1, 1024, &n) != 0, "zero refused");
    ok(media_conf_parse_uint("2000", 4, 1024, &n) != 0, "over max refused");
    ok(media_conf_parse_uint("1x", 2, 1024, &n) != 0, "junk refused");

    ok(media_conf_parse_pixels("8192x4320", 9, &n, &w, &h) == 0
       && n == 35389440 && w == 8192 && h == 4320, "pixels WxH");
    ok(media_conf_parse_pixels("2000000", 7, &n, &w, &h) == 0
       && n == 2000000 && w == 0 && h == 0, "pixels as a number");
    ok(media_conf_parse_pixels("0x100", 5, &n, &w, &h) != 0, "zero width");
    ok(media_conf_parse_pixels("100x", 4, &n, &w, &h) != 0, "no height");
    ok(media_conf_parse_pixels("70000x2", 7, &n, &w, &h) != 0,
       "side over 65535");
    ok(media_conf_parse_pixels("big", 3, &n, &w, &h) != 0, "junk pixels");

    ok(media_conf_parse_size("4g", 2, &n) == 0 && n == 4L << 30, "4g");
    ok(media_conf_parse_size("512M", 4, &n) == 0 && n == 512L << 20, "512M");
    ok(media_conf_parse_size("1000", 4, &n) == 0 && n == 1000, "bytes");
    ok(media_conf_parse_size("g", 1, &n) != 0, "no number");
    ok(media_conf_parse_size("4t", 2, &n) != 0, "bad unit");
    ok(media_conf_parse_size("9999999999g", 11, &n) != 0, "size overflow");

    ok(media_conf_parse_url("https://api.stripe.com", 22) == 0, "url");
    ok(media_conf_parse_url("http://127.0.0.1:8080/app/", 26) == 0,
       "url with a port and a path");
    ok(media_conf_parse_url("ftp://x", 7) != 0, "url: other scheme");
    ok(media_conf_parse_url("https://", 8) != 0, "url: no host");
    ok(media_conf_parse_url("http:///x", 9) != 0, "url: empty host");
    ok(media_conf_parse_url("http://a b", 10) != 0, "url: a space");
    ok(media_conf_parse_url("http://a/?q", 11) != 0, "url: a query");
    ok(media_conf_parse_url("api.stripe.com", 14) != 0, "url: no scheme");

    return done_testing();
}
