/* api_config.c - POST /api/config/reload: an administrator reloads the config file.
 *
 * The reload itself is the server's (ferry_server_reload(): the same as SIGHUP); this file
 * answers it and records it in the audit log as config.reload, with its outcome. */
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

enum MHD_Result ferry_http_post_config_reload(struct ferry_server *srv, struct MHD_Connection *conn,
                                              request *req)
{
    ferry_config_reload r;
    json_t *body;
    ferry_err err;

    ferry_err_clear(&err);
    if (ferry_server_reload(srv, req->who.user, &r, &err) != FERRY_OK) {
        ferry_http_audit(srv, req, "config.reload", "config", "refused: %s", err.msg);
        return ferry_http_reply_error(conn, MHD_HTTP_UNPROCESSABLE_CONTENT, "config", "%s",
                                      err.msg);
    }
    ferry_http_audit(srv, req, "config.reload", "config",
                     "reloaded: %zu syncs, %zu added, %zu removed, %zu warnings", r.nsyncs,
                     r.nadded, r.nremoved, r.nwarnings);
    body = json_pack("{s:o, s:o, s:o, s:o}", "syncs", ferry_http_strings_json(r.syncs, r.nsyncs),
                     "added", ferry_http_strings_json(r.added, r.nadded), "removed",
                     ferry_http_strings_json(r.removed, r.nremoved), "warnings",
                     ferry_http_strings_json(r.warnings, r.nwarnings));
    ferry_config_reload_done(&r);
    return ferry_http_reply_json(conn, MHD_HTTP_OK, body);
}
