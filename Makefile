# ngx_media: build the nginx module against Debian's nginx, build the
# workers, run everything locally, run the tests.
#
#   make run         install what is missing, build, start it all, print URL
#   make stop        stop what `make run` started
#   make install     the module, the workers, the web client, the migrations
#   make deb         the same as Debian packages, in build/deb/
#   make test        install what is missing, build, run every test
#   make check-asan  the whole suite under AddressSanitizer + UBSan
#   make clean

SHELL := /bin/bash

# Debian packages `make run` needs (RUN_DEPS: curl and jq for the README's
# examples), and the build of
# everything, the tests and `make deb` (DEPS: with npm too)
RUN_DEPS := gcc make pkg-config perl nginx nginx-dev \
        libpq-dev postgresql redis-server libhiredis-dev libyajl-dev \
        libssl-dev libcurl4-openssl-dev \
        libavformat-dev libavcodec-dev libavfilter-dev libavutil-dev \
        libswresample-dev libswscale-dev libebur128-dev ffmpeg curl jq
DEPS := $(RUN_DEPS) clang libclang-rt-14-dev nodejs chromium \
        dpkg-dev lintian prometheus wrk

NGX_SRC  := /usr/share/nginx/src
BUILD    ?= build
SAN      ?=

ifeq ($(SAN),1)
BUILD    := build-asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
endif

CC       ?= cc
WARN     := -Wall -Wextra -Werror
PKGS     := libpq hiredis yajl libcrypto
CFLAGS   ?= -O2 -g
ALL_CFLAGS = $(CFLAGS) $(WARN) $(SANFLAGS) -std=gnu99 -D_GNU_SOURCE \
             -Ingx_media_module -Iworkers/common \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS      = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread

MODULE   := $(BUILD)/ngx_http_media_module.so
MOD_SRC  := config $(wildcard ngx_media_module/*.c ngx_media_module/*.h)

CORE_SRC := $(wildcard ngx_media_module/media_*.c)
COMMON   := $(wildcard workers/common/*.c) $(CORE_SRC)
WORKERS  := $(BUILD)/media-transcoder $(BUILD)/media-billing \
            $(BUILD)/media-sweeper $(BUILD)/media-migrate \
            $(BUILD)/media-admin $(BUILD)/media-exporter
UNITS    := $(patsubst t/unit/%.c,$(BUILD)/unit/%.t,$(wildcard t/unit/*.c))

.PHONY: all deps run-deps module workers units tools fuzz www run stop test uninstall \
        check-asan check-fuzz install clean deb

all: module workers units tools fuzz www

deps:
	@$(call install_missing,$(DEPS),npm)

run-deps:
	@$(call install_missing,$(RUN_DEPS),)

# the Debian packages of $(1) that are not installed, and $(2) when no such
# command is found: installed as root, printed otherwise
install_missing = missing=""; for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	for c in $(2); do \
	    command -v $$c >/dev/null || missing="$$missing $$c"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing:$$missing"; \
	        apt-get update -qq && \
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	            --no-install-recommends $$missing >/dev/null || exit 1; \
	    else \
	        echo "missing Debian packages; run as root:"; \
	        echo "  apt-get update && apt-get install -y$$missing"; \
	        exit 1; \
	    fi; \
	fi

module: $(MODULE)

# nginx's build of a dynamic module: configure a copy of Debian's nginx-dev
# tree with the same flags Debian's nginx was built with (so the module's
# signature matches the binary), then build only the modules
$(BUILD)/nginx/objs/Makefile: $(NGX_SRC)/configure config $(BUILD)/modfiles
	rm -rf $(BUILD)/nginx && mkdir -p $(BUILD) && cp -r $(NGX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && . ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="-O2 -g -Wextra -Werror $(SANFLAGS)" \
	        --with-ld-opt="$(SANFLAGS)" \
	        --add-dynamic-module=$(CURDIR) > configure.log 2>&1 \
	    || { tail -20 configure.log; exit 1; }

# config lists the module's files when nginx is configured: a file added
# or removed configures again (the list is rewritten only when it changes)
$(BUILD)/modfiles: FORCE
	@mkdir -p $(BUILD)
	@echo $(sort $(wildcard ngx_media_module/*.[ch])) > $@.new
	@cmp -s $@.new $@ && rm $@.new || mv $@.new $@

.PHONY: FORCE
FORCE:

$(MODULE): $(BUILD)/nginx/objs/Makefile $(MOD_SRC)
	$(MAKE) -s -C $(BUILD)/nginx -f objs/Makefile modules
	cp $(BUILD)/nginx/objs/ngx_http_media_module.so $@

workers: $(WORKERS)

# the transcoder and the exporter alone link the FFmpeg libraries, and
# share what reads media (workers/av: probe, loudness)
AV_PKGS := libavformat libavcodec libavfilter libavutil libebur128
AV_SRC  := $(wildcard workers/av/*.c)
AV_BINS := $(BUILD)/media-transcoder $(BUILD)/media-exporter
$(AV_BINS): ALL_CFLAGS += -Iworkers/av \
                          $(shell pkg-config --cflags $(AV_PKGS))
$(AV_BINS): LIBS += $(shell pkg-config --libs $(AV_PKGS)) -lm
$(AV_BINS): SHARED_SRC := $(AV_SRC)
$(AV_BINS): $(AV_SRC) workers/av/av.h workers/av/peak.h

# every worker talks HTTPS: the billing worker to Stripe, and all of them
# to the bucket when media_storage is s3:// (workers/common/s3.c)
$(WORKERS): ALL_CFLAGS += $(shell pkg-config --cflags libcurl)
$(WORKERS): LIBS += $(shell pkg-config --libs libcurl)

# one binary per directory under workers/, each linked with workers/common
.SECONDEXPANSION:
$(BUILD)/media-%: $$(wildcard workers/$$*/*.c workers/$$*/*.h) \
                  workers/common/*.[ch] $(CORE_SRC) ngx_media_module/*.h
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) -o $@ $(wildcard workers/$*/*.c) $(SHARED_SRC) \
	    $(COMMON) $(LIBS)

