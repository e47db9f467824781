/* api_check.c - GET /api/syncs/{name}/check[?tenant=T]: a sync's connection check.
 *
 * The check reads a remote server's first page, which can take as long as the source's
 * timeout, so it never runs on an HTTP thread: the connection is suspended and the check runs
 * on a small pool of its own (CHECK_THREADS at once, CHECK_QUEUE waiting; past that, 503
 * busy). The pool's task resumes the connection and the handler, called again, answers. A
 * stopping server cancels checks in flight. The report never holds credentials: the source's
 * messages name URLs without user, password or query string. */
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "sync/check.h"
#include "target/tenants.h"

struct check_task {
    struct MHD_Connection *conn;
    struct ferry_server *srv;
    const ferry_config *cfg; /* the request's, which it holds until the check is answered */
    const ferry_sync_spec *sync;
    char tenant[80];
    bool has_tenant;
    ferry_check_report report;
    ferry_err err;
    ferry_rc rc;
    bool refused;
};

static void check_run(void *ctx)
{
    struct check_task *t = ctx;

    ferry_err_clear(&t->err);
    /* A tenant the sync's tenants.query does not name is refused, as a run of it would be. */
    if (t->sync->tenants.query != NULL && t->has_tenant)
        t->rc = ferry_tenants_allow(t->cfg, t->sync, t->tenant, &t->err);
    else
        t->rc = FERRY_OK;
    if (t->rc == FERRY_OK)
        t->rc = ferry_sync_check(t->cfg, t->sync, t->has_tenant ? t->tenant : NULL,
                                 &t->srv->stopping, &t->report, &t->err);
    MHD_resume_connection(t->conn);
}

void ferry_http_check_task_free(struct check_task *t)
{
    if (t == NULL)
        return;
    if (t->rc == FERRY_OK)
        ferry_check_report_done(&t->report);
    free(t);
}

static enum MHD_Result answer(struct MHD_Connection *conn, struct check_task *t)
{
    const ferry_check_report *r = &t->report;
    json_t *o;

    if (t->refused)
        return ferry_http_reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                                      "too many connection checks at once: try again in a moment");
    if (t->rc != FERRY_OK)
        return ferry_http_reply_error(
            conn, t->rc == FERRY_EINVAL ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR,
            t->rc == FERRY_EINVAL ? "bad_parameter" : "internal", "%s", t->err.msg);
    o = json_object();
    json_object_set_new(o, "sync", json_string(t->sync->name));
    json_object_set_new(o, "tenant", t->has_tenant ? json_string(t->tenant) : json_null());
    json_object_set_new(o, "ok", json_boolean(r->ok));
    json_object_set_new(o, "reachable", json_boolean(r->reachable));
    json_object_set_new(o, "auth_accepted", json_boolean(r->auth_accepted));
    json_object_set_new(o, "credentials_read", json_boolean(r->credentials_read));
    json_object_set_new(o, "status",
                        r->found.status > 0 ? json_integer(r->found.status) : json_null());
    json_object_set_new(o, "duration_ms", json_integer(r->duration_ms));
    json_object_set_new(o, "records",
                        r->error == NULL ? json_integer(r->found.records) : json_null());
    json_object_set_new(o, "total",
                        r->found.total >= 0 ? json_integer(r->found.total) : json_null());
    json_object_set_new(o, "unmapped",
                        ferry_http_strings_json(r->found.unmapped, r->found.nunmapped));
    json_object_set_new(o, "missing", ferry_http_strings_json(r->found.missing, r->found.nmissing));
    json_object_set_new(o, "error", r->error != NULL ? json_string(r->error) : json_null());
    return ferry_http_reply_json(conn, MHD_HTTP_OK, o);
}

enum MHD_Result ferry_http_get_check(struct ferry_server *srv, struct MHD_Connection *conn,
                                     request *req)
{
    const ferry_sync_spec *sync;
    const char *tenant, *why;
    enum MHD_Result ret = MHD_NO;
    struct check_task *t;

    if (req->check != NULL)
        return answer(conn, req->check);
    if ((sync = ferry_http_request_sync(srv, conn, req, &ret)) == NULL)
        return ret;
    tenant = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "tenant");
    if (tenant != NULL && tenant[0] == '\0')
        tenant = NULL;
    if ((why = ferry_sync_tenant_problem(sync, tenant)) != NULL)
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter", "sync '%s': %s",
                                      sync->name, why);
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return ferry_http_reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                      "out of memory");
    t->conn = conn;
    t->srv = srv;
    t->cfg = ferry_http_config();
    t->sync = sync;
    if (tenant != NULL) {
        snprintf(t->tenant, sizeof(t->tenant), "%s", tenant);
        t->has_tenant = true;
    }
    req->check = t;
    /* Suspended before the task is queued, so its resume always finds it suspended. */
    MHD_suspend_connection(conn);
    if (!ferry_taskpool_submit(srv->checking, check_run, t)) {
        t->refused = true;
        MHD_resume_connection(conn);
    }
    return MHD_YES;
}
