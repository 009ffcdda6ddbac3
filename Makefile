# kta — Kafka Threat Analyzer.  Plain GNU make; see README.md.
#
#   make                build build/kta
#   make test           unit, rule, integration and sanitizer tests
#   make demo           the seed scenario end to end on a local broker
#   make query-demo     after `make demo`: its hits queried with SQLite and Trino
#   make test-query     Trino over kta's hits (Kafka connector, Parquet lake)
#   make bench          kta bench over a fixed matrix -> docs/benchmarks.md
#   make bench-corr     correlation throughput and state memory -> docs/benchmarks.md
#   make install        binary, man pages, /etc config and rules, systemd unit
#                       (PREFIX=/usr/local DESTDIR= ...; see "install" below)
#   make deb            build/kta_VERSION_ARCH.deb
#   make V=1            show full command lines
#   make WERROR=1       warnings are errors
#   make SANITIZE=address,undefined   build with sanitizers (into build/san-*)

PKGS     := rdkafka jansson libpcre2-8 yaml-0.1 libhs libcrypto libmicrohttpd sqlite3
CC       ?= cc
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ifeq ($(SANITIZE),)
BUILD    ?= build
OPT      ?= -O2
else
BUILD    ?= build/san-$(subst $(comma),-,$(SANITIZE))
OPT      ?= -O1
endif
comma    := ,

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wvla -Wno-format-nonliteral
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -Iinclude $(PKG_CFLAGS) \
            -DKTA_VERSION='"$(VERSION)"' -DKTA_SYSCONFDIR='"$(SYSCONFDIR)"'
LDLIBS   += $(PKG_LIBS) -lpthread -lm
ifeq ($(WERROR),1)
CFLAGS   += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

