# SPDX-License-Identifier: MIT
#
# The store alone under `make bench`: tests/bench/store_rate.c commits,
# reports status, verifies, exports and prunes a few hundred thousand
# readings in a temporary directory and prints the rates (it was a pair
# of unit tests that could not fail). Linked against libtbdaq.a like the
# programs; tests/bench/run.sh runs it. By itself:
#   make build/bench/store_rate && build/bench/store_rate

STORE_RATE = $(BUILD)/bench/store_rate

$(STORE_RATE): $(BUILD)/tests/bench/store_rate.o $(BUILD)/libtbdaq.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)


# Built before tests/bench/run.sh starts (make bench's recipe).
bench: $(STORE_RATE)
