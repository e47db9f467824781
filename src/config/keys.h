/* keys.h - config keys as data (internal to config/).
 *
 * A mapping with fixed keys is a table of struct key_rule rows, one per key: its name, the
 * kind of value it takes, where the value goes (an offset into the struct the table fills),
 * its bounds, its default and its flags. ferry_config_table_walk() hands each key of the
 * mapping to the one handler of its row's kind, rejects keys that have no row (listing the
 * table's names) and reports required rows that never appeared. A key that needs more than
 * its kind gives has a handler of its own: fn, run instead of the kind's handler for
 * FERRY_KEY_CUSTOM rows, and after it (to check the stored value) for the others.
 *
 * Adding a key is adding a row; see the tables in config.c (top level), sync_section.c
 * (syncs.NAME and below) and source_section.c (syncs.NAME.source). */
#ifndef FERRY_CONFIG_KEYS_H
#define FERRY_CONFIG_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "config/walk.h"

typedef enum {
    FERRY_KEY_CUSTOM = 0, /* fn does it all */
    FERRY_KEY_STRING,     /* char *: a non-empty string; default def_text */
    FERRY_KEY_TEXT,       /* char *: a string that may be empty */
    FERRY_KEY_POINTER,    /* char *: a JSON pointer, compiled once to check it */
    FERRY_KEY_STRINGS,    /* char ** and its length (size_t at count_offset): a list of strings */
    FERRY_KEY_BOOL,       /* bool; default def */
    FERRY_KEY_INT,        /* int from min to max; default def */
    FERRY_KEY_LONG,       /* long from min to max; default def */
    FERRY_KEY_DURATION,   /* long, in ms: from min to max, any when max is 0; default def */
    FERRY_KEY_SIZE,       /* size_t, in bytes: from 1 to max (written what); default def */
    FERRY_KEY_ENUM,       /* an enum: names[i] is the value i, from min on; default def */
    FERRY_KEY_TABLE,      /* a mapping of the rows sub, filling the struct at offset */
} ferry_config_key_kind;

#define FERRY_KEY_REQUIRED 0x01u /* a mapping without the key is an error */
#define FERRY_KEY_REST 0x02u     /* only REST sources take it */
#define FERRY_KEY_CSV 0x04u      /* only CSV sources take it */
#define FERRY_KEY_ONE_OK 0x08u   /* strings: a single scalar is a list of one */
#define FERRY_KEY_NOCASE 0x10u   /* strings: repeats are found ignoring case */
#define FERRY_KEY_UNLISTED 0x20u /* enums: an unknown value's message does not list the names */
#define FERRY_KEY_ZERO_OK 0x40u  /* durations: 0 (or 0s) is taken, as none */

#define FERRY_KEY_TABLE_MAX 64 /* rows in one table */

struct key_rule;

/* A row's own handler. obj is what the table's walk was given for such handlers (a walk
 * state), data the struct the rows' offsets point into. */
typedef ferry_rc (*key_handler)(struct walk *w, const struct val *v, const struct key_rule *rule,
                                void *obj, void *data);

/* One row of a fixed-key mapping's schema: one key. */
struct key_rule {
    const char *name;
    ferry_config_key_kind kind;
    unsigned flags;       /* FERRY_KEY_... */
    size_t offset;        /* of the value's member in data */
    size_t count_offset;  /* FERRY_KEY_STRINGS: of the list's length */
    long min, max;        /* bounds of numbers, durations (ms) and sizes (bytes) */
    long def;             /* the default of a bool, number, duration, size or enum */
    const char *def_text; /* the default of a string */
    const char *what;     /* sizes: max as written ("256MiB"); enums: what the value is ("type");
                             custom rows: theirs to use */
    const char *const *names; /* enums */
    size_t nnames;
    const struct key_rule *sub; /* tables */
    size_t nsub;
    key_handler fn; /* FERRY_KEY_CUSTOM: the handler; else a check run once stored, or NULL */
};

/* What one table walk met: the value of each row given (bit i of given for row i) and the
 * rows in document order. */
struct key_seen {
    uint64_t given;
    struct val vals[FERRY_KEY_TABLE_MAX];
    unsigned char order[FERRY_KEY_TABLE_MAX];
    size_t n;
};

/* Walks a mapping with fixed keys: each key goes to its row (see above). seen may be NULL. */
ferry_rc ferry_config_table_walk(struct walk *w, const struct val *map,
                                 const struct key_rule *rules, size_t nrules, void *obj, void *data,
                                 struct key_seen *seen);

/* Sets the defaults of the rows that have one in data. False when memory runs out. */
bool ferry_config_table_defaults(const struct key_rule *rules, size_t nrules, void *data);

/* The value of the row named name when the walk met it, else NULL. */
const struct val *ferry_config_seen_get(const struct key_seen *seen, const struct key_rule *rules,
                                        size_t nrules, const char *name);

/* The first row (in document order) the walk met whose flags include flag, or -1. */
long ferry_config_seen_first(const struct key_seen *seen, const struct key_rule *rules,
                             unsigned flag);

/* Compiles text as a JSON pointer to check it; the message names the key. */
ferry_rc ferry_config_pointer_check(struct walk *w, int line, const char *text);

/* Checks of the values of rows that two tables share, for their fn. */

/* sqlite:PATH, or a postgres:// or postgresql:// URL. */
bool ferry_config_database_is_valid(const char *s);

/* The top level's table (config.c), for ferry config's listing of defaults. */
const struct key_rule *ferry_config_top_rules_get(size_t *ret_n);

/* A database URL (database:, target.database:): sqlite:PATH or a postgres:// URL. */
ferry_rc ferry_config_database_check(struct walk *w, const struct val *v,
                                     const struct key_rule *rule, void *obj, void *data);

/* timezone: an IANA zone name that tzdata has ("Asia/Jakarta", "UTC"). */
ferry_rc ferry_config_timezone_check(struct walk *w, const struct val *v,
                                     const struct key_rule *rule, void *obj, void *data);

/* allow_hosts: host names or literal addresses (no scheme, port or path); lowers their case. */
ferry_rc ferry_config_hosts_check(struct walk *w, const struct val *v, const struct key_rule *rule,
                                  void *obj, void *data);

/* A table, field or column name (what: "table", "column"). */
ferry_rc ferry_config_identifier_key_check(struct walk *w, const struct val *v,
                                           const struct key_rule *rule, void *obj, void *data);

/* The member of data at offset. */
#define FERRY_KEY_MEMBER(type, data, offset) ((type *)(void *)((char *)(data) + (offset)))

#endif
