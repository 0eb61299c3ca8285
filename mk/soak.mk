# SPDX-License-Identifier: MIT
#
# `make soak` (issue 6; not in check, not in CI): the W2 plant workload of
# make bench for 30 minutes, with a broker restart every 5 minutes and one
# simulator unit flapping; reports tbdaqd's RSS over time, loss on MQTT,
# the database's integrity_check and `tbdaq verify`
# (tests/bench/soak.sh). Shorter: make soak SOAK_SECONDS=120
# SOAK_BROKER_PERIOD_S=40 (the SOAK_* variables are passed through the
# environment; see tests/bench/README.md).

.PHONY: soak

soak: deps
	$(MAKE) all
	tests/bench/soak.sh $(BUILD)
