# SPDX-License-Identifier: MIT
#
# The Debian package (debian/), built with debhelper from a copy of the
# tree, so that nothing is written outside $(BUILD):
#
#   make deb             $(BUILD)/deb/tbdaq_<VERSION>_<arch>.deb, then lintian
#   make check-package   make deb, then tests/package/check.sh on the .deb
#   make check-package-mutants   make deb, then each check of check.sh made
#                        to fail on a package broken for it (mutants.sh)
#
# The copy is the working tree's files that git tracks or would track (not
# ignored), so an uncommitted change is packaged as `make` would build it;
# outside a git checkout, the whole tree but build/. Inside the copy,
# which is not the top of a git checkout, the programs' version is the
# bare release number of VERSION, as in the package's version.
#
# lintian must report no error and no warning. A warning that is right for
# this package would be overridden in debian/tbdaq.lintian-overrides, with
# the reason beside it; none is needed today (bookworm's lintian 2.116).

DEB_DIR = $(BUILD)/deb
DEB_SRC = $(DEB_DIR)/tbdaq-$(RELEASE)
DEB_ARCH = $(shell dpkg --print-architecture)
DEB_FILE = $(DEB_DIR)/tbdaq_$(RELEASE)_$(DEB_ARCH).deb
DEB_CHANGES = $(DEB_DIR)/tbdaq_$(RELEASE)_$(DEB_ARCH).changes
# The version of debian/changelog's top entry.
DEB_CL_SED = 1s/^[^ ]* (\([^)]*\)).*/\1/p
DEB_CL_VERSION = $(shell sed -n '$(DEB_CL_SED)' debian/changelog)

# Packages the build needs: the tools, and debian/control's Build-Depends
# (the one list), whose debhelper-compat and dh-sequence-* are provided by
# debhelper. Evaluated only when deb-deps runs.
DEB_TOOL_PKGS = build-essential dpkg-dev lintian
# (The awk program is a variable of its own: its parentheses would end a
# $(shell ...) written around it.)
DEB_BD_AWK = /^[^ \t]/ { f = sub(/^Build-Depends:/, "") } \
	f { gsub(/\([^)]*\)|\[[^]]*\]|<[^>]*>|\|[^,]*/, ""); gsub(/[ \t]/, ""); \
	    n = split($$0, a, ","); for (i = 1; i <= n; i++) if (a[i] != "") print a[i] }
DEB_BUILD_DEPS = $(shell awk '$(DEB_BD_AWK)' debian/control | \
	sed -e 's/^debhelper-compat$$/debhelper/' -e 's/^dh-sequence-.*/debhelper/' | \
	sort -u)

# Make exports this make's command-line variables (BUILD=..., SANITIZE=1)
# to the recipes' environment, where the package's own make would take
# them: the package is built from debian/rules' settings alone.
DEB_UNSET = MAKEFLAGS MFLAGS MAKELEVEL BUILD SANITIZE PREFIX DESTDIR BINDIR \
	SBINDIR SYSCONFDIR UNITDIR SYSUSERSDIR

.PHONY: deb deb-deps check-package check-package-mutants

deb-deps:
	$(call install_missing,$(DEB_TOOL_PKGS) $(DEB_BUILD_DEPS))

deb: deb-deps
	@if [ "$(DEB_CL_VERSION)" != "$(RELEASE)" ]; then \
	    echo "debian/changelog's version $(DEB_CL_VERSION) is not" \
	        "VERSION's $(RELEASE): add a debian/changelog entry" \
	        "for $(RELEASE) (dch -v $(RELEASE), package devscripts)" >&2; \
	    exit 1; \
	fi
	@if [ -z "$(DEB_ALLOW_DIRTY)" ] && \
	    [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ] && \
	    [ -n "$$(git status --porcelain --untracked-files=no)" ]; then \
	    echo "make deb: the checkout has uncommitted changes, which the" \
	        "package would carry as release $(RELEASE): commit them, or" \
	        "DEB_ALLOW_DIRTY=1 for a package not to be shipped" >&2; \
	    exit 1; \
	fi
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_SRC)
	@echo "copying the tree into $(DEB_SRC)"
	@if [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ]; \
	then \
	    git ls-files -z --cached --others --exclude-standard | sort -zu | \
	    xargs -0 -r sh -c 'for f; do \
	        if [ -e "$$f" ] || [ -L "$$f" ]; then printf "%s\0" "$$f"; fi; \
	    done' sh | tar --null -T - -cf - | tar -xf - -C $(DEB_SRC); \
	else \
	    tar --exclude=./build --exclude='./$(BUILD)' -cf - . | \
	        tar -xf - -C $(DEB_SRC); \
	fi
	@echo "dpkg-buildpackage -us -uc -b (log: $(DEB_DIR)/build.log)"
	@cd $(DEB_SRC) && if ! env $(DEB_UNSET:%=-u %) \
	    dpkg-buildpackage -us -uc -b -J >../build.log 2>&1; then \
	    tail -n 40 ../build.log; echo "make deb: dpkg-buildpackage failed" \
	        "(log: $(DEB_DIR)/build.log)" >&2; exit 1; fi
	@ls -l $(DEB_DIR)/*.deb
	lintian --fail-on error,warning $(DEB_CHANGES)
	@echo "make deb: $(DEB_FILE)"

# The package of the tree as it is, committed or not: a test of the
# packaging, not a package to ship.
check-package:
	$(MAKE) deb DEB_ALLOW_DIRTY=1
	tests/package/check.sh $(DEB_FILE) $(DEB_SRC)

# Each check of check.sh, made to fail once on a package broken for it.
check-package-mutants:
	$(MAKE) deb DEB_ALLOW_DIRTY=1
	tests/package/mutants.sh $(DEB_FILE) $(DEB_SRC)
