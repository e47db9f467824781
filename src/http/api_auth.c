/* api_auth.c - logging in and out, who am I, and the admin routes for users, tokens and the
 * audit log (docs/api.md, "Users and sessions").
 *
 * Logging in: the throttle is asked first (429 while the user name from this address, the user
 * name, or the address is locked out; the attempt counts as a failure from then on, until it
 * succeeds), then the user is looked up and the password verified on the hashing pool with the
 * connection suspended. A user who does not exist or is disabled is verified against a dummy
 * hash, so every failure costs the same and reads the same: "wrong user name or password".
 * Success rotates the session: a new id is made, the one the browser presented is deleted.
 *
 * Handlers that hash run twice: the first call queues the work and returns; the second
 * (req->task set and done) finishes. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/names.h"
#include "http/internal.h"
#include "util/log.h"
#include "util/password.h"
#include "util/timeutil.h"

/* ---- JSON of users, tokens and audit entries ---- */

static json_t *time_json(int64_t ms)
{
    char iso[FERRY_ISO_TIME_MAX];

    if (ms <= 0)
        return json_null();
    ferry_time_format_iso(ms, iso);
    return json_string(iso);
}

static json_t *user_json(const ferry_user *u)
{
    return json_pack("{s:s, s:s, s:b, s:o, s:o}", "name", u->name, "role", ferry_role_name(u->role),
                     "disabled", u->disabled, "created_at", time_json(u->created_at_ms),
                     "password_changed_at", time_json(u->password_changed_at_ms));
}

static json_t *token_json(const ferry_token *t)
{
    return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)t->id, "user", t->user,
                     "name", t->label, "created_at", time_json(t->created_at_ms), "last_used_at",
                     time_json(t->last_used_at_ms), "revoked_at", time_json(t->revoked_at_ms));
}

static json_t *audit_json(const ferry_audit_entry *e)
{
    return json_pack("{s:I, s:o, s:s?, s:s, s:s?, s:s?, s:s?}", "id", (json_int_t)e->id, "at",
                     time_json(e->at_ms), "actor", e->actor, "action", e->action, "target",
                     e->target, "detail", e->detail, "client", e->client);
}

/* ---- sessions ---- */

/* The Set-Cookie value of a new session, or of its removal when id is NULL. Secure when the
 * server speaks HTTPS itself (tls:) or the request came through a TLS proxy
 * (X-Forwarded-Proto: https). */
static void session_cookie(struct ferry_server *srv, struct MHD_Connection *conn, const char *id,
                           char *out, size_t outlen)
{
    const char *proto = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-Proto");
    bool secure = srv->https || (proto != NULL && strcasecmp(proto, "https") == 0);
    const ferry_config *cfg = ferry_http_config();
    const char *base = cfg->base_path;

    /* Under base_path the cookie stays there: the host application's own pages on the same
     * host never receive it. */
    snprintf(out, outlen, "%s=%s; Path=%s/; HttpOnly; SameSite=Strict; Max-Age=%ld%s",
             FERRY_SESSION_COOKIE, id != NULL ? id : "", base != NULL ? base : "",
             id != NULL ? cfg->session_max_ms / 1000 : 0L, secure ? "; Secure" : "");
}

/* Starts a session for user: stores it, deletes the one the request came with (rotation),
 * and fills cookie and csrf. */
static ferry_rc session_start(struct ferry_server *srv, struct MHD_Connection *conn,
                              ferry_store *st, const char *user, char *cookie, size_t cookielen,
                              char csrf[FERRY_CSRF_MAX], ferry_err *err)
{
    const char *old = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, FERRY_SESSION_COOKIE);
    const ferry_config *cfg = ferry_http_config();
    char id[FERRY_SESSION_ID_MAX], hash[FERRY_TOKEN_HASH_HEX];
    ferry_rc rc;

    if (old != NULL && ferry_session_id_ok(old)) {
        ferry_token_hash(old, hash);
        st->people->session_delete(st, hash, err);
        ferry_err_clear(err);
    }
    st->people->session_purge(st, cfg->session_idle_ms, cfg->session_max_ms, err);
    ferry_err_clear(err);
    if ((rc = ferry_session_new(id, hash, err)) != FERRY_OK ||
        (rc = st->people->session_add(st, user, hash, err)) != FERRY_OK) {
        ferry_password_wipe(id, sizeof(id));
        return rc;
    }
    session_cookie(srv, conn, id, cookie, cookielen);
    ferry_session_csrf(id, csrf);
    ferry_password_wipe(id, sizeof(id));
    return FERRY_OK;
}

