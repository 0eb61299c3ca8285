/* SPDX-License-Identifier: MIT */
/*
 * Checks of text that users give the configuration and the CLI and that
 * ends up in the database, the export and MQTT payloads: names that are
 * safe everywhere (file names, topics, CSV) and free text that is valid
 * UTF-8 without control characters. Pure functions of their arguments:
 * they allocate nothing, cannot fail, and are thread-safe. s is never NULL.
 */
#ifndef TBDAQ_TEXT_H
#define TBDAQ_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True if s is 1..max characters, each one of [A-Za-z0-9_.-]. A caller
 * that allows no '.' (the configuration's site) checks that itself. */
bool text_is_name(const char *s, size_t max);

/*
 * True if s is at most max bytes of valid UTF-8 (shortest forms only, no
 * surrogates, nothing above U+10FFFF) holding no control character
 * (U+0000..U+001F, U+007F..U+009F). The empty string is clean.
 */
bool text_is_clean(const char *s, size_t max);

/* True if every byte of s is printable ASCII (0x20..0x7e): what MQTT
 * client ids and certificate numbers may hold. The empty string is. */
bool text_is_printable_ascii(const char *s);

#endif
