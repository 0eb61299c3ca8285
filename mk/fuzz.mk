# Fuzzing with libFuzzer (clang), see tests/fuzz/README.md.
#
#   make fuzz            build every target and fuzz each for FUZZ_SECONDS
#                        on a scratch copy of its corpus; fails on a crash
#   make fuzz-regress    run every target once over its committed corpus
#                        and its crash reproducers (fast; no fuzzing)
#
# The targets are built with clang and linked with the sources they test
# directly: build/libtbdaq.a is built by $(CC) without fuzzer coverage.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
# Per input: an input slower than this is reported as a hang.
FUZZ_TIMEOUT ?= 10
FUZZ_CFLAGS ?= -O1 -g
FUZZ_BUILD = $(BUILD)/fuzz
# clang alone only recommends the libFuzzer runtime, and deps installs
# without recommends.
FUZZ_DEB_PKGS = clang libclang-rt-14-dev

FUZZ_SAN = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_ALL_CFLAGS = $(WARN) $(FUZZ_SAN) $(FUZZ_CFLAGS) \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)

# Leaks in libraries, not in tbdaq: see the file.
FUZZ_ENV = LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp

FUZZ_TARGETS = decode config time text fmt rtuframe webparse
# The project sources each target links.
FUZZ_SRCS_decode = drivers/decode.c
FUZZ_SRCS_config = $(wildcard lib/config*.c) drivers/decode.c \
	drivers/kind.c drivers/bus.c drivers/rtuframe.c drivers/rtutcp.c \
	common/util.c common/log.c common/hash.c common/text.c common/fmt.c
FUZZ_SRCS_time = common/util.c common/log.c common/fmt.c
FUZZ_SRCS_text = common/text.c common/csv.c
FUZZ_SRCS_fmt = common/fmt.c common/jsonw.c common/util.c common/log.c
FUZZ_SRCS_rtuframe = drivers/rtuframe.c
FUZZ_SRCS_webparse = web/parse.c common/text.c

FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_HDRS = $(wildcard common/*.h drivers/*.h lib/*.h daemon/*.h web/*.h)

.PHONY: fuzz fuzz-regress fuzz-deps

# The Makefile's installer, for the fuzzing packages only.
fuzz-deps:
	$(call install_missing,$(FUZZ_DEB_PKGS))

define FUZZ_BIN_RULE
$(FUZZ_BUILD)/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(FUZZ_SRCS_$(1)) \
		$(FUZZ_HDRS) | fuzz-deps
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_ALL_CFLAGS) -o $$@ \
	    tests/fuzz/fuzz_$(1).c $(FUZZ_SRCS_$(1)) $(LIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_BIN_RULE,$(t))))

# Each target fuzzes a scratch corpus (seeded from the committed one and
# kept between runs), so the committed corpus never changes. A line per
# target: the final libFuzzer status (cov: edges, ft: features, exec/s),
# or where the crash and its log are.
fuzz: $(FUZZ_BINS)
	@fail=0; for t in $(FUZZ_TARGETS); do \
	    dir=$(FUZZ_BUILD)/corpus-$$t; log=$(FUZZ_BUILD)/fuzz_$$t.log; \
	    mkdir -p $$dir && cp tests/fuzz/corpus/$$t/* $$dir/ || exit 1; \
	    dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	    if $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        -timeout=$(FUZZ_TIMEOUT) -print_final_stats=1 $$dict \
	        -artifact_prefix=$(FUZZ_BUILD)/artifact-$$t- $$dir \
	        >$$log 2>&1; then \
	        printf '%-12s ok  %s\n' fuzz_$$t "$$(grep -a 'DONE' $$log | \
	            tail -n 1 | sed 's/^#[0-9]*[[:space:]]*DONE[[:space:]]*//')"; \
	    else \
	        fail=1; \
	        printf '%-12s FAILED: %s (log %s)\n' fuzz_$$t \
	            "$$(grep -a -m 1 'Test unit written to' \
	                $$log | sed 's/.*written to //')" $$log; \
	        grep -a -m 1 -A 12 'ERROR:\|runtime error' $$log | sed 's/^/    /'; \
	    fi; \
	done; exit $$fail

# Every committed input runs once (files given one by one are not fuzzed).
fuzz-regress: $(FUZZ_BINS)
	@fail=0; for t in $(FUZZ_TARGETS); do \
	    files=$$(find tests/fuzz/corpus/$$t tests/fuzz/regress/$$t \
	        -type f 2>/dev/null | sort); \
	    log=$(FUZZ_BUILD)/regress_$$t.log; \
	    if $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$$t -timeout=$(FUZZ_TIMEOUT) $$files \
	        >$$log 2>&1; then \
	        echo "fuzz_$$t: $$(echo $$files | wc -w) inputs ok"; \
	    else \
	        fail=1; echo "fuzz_$$t: FAILED (log $$log)"; \
	        grep -a -B 2 -A 12 'ERROR:\|runtime error' $$log | sed 's/^/    /'; \
	    fi; \
	done; exit $$fail
