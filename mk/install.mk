# SPDX-License-Identifier: MIT
#
# make install / make uninstall: the programs, the example configuration,
# the systemd units (tbdaqd, tbdaq-web), the sysusers.d entry of the tbdaq user, the manual
# pages (MANDIR) and the README with the contract (DOCDIR). Included by
# the Makefile, whose PREFIX, DESTDIR, BINDIR, SBINDIR and BUILD it uses.
#
#   make install [PREFIX=/usr/local] [DESTDIR=]
#
# With PREFIX=/usr/local (the default) the unit goes to
# /usr/local/lib/systemd/system and the user entry to
# /usr/local/lib/sysusers.d, both on systemd's search paths; with
# PREFIX=/usr, to /usr/lib/systemd/system and /usr/lib/sysusers.d. The
# configuration always goes to /etc/tbdaq (SYSCONFDIR), since the unit and
# the programs' default -c look there; the database is created by the
# daemon in /var/lib/tbdaq (StateDirectory=), not installed.
#
# An existing tbdaq.conf is never overwritten: if it differs from the
# example, the example is installed beside it as tbdaq.conf.example.
# Uninstall removes what install put, except a tbdaq.conf that differs
# from the example (the operator's), the database and the tbdaq user.
# Both work as non-root with DESTDIR; without DESTDIR, as root, install
# also creates the user (systemd-sysusers) and reloads systemd.

SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/tbdaq

# The pages by section, as they are in man/ (mdoc, installed as written).
MAN_PAGES = $(wildcard man/*.[158])
INST_MAN = $(foreach p,$(MAN_PAGES),\
	$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(notdir $(p)))
INST_DOCS = $(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/SPEC.md

# Where things land, DESTDIR included.
INST_CONFDIR = $(DESTDIR)$(SYSCONFDIR)/tbdaq
INST_CONF = $(INST_CONFDIR)/tbdaq.conf
INST_UNIT = $(DESTDIR)$(UNITDIR)/tbdaqd.service
INST_WEB_UNIT = $(DESTDIR)$(UNITDIR)/tbdaq-web.service
INST_SYSUSERS = $(DESTDIR)$(SYSUSERSDIR)/tbdaq.conf

.PHONY: install uninstall

# The unit names tbdaqd and its config where they are really installed.
$(BUILD)/tbdaqd.service: systemd/tbdaqd.service FORCE
	@mkdir -p $(dir $@)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    systemd/tbdaqd.service >$@.tmp
	@if grep -q '@[A-Z]*@' $@.tmp; then \
	    echo "$@: unsubstituted placeholder" >&2; rm -f $@.tmp; exit 1; fi
	mv -f $@.tmp $@

# tbdaq-web's unit names its program and the config the same way.
$(BUILD)/tbdaq-web.service: systemd/tbdaq-web.service FORCE
	@mkdir -p $(dir $@)
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    systemd/tbdaq-web.service >$@.tmp
	@if grep -q '@[A-Z]*@' $@.tmp; then \
	    echo "$@: unsubstituted placeholder" >&2; rm -f $@.tmp; exit 1; fi
	mv -f $@.tmp $@

install: all $(BUILD)/tbdaqd.service $(BUILD)/tbdaq-web.service
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(INST_CONFDIR) \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 755 $(BUILD)/tbdaqd $(DESTDIR)$(SBINDIR)/tbdaqd
	install -m 755 $(BUILD)/tbdaq $(DESTDIR)$(BINDIR)/tbdaq
	install -m 755 $(BUILD)/tbdaq-sim $(DESTDIR)$(BINDIR)/tbdaq-sim
	install -m 755 $(BUILD)/tbdaq-web $(DESTDIR)$(BINDIR)/tbdaq-web
	install -m 644 $(BUILD)/tbdaqd.service $(INST_UNIT)
	install -m 644 $(BUILD)/tbdaq-web.service $(INST_WEB_UNIT)
	install -m 644 systemd/tbdaq.sysusers $(INST_SYSUSERS)
	@set -e; for p in $(MAN_PAGES); do \
	    sec=$${p##*.}; \
	    echo "install -D -m 644 $$p $(DESTDIR)$(MANDIR)/man$$sec/$${p##*/}"; \
	    install -D -m 644 $$p $(DESTDIR)$(MANDIR)/man$$sec/$${p##*/}; \
	done
	install -D -m 644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -D -m 644 docs/SPEC.md $(DESTDIR)$(DOCDIR)/SPEC.md
	@if [ ! -e $(INST_CONF) ]; then \
	    echo "install -m 644 config/tbdaq.conf $(INST_CONF)"; \
	    install -m 644 config/tbdaq.conf $(INST_CONF); \
	elif cmp -s config/tbdaq.conf $(INST_CONF); then \
	    echo "$(INST_CONF) is the example already"; \
	    rm -f $(INST_CONF).example; \
	else \
	    install -m 644 config/tbdaq.conf $(INST_CONF).example; \
	    echo "kept the existing $(INST_CONF);" \
	        "the new example is $(INST_CONF).example"; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	    if command -v systemd-sysusers >/dev/null; then \
	        echo "systemd-sysusers $(SYSUSERSDIR)/tbdaq.conf"; \
	        systemd-sysusers $(SYSUSERSDIR)/tbdaq.conf; \
	    fi; \
	    if [ -d /run/systemd/system ]; then \
	        echo "systemctl daemon-reload"; systemctl daemon-reload; \
	    fi; \
	    echo "next: edit $(SYSCONFDIR)/tbdaq/tbdaq.conf, then" \
	        "systemctl enable --now tbdaqd"; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/tbdaqd $(DESTDIR)$(BINDIR)/tbdaq \
	    $(DESTDIR)$(BINDIR)/tbdaq-sim $(DESTDIR)$(BINDIR)/tbdaq-web \
	    $(INST_UNIT) $(INST_WEB_UNIT) $(INST_SYSUSERS) \
	    $(INST_CONF).example $(INST_MAN) $(INST_DOCS)
	-@rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	@if [ -e $(INST_CONF) ]; then \
	    if cmp -s config/tbdaq.conf $(INST_CONF); then \
	        echo "rm -f $(INST_CONF)"; rm -f $(INST_CONF); \
	    else \
	        echo "kept $(INST_CONF): it was edited"; \
	    fi; \
	fi
	-@rmdir $(INST_CONFDIR) 2>/dev/null || true
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && \
	    [ -d /run/systemd/system ]; then \
	    echo "systemctl daemon-reload"; systemctl daemon-reload; \
	fi
	@echo "the tbdaq user and /var/lib/tbdaq (the database) are kept"