static void lower_key(const char *prefix, const char *s, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "%s", prefix);

    for (; *s != '\0' && n + 1 < outlen; s++)
        out[n++] = (char)tolower((unsigned char)*s);
    out[n < outlen ? n : outlen - 1] = '\0';
}

static enum MHD_Result reply_busy(struct MHD_Connection *conn)
{
    return ferry_http_reply_json_header(
        conn, MHD_HTTP_SERVICE_UNAVAILABLE,
        ferry_http_error_body("busy",
                              "too many passwords are being checked right now; try again in a "
                              "second"),
        "Retry-After", "1");
}

static enum MHD_Result reply_throttled(struct MHD_Connection *conn, int64_t wait_ms)
{
    char retry[32], msg[160];

    snprintf(retry, sizeof(retry), "%lld", (long long)((wait_ms + 999) / 1000));
    snprintf(msg, sizeof(msg), "too many failed logins; try again in %s s", retry);
    return ferry_http_reply_json_header(conn, MHD_HTTP_TOO_MANY_REQUESTS,
                                        ferry_http_error_body("throttled", msg), "Retry-After",
                                        retry);
}

/* The throttle keys of a login attempt (see server.c for their policies): the user name
 * (lower case) from the request's address, the user name from anywhere, and the address. */
typedef struct {
    char pair[FERRY_IPNET_ADDR_MAX + FERRY_USER_NAME_MAX + 8];
    char user[FERRY_USER_NAME_MAX + 8];
} login_keys;

static void login_keys_init(login_keys *k, const request *req, const char *user)
{
    char prefix[FERRY_IPNET_ADDR_MAX + 8];

    lower_key("user:", user, k->user, sizeof(k->user));
    snprintf(prefix, sizeof(prefix), "%s|user:", req->client);
    lower_key(prefix, user, k->pair, sizeof(k->pair));
}

/* Starts a login attempt: 0 when it may go on (it is counted as a failure until it
 * succeeds: login_succeeded()), else how long the longest lock of its keys still lasts.
 * Counting before the password check means a burst of attempts sent at once meets the lock
 * after the free ones, instead of all passing before the first failure is recorded. */
static int64_t login_start(struct ferry_server *srv, const request *req, const login_keys *k)
{
    int64_t now = ferry_time_now_ms(), wait;

    if ((wait = ferry_throttle_take(srv->throttle_pair, k->pair, now)) > 0)
        goto locked;
    if ((wait = ferry_throttle_take(srv->throttle_user, k->user, now)) > 0) {
        ferry_throttle_refund(srv->throttle_pair, k->pair);
        goto locked;
    }
    if ((wait = ferry_throttle_take(srv->throttle_address, req->client, now)) > 0) {
        ferry_throttle_refund(srv->throttle_pair, k->pair);
        ferry_throttle_refund(srv->throttle_user, k->user);
        goto locked;
    }
    return 0;

locked : {
    int64_t a = ferry_throttle_wait_ms(srv->throttle_pair, k->pair, now);
    int64_t b = ferry_throttle_wait_ms(srv->throttle_user, k->user, now);
    int64_t c = ferry_throttle_wait_ms(srv->throttle_address, req->client, now);
    wait = wait > a ? wait : a;
    wait = wait > b ? wait : b;
    return wait > c ? wait : c;
}
}

/* An attempt started by login_start() that was not a failure after all (the password was
 * never checked: the pool was full, the store failed). */
static void login_not_tried(struct ferry_server *srv, const request *req, const login_keys *k)
{
    ferry_throttle_refund(srv->throttle_pair, k->pair);
    ferry_throttle_refund(srv->throttle_user, k->user);
    ferry_throttle_refund(srv->throttle_address, req->client);
}

/* The password was right: this address's count for the name starts over; the name's and the
 * address's counts lose this attempt only (what others did from elsewhere still counts). */
static void login_succeeded(struct ferry_server *srv, const request *req, const login_keys *k)
{
    ferry_throttle_reset(srv->throttle_pair, k->pair);
    ferry_throttle_refund(srv->throttle_user, k->user);
    ferry_throttle_refund(srv->throttle_address, req->client);
}

/* Starts verifying password against user's hash (or the dummy hash when there is no such
 * enabled user) with kind; false (answer queued in *ret) when that could not start. */