SRCS     := $(sort $(wildcard src/*.c))
OBJS     := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIBOBJS  := $(filter-out $(BUILD)/obj/main.o,$(OBJS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: bench-smoke bench-e2e bench-corr
.PHONY: all clean test test-unit test-cli test-rules test-integration test-sanitize \
        demo deps docs bench check-deps

all: $(BUILD)/kta

$(BUILD)/obj/%.o: src/%.c $(wildcard include/kta/*.h src/*.h) Makefile $(BUILD)/sysconfdir.stamp | check-deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libkta.a: $(LIBOBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/kta: $(BUILD)/obj/main.o $(BUILD)/libkta.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(BUILD)/libkta.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(BUILD)/libkta.a $(LDLIBS)

# The objects see SYSCONFDIR (the default kta.yaml): rebuild when it changes.
$(BUILD)/sysconfdir.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(SYSCONFDIR)' | cmp -s - $@ 2>/dev/null || echo '$(SYSCONFDIR)' >$@
.PHONY: FORCE
FORCE:

check-deps:
	@pkg-config --exists $(PKGS) || { \
	  echo "missing development packages ($(PKGS)); run scripts/install-deps.sh" >&2; exit 1; }

# --- tests -----------------------------------------------------------------
# Each suite prints "N passed, N failed"; tests/run-all.sh runs them all
# (`make test`) and adds them up.

test: all
	$(Q)tests/run-all.sh

test-unit: $(UNIT_BINS) $(BUILD)/kta
	$(Q)KTA_BUILD=$(BUILD) tests/run-unit.sh $(UNIT_BINS)

test-cli: $(BUILD)/kta
	$(Q)KTA=$(abspath $(BUILD)/kta) tests/cli/run.sh
	$(Q)KTA=$(abspath $(BUILD)/kta) tests/cli/lint.sh

test-rules: $(BUILD)/kta
	$(Q)KTA=$(abspath $(BUILD)/kta) tests/rules/run.sh

test-integration: $(BUILD)/kta
	$(Q)KTA=$(abspath $(BUILD)/kta) tests/integration/run.sh

# Trino (scripts/trino-local.sh, port 59080) over the hits on a broker of
# its own (port 59092): tests/query/run.sh, about a minute once Trino is
# fetched (~0.8 GB from Maven Central the first time).
.PHONY: test-query
test-query: $(BUILD)/kta
	$(Q)KTA=$(abspath $(BUILD)/kta) tests/query/run.sh

# Fault injection on a broker of its own (port 49092): tests/faults/run.sh.
.PHONY: test-faults test-faults-quick
test-faults: $(BUILD)/kta
	$(Q)KTA=$(abspath $(BUILD)/kta) tests/faults/run.sh

test-faults-quick: $(BUILD)/kta
	$(Q)KTA=$(abspath $(BUILD)/kta) tests/faults/run.sh --quick

# Fault scenarios on a three-broker cluster of its own (ports 49192, 49196,
# 49200): tests/cluster/run.sh, about 6 minutes.  Not part of `make test`.
.PHONY: test-cluster
test-cluster: $(BUILD)/kta
	$(Q)KTA=$(abspath $(BUILD)/kta) tests/cluster/run.sh

# Not part of `make test` or CI: 30 minutes by default (tests/soak/run.sh
# lists the SOAK_* knobs).
.PHONY: soak
soak: $(BUILD)/kta
	$(Q)KTA=$(abspath $(BUILD)/kta) tests/soak/run.sh

test-sanitize:
	$(Q)$(MAKE) --no-print-directory -k SANITIZE=address,undefined test-unit test-cli test-rules test-integration

# --- install, packaging ------------------------------------------------------
#   make install [PREFIX=/usr/local] [DESTDIR=] [BINDIR=] [MANDIR=] [DOCDIR=]
#                [SYSCONFDIR=] [SYSTEMDUNITDIR=]
# SYSCONFDIR is /etc for PREFIX=/usr, else PREFIX/etc (autoconf's rule, so
# a /usr/local install stays under /usr/local); kta reads
# SYSCONFDIR/kta/kta.yaml when run without -c.  An existing kta.yaml is
# kept (the new one is installed beside it as kta.yaml.new); the shipped
# rules are replaced.  `make uninstall` with the same variables removes it
# all again, kta.yaml only when unchanged.
PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/kta
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
ifeq ($(PREFIX),/usr)
SYSCONFDIR     ?= /etc
else
SYSCONFDIR     ?= $(PREFIX)/etc
endif
INSTALL        ?= install
MANPAGES       := $(wildcard docs/man/*.[0-9])
DOCFILES       := README.md LICENSE $(wildcard docs/*.md)
RULEFILES      := $(sort $(shell cd rules && find . -type f \( -name '*.yml' -o -name '*.yaml' -o -name '*.fieldmap' \)))
ETC            := $(DESTDIR)$(SYSCONFDIR)/kta

.PHONY: install uninstall deb test-install

$(BUILD)/kta.service: packaging/kta.service.in $(BUILD)/sysconfdir.stamp Makefile
	@mkdir -p $(dir $@)
	$(Q)sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< >$@

install: $(BUILD)/kta $(BUILD)/kta.service
	$(Q)$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DOCDIR) $(ETC)/rules
	$(Q)$(INSTALL) -m 755 $(BUILD)/kta $(DESTDIR)$(BINDIR)/kta
	$(Q)$(INSTALL) -m 644 $(BUILD)/kta.service $(DESTDIR)$(SYSTEMDUNITDIR)/kta.service
	$(Q)for m in $(MANPAGES); do \
	    d=$(DESTDIR)$(MANDIR)/man$${m##*.}; $(INSTALL) -d $$d && \
	    gzip -9n <$$m >$$d/$${m##*/}.gz && chmod 644 $$d/$${m##*/}.gz || exit 1; \
	done
	$(Q)$(INSTALL) -m 644 $(DOCFILES) $(DESTDIR)$(DOCDIR)/
	$(Q)for f in $(RULEFILES); do \
	    $(INSTALL) -D -m 644 rules/$$f $(ETC)/rules/$$f || exit 1; done
	$(Q)if [ -e $(ETC)/kta.yaml ] && ! cmp -s packaging/kta.yaml $(ETC)/kta.yaml; then \
	    $(INSTALL) -m 644 packaging/kta.yaml $(ETC)/kta.yaml.new; \
	    echo "install: kept $(ETC)/kta.yaml; the new default is kta.yaml.new"; \
	else $(INSTALL) -m 644 packaging/kta.yaml $(ETC)/kta.yaml; fi
	@echo "installed kta $(VERSION) in $(DESTDIR)$(PREFIX) (configuration in $(ETC))"

uninstall:
	$(Q)rm -f $(DESTDIR)$(BINDIR)/kta $(DESTDIR)$(SYSTEMDUNITDIR)/kta.service $(ETC)/kta.yaml.new
	$(Q)for m in $(MANPAGES); do rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}.gz; done
	$(Q)rm -rf $(DESTDIR)$(DOCDIR)
	$(Q)for f in $(RULEFILES); do rm -f $(ETC)/rules/$$f; done
	$(Q)cmp -s packaging/kta.yaml $(ETC)/kta.yaml 2>/dev/null && rm -f $(ETC)/kta.yaml || true
	$(Q)[ ! -d $(ETC) ] || find $(ETC) -depth -type d -empty -delete
	$(Q)[ ! -e $(ETC)/kta.yaml ] || echo "uninstall: kept $(ETC)/kta.yaml (changed)"

# The .deb: a DESTDIR install for /usr and /etc, built in build/deb (so the
# compiled-in /etc does not clobber build/), the binary stripped, Depends
# computed by dpkg-shlibdeps from the libraries kta links, /etc/kta
# files marked as conffiles.  Needs dpkg-dev (scripts/install-deps.sh).
DEB_ARCH       := $(shell dpkg --print-architecture 2>/dev/null || echo unknown)
DEB            := build/kta_$(VERSION)_$(DEB_ARCH).deb
DEB_MAINTAINER ?= kta maintainers <kta@localhost>
DEB_TOP        := build/deb/pkg
DEB_ROOT       := $(DEB_TOP)/debian/kta

deb:
	$(Q)rm -rf $(DEB_TOP) $(DEB)
	$(Q)$(MAKE) --no-print-directory BUILD=build/deb PREFIX=/usr SYSCONFDIR=/etc \
	    SYSTEMDUNITDIR=/lib/systemd/system DESTDIR=$(abspath $(DEB_ROOT)) install >/dev/null
	$(Q)strip --strip-unneeded --remove-section=.comment --remove-section=.note $(DEB_ROOT)/usr/bin/kta
	$(Q)$(INSTALL) -m 644 LICENSE $(DEB_ROOT)/usr/share/doc/kta/copyright
	$(Q)$(INSTALL) -d $(DEB_ROOT)/DEBIAN
	$(Q)$(INSTALL) -m 755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm $(DEB_ROOT)/DEBIAN/
	$(Q)(cd $(DEB_ROOT) && find etc -type f | sort | sed 's|^|/|') >$(DEB_ROOT)/DEBIAN/conffiles
	$(Q)printf 'Source: kta\n\nPackage: kta\nArchitecture: any\n' >$(DEB_TOP)/debian/control
	$(Q)deps=$$(cd $(DEB_TOP) && dpkg-shlibdeps -O debian/kta/usr/bin/kta | sed -n 's/^shlibs:Depends=//p') && \
	    [ -n "$$deps" ] || { echo "deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }; \
	    sed -e 's|@VERSION@|$(VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' -e "s|@DEPENDS@|$$deps|" \
	        -e 's|@MAINTAINER@|$(DEB_MAINTAINER)|' \
	        -e "s|@SIZE@|$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)|" \
	        packaging/deb/control.in >$(DEB_ROOT)/DEBIAN/control
	$(Q)dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB) >/dev/null
	@echo "built $(DEB)"

