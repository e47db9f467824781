/* api_deliveries.c - what a run's end told the application: GET /api/runs/{id}/deliveries
 * (each delivery with its attempts) and POST /api/deliveries/{name}/redeliver (the same
 * delivery, sent again soon; audited).
 *
 * An endpoint is shown as the config names it now, without its secret: a webhook's URL
 * without user, password or query (ferry_url_redact), an e-mail endpoint's recipients. */
#include <stdio.h>
#include <string.h>

#include "events/run_json.h"
#include "http/internal.h"
#include "util/url.h"

/* The text naming endpoint i of the sync's notify: list, into out ("" when it is gone). */
static void endpoint_text(const ferry_config *cfg, const char *sync, int i, char *out,
                          size_t outlen)
{
    const ferry_notify_list *list = ferry_config_notify_get(cfg, ferry_config_sync_get(cfg, sync));
    const ferry_notify_spec *e;
    size_t n = 0;

    out[0] = '\0';
    if (i < 0 || (size_t)i >= list->n)
        return;
    e = &list->items[i];
    if (e->kind == FERRY_NOTIFY_WEBHOOK) {
        ferry_url_redact(e->url, out, outlen);
        return;
    }
    for (size_t k = 0; k < e->nto && n + 2 < outlen; k++)
        n += (size_t)snprintf(out + n, outlen - n, "%s%s", k > 0 ? ", " : "", e->to[k]);
}

enum MHD_Result ferry_http_get_deliveries(struct ferry_server *srv, struct MHD_Connection *conn,
                                          request *req)
{
    ferry_delivery *d = NULL;
    enum MHD_Result ret;
    ferry_run run;
    ferry_store *st;
    ferry_err err;
    json_t *list;
    size_t n = 0;

    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->runs->run_load(st, req->id, &run, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    if (!ferry_http_request_may_touch(srv, conn, req, run.sync, run.tenant, true, &ret)) {
        ferry_run_done(&run);
        return ret;
    }
    if (st->outbox->delivery_list(st, req->id, &d, &n, &err) != FERRY_OK) {
        ferry_run_done(&run);
        return ferry_http_reply_err(conn, &err);
    }
    list = json_array();
    for (size_t i = 0; i < n; i++) {
        char where[1024];
        endpoint_text(ferry_http_config(), run.sync, d[i].endpoint, where, sizeof(where));
        json_array_append_new(list, ferry_delivery_to_json(&d[i], where[0] ? where : NULL));
    }
    ferry_deliveries_free(d, n);
    ferry_run_done(&run);
    return ferry_http_reply_json(conn, MHD_HTTP_OK, json_pack("{s:o}", "deliveries", list));
}

enum MHD_Result ferry_http_post_redeliver(struct ferry_server *srv, struct MHD_Connection *conn,
                                          request *req)
{
    ferry_delivery d;
    enum MHD_Result ret;
    ferry_run run;
    ferry_store *st;
    ferry_err err;
    json_t *body;
    bool may;

    ferry_err_clear(&err);
    memset(&d, 0, sizeof(d));
    /* Loaded first: an embed token limited to some syncs or tenants redelivers only theirs. */
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->outbox->delivery_load(st, req->arg, &d, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    if (st->runs->run_load(st, d.run_id, &run, &err) != FERRY_OK) {
        ferry_delivery_done(&d);
        return ferry_http_reply_err(conn, &err);
    }
    may = ferry_http_request_may_touch(srv, conn, req, run.sync, run.tenant, true, &ret);
    ferry_run_done(&run);
    if (!may) {
        ferry_delivery_done(&d);
        return ret;
    }
    ferry_delivery_done(&d);
    if (st->outbox->delivery_redeliver(st, req->arg, &err) != FERRY_OK ||
        st->outbox->delivery_load(st, req->arg, &d, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    ferry_http_audit(srv, req, "delivery.redeliver", d.id, "run %lld, %s", (long long)d.run_id,
                     d.kind);
    body = ferry_delivery_to_json(&d, NULL);
    ferry_delivery_done(&d);
    return ferry_http_reply_json(conn, MHD_HTTP_ACCEPTED, body);
}

void ferry_http_run_deliveries_add(ferry_store *st, json_t *run_json, int64_t id)
{
    ferry_http_runs_deliveries_add(st, &run_json, &id, 1);
}

void ferry_http_runs_deliveries_add(ferry_store *st, json_t *const *run_json, const int64_t *ids,
                                    size_t n)
{
    ferry_delivery_summary *sums = calloc(n > 0 ? n : 1, sizeof(*sums));
    ferry_err err;

    ferry_err_clear(&err);
    if (sums != NULL && st->outbox->delivery_summary(st, ids, n, sums, &err) == FERRY_OK) {
        for (size_t i = 0; i < n; i++)
            if (run_json[i] != NULL)
                json_object_set_new(run_json[i], "deliveries",
                                    ferry_delivery_summary_to_json(&sums[i]));
    }
    free(sums);
}
