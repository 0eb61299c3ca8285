# SPDX-License-Identifier: MIT
#
# `make valgrind`: the integration cases that assert no tight timing, with
# tbdaqd and tbdaq under valgrind's memcheck, on a plain build (no
# sanitizers: they and valgrind cannot share a process). Fails on any
# memcheck error or definite/indirect leak in any process, on any case
# failing, or on a process that valgrind never let finish its report.
#
# The programs are built into $(VG_DIR) and wrapped: $(VG_DIR)/wrap holds
# tbdaqd, tbdaq and tbdaq-sim as small scripts that exec valgrind on the
# real binaries (the simulator only with VG_SIM=1: it is test equipment,
# and a slow simulator skews every case). run.sh runs on $(VG_DIR)/wrap as
# its BUILD directory, one case per run so that each gets the whole suite
# budget (valgrind makes a process 20-50x slower). Each process writes
# $(VG_DIR)/logs/PROG.PID.log; they are all checked after the run.
#
#   make valgrind                         the cases in VG_CASES
#   make valgrind VG_CASES="exception"    only these
#   make valgrind VG_SIM=1                the simulator too

VG_DIR = $(BUILD)/valgrind
VG_CFLAGS = -O1 -g -fno-omit-frame-pointer
# Exit status of a process in which memcheck found an error: not one the
# programs use, so the case's own exit-status check names the culprit.
VG_ERROR_EXIT = 99
VALGRIND = valgrind --tool=memcheck --leak-check=full \
	--errors-for-leak-kinds=definite,indirect \
	--error-exitcode=$(VG_ERROR_EXIT) --track-fds=no --num-callers=30
# Cases whose assertions hold at valgrind's speed: none checks spacing to
# the millisecond or values against the time a reply left the simulator.
# Left out: tcp_values (5 ms value tolerance: fails under valgrind),
# unit_mute_isolated (+-5 ms spacing), missed_slots (25 ms grid),
# mqtt_will_on_sigkill, mqtt_tls, mqtt_outage and the broker-down cases
# (keepalive, handshake and backoff timing; not tried), retention
# (libfaketime preloaded into valgrind) and service_watchdog_wedged (its
# stall allowance is timing).
VG_CASES ?= version_and_usage config_check fixed_values exception \
	drop_reconnect rtu sigterm_commits bad_db_path sigterm_slow_device \
	reload reload_slow_bus mqtt_payloads mqtt_offline_on_sigterm \
	mqtt_restart mqtt_auth mqtt_runs audit_runs audit_export \
	audit_export_errors audit_verify malformed_tcp malformed_rtu \
	disk_full disk_fsize service_notify
VG_SIM ?=
# Spacing tolerance for cases that honour it (cases_malformed.sh; run.sh's
# own TIMING_TOL_US once it reads this): half a 100 ms interval, so a lost
# slot still shows, while valgrind's jitter (20-80 ms seen) does not.
VG_TIMING_TOL_US = 50000
# The runner (a copy that knows more cases can stand in).
VG_RUN ?= tests/integration/run.sh

.PHONY: valgrind valgrind-build

valgrind-build:
	$(MAKE) BUILD=$(VG_DIR) SANITIZE= CFLAGS="$(VG_CFLAGS)" all \
	    $(VG_DIR)/tests/notifyrecv

valgrind: deps valgrind-build
	@command -v valgrind >/dev/null || \
	    { echo "valgrind is needed (Debian: valgrind)" >&2; exit 1; }
	@rm -rf $(VG_DIR)/wrap $(VG_DIR)/logs
	@mkdir -p $(VG_DIR)/wrap/tests $(VG_DIR)/logs
	@# The service cases' stand-in for systemd is a test tool: not checked.
	@ln -s "$$(cd $(VG_DIR) && pwd)/tests/notifyrecv" $(VG_DIR)/wrap/tests/
	@real=$$(cd $(VG_DIR) && pwd); logs=$$real/logs; \
	for p in tbdaqd tbdaq tbdaq-sim; do \
	    w=$(VG_DIR)/wrap/$$p; \
	    { echo '#!/bin/sh'; \
	      echo "# $$p under valgrind memcheck (mk/valgrind.mk)"; \
	      if grep -qa mosquitto_publish $$real/$$p; then \
	          echo "# the real $$p calls mosquitto_publish"; fi; \
	      if [ $$p = tbdaq-sim ] && [ -z "$(VG_SIM)" ]; then \
	          echo "exec $$real/$$p \"\$$@\""; \
	      else \
	          echo "exec $(VALGRIND) --log-file=$$logs/$$p.%p.log $$real/$$p \"\$$@\""; \
	      fi; } >$$w; \
	    chmod 755 $$w; \
	done
	@failed=""; for c in $(VG_CASES); do \
	    ITEST_TIMING_TOL_US=$(VG_TIMING_TOL_US) \
	        $(VG_RUN) $(VG_DIR)/wrap $$c >$(VG_DIR)/logs/run.out; rc=$$?; \
	    grep -v '^[01] passed' $(VG_DIR)/logs/run.out; \
	    [ $$rc = 0 ] || failed="$$failed $$c"; \
	done; \
	logs=$$(ls $(VG_DIR)/logs/*.log 2>/dev/null); bad=; cut=; \
	if [ -n "$$logs" ]; then \
	    bad=$$(grep -l 'ERROR SUMMARY: [1-9]' $$logs); \
	    cut=$$(grep -L 'ERROR SUMMARY' $$logs); \
	fi; \
	for f in $$bad; do \
	    echo "== $$f"; \
	    grep -v -e '^==[0-9]*== *$$' -e 'Memcheck, a memory' \
	        -e 'Copyright (C)' -e 'Using Valgrind' -e 'Command:' \
	        -e '^==[0-9]*== Parent PID' $$f | head -80; \
	done; \
	[ -z "$$cut" ] || echo "valgrind: no report from (killed by the case):" $$cut; \
	echo "valgrind: $$(echo $$logs | wc -w) processes checked," \
	    "$$(echo $$bad | wc -w) with errors; cases failed:$${failed:- none}"; \
	[ -z "$$failed" ] && [ -z "$$bad" ]
