# The Sparkplug B payload: proto/sparkplug_b.proto compiled by protoc-c
# into $(BUILD)/gen/proto/ at build time, its object added to the daemon's
# library, and libprotobuf-c linked. Only daemon/spb_payload.c includes
# the generated header (the one user of protobuf-c).

SPB_PROTO = proto/sparkplug_b.proto
SPB_GEN_C = $(BUILD)/gen/proto/sparkplug_b.pb-c.c
SPB_GEN_H = $(BUILD)/gen/proto/sparkplug_b.pb-c.h
SPB_GEN_O = $(BUILD)/gen/proto/sparkplug_b.pb-c.o

LIBS += $(shell pkg-config --libs libprotobuf-c 2>/dev/null)
ALL_CFLAGS += $(shell pkg-config --cflags libprotobuf-c 2>/dev/null)

# protoc-c writes both files at once; the header is made by the same run.
$(SPB_GEN_C): $(SPB_PROTO)
	@mkdir -p $(dir $@)
	protoc-c --proto_path=. --c_out=$(BUILD)/gen $(SPB_PROTO)
$(SPB_GEN_H): $(SPB_GEN_C)

$(SPB_GEN_O): $(SPB_GEN_C) $(SPB_GEN_H)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libtbdaqd.a: $(SPB_GEN_O)
# Before the first build's dependency files exist.
$(BUILD)/daemon/spb_payload.o: $(SPB_GEN_H)
