# tbdaq: plain GNU make.
#
#   make            build tbdaqd, tbdaq, tbdaq-web and tbdaq-sim into $(BUILD)/
#   make check      install missing Debian packages, build, run every test,
#                   then build and run them all again under ASan + UBSan
#   make demo       install, build, start simulator and daemon, show readings
#   make bench      install, build, run the benchmarks and print the figures
#   make screenshots  the README's screenshots, by the tests' Chromium
#   make valgrind   the integration cases with tbdaqd and tbdaq under memcheck
#   make fuzz       libFuzzer targets for a bounded time (mk/fuzz.mk)
#   make deb        the Debian package in $(BUILD)/deb/, lintian-clean;
#                   make check-package also checks its contents (mk/deb.mk)
#   make man-check  lint the manual pages, check them against the code
#   make format     clang-format every source; format-check only checks
#
# User CFLAGS/CPPFLAGS/LDFLAGS are honoured; PREFIX and DESTDIR for install
# (and SYSCONFDIR, UNITDIR, SYSUSERSDIR: see mk/install.mk).

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
BUILD   ?= build
CC      ?= cc

# Debian packages the build, the tests and the demo need.
DEB_PKGS = build-essential pkg-config libmodbus-dev libmosquitto-dev \
	libsqlite3-dev libconfig-dev libsystemd-dev libssl-dev libcmocka-dev \
	mosquitto mosquitto-clients sqlite3 socat openssl systemd valgrind \
	faketime iproute2 libjansson-dev man-db mandoc python3 \
	libprotobuf-c-dev protobuf-c-compiler protobuf-compiler python3-protobuf \
	python3-paho-mqtt chromium poppler-utils libmicrohttpd-dev libcrypt-dev \
	python3-prometheus-client curl
PKGS = libmodbus libmosquitto sqlite3 libconfig libcrypto libssl jansson

WARN = -std=c11 -Wall -Wextra -Werror -Wpedantic -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
	-Wwrite-strings -Wvla -Wformat=2
CFLAGS ?= -O2 -g
ifdef SANITIZE
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
endif
# The release number lives in VERSION alone; a build inside a git checkout
# of this very tree (not a copy inside another repository, as make deb
# makes) appends the git description: 0.2.0+d1eec27-dirty.
RELEASE := $(shell cat VERSION)
GIT_DESC := $(shell [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = \
	"$(CURDIR)" ] && git describe --always --dirty --exclude='*' 2>/dev/null)
VERSION := $(RELEASE)$(if $(GIT_DESC),+$(GIT_DESC))
ALL_CPPFLAGS = -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE -I. -I$(BUILD)/gen \
	$(CPPFLAGS)
ALL_CFLAGS = $(WARN) $(SANFLAGS) $(CFLAGS) \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Each program depends on the libraries it calls, not on every one in
# PKGS: fewer to load and relocate (resident memory, start-up).
ALL_LDFLAGS = $(SANFLAGS) -Wl,--as-needed $(LDFLAGS)
LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
TEST_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

