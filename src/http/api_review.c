/* api_review.c - a person's decision on a run (docs/review.md): POST /api/runs/{id}/approve
 * and POST /api/runs/{id}/reject of a held run, and POST /api/runs/{id}/revert of a succeeded
 * one, each with an optional {"comment"} (at most 1,000 bytes; revert also takes "force").
 * All need the operator role; a held run that changes a protected field needs an admin to
 * approve it. An approval is queued for a worker, which applies the run's snapshots
 * (sync/hold.h); a revert runs here, in the request, as one transaction (sync/revert.h).
 * Each is audited with who and why. */
#include <string.h>

#include "events/metrics.h"
#include "http/internal.h"
#include "queue/queue.h"
#include "sync/revert.h"

#define COMMENT_MAX 1000

/* Reads the body's comment (NULL when absent or empty) and checks the caller may touch run
 * req->id (its sync and tenant, for an embed token): the store, or NULL with the answer
 * queued in *ret (400, 403, 404). */
static ferry_store *open_run(struct ferry_server *srv, struct MHD_Connection *conn, request *req,
                             const char **comment, enum MHD_Result *ret)
{
    ferry_store *st;
    ferry_run run;
    ferry_err err;
    bool allowed;

    *comment = NULL;
    if (!ferry_http_request_body(conn, req, true, ret) ||
        !ferry_http_request_string(conn, req, "comment", false, comment, ret))
        return NULL;
    if (*comment != NULL && strlen(*comment) > COMMENT_MAX) {
        *ret = ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "comment must be at most %d bytes", COMMENT_MAX);
        return NULL;
    }
    if (*comment != NULL && **comment == '\0')
        *comment = NULL;
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->runs->run_load(st, req->id, &run, &err) != FERRY_OK) {
        *ret = ferry_http_reply_err(conn, &err);
        return NULL;
    }
    allowed = ferry_http_request_may_touch(srv, conn, req, run.sync, run.tenant, true, ret);
    ferry_run_done(&run);
    return allowed ? st : NULL;
}

static enum MHD_Result decide(struct ferry_server *srv, struct MHD_Connection *conn, request *req,
                              bool approve)
{
    ferry_queue q = {srv->opt.hub, srv->opt.workers, srv->opt.bus};
    const char *comment;
    enum MHD_Result ret;
    ferry_store *st;
    ferry_run run;
    ferry_err err;
    ferry_rc rc;

    if ((st = open_run(srv, conn, req, &comment, &ret)) == NULL)
        return ret;
    ferry_queue_decision d = {.who = req->who.user,
                              .comment = comment,
                              .admin = req->who.role >= FERRY_ROLE_ADMIN,
                              .data_dir = ferry_http_config()->data_dir};
    ferry_err_clear(&err);
    rc = approve ? ferry_queue_run_approve(&q, st, &d, req->id, &run, &err)
                 : ferry_queue_run_reject(&q, st, &d, req->id, false, &run, &err);
    if (rc != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    json_t *body = ferry_run_to_json(&run, NULL);
    json_object_set_new(body, "message",
                        json_string(approve ? "Approved: applying the changes..."
                                            : "Rejected: nothing was applied."));
    ferry_run_done(&run);
    return ferry_http_reply_json(conn, approve ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK, body);
}

enum MHD_Result ferry_http_post_approve(struct ferry_server *srv, struct MHD_Connection *conn,
                                        request *req)
{
    return decide(srv, conn, req, true);
}

enum MHD_Result ferry_http_post_reject(struct ferry_server *srv, struct MHD_Connection *conn,
                                       request *req)
{
    return decide(srv, conn, req, false);
}

/* 201 with the revert run (succeeded, or failed with the reason), 409 when it is refused
 * (nothing changed), 404 for an unknown run. */
enum MHD_Result ferry_http_post_revert(struct ferry_server *srv, struct MHD_Connection *conn,
                                       request *req)
{
    ferry_queue q = {srv->opt.hub, srv->opt.workers, srv->opt.bus};
    ferry_revert_options opt = {0};
    const char *comment;
    enum MHD_Result ret;
    ferry_store *st;
    ferry_run run;
    ferry_err err;
    json_t *force, *body;

    if ((st = open_run(srv, conn, req, &comment, &ret)) == NULL)
        return ret;
    force = json_object_get(req->doc, "force");
    if (force != NULL && !json_is_boolean(force))
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "force must be true or false");
    opt.store = st;
    opt.config = ferry_http_config();
    opt.run_id = req->id;
    opt.force = force != NULL && json_is_true(force);
    opt.comment = comment;
    opt.user = req->who.user;
    opt.token = req->who.token_label;
    opt.actor = req->who.user;
    opt.client = req->client;
    ferry_err_clear(&err);
    if (ferry_sync_revert(&opt, &run, &err) != FERRY_OK)
        return err.code == FERRY_EINVAL
                   ? ferry_http_reply_error(conn, MHD_HTTP_CONFLICT, "refused", "%s", err.msg)
                   : ferry_http_reply_err(conn, &err);
    ferry_metrics_run_finished(&run, true);
    ferry_queue_publish(&q, "run.finished", &run, NULL);
    body = ferry_run_to_json(&run, NULL);
    ferry_run_done(&run);
    return ferry_http_reply_json(conn, MHD_HTTP_CREATED, body);
}