# C unit tests print TAP; prove runs them as executables
units: $(UNITS)

$(BUILD)/unit/%.t: t/unit/%.c t/unit/*.h $(CORE_SRC) ngx_media_module/*.h
	@mkdir -p $(BUILD)/unit
	$(CC) $(ALL_CFLAGS) -Wno-format-truncation -It/unit -o $@ $< $(CORE_SRC) $(LIBS)

# the true peak's test builds with workers/av/peak.c, not the module's core
$(BUILD)/unit/peak.t: t/unit/peak.c t/unit/tap.h workers/av/peak.c \
                      workers/av/peak.h
	@mkdir -p $(BUILD)/unit
	$(CC) $(ALL_CFLAGS) -Iworkers/av -It/unit -o $@ $< workers/av/peak.c -lm

# the web client as nginx serves it: www/ plus hls.js from npm, pinned by
# www/package-lock.json and copied in, so browsers load nothing from elsewhere
WWW_SRC := $(wildcard www/*.html www/*.js www/*.css)

www: $(BUILD)/www/vendor/hls.min.js $(BUILD)/www/vendor/wavesurfer.min.js \
     $(BUILD)/www/vendor/tus.min.js \
     $(patsubst www/%,$(BUILD)/www/%,$(WWW_SRC))

www/node_modules/hls.js/dist/hls.min.js: www/package.json www/package-lock.json
	cd www && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BUILD)/www/vendor/hls.min.js: www/node_modules/hls.js/dist/hls.min.js
	@mkdir -p $(BUILD)/www/vendor
	cp $< www/node_modules/hls.js/LICENSE $(BUILD)/www/vendor/

# wavesurfer.js draws the waveform from waveform.json (pictures.js)
www/node_modules/wavesurfer.js/dist/wavesurfer.min.js: www/node_modules/hls.js/dist/hls.min.js
	@test -f $@ || (cd www && npm ci --no-audit --no-fund --loglevel=error)

$(BUILD)/www/vendor/wavesurfer.min.js: www/node_modules/wavesurfer.js/dist/wavesurfer.min.js
	@mkdir -p $(BUILD)/www/vendor
	cp $< $(BUILD)/www/vendor/
	cp www/node_modules/wavesurfer.js/LICENSE $(BUILD)/www/vendor/LICENSE.wavesurfer

# tus-js-client uploads in chunks and resumes (app.js, /api/v1/uploads)
www/node_modules/tus-js-client/dist/tus.min.js: www/node_modules/hls.js/dist/hls.min.js
	@test -f $@ || (cd www && npm ci --no-audit --no-fund --loglevel=error)

$(BUILD)/www/vendor/tus.min.js: www/node_modules/tus-js-client/dist/tus.min.js
	@mkdir -p $(BUILD)/www/vendor
	cp $< $(BUILD)/www/vendor/
	cp www/node_modules/tus-js-client/LICENSE $(BUILD)/www/vendor/LICENSE.tus-js-client

$(BUILD)/www/%: www/%
	@mkdir -p $(BUILD)/www
	cp $< $@

# helpers the tests call (an identity provider that signs RS256/ES256,
# another on panva/jose that signs every algorithm we verify,
# playwright-core, which drives Debian's chromium in t/browser.t, and
# s3rver, the S3-compatible server t/s3.t stores renditions in)
tools: $(BUILD)/mint t/browser/node_modules/playwright-core/package.json \
       t/idp/node_modules/jose/package.json \
       t/s3/node_modules/@20minutes/s3rver/package.json

t/s3/node_modules/@20minutes/s3rver/package.json: t/s3/package.json t/s3/package-lock.json
	cd t/s3 && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

t/idp/node_modules/jose/package.json: t/idp/package.json t/idp/package-lock.json
	cd t/idp && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

t/browser/node_modules/playwright-core/package.json: t/browser/package.json \
                                                    t/browser/package-lock.json
	cd t/browser && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BUILD)/mint: t/tools/mint.c t/unit/*.h $(CORE_SRC)
	$(CC) $(ALL_CFLAGS) -Wno-format-truncation -It/unit -o $@ $< $(CORE_SRC) \
	    $(LIBS)

# libFuzzer targets for the nginx-free parsers (clang)
FUZZERS      := $(patsubst t/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard t/fuzz/*.c))
FUZZ_RUNS    ?= 10000000
FUZZ_SECONDS ?= 1800

fuzz: $(FUZZERS)

$(BUILD)/fuzz/%: t/fuzz/%.c $(CORE_SRC) ngx_media_module/*.h
	@mkdir -p $(BUILD)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Wall -Wextra -Werror \
	    -Ingx_media_module $(shell pkg-config --cflags $(PKGS)) \
	    -o $@ $< $(CORE_SRC) $(LIBS)

# each target for FUZZ_RUNS runs (at most FUZZ_SECONDS), from its seed
# corpus; a crash fails
check-fuzz: deps fuzz
	@for f in $(FUZZERS); do \
	    name=$$(basename $$f); mkdir -p $(BUILD)/fuzz/corpus-$$name; \
	    echo "fuzzing $$name for $(FUZZ_RUNS) runs"; \
	    $$f -runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_SECONDS) \
	        -max_len=16384 -print_final_stats=1 \
	        -artifact_prefix=$(BUILD)/fuzz/$$name- \
	        $(BUILD)/fuzz/corpus-$$name t/fuzz/corpus/$$name || exit 1; \
	done

# only what serves: no fuzzers, no test tools; the web client's player
# libraries (hls.js, wavesurfer.js) come from npm, so they are made when
# npm is there or they were made before, and missing otherwise (the
# client then says it cannot play; `make deps www` adds them)
WWW_FILES  := $(patsubst www/%,$(BUILD)/www/%,$(WWW_SRC))
WWW_VENDOR := $(if $(or $(shell command -v npm),$(wildcard www/node_modules/hls.js/dist/hls.min.js)),\
                  $(BUILD)/www/vendor/hls.min.js $(BUILD)/www/vendor/wavesurfer.min.js)

run: run-deps module workers $(WWW_FILES) $(WWW_VENDOR)
	@perl t/run.pl start $(BUILD)

stop:
	@perl t/run.pl stop $(BUILD)

# The test files run MEDIA_TEST_JOBS at a time, each with its own services
# on ports it claims (t/lib/MediaTest.pm), the longest first so that none
# is left running alone at the end; every file starts from a copy of one
# PostgreSQL cluster with the migrations applied, made once in
# MEDIA_TEST_CACHE and made again when sql/ or the harness changes.
# --merge keeps each file's diagnostics with its results, shown for the
# files that fail (--failures) and as comments (--comments).
MEDIA_TEST_JOBS  ?= 3
MEDIA_TEST_CACHE ?= $(or $(TMPDIR),/tmp)/ngx_media_test_cache
TESTS_SLOW := t/install.t t/browser.t t/transcode.t t/jwks.t t/billing.t \
        t/exports.t t/sentinel.t t/fuzz.t t/search.t t/progressive.t \
        t/progressive_browser.t t/cors_browser.t t/listening_browser.t \
        t/search_browser.t t/s3.t t/exports_browser.t t/run.t
TESTS := $(TESTS_SLOW) $(filter-out $(TESTS_SLOW),$(wildcard t/*.t)) $(UNITS)

test: deps all
	MEDIA_BUILD=$(BUILD) MEDIA_TEST_CACHE=$(MEDIA_TEST_CACHE) \
	    prove -j$(MEDIA_TEST_JOBS) --merge --timer --failures --comments \
	    $(TESTS)

check-asan:
	$(MAKE) SAN=1 test

# where Debian's nginx looks for modules (and how its module packages
# enable one: a snippet in modules-available, linked from modules-enabled,
# which Debian's nginx.conf includes), and where nginx.conf.example looks
# for the web client; DESTDIR for packaging.  The systemd units
# (dist/systemd) run the workers as www-data with these paths filled in.
MODDIR   ?= /usr/share/nginx/modules
MODCONF  ?= /usr/share/nginx/modules-available
MODENABLED ?= /etc/nginx/modules-enabled
BINDIR   ?= /usr/local/bin
SHAREDIR ?= /usr/share/ngx_media
UNITDIR  ?= /usr/local/lib/systemd/system
NGINX_CONF ?= /etc/nginx/nginx.conf
STORAGE  ?= /var/lib/ngx_media

install: module workers www
	install -d $(DESTDIR)$(MODDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(SHAREDIR)/www/vendor $(DESTDIR)$(SHAREDIR)/sql \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MODCONF) $(DESTDIR)$(MODENABLED)
	install -m 644 $(MODULE) $(DESTDIR)$(MODDIR)/
	echo 'load_module $(MODDIR)/$(notdir $(MODULE));' \
	    > $(DESTDIR)$(MODCONF)/mod-http-media.conf
	ln -sf $(MODCONF)/mod-http-media.conf \
	    $(DESTDIR)$(MODENABLED)/50-mod-http-media.conf
	install -m 755 $(WORKERS) $(DESTDIR)$(BINDIR)/
	install -m 644 $(BUILD)/www/*.* $(DESTDIR)$(SHAREDIR)/www/
	install -m 644 $(BUILD)/www/vendor/* $(DESTDIR)$(SHAREDIR)/www/vendor/
	install -m 644 sql/*.sql $(DESTDIR)$(SHAREDIR)/sql/
	install -m 644 README.md $(DESTDIR)$(SHAREDIR)/
	dist/systemd/render $(DESTDIR)$(UNITDIR) $(BINDIR) $(NGINX_CONF) \
	    $(STORAGE) $(SHAREDIR)

# what install put in place, nothing else (the storage, the database and
# the configuration are the admin's)
uninstall:
	rm -f $(DESTDIR)$(MODDIR)/$(notdir $(MODULE))
	rm -f $(DESTDIR)$(MODENABLED)/50-mod-http-media.conf \
	    $(DESTDIR)$(MODCONF)/mod-http-media.conf
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(WORKERS)))
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(patsubst %.in,%,$(notdir $(wildcard dist/systemd/*.service.in))))
	rm -rf $(DESTDIR)$(SHAREDIR)

# Debian packages (dist/deb/build says what is in each), checked by lintian:
# libnginx-mod-http-media, tied to the installed nginx's ABI, and
# ngx-media-workers; `apt install ./build/deb/*.deb` installs both
DEB_VERSION ?= 0.1.0+git$(shell git rev-list --count HEAD 2>/dev/null || echo 0)

deb: module workers www
	dist/deb/build $(BUILD) $(BUILD)/deb $(DEB_VERSION)
	lintian --fail-on error \
	    $(BUILD)/deb/*_$(DEB_VERSION)_*.deb

clean:
	rm -rf build build-asan var
