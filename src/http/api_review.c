/* api_review.c - a person's decision on a held run (docs/review.md): POST
 * /api/runs/{id}/approve and POST /api/runs/{id}/reject, each with an optional {"comment"}.
 * Both need the operator role; a run that changes a protected field needs an admin to approve
 * it. An approval is queued for a worker, which applies the run's snapshots (sync/hold.h);
 * the decision is audited with who and why (queue/queue.c). */
#include "http/internal.h"
#include "queue/queue.h"

static enum MHD_Result decide(struct ferry_server *srv, struct MHD_Connection *conn, request *req,
                              bool approve)
{
    ferry_queue q = {srv->opt.hub, srv->opt.workers, srv->opt.bus};
    const char *comment = NULL;
    enum MHD_Result ret;
    ferry_store *st;
    ferry_run run;
    ferry_err err;
    ferry_rc rc;
    bool allowed;

    if (!ferry_http_request_body(conn, req, true, &ret) ||
        !ferry_http_request_string(conn, req, "comment", false, &comment, &ret))
        return ret;
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->runs->run_load(st, req->id, &run, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    allowed = ferry_http_request_may_touch(srv, conn, req, run.sync, run.tenant, true, &ret);
    ferry_run_done(&run);
    if (!allowed)
        return ret;
    ferry_queue_decision d = {.who = req->who.user,
                              .comment = comment != NULL && *comment != '\0' ? comment : NULL,
                              .admin = req->who.role >= FERRY_ROLE_ADMIN,
                              .data_dir = srv->opt.config->data_dir};
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