test-install:
	$(Q)tests/install/run.sh

# --- the rest --------------------------------------------------------------

demo:
	$(Q)scripts/demo.sh

.PHONY: query-demo
query-demo: $(BUILD)/kta
	$(Q)scripts/query-demo.sh

deps:
	$(Q)scripts/install-deps.sh

bench: $(BUILD)/kta
	$(Q)KTA=$(abspath $(BUILD)/kta) scripts/bench.sh

# A few thousand events through kta bench and through the end-to-end
# benchmark (its own broker on port 29092): proves both run (CI).
bench-smoke: $(BUILD)/kta
	$(Q)KTA=$(abspath $(BUILD)/kta) scripts/bench.sh --smoke
	$(Q)KTA=$(abspath $(BUILD)/kta) scripts/bench-corr.sh --smoke
	$(Q)KTA=$(abspath $(BUILD)/kta) scripts/bench-e2e.sh --smoke

# Correlation throughput and state memory (kta bench --modes event_count,
# value_count; no Kafka) -> the Correlation block of docs/benchmarks.md.
bench-corr: $(BUILD)/kta
	$(Q)KTA=$(abspath $(BUILD)/kta) scripts/bench-corr.sh

# The end-to-end benchmark against a real broker -> docs/benchmarks-e2e.md.
bench-e2e: $(BUILD)/kta
	$(Q)KTA=$(abspath $(BUILD)/kta) scripts/bench-e2e.sh

