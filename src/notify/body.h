/* body.h - what a delivery sends, built from the store when it is sent (internal to notify/).
 *
 * Outbox rows hold no copy of the data: each attempt reads the run (and its changes) again,
 * so a redelivery sends what the store holds, with the same delivery id. */
#ifndef FERRY_NOTIFY_BODY_H
#define FERRY_NOTIFY_BODY_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "util/err.h"

/* The run delivery's body, {"type": "run.finished", "delivery_id", "run": {the API's run,
 * "deliveries": summary, "url"}}, malloc'd into *ret (the caller frees it). */
ferry_rc ferry_notify_run_body(ferry_store *st, const ferry_config *cfg, const ferry_delivery *d,
                               const ferry_run *run, char **ret, ferry_err *err);

/* A records batch's body, {"type": "run.records", "delivery_id", "run_id", "seq", "last",
 * "records": [{"step", "key", "outcome", "diff"}]}: at most batch records (created, updated,
 * deleted, flagged) after change d->from_seq, in source order. *ret_last says whether it is
 * the last batch, *ret_end the seq of its last change (where the next batch starts). */
ferry_rc ferry_notify_records_body(ferry_store *st, const ferry_sync_spec *sync,
                                   const ferry_delivery *d, long batch, char **ret, bool *ret_last,
                                   int64_t *ret_end, ferry_err *err);

/* An e-mail's subject and plain-text body for run: the summary line, the failed records'
 * reasons (the first 20) and the run's link. Both malloc'd (the caller frees them). */
ferry_rc ferry_notify_email_text(ferry_store *st, const ferry_config *cfg,
                                 const ferry_sync_spec *sync, const ferry_run *run,
                                 char **ret_subject, char **ret_text, ferry_err *err);

/* The run's page link: "{public_url}/#/runs/{id}" into out. */
void ferry_notify_run_url(const ferry_config *cfg, int64_t id, char *out, size_t outlen);

#endif