static bool start_verify(struct ferry_server *srv, struct MHD_Connection *conn, request *req,
                         pw_kind kind, const char *user, const char *password,
                         const char *new_password, enum MHD_Result *ret)
{
    pw_task *t = calloc(1, sizeof(*t));
    ferry_user u;
    ferry_store *st;
    ferry_err err;

    if (t == NULL) {
        *ret = MHD_NO;
        return false;
    }
    t->kind = kind;
    snprintf(t->password, sizeof(t->password), "%s", password);
    if (new_password != NULL)
        snprintf(t->new_password, sizeof(t->new_password), "%s", new_password);
    snprintf(t->hash, sizeof(t->hash), "%s", srv->dummy_hash);
    ferry_err_clear(&err);
    memset(&u, 0, sizeof(u));
    if ((st = ferry_http_store(srv, &err)) == NULL) {
        free(t);
        *ret = ferry_http_reply_err(conn, &err);
        return false;
    }
    if (st->people->user_load(st, user, &u, &err) == FERRY_OK && !u.disabled) {
        snprintf(t->hash, sizeof(t->hash), "%s", u.password_hash);
        t->user_ok = true;
    } else if (err.code != FERRY_OK && err.code != FERRY_ENOTFOUND) {
        ferry_user_done(&u);
        free(t);
        *ret = ferry_http_reply_err(conn, &err);
        return false;
    }
    ferry_user_done(&u);
    ferry_http_run_task(srv, conn, req, t);
    *ret = MHD_YES;
    return true;
}

enum MHD_Result ferry_http_post_login(struct ferry_server *srv, struct MHD_Connection *conn,
                                      request *req)
{
    const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    const char *user = NULL, *password = NULL;
    char cookie[256], csrf[FERRY_CSRF_MAX];
    enum MHD_Result ret = MHD_NO;
    login_keys keys;
    ferry_user u;
    ferry_store *st;
    ferry_err err;
    int64_t wait;

    if (req->task == NULL) {
        /* A JSON body cannot be sent cross-site without the browser asking first (CORS), so
         * a third-party page cannot log a browser in to an account of its choosing. */
        if (ctype == NULL || strncasecmp(ctype, "application/json", 16) != 0)
            return ferry_http_reply_error(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                          "unsupported_media_type",
                                          "send the login as Content-Type: application/json");
    }
    if (!ferry_http_request_body(conn, req, false, &ret) ||
        !ferry_http_request_string(conn, req, "user", true, &user, &ret) ||
        !ferry_http_request_string(conn, req, "password", true, &password, &ret))
        return ret;
    if (user[0] == '\0' || strlen(user) > FERRY_USER_NAME_MAX || password[0] == '\0' ||
        strlen(password) > FERRY_PASSWORD_MAX)
        return ferry_http_reply_error(
            conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
            "user (1 to %d characters) and password (1 to %d) are required", FERRY_USER_NAME_MAX,
            FERRY_PASSWORD_MAX);
    login_keys_init(&keys, req, user);
    if (req->task == NULL) {
        if ((wait = login_start(srv, req, &keys)) > 0) {
            ferry_log(FERRY_LOG_WARN, "msg=\"login throttled\" client=%s", req->client);
            return reply_throttled(conn, wait);
        }
        if (!start_verify(srv, conn, req, PW_VERIFY, user, password, NULL, &ret))
            login_not_tried(srv, req, &keys);
        return ret;
    }
    if (req->task->refused) {
        login_not_tried(srv, req, &keys);
        return reply_busy(conn);
    }
    if (!req->task->verified || !req->task->user_ok) {
        /* Counted as a failure when it started. */
        ferry_log(FERRY_LOG_WARN, "msg=\"login failed\" client=%s", req->client);
        ferry_http_audit(srv, req, "login.failed", user, "wrong user name or password");
        return ferry_http_reply_error(conn, MHD_HTTP_UNAUTHORIZED, "login_failed",
                                      "wrong user name or password");
    }
    login_succeeded(srv, req, &keys);
    ferry_err_clear(&err);
    memset(&u, 0, sizeof(u));
    if ((st = ferry_http_store(srv, &err)) == NULL || st->people->user_load(st, user, &u, &err) ||
        session_start(srv, conn, st, u.name, cookie, sizeof(cookie), csrf, &err) != FERRY_OK) {
        ferry_user_done(&u);
        if (err.code == FERRY_ENOTFOUND) /* disabled or removed a moment ago */
            return ferry_http_reply_error(conn, MHD_HTTP_UNAUTHORIZED, "login_failed",
                                          "wrong user name or password");
        return ferry_http_reply_err(conn, &err);
    }
    req->authed = true;
    req->who.user = strdup(u.name);
    req->who.role = u.role;
    ferry_http_audit(srv, req, "login", u.name, NULL);
    ferry_log(FERRY_LOG_INFO, "msg=\"login\" user=\"%s\" client=%s", u.name, req->client);
    ret =
        ferry_http_reply_json_header(conn, MHD_HTTP_OK,
                                     json_pack("{s:{s:s, s:s}, s:s}", "user", "name", u.name,
                                               "role", ferry_role_name(u.role), "csrf_token", csrf),
                                     "Set-Cookie", cookie);
    ferry_user_done(&u);
    ferry_password_wipe(cookie, sizeof(cookie));
    return ret;
}

