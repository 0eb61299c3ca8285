# SPDX-License-Identifier: MIT
#
# The manual pages in man/ (mdoc(7), installed as they are by
# mk/install.mk): checks only.
#
#   make man-lint      mandoc's lint and lintian's groff check, both silent
#   make man-keys      every key of lib/config_table.c in tbdaq.conf(5) and
#                      none else (tests/man/keys.sh)
#   make man-options   every option of each program's --help in its page
#                      and none else (tests/man/options.sh)
#   make man-examples  the configurations the pages show pass tbdaqd -t
#                      (tests/man/examples.sh)
#   make man-check     all four
#
# man-lint installs mandoc, man-db and groff-base when they are missing.
# lintian runs exactly this groff check on every page of a package
# (LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l
# -Tutf8 -Z), so a page that passes here gives no lintian warning either.

MAN_LINT_PAGES = $(sort $(wildcard man/*.[1-8]))
MAN_DEB_PKGS = mandoc man-db groff-base

.PHONY: man-deps man-lint man-keys man-options man-examples man-check

man-deps:
	$(call install_missing,$(MAN_DEB_PKGS))

# Each check must print nothing: mandoc's exit status alone would let
# style messages through, and man's is 0 whatever groff warns.
man-lint: man-deps
	@out=$$(mandoc -T lint -W warning $(MAN_LINT_PAGES) 2>&1); rc=$$?; \
	if [ $$rc -ne 0 ] || [ -n "$$out" ]; then \
	    printf '%s\n' "$$out"; \
	    echo "man-lint: mandoc -T lint -W warning: not clean" >&2; \
	    exit 1; \
	fi
	@fail=0; for p in $(MAN_LINT_PAGES); do \
	    out=$$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
	        man --warnings -E UTF-8 -l -Tutf8 -Z "$$p" 2>&1 >/dev/null); \
	    if [ -n "$$out" ]; then \
	        printf '%s:\n%s\n' "$$p" "$$out"; fail=1; \
	    fi; \
	done; \
	if [ $$fail -ne 0 ]; then \
	    echo "man-lint: man --warnings: not clean" >&2; exit 1; \
	fi
	@echo "man-lint: $(words $(MAN_LINT_PAGES)) pages clean: $(MAN_LINT_PAGES)"

man-keys:
	tests/man/keys.sh

man-options: $(PROGS)
	tests/man/options.sh $(BUILD)

man-examples: $(BUILD)/tbdaqd
	tests/man/examples.sh $(BUILD)

man-check: man-lint man-keys man-options man-examples
