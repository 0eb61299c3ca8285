/* SPDX-License-Identifier: MIT */
/*
 * An instrument's identity (SPEC, Configuration `devices`): its bus and
 * unit, the configuration's `model` text and the `serial` and `firmware`
 * it reports in ASCII registers; how those registers become text; and
 * the `device` event's detail, written and read back. The daemon's pollers
 * record identities, `tbdaq status` and the export's manifest read them.
 *
 * The detail is one JSON object, {"bus":..,"unit":..,"model":..,
 * "serial":..,"firmware":..}, a string or null each (null: not
 * configured). Its strings never need an escape: a bus name is a name,
 * a model holds no '"', '\\' or control character (the configuration
 * checks), and the registers' text writes every byte that is not
 * printable ASCII, and '%', '"' and '\\', as %XX. So any JSON parser reads
 * it, and device_ident_parse() reads exactly what device_ident_format()
 * writes. The configuration bounds every part (device_detail_max()) so
 * that a detail always fits EVENT_DETAIL_MAX.
 *
 * Errors: -1 as said per function; nothing is logged; out of memory
 * aborts. Ownership: a struct device_log owns its entries until
 * device_log_release(). Threads: pure functions, thread-safe; a log is
 * used by one thread at a time.
 */
#ifndef TBDAQ_DEVICE_H
#define TBDAQ_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"
#include "lib/reading.h"

/* The longest `model`, in bytes. */
#define DEVICE_MODEL_MAX 64
/* The most registers one identity field reads: 32 characters, as long
 * as the longest identity field of common device profiles (SunSpec's
 * serial number). */
#define DEVICE_REGS_MAX 16
/* What one register's two bytes may become: "%XX" each. */
#define DEVICE_REG_TEXT 6
/* The longest text of DEVICE_REGS_MAX registers. */
#define DEVICE_TEXT_MAX (DEVICE_REGS_MAX * DEVICE_REG_TEXT)

struct device_ident {
    char bus[CONFIG_NAME_MAX + 1];
    int unit;
    bool has_model, has_serial, has_firmware; /* else null */
    char model[DEVICE_MODEL_MAX + 1];
    char serial[DEVICE_TEXT_MAX + 1];
    char firmware[DEVICE_TEXT_MAX + 1];
};

/*
 * The text of n ASCII registers (n <= DEVICE_REGS_MAX; more are not
 * read), two characters each, the high byte first: every NUL dropped,
 * then the spaces at the end; every byte left that is not printable ASCII
 * (0x20..0x7e), and '%', '"' and '\\', written as %XX (upper-case hex),
 * so that the text says exactly which bytes the device sent. Writes it,
 * NUL-terminated, to out (DEVICE_TEXT_MAX + 1 bytes) and returns its
 * length.
 */
size_t device_ascii(const uint16_t *words, size_t n, char *out);

/* The detail without its values, and what a value adds to it: the text
 * of null, the quotes around a string. */
#define DEVICE_DETAIL_SKELETON                                                 \
    "{\"bus\":\"\",\"unit\":,\"model\":,\"serial\":,\"firmware\":}"
#define DEVICE_DETAIL_NULL 4
#define DEVICE_DETAIL_QUOTES 2

/* The most bytes a field of regs registers (0: none) takes. */
static inline size_t device_field_max(int regs)
{
    return regs > 0 ? (size_t)regs * DEVICE_REG_TEXT + DEVICE_DETAIL_QUOTES
                    : DEVICE_DETAIL_NULL;
}

/*
 * The most bytes a detail can take (NUL not counted) for a bus name of
 * bus_len bytes, unit (0..255), a model of model_len bytes (-1: none) and
 * serial and firmware fields of that many registers (0: none): what the
 * configuration checks against EVENT_DETAIL_MAX - 1. Inline, so that the
 * configuration needs none of the code that writes the detail.
 */
static inline size_t device_detail_max(size_t bus_len, int unit, int model_len,
                                       int serial_regs, int firmware_regs)
{
    size_t digits = unit >= 100 ? 3 : unit >= 10 ? 2 : 1;

    return sizeof(DEVICE_DETAIL_SKELETON) - 1 + bus_len + digits +
           (model_len >= 0 ? (size_t)model_len + DEVICE_DETAIL_QUOTES
                           : DEVICE_DETAIL_NULL) +
           device_field_max(serial_regs) + device_field_max(firmware_regs);
}

/* Writes id as a detail (see above) into out. Returns its length, or -1
 * if a string would need an escape or it does not fit (nothing a
 * configuration that loaded can give). */
int device_ident_format(const struct device_ident *id,
                        char out[EVENT_DETAIL_MAX]);

/* Reads a detail device_ident_format() wrote: 0, or -1 if detail is not
 * one (members it does not know are skipped; bus and unit are
 * required). */
int device_ident_parse(const char *detail, struct device_ident *id);

/* The same identity: bus, unit, model, serial and firmware. */
bool device_ident_equal(const struct device_ident *a,
                        const struct device_ident *b);

/* A `device` event: when, what it says, and its detail as stored. */
struct device_entry {
    int64_t ts_us;
    struct device_ident id;
    char detail[EVENT_DETAIL_MAX];
};

/* Device events in the order they were added (of time, as read). */
struct device_log {
    struct device_entry *v;
    size_t n, cap;
};

/*
 * Adds a `device` event (kind "device" with a detail that parses; any
 * other returns 0 and adds nothing): appended if newest_only is false;
 * otherwise it replaces the entry of the same bus and unit, so that the
 * log keeps the newest identity of each. A store_events() reader calls
 * it with the events in time order. Returns 1 if added, else 0.
 */
int device_log_event(struct device_log *l, int64_t ts_us, const char *kind,
                     const char *detail, bool newest_only);
/* Adds id as device_log_event() does. */
void device_log_put(struct device_log *l, int64_t ts_us,
                    const struct device_ident *id, const char *detail,
                    bool newest_only);
/* The last entry added of bus and unit that is at or before at_us
 * (INT64_MAX: of all times), or NULL: the newest, in a log of events
 * added in time order. Points into l: valid until it changes. */
const struct device_entry *device_log_at(const struct device_log *l,
                                         const char *bus, int unit,
                                         int64_t at_us);
/* Frees the entries; l is empty and usable again. */
void device_log_release(struct device_log *l);

#endif