enum MHD_Result ferry_http_post_logout(struct ferry_server *srv, struct MHD_Connection *conn,
                                       request *req)
{
    char cookie[256];
    ferry_store *st;
    ferry_err err;

    if (!req->by_cookie)
        return ferry_http_reply_error(
            conn, MHD_HTTP_BAD_REQUEST, "not_a_session",
            "an API token is not a session: an admin revokes it with DELETE "
            "/api/tokens/ID");
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->people->session_delete(st, req->cred_hash, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    ferry_http_auth_changed(srv);
    ferry_http_audit(srv, req, "logout", req->who.user, NULL);
    session_cookie(srv, conn, NULL, cookie, sizeof(cookie));
    return ferry_http_reply_json_header(
        conn, MHD_HTTP_OK, json_pack("{s:s}", "message", "Logged out."), "Set-Cookie", cookie);
}

enum MHD_Result ferry_http_get_me(struct ferry_server *srv, struct MHD_Connection *conn,
                                  request *req)
{
    static const char *const kinds[] = {"token", "session", "embed", "header"};
    json_t *body = json_pack("{s:{s:s, s:s}, s:s}", "user", "name", req->who.user, "role",
                             ferry_role_name(req->who.role), "auth", kinds[req->auth_kind]);

    (void)srv;
    if (req->auth_kind == FERRY_HTTP_AUTH_EMBED) {
        json_t *limits = json_object();
        json_t *syncs = json_array(), *tenants = json_array();
        for (size_t i = 0; i < req->embed->nsyncs; i++)
            json_array_append_new(syncs, json_string(req->embed->syncs[i]));
        for (size_t i = 0; i < req->embed->ntenants; i++)
            json_array_append_new(tenants, json_string(req->embed->tenants[i]));
        json_object_set_new(limits, "syncs", req->embed->limit_syncs ? syncs : json_null());
        json_object_set_new(limits, "tenants", req->embed->limit_tenants ? tenants : json_null());
        if (!req->embed->limit_syncs)
            json_decref(syncs);
        if (!req->embed->limit_tenants)
            json_decref(tenants);
        json_object_set_new(body, "token", json_null());
        json_object_set_new(body, "embed", limits);
        json_object_set_new(body, "expires_at", ferry_json_time(req->embed->exp * 1000));
    } else if (req->auth_kind == FERRY_HTTP_AUTH_HEADER) {
        /* Any value will do: what proves the page is Ferry's is that it could add a header. */
        json_object_set_new(body, "csrf_token", json_string("proxy"));
        json_object_set_new(body, "token", json_null());
    } else if (req->by_cookie) {
        char csrf[FERRY_CSRF_MAX];
        ferry_session_csrf(req->session_id, csrf);
        json_object_set_new(body, "csrf_token", json_string(csrf));
        json_object_set_new(body, "token", json_null());
    } else {
        json_object_set_new(body, "token",
                            json_pack("{s:I, s:s}", "id", (json_int_t)req->who.token_id, "name",
                                      req->who.token_label));
    }
    return ferry_http_reply_json(conn, MHD_HTTP_OK, body);
}

enum MHD_Result ferry_http_post_me_password(struct ferry_server *srv, struct MHD_Connection *conn,
                                            request *req)
{
    const char *current = NULL, *next = NULL;
    char cookie[256], csrf[FERRY_CSRF_MAX];
    enum MHD_Result ret = MHD_NO;
    login_keys keys;
    ferry_store *st;
    ferry_err err;
    int64_t wait;

    if (!req->by_cookie)
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "not_a_session",
                                      "change a password from a login session, or ask an admin");
    if (!ferry_http_request_body(conn, req, false, &ret) ||
        !ferry_http_request_string(conn, req, "current_password", true, &current, &ret) ||
        !ferry_http_request_string(conn, req, "new_password", true, &next, &ret))
        return ret;
    if (strlen(current) > FERRY_PASSWORD_MAX || strlen(next) > FERRY_PASSWORD_MAX ||
        strlen(next) < FERRY_PASSWORD_MIN)
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "a new password has %d to %d characters", FERRY_PASSWORD_MIN,
                                      FERRY_PASSWORD_MAX);
    login_keys_init(&keys, req, req->who.user);
    if (req->task == NULL) {
        if ((wait = login_start(srv, req, &keys)) > 0)
            return reply_throttled(conn, wait);
        if (!start_verify(srv, conn, req, PW_VERIFY_THEN_HASH, req->who.user, current, next, &ret))
            login_not_tried(srv, req, &keys);
        return ret;
    }
    if (req->task->refused) {
        login_not_tried(srv, req, &keys);
        return reply_busy(conn);
    }
    if (!req->task->verified) {
        ferry_http_audit(srv, req, "user.passwd.failed", req->who.user,
                         "the current password was wrong");
        return ferry_http_reply_error(conn, MHD_HTTP_FORBIDDEN, "wrong_password",
                                      "the current password is wrong");
    }
    login_succeeded(srv, req, &keys);
    if (req->task->err.code != FERRY_OK)
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter", "%s",
                                      req->task->err.msg);
    ferry_err_clear(&err);
    /* Setting the password ends every session of the user, this one too: this browser gets
     * a new one. */
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->people->user_set_password(st, req->who.user, req->task->new_hash, &err) != FERRY_OK ||
        session_start(srv, conn, st, req->who.user, cookie, sizeof(cookie), csrf, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    ferry_http_auth_changed(srv);
    ferry_http_audit(srv, req, "user.passwd", req->who.user, "changed their own password");
    ret = ferry_http_reply_json_header(
        conn, MHD_HTTP_OK,
        json_pack("{s:s, s:s}", "message", "Password changed. Other sessions were logged out.",
                  "csrf_token", csrf),
        "Set-Cookie", cookie);
    ferry_password_wipe(cookie, sizeof(cookie));
    return ret;
}