docs: $(BUILD)/kta
	$(Q)$(BUILD)/kta config --markdown > docs/configuration.md
	$(Q)mkdir -p docs/man && $(BUILD)/kta config --man > docs/man/kta.yaml.5
	$(Q)$(BUILD)/kta help --man > docs/man/kta.1

clean:
	rm -rf build

# --- fuzzing and thread sanitizer (tests/fuzz, tests/tsan.supp) -----------
#   make fuzz          each libFuzzer harness for FUZZ_SECONDS (default 180)
#   make fuzz-smoke    the same for 20 s each (CI)
#   make test-tsan     unit + threaded integration tests under -fsanitize=thread

FUZZ_SECONDS ?= 180
FUZZ_BUILD   := build/fuzz
FUZZERS      := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: fuzz fuzz-smoke fuzz-build test-tsan

# Harnesses link the project objects built by clang with the fuzzer's
# coverage instrumentation and ASan+UBSan (BUILD=build/fuzz, see below).
# Only the modules between the record bytes and the hits, so a harness
# builds while the pipeline files are being changed.
FUZZ_OBJS    := $(patsubst %,$(BUILD)/obj/%.o,event eval prefilter rules_load rules_compile util)
$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(CC) $(CFLAGS) -Isrc -fsanitize=fuzzer,address,undefined -o $@ $< \
	    $(FUZZ_OBJS) $(LDLIBS)

fuzz-build:
	$(Q)$(MAKE) --no-print-directory CC=clang BUILD=$(FUZZ_BUILD) \
	    SANITIZE=fuzzer-no-link,address,undefined $(FUZZERS:%=$(FUZZ_BUILD)/%)

fuzz: fuzz-build
	$(Q)FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

fuzz-smoke: fuzz-build
	$(Q)FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh 20 $(FUZZERS)

# Reports go to build/san-thread/tsan.PID (unit tests and every kta the
# integration tests start); any report fails the target and is printed.
# tests/tsan_c11threads.c makes librdkafka's C11 threads and locks visible
# to TSan (see there); it is linked first, so kta and the unit tests are
# relinked each time.
TSAN_BUILD   := build/san-thread
TSAN_LIBS    := $(abspath $(TSAN_BUILD)/tsan_c11threads.o) $(PKG_LIBS) -lpthread -lm
test-tsan:
	@mkdir -p $(TSAN_BUILD)
	$(Q)clang -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=thread $(WARN) -c \
	    -o $(TSAN_BUILD)/tsan_c11threads.o tests/tsan_c11threads.c
	$(Q)rm -f $(TSAN_BUILD)/kta $(TSAN_BUILD)/tests/test_* $(TSAN_BUILD)/tsan.*
	$(Q)$(MAKE) --no-print-directory CC=clang SANITIZE=thread LDLIBS="$(TSAN_LIBS)" $(TSAN_BUILD)/kta
	$(Q)rc=0; \
	export TSAN_OPTIONS="suppressions=$(abspath tests/tsan.supp) second_deadlock_stack=1 \
	    exitcode=66 log_path=$(abspath $(TSAN_BUILD)/tsan) $(TSAN_OPTIONS)"; \
	$(MAKE) --no-print-directory -k CC=clang SANITIZE=thread LDLIBS="$(TSAN_LIBS)" test-unit \
	    TSAN_INTEGRATION="$(TSAN_INTEGRATION)" test-tsan-integration || rc=1; \
	if ls $(TSAN_BUILD)/tsan.* >/dev/null 2>&1; then \
	    cat $(TSAN_BUILD)/tsan.*; echo "tsan: races reported ($(TSAN_BUILD)/tsan.*)"; rc=1; \
	else echo "tsan: no reports"; fi; \
	exit $$rc

# The integration tests that run kta's threads (consumer, workers,
# producer, reload); override with TSAN_INTEGRATION="...".
TSAN_INTEGRATION ?= 0001-seed 0003-group 0005-backpressure 0006-malformed 0008-reload
.PHONY: test-tsan-integration
test-tsan-integration: $(BUILD)/kta
	$(Q)KTA=$(abspath $(BUILD)/kta) tests/integration/run.sh \
	    $(TSAN_INTEGRATION:%=tests/integration/%.sh)
