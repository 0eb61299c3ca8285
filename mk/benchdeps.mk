# SPDX-License-Identifier: MIT
#
# Debian packages only `make bench` needs, not `make check`: collectd
# (collectd-core: its modbus and mqtt plugins) beside tbdaqd in workload
# W2x (tests/bench/collectd.sh). After deps, so that two apt-get never run
# at once under make -j.

BENCH_PKGS = collectd-core

bench-deps: deps
	$(call install_missing,$(BENCH_PKGS))

bench: bench-deps

.PHONY: bench-deps