/* ---- /api/users ---- */

enum MHD_Result ferry_http_get_users(struct ferry_server *srv, struct MHD_Connection *conn,
                                     request *req)
{
    ferry_user *users = NULL;
    ferry_store *st;
    ferry_err err;
    size_t n = 0;
    json_t *list;

    (void)req;
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->people->user_list(st, &users, &n, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, user_json(&users[i]));
    ferry_users_free(users, n);
    return ferry_http_reply_json(conn, MHD_HTTP_OK, json_pack("{s:o}", "users", list));
}

/* False (with a 400 queued) when password is shorter or longer than a password may be. */
static bool password_length_ok(struct MHD_Connection *conn, const char *password,
                               enum MHD_Result *ret)
{
    size_t n = strlen(password);

    if (n >= FERRY_PASSWORD_MIN && n <= FERRY_PASSWORD_MAX)
        return true;
    *ret = ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                  "a password has %d to %d characters", FERRY_PASSWORD_MIN,
                                  FERRY_PASSWORD_MAX);
    return false;
}

/* Queues hashing of password for a user route; the handler is called again when done. */
static enum MHD_Result start_hash(struct ferry_server *srv, struct MHD_Connection *conn,
                                  request *req, const char *password)
{
    pw_task *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return MHD_NO;
    t->kind = PW_HASH;
    snprintf(t->password, sizeof(t->password), "%s", password);
    ferry_http_run_task(srv, conn, req, t);
    return MHD_YES;
}

static enum MHD_Result reply_user(struct ferry_server *srv, struct MHD_Connection *conn,
                                  unsigned status, const char *name)
{
    ferry_user u;
    ferry_store *st;
    ferry_err err;
    json_t *body;

    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL || st->people->user_load(st, name, &u, &err))
        return ferry_http_reply_err(conn, &err);
    body = user_json(&u);
    ferry_user_done(&u);
    return ferry_http_reply_json(conn, status, body);
}

