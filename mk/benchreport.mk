# SPDX-License-Identifier: MIT
#
# The report under `make bench`: tests/bench/report_gen.c builds a
# 24-hour run of 20 sensors at 1 s through the store (its chain verifies),
# and tests/bench/report.sh times `tbdaq report` on it with its peak
# resident memory. By itself:
#   make build/bench/report_gen && tests/bench/report.sh build

REPORT_GEN = $(BUILD)/bench/report_gen

$(REPORT_GEN): $(BUILD)/tests/bench/report_gen.o $(BUILD)/libtbdaq.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

bench: $(REPORT_GEN)