# libtbdaq.a, the library every program links (as git's libgit.a): the
# generic helpers (common/), Modbus (drivers/) and the record (lib/: the
# configuration, the poll plan, the store, the control protocol).
# libtbdaqd.a holds what only the daemon does (daemon/ but main.c); the
# daemon and the unit tests link it too, the command-line tool does not.
LIB_SRCS = $(wildcard common/*.c drivers/*.c lib/*.c)
LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/%.o)
DAEMON_SRCS = $(filter-out daemon/main.c, $(wildcard daemon/*.c))
DAEMON_OBJS = $(DAEMON_SRCS:%.c=$(BUILD)/%.o)
CLI_SRCS = $(wildcard cli/*.c)
SIM_SRCS = $(wildcard tests/sim/*.c)
WEB_SRCS = $(wildcard web/*.c)
# tbdaq-web alone links libmicrohttpd and libcrypt (crypt_r). libcrypt
# always: AddressSanitizer's runtime defines crypt_r itself (an interceptor
# that calls the real one), so --as-needed would drop libcrypt from a
# sanitized build and the call would jump to nothing.
WEB_LIBS = $(shell pkg-config --libs libmicrohttpd 2>/dev/null) \
	-Wl,--push-state,--no-as-needed \
	$(shell pkg-config --libs libcrypt 2>/dev/null) -Wl,--pop-state
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
PROGS = $(BUILD)/tbdaqd $(BUILD)/tbdaq $(BUILD)/tbdaq-web $(BUILD)/tbdaq-sim
ALL_SRCS = $(LIB_SRCS) $(DAEMON_SRCS) daemon/main.c $(CLI_SRCS) $(SIM_SRCS) \
	$(WEB_SRCS) \
	$(UNIT_SRCS) tests/bench/store_rate.c tests/bench/report_gen.c \
	tests/integration/notifyrecv.c tests/integration/latency.c \
	tests/integration/mbclient.c tests/integration/slowsync.c

.PHONY: all deps check test unit integration demo bench install uninstall \
	format format-check clean spec-check
.DELETE_ON_ERROR:
# Keep test objects: they are intermediates of a pattern rule.
.SECONDARY:

all: $(PROGS)

# version.h is rewritten only when the version changes, so only the files
# that print it are compiled again.
$(BUILD)/gen/version.h: FORCE
	@mkdir -p $(dir $@)
	@echo '#define TBDAQ_VERSION "$(VERSION)"' >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

.PHONY: FORCE
FORCE:

$(BUILD)/%.o: %.c | $(BUILD)/gen/version.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libtbdaq.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libtbdaqd.a: $(DAEMON_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/tbdaqd: $(BUILD)/daemon/main.o $(BUILD)/libtbdaqd.a $(BUILD)/libtbdaq.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tbdaq: $(CLI_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/libtbdaq.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tbdaq-sim: $(SIM_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/libtbdaq.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tbdaq-web: $(WEB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/libtbdaq.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(WEB_LIBS) $(LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libtbdaqd.a \
	$(BUILD)/libtbdaq.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS)

# The export's unit test links the export's own modules (cli/ is no
# library), with the library they use after them.
EXPORT_TEST_OBJS = $(addprefix $(BUILD)/cli/, export_rows.o \
	export_sensors.o export_sink.o)
$(BUILD)/tests/test_export: $(BUILD)/tests/unit/test_export.o \
	$(EXPORT_TEST_OBJS) $(BUILD)/libtbdaq.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS)

# The service manager's notifications against libsystemd's own (this test
# alone links it: the daemon speaks the protocol itself).
$(BUILD)/tests/test_notify: $(BUILD)/tests/unit/test_notify.o \
	$(BUILD)/libtbdaqd.a $(BUILD)/libtbdaq.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) \
		$(shell pkg-config --libs libsystemd 2>/dev/null) $(LIBS)

# tbdaq-web's parsers and authentication, with the objects they test
# (web/ is no library).
$(BUILD)/tests/test_web_parse: $(BUILD)/tests/unit/test_web_parse.o \
	$(BUILD)/web/parse.o $(BUILD)/libtbdaq.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS)

$(BUILD)/tests/test_web_auth: $(BUILD)/tests/unit/test_web_auth.o \
	$(BUILD)/web/auth.o $(BUILD)/libtbdaq.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(WEB_LIBS) $(LIBS)

-include $(ALL_SRCS:%.c=$(BUILD)/%.d)

# Feature fragments (install, fuzzing, valgrind): each owns its targets.
include $(wildcard mk/*.mk)

# Installs whichever of the Debian packages $(1) are missing: as root
# directly, otherwise through sudo. Nothing happens when all are present.
# Also used by the fragments in mk/ for their own packages.
define install_missing
	@missing=""; for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	        grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    $$sudo apt-get update -qq && \
	    $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call install_missing,$(DEB_PKGS))

# The unit tests run UNIT_JOBS at a time, each one's output printed whole
# when it ends; those that measure time closely (UNIT_ALONE) then run one
# by one with nothing beside them. test_publish, the longest (its brokers
# and back-off waits), starts first so that the others run beside it; its
# checks of time bound calls that never block (at most 200 ms, or a wait
# within 50 ms of its nominal length), which a busy neighbour does not
# reach. Every test runs, and the target fails if any failed.
UNIT_JOBS ?= 2
UNIT_ALONE = $(BUILD)/tests/test_poller
UNIT_FIRST = $(filter $(BUILD)/tests/test_publish,$(UNIT_BINS))
UNIT_BESIDE = $(UNIT_FIRST) \
	$(filter-out $(UNIT_FIRST) $(UNIT_ALONE),$(UNIT_BINS))

unit: $(UNIT_BINS)
	@fail=0; \
	$(MAKE) --no-print-directory -s -k -j$(UNIT_JOBS) -Otarget \
	    $(UNIT_BESIDE:%=%.run) || fail=1; \
	$(MAKE) --no-print-directory -s -k $(UNIT_ALONE:%=%.run) || fail=1; \
	exit $$fail

# One unit test's run (no file is made: it runs every time it is asked).
$(BUILD)/tests/%.run: $(BUILD)/tests/% FORCE
	@echo "== $<"; $<

# A small sd_notify receiver the service cases use in place of systemd.
$(BUILD)/tests/notifyrecv: $(BUILD)/tests/integration/notifyrecv.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

# How late threads wake on this machine now, for the timing checks.
$(BUILD)/tests/latency: $(BUILD)/tests/integration/latency.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

# A Modbus client the project did not write (libmodbus), for the
# simulator's own cases (tests/integration/cases_sim.sh).
$(BUILD)/tests/mbclient: $(BUILD)/tests/integration/mbclient.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell pkg-config --libs libmodbus)

# A disk slower than the readings coming in (preloaded into tbdaqd by a
# case; never sanitized, so that it loads into either build).
$(BUILD)/tests/slowsync.so: tests/integration/slowsync.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) -fPIC -shared -o $@ $<

# Cases run ITEST_JOBS at a time, but those with timing checks run alone
# (tests/integration/README.md); ITEST_JOBS=1 runs every one alone.
ITEST_JOBS ?= 2
integration: $(PROGS) $(BUILD)/tests/notifyrecv $(BUILD)/tests/latency \
	$(BUILD)/tests/mbclient $(BUILD)/tests/slowsync.so
	ITEST_JOBS=$(ITEST_JOBS) tests/integration/run.sh $(BUILD)

test: unit integration

# Every program the tests run, built (make -jN test-progs, then make test).
test-progs: $(UNIT_BINS) $(BUILD)/tests/notifyrecv $(BUILD)/tests/latency \
	$(BUILD)/tests/mbclient $(BUILD)/tests/slowsync.so
.PHONY: test-progs

# The ordinary build and tests, the manual pages (mk/man.mk), every fuzzing
# corpus and crash reproducer once (mk/fuzz.mk), the Debian package built
# and checked (mk/deb.mk), then the build and tests again with sanitizers
# in a separate build tree (the sanitized run's summary line comes last).
# The builds take CHECK_JOBS jobs, and the pages, fuzzing and package
# checks and the sanitized build run side by side, CHECK_JOBS at a time
# (each one's output printed whole when it ends), between the two runs of
# the tests: no test that measures time runs beside them. The sanitized
# build (programs and test programs) logs its commands to
# $(BUILD)/san-build.log.
CHECK_JOBS ?= 2
check: deps
	$(MAKE) -j$(CHECK_JOBS) all test-progs
	$(MAKE) test
	$(MAKE) -j$(CHECK_JOBS) -Orecurse check-package check-san-build \
	    fuzz-regress man-check spec-check
	$(MAKE) BUILD=$(BUILD)/san SANITIZE=1 test

check-san-build:
	@echo "building $(BUILD)/san with sanitizers (log: $(BUILD)/san-build.log)"
	@mkdir -p $(BUILD)
	@if $(MAKE) BUILD=$(BUILD)/san SANITIZE=1 all test-progs \
	    >$(BUILD)/san-build.log 2>&1; \
	then echo "built $(BUILD)/san"; \
	else tail -n 40 $(BUILD)/san-build.log; exit 1; fi
.PHONY: check-san-build

# docs/SPEC.md is the contract's copy inside the repository; where the
# contract's own file sits beside this checkout, the two must not differ.
SPEC_SOURCE ?= ../shared/SPEC.md
spec-check:
	@if [ -f $(SPEC_SOURCE) ] && ! cmp -s $(SPEC_SOURCE) docs/SPEC.md; then \
	    echo "docs/SPEC.md differs from $(SPEC_SOURCE): copy the new" \
	        "revision in, and move the code and the README with it" >&2; \
	    exit 1; \
	fi
	@echo "spec-check: docs/SPEC.md is revision" \
	    "$$(sed -n 's/^- \([0-9][0-9]*\) (.*/\1/p' docs/SPEC.md | head -1)"

demo: deps
	$(MAKE) all
	tests/demo.sh $(BUILD)

# Benchmarks print their figures and never fail on timing; not in check.
bench: deps
	$(MAKE) all
	tests/bench/run.sh $(BUILD)
	tests/bench/export.sh $(BUILD)
	tests/bench/report.sh $(BUILD)
	tests/bench/web.sh $(BUILD)

# The README's screenshots, by the tests' Chromium (case web_browser).
screenshots: all
	WEB_SCREENSHOTS=docs/screenshots tests/integration/run.sh $(BUILD) web_browser
.PHONY: screenshots

FORMAT_SRCS = $(ALL_SRCS) $(wildcard */*.h tests/*/*.h)
format:
	clang-format -i $(FORMAT_SRCS)

format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD)