enum MHD_Result ferry_http_post_user(struct ferry_server *srv, struct MHD_Connection *conn,
                                     request *req)
{
    const char *name = NULL, *role_name = NULL, *password = NULL;
    enum MHD_Result ret = MHD_NO;
    ferry_role role;
    ferry_store *st;
    ferry_err err;

    if (!ferry_http_request_body(conn, req, false, &ret) ||
        !ferry_http_request_string(conn, req, "name", true, &name, &ret) ||
        !ferry_http_request_string(conn, req, "role", true, &role_name, &ret) ||
        !ferry_http_request_string(conn, req, "password", true, &password, &ret))
        return ret;
    if (!ferry_user_name_ok(name))
        return ferry_http_reply_error(
            conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
            "a user name has 1 to 64 letters, digits, '.', '_', '@' or '-'");
    if (!ferry_role_parse(role_name, &role))
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "role must be viewer, operator or admin");
    if (!password_length_ok(conn, password, &ret))
        return ret;
    if (req->task == NULL)
        return start_hash(srv, conn, req, password);
    if (req->task->refused)
        return reply_busy(conn);
    ferry_err_clear(&err);
    if (req->task->err.code != FERRY_OK)
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter", "%s",
                                      req->task->err.msg);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->people->user_add(st, name, role, req->task->new_hash, &err) != FERRY_OK) {
        if (err.code == FERRY_EINVAL)
            return ferry_http_reply_error(conn, MHD_HTTP_CONFLICT, "exists", "%s", err.msg);
        return ferry_http_reply_err(conn, &err);
    }
    ferry_http_audit(srv, req, "user.add", name, "role %s", role_name);
    return reply_user(srv, conn, MHD_HTTP_CREATED, name);
}

enum MHD_Result ferry_http_patch_user(struct ferry_server *srv, struct MHD_Connection *conn,
                                      request *req)
{
    const char *name = req->arg;
    const char *role_name = NULL, *password = NULL;
    enum MHD_Result ret = MHD_NO;
    json_t *disabled;
    ferry_role role = FERRY_ROLE_VIEWER;
    ferry_user u;
    ferry_store *st;
    ferry_err err;
    bool self;

    if (!ferry_http_request_body(conn, req, false, &ret) ||
        !ferry_http_request_string(conn, req, "role", false, &role_name, &ret) ||
        !ferry_http_request_string(conn, req, "password", false, &password, &ret))
        return ret;
    disabled = json_object_get(req->doc, "disabled");
    if (disabled != NULL && !json_is_boolean(disabled))
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "\"disabled\" must be true or false");
    if (role_name == NULL && password == NULL && disabled == NULL)
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "give at least one of role, disabled and password");
    if (role_name != NULL && !ferry_role_parse(role_name, &role))
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "role must be viewer, operator or admin");
    if (password != NULL && !password_length_ok(conn, password, &ret))
        return ret;
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL || st->people->user_load(st, name, &u, &err))
        return ferry_http_reply_err(conn, &err);
    self = strcasecmp(u.name, req->who.user) == 0;
    ferry_user_done(&u);
    /* An admin cannot lock themselves out; another admin can. */
    if (self && ((role_name != NULL && role != FERRY_ROLE_ADMIN) || json_is_true(disabled)))
        return ferry_http_reply_error(conn, MHD_HTTP_CONFLICT, "self",
                                      "you cannot disable yourself or give up your own admin role");
    if (password != NULL && req->task == NULL)
        return start_hash(srv, conn, req, password);
    if (req->task != NULL && req->task->refused)
        return reply_busy(conn);
    if (req->task != NULL && req->task->err.code != FERRY_OK)
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter", "%s",
                                      req->task->err.msg);
    if (role_name != NULL) {
        if (st->people->user_set_role(st, name, role, &err) != FERRY_OK)
            return ferry_http_reply_err(conn, &err);
        ferry_http_audit(srv, req, "user.role", name, "role %s", role_name);
    }
    if (disabled != NULL) {
        if (st->people->user_set_disabled(st, name, json_is_true(disabled), &err) != FERRY_OK)
            return ferry_http_reply_err(conn, &err);
        ferry_http_audit(srv, req, json_is_true(disabled) ? "user.disable" : "user.enable", name,
                         NULL);
    }
    if (password != NULL) {
        if (st->people->user_set_password(st, name, req->task->new_hash, &err) != FERRY_OK)
            return ferry_http_reply_err(conn, &err);
        ferry_http_audit(srv, req, "user.passwd", name, "password set by an admin");
    }
    ferry_http_auth_changed(srv); /* sessions may have ended: event streams check */
    return reply_user(srv, conn, MHD_HTTP_OK, name);
}

