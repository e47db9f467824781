/* check.h - checking a sync's connection without running it (ferry check NAME,
 * GET /api/syncs/{name}/check).
 *
 * Opens the source for the tenant, reads its first page (a CSV file is one page), and
 * reports what a person setting up a sync needs to know: can Ferry reach it, are the
 * credentials accepted, how many records came, what total the source states, which fields
 * the records have that the mapping does not use, and which mapped fields are missing.
 * Nothing is written anywhere. Runs on the calling thread. */
#ifndef FERRY_SYNC_CHECK_H
#define FERRY_SYNC_CHECK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "source/source.h"

typedef struct {
    bool ok;               /* reachable, accepted, read, and every mapped field found */
    bool reachable;        /* the source answered (a file: could be opened) */
    bool auth_accepted;    /* it did not answer 401 or 403, nor a token endpoint refuse */
    bool credentials_read; /* false: a credential's variable or file could not be read, so the
                              source was not tried (error says which) */
    int64_t duration_ms;
    ferry_source_check found; /* status, records, total, unmapped, missing */
    char *error;              /* why the source could not be read, or NULL */
} ferry_check_report;

/* Checks sync's source for tenant (NULL without tenants). Returns FERRY_OK with *ret filled
 * (owned: ferry_check_report_done()) whether or not the source could be read: a failure to
 * read it is the report's error. Errors only for a bad tenant or memory. */
ferry_rc ferry_sync_check(const ferry_config *cfg, const ferry_sync_spec *sync, const char *tenant,
                          const atomic_bool *cancel, ferry_check_report *ret, ferry_err *err);

void ferry_check_report_done(ferry_check_report *r);

/* Reads only the header of sync's source, as a run's start would, when that is cheap: a local
 * CSV file (a path or file:// URL without {variables}). FERRY_EHEADER with the run's message
 * when a column a field or a template reads is missing (or the header is otherwise refused);
 * FERRY_OK when the header fits, and also when it was not read (a URL, a REST source, a path
 * with variables, a file that cannot be opened now: a run reports those). Runs on the calling
 * thread; reads nothing past the header. */
ferry_rc ferry_sync_check_header(const ferry_config *cfg, const ferry_sync_spec *sync,
                                 ferry_err *err);

/* Whether the secrets sync's source would keep can be kept: a step with auth: oauth2 and
 * grant refresh_token needs the store key (store_key_env:) set and well-formed. FERRY_OK, or
 * FERRY_ECREDENTIAL naming the variable (never its value). Reads only the environment. */
ferry_rc ferry_sync_check_store_key(const ferry_config *cfg, const ferry_sync_spec *sync,
                                    ferry_err *err);

#endif
