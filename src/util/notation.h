/* notation.h - dates and numbers as a source writes them (a field's format:, docs/config.md).
 *
 * A date format is a pattern in the manner of strftime: "%d/%m/%Y", "%d %b %Y %H:%M". It is
 * read here, not by strptime(), so that nothing depends on the process's locale: month names
 * are English, digits are ASCII, and a space in the pattern stands for one or more spaces or
 * tabs. A number format is a sample number that shows the notation: "1.234,50" means '.'
 * groups thousands and ',' marks decimals.
 *
 * What a reader writes is the form the mapper's types read (YYYY-MM-DD, an ISO 8601 date-time,
 * [-]digits[.digits]), so typing and canonical forms stay in one place (sync/map.c).
 * Pure functions; any thread. */
#ifndef FERRY_UTIL_NOTATION_H
#define FERRY_UTIL_NOTATION_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* The longest date format taken. */
#define FERRY_NOTATION_FORMAT_MAX 64

/* What a reader made of a value. */
typedef enum {
    FERRY_NOTATION_OK = 0,
    FERRY_NOTATION_NO_MATCH,   /* the text has another shape than the format */
    FERRY_NOTATION_NOT_A_DATE, /* the shape fits but the day does not exist (31/02/2024) */
    FERRY_NOTATION_NOMEM,      /* out could not grow */
} ferry_notation_result;

/* A number notation, from a sample. */
typedef struct {
    char group;   /* the thousands separator: '.', ',', ' ' (in the data also U+00A0 and
                     U+202F), '\'', or 0 for none */
    char decimal; /* the decimal mark: '.' or ',', or 0 when the sample shows none */
} ferry_number_notation;

/* Checks a date format for a date field (datetime false) or a date-time field. True when it
 * can be used; else false with a one-line reason in why (size bytes, NUL-terminated), such as
 * "unknown directive %Q". A date format needs a day, a month and a year; time directives are
 * read and dropped for a date field, and %z is refused there. */
bool ferry_notation_date_check(const char *format, bool datetime, char *why, size_t size);

/* Reads s (n bytes) written in format (a checked one) and appends it to out as YYYY-MM-DD or,
 * for a date-time, YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM] (no zone when the format has no
 * %z). */
ferry_notation_result ferry_notation_date_read(const char *format, bool datetime, const char *s,
                                               size_t n, ferry_buf *out);

/* Reads a sample number such as "1.234,50", "1,234.50", "1 234,50" or "1234,5" into *ret.
 * False with a reason in why when it is not one, or when it is ambiguous ("1.234": does '.'
 * group thousands or mark decimals?). For whole numbers (whole true) a lone '.' or ',' before
 * three digits groups thousands: an integer has no decimals to mark. */
bool ferry_notation_number_parse(const char *sample, bool whole, ferry_number_notation *ret,
                                 char *why, size_t size);

/* Reads s (n bytes) written in notation nn and appends it to out as [-]digits[.digits], a
 * fraction of zeros left out. Groups must be whole: after the first (one to three digits),
 * three digits each, so "1.5" does not pass for 15 under "1.234,50". The decimal part is
 * optional ("450.000" is 450000 there). Never FERRY_NOTATION_NOT_A_DATE. */
ferry_notation_result ferry_notation_number_read(const ferry_number_notation *nn, const char *s,
                                                 size_t n, ferry_buf *out);

#endif