/* ---- /api/tokens ---- */

enum MHD_Result ferry_http_get_tokens(struct ferry_server *srv, struct MHD_Connection *conn,
                                      request *req)
{
    ferry_token *tokens = NULL;
    ferry_store *st;
    ferry_err err;
    size_t n = 0;
    json_t *list;

    (void)req;
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->people->token_list(st, &tokens, &n, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, token_json(&tokens[i]));
    ferry_tokens_free(tokens, n);
    return ferry_http_reply_json(conn, MHD_HTTP_OK, json_pack("{s:o}", "tokens", list));
}

enum MHD_Result ferry_http_post_token(struct ferry_server *srv, struct MHD_Connection *conn,
                                      request *req)
{
    const char *user = NULL, *label = NULL;
    char token[FERRY_TOKEN_MAX], hash[FERRY_TOKEN_HASH_HEX], target[32];
    enum MHD_Result ret = MHD_NO;
    ferry_store *st;
    ferry_err err;
    int64_t id = 0;

    if (!ferry_http_request_body(conn, req, false, &ret) ||
        !ferry_http_request_string(conn, req, "user", true, &user, &ret) ||
        !ferry_http_request_string(conn, req, "name", false, &label, &ret))
        return ret;
    if (label == NULL)
        label = "api";
    if (!ferry_token_label_ok(label))
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "a token name has 1 to 64 characters, none of them control "
                                      "characters");
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL || ferry_token_new(token, hash, &err) ||
        st->people->token_add(st, user, label, hash, &id, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    snprintf(target, sizeof(target), "token %lld", (long long)id);
    ferry_http_audit(srv, req, "token.create", target, "for %s (%s)", user, label);
    ret = ferry_http_reply_json(conn, MHD_HTTP_CREATED,
                                json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)id, "user",
                                          user, "name", label, "token", token, "message",
                                          "The token is shown this once; keep it secret."));
    ferry_password_wipe(token, sizeof(token));
    return ret;
}

enum MHD_Result ferry_http_delete_token(struct ferry_server *srv, struct MHD_Connection *conn,
                                        request *req)
{
    int64_t id = req->id;
    char target[32];
    ferry_store *st;
    ferry_err err;

    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->people->token_revoke(st, id, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    ferry_http_auth_changed(srv);
    snprintf(target, sizeof(target), "token %lld", (long long)id);
    ferry_http_audit(srv, req, "token.revoke", target, NULL);
    return ferry_http_reply_json(conn, MHD_HTTP_OK,
                                 json_pack("{s:I, s:b, s:s}", "id", (json_int_t)id, "revoked", 1,
                                           "message", "Token revoked."));
}

/* ---- /api/audit ---- */

enum MHD_Result ferry_http_get_audit(struct ferry_server *srv, struct MHD_Connection *conn,
                                     request *req)
{
    ferry_audit_filter filter = {0};
    ferry_audit_entry *entries = NULL;
    int64_t limit = 100, cursor = 0;
    enum MHD_Result ret = MHD_NO;
    ferry_store *st;
    ferry_err err;
    size_t n = 0;
    json_t *list;

    (void)req;
    if (!ferry_http_query_int(conn, "limit", 1, 1000, &limit, &ret) ||
        !ferry_http_query_int(conn, "cursor", 1, INT64_MAX, &cursor, &ret))
        return ret;
    filter.actor = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "actor");
    filter.action = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "action");
    filter.before_id = cursor;
    filter.limit = (int)limit + 1; /* one more tells whether there is a next page */
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->people->audit_list(st, &filter, &entries, &n, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    bool more = (int64_t)n > limit;
    list = json_array();
    for (size_t i = 0; i < n && (int64_t)i < limit; i++)
        json_array_append_new(list, audit_json(&entries[i]));
    json_t *next = more ? json_sprintf("%lld", (long long)entries[limit - 1].id) : json_null();
    ferry_audit_free(entries, n);
    return ferry_http_reply_json(conn, MHD_HTTP_OK,
                                 json_pack("{s:o, s:o}", "entries", list, "next_cursor", next));
}
