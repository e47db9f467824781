/* pg_people.c - the people interface of the store on PostgreSQL (store.h: users, API
 * tokens, login sessions, the audit log). Tokens and sessions are stored only as SHA-256
 * hashes, which never appear in a message; a use is recorded at most once a minute. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "store/pg.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"

/* A token's last use and a session's last request are written at most this often. */

/* audit_list's page size when the filter gives none, and its largest. */
#define AUDIT_LIST_DEFAULT 100

#define AUDIT_LIST_MAX 1001

#define USER_COLUMNS                                                                               \
    "id, name, role, password_hash, disabled, " MS("created_at") ", " MS("password_changed_at")

static void user_from_row(const PGresult *r, int i, ferry_user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = ferry_pg_col_int(r, i, 0);
    u->name = ferry_pg_col_str(r, i, 1);
    ferry_role_parse(PQgetvalue(r, i, 2), &u->role);
    u->password_hash = ferry_pg_col_str(r, i, 3);
    u->disabled = ferry_pg_col_bool(r, i, 4);
    u->created_at_ms = ferry_pg_col_int(r, i, 5);
    u->password_changed_at_ms = ferry_pg_col_int(r, i, 6);
}

static ferry_rc pg_user_add(ferry_store *base, const char *name, ferry_role role,
                            const char *password_hash, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_pg_params p = {0};
    int64_t n;

    ferry_pg_param_text(&p, name);
    ferry_pg_param_text(&p, ferry_role_name(role));
    ferry_pg_param_text(&p, password_hash);
    ferry_pg_param_time(&p, ferry_time_now_ms());
    /* The only unique index is the name's (regardless of case). */
    n = ferry_pg_run_count(
        s, FERRY_PG_MAY_RESET, "adding the user",
        "INSERT INTO ferry_users (name, role, password_hash, created_at,"
        " password_changed_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING",
        &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_EINVAL, "a user named '%s' already exists", name);
    return FERRY_OK;
}

static ferry_rc pg_user_load(ferry_store *base, const char *name, ferry_user *ret, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_pg_params p = {0};
    PGresult *res;

    ferry_pg_param_text(&p, name);
    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "reading the user",
                           "SELECT " USER_COLUMNS " FROM ferry_users WHERE lower(name) = lower($1)",
                           &p, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", name);
    }
    user_from_row(res, 0, ret);
    PQclear(res);
    return FERRY_OK;
}

static ferry_rc pg_user_list(ferry_store *base, ferry_user **ret_users, size_t *ret_n,
                             ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_user *users = NULL;
    PGresult *res;
    size_t n;

    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "listing users",
                           "SELECT " USER_COLUMNS " FROM ferry_users ORDER BY lower(name), name",
                           NULL, err);
    if (res == NULL)
        return FERRY_EDB;
    n = (size_t)PQntuples(res);
    if (n > 0 && (users = calloc(n, sizeof(*users))) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "listing users");
    }
    for (size_t i = 0; i < n; i++)
        user_from_row(res, (int)i, &users[i]);
    PQclear(res);
    *ret_users = users;
    *ret_n = n;
    return FERRY_OK;
}

/* Runs an UPDATE of the user named $1 that returns its id; FERRY_ENOTFOUND when there is
 * none. */
static ferry_rc update_user(ferry_pg_store *s, const char *sql, const ferry_pg_params *p,
                            const char *name, ferry_err *err)
{
    int64_t n = ferry_pg_run_count(s, FERRY_PG_MAY_RESET, "changing the user", sql, p, err);

    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", name);
    return FERRY_OK;
}

/* One statement changes the user and deletes every session of it: a changed password or a
 * disabled user logs every browser out, or nothing changes at all. */
#define ENDING_SESSIONS(update)                                                                    \
    "WITH u AS (" update " RETURNING id), d AS (DELETE FROM ferry_sessions WHERE user_id IN"       \
    " (SELECT id FROM u)) SELECT id FROM u"

static ferry_rc pg_user_set_password(ferry_store *base, const char *name, const char *password_hash,
                                     ferry_err *err)
{
    ferry_pg_params p = {0};

    ferry_pg_param_text(&p, name);
    ferry_pg_param_text(&p, password_hash);
    ferry_pg_param_time(&p, ferry_time_now_ms());
    return update_user((ferry_pg_store *)base,
                       ENDING_SESSIONS("UPDATE ferry_users SET password_hash = $2,"
                                       " password_changed_at = $3 WHERE lower(name) = lower($1)"),
                       &p, name, err);
}

static ferry_rc pg_user_set_disabled(ferry_store *base, const char *name, bool disabled,
                                     ferry_err *err)
{
    ferry_pg_params p = {0};

    ferry_pg_param_text(&p, name);
    if (!disabled)
        return update_user((ferry_pg_store *)base,
                           "UPDATE ferry_users SET disabled = false WHERE lower(name) = lower($1)",
                           &p, name, err);
    return update_user((ferry_pg_store *)base,
                       ENDING_SESSIONS("UPDATE ferry_users SET disabled = true WHERE lower(name) ="
                                       " lower($1)"),
                       &p, name, err);
}

static ferry_rc pg_user_set_role(ferry_store *base, const char *name, ferry_role role,
                                 ferry_err *err)
{
    ferry_role parsed;
    ferry_pg_params p = {0};

    if (!ferry_role_parse(ferry_role_name(role), &parsed))
        return ferry_err_set(err, FERRY_EINVAL, "unknown role %d", (int)role);
    ferry_pg_param_text(&p, name);
    ferry_pg_param_text(&p, ferry_role_name(role));
    return update_user((ferry_pg_store *)base,
                       "UPDATE ferry_users SET role = $2 WHERE lower(name) = lower($1)", &p, name,
                       err);
}

static ferry_rc pg_token_add(ferry_store *base, const char *user, const char *label,
                             const char *token_hash, int64_t *ret_id, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_pg_params p = {0};
    PGresult *res;

    ferry_pg_param_text(&p, user);
    ferry_pg_param_text(&p, label);
    ferry_pg_param_text(&p, token_hash);
    ferry_pg_param_time(&p, ferry_time_now_ms());
    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "adding the token",
                           "INSERT INTO ferry_api_tokens (user_id, label, token_hash, created_at)"
                           " SELECT id, $2, $3, $4 FROM ferry_users WHERE lower(name) = lower($1)"
                           " RETURNING id",
                           &p, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", user);
    }
    *ret_id = ferry_pg_col_int(res, 0, 0);
    PQclear(res);
    return FERRY_OK;
}

static ferry_rc pg_token_list(ferry_store *base, ferry_token **ret_tokens, size_t *ret_n,
                              ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_token *tokens = NULL;
    PGresult *res;
    size_t n;

    res = ferry_pg_run_sql(
        s, FERRY_PG_MAY_RESET, "listing tokens",
        "SELECT t.id, u.name, t.label, " MS("t.created_at") ", " MS("t.last_used_at") ", " MS(
            "t.revoked_at") " FROM ferry_api_tokens t JOIN"
                            " ferry_users u ON u.id = t.user_id"
                            " ORDER BY t.id",
        NULL, err);
    if (res == NULL)
        return FERRY_EDB;
    n = (size_t)PQntuples(res);
    if (n > 0 && (tokens = calloc(n, sizeof(*tokens))) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "listing tokens");
    }
    for (size_t i = 0; i < n; i++) {
        ferry_token *t = &tokens[i];
        t->id = ferry_pg_col_int(res, (int)i, 0);
        t->user = ferry_pg_col_str(res, (int)i, 1);
        t->label = ferry_pg_col_str(res, (int)i, 2);
        t->created_at_ms = ferry_pg_col_int(res, (int)i, 3);
        t->last_used_at_ms = ferry_pg_col_int(res, (int)i, 4);
        t->revoked_at_ms = ferry_pg_col_int(res, (int)i, 5);
    }
    PQclear(res);
    *ret_tokens = tokens;
    *ret_n = n;
    return FERRY_OK;
}

static ferry_rc pg_token_revoke(ferry_store *base, int64_t id, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_pg_params p = {0};
    int64_t n;

    ferry_pg_param_int(&p, id);
    ferry_pg_param_time(&p, ferry_time_now_ms());
    n = ferry_pg_run_count(
        s, FERRY_PG_MAY_RESET, "revoking the token",
        "UPDATE ferry_api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS"
        " NULL",
        &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no active token %lld", (long long)id);
    return FERRY_OK;
}

/* Runs a bookkeeping write (a token's last use, a session's last request, an expired
 * session's deletion) on a row that is not locked, never waiting for one that is: the
 * request that triggered it must not wait for it. sql's $1 is the key, $2 (when used) now.
 * A skipped write is done by a later request. Returns true when the row was written. */
static bool write_if_free(ferry_pg_store *s, const char *sql, const char *key, int64_t now)
{
    ferry_pg_params p = {0};

    ferry_pg_param_text(&p, key);
    ferry_pg_param_time(&p, now);
    return ferry_pg_run_count(s, FERRY_PG_MAY_RESET, "bookkeeping", sql, &p, NULL) == 1;
}

static ferry_rc pg_token_auth(ferry_store *base, const char *token_hash, ferry_principal *ret,
                              ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    static const char *const sql =
        "SELECT t.id, t.label, u.id, u.name, u.role, u.disabled, " MS("t.created_at") ", " MS(
            "t.last_used_at") ", t.revoked_at IS NOT NULL FROM ferry_api_tokens t JOIN"
                              " ferry_users u ON u.id = t.user_id WHERE t.token_hash = $1";
    static const char *const touch =
        "UPDATE ferry_api_tokens SET last_used_at = $2 WHERE id = (SELECT id FROM"
        " ferry_api_tokens WHERE id = $1::bigint FOR UPDATE SKIP LOCKED)";
    int64_t now = ferry_time_now_ms();
    bool disabled, revoked, due;
    ferry_principal p;
    ferry_pg_params q = {0};
    PGresult *res;
    ferry_rc frc;
    char id[32];

    ferry_pg_param_text(&q, token_hash);
    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "checking the API token", sql, &q, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOTFOUND, "no such API token");
    }
    memset(&p, 0, sizeof(p));
    p.token_id = ferry_pg_col_int(res, 0, 0);
    p.token_label = ferry_pg_col_str(res, 0, 1);
    p.user_id = ferry_pg_col_int(res, 0, 2);
    p.user = ferry_pg_col_str(res, 0, 3);
    ferry_role_parse(PQgetvalue(res, 0, 4), &p.role);
    disabled = ferry_pg_col_bool(res, 0, 5);
    p.created_at_ms = ferry_pg_col_int(res, 0, 6);
    p.last_seen_at_ms = ferry_pg_col_int(res, 0, 7);
    revoked = ferry_pg_col_bool(res, 0, 8);
    PQclear(res);
    if (p.token_label == NULL || p.user == NULL) {
        frc = ferry_err_set(err, FERRY_ENOMEM, "checking the API token");
        goto out_done;
    }
    if ((frc = ferry_store_token_check(&p, revoked, disabled, now, &due, err)) != FERRY_OK)
        goto out_done;
    snprintf(id, sizeof(id), "%lld", (long long)p.token_id);
    if (due && write_if_free(s, touch, id, now))
        p.last_seen_at_ms = now;
    *ret = p;
    return FERRY_OK;

out_done:
    ferry_principal_done(&p);
    return frc;
}

static ferry_rc pg_session_add(ferry_store *base, const char *user, const char *session_hash,
                               ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_pg_params p = {0};
    PGresult *res;
    int64_t n;
    bool disabled;

    ferry_pg_param_text(&p, session_hash);
    ferry_pg_param_text(&p, user);
    ferry_pg_param_time(&p, ferry_time_now_ms());
    n = ferry_pg_run_count(
        s, FERRY_PG_MAY_RESET, "starting the session",
        "INSERT INTO ferry_sessions (session_hash, user_id, created_at, last_seen_at)"
        " SELECT $1, id, $3, $3 FROM ferry_users WHERE lower(name) = lower($2) AND NOT"
        " disabled",
        &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 1)
        return FERRY_OK;
    /* No row was inserted: say whether the user is missing or disabled. */
    p = (ferry_pg_params){0};
    ferry_pg_param_text(&p, user);
    res =
        ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "starting the session",
                         "SELECT disabled FROM ferry_users WHERE lower(name) = lower($1)", &p, err);
    if (res == NULL)
        return FERRY_EDB;
    disabled = PQntuples(res) == 1 && ferry_pg_col_bool(res, 0, 0);
    PQclear(res);
    if (disabled)
        return ferry_err_set(err, FERRY_ENOTFOUND, "user '%s' is disabled", user);
    return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", user);
}

static ferry_rc pg_session_auth(ferry_store *base, const char *session_hash, int64_t idle_ms,
                                int64_t max_ms, ferry_principal *ret, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    static const char *const sql =
        "SELECT u.id, u.name, u.role, u.disabled, " MS("s.created_at") ", " MS(
            "s.last_seen_at") " FROM ferry_sessions s JOIN ferry_users u ON u.id = s.user_id"
                              " WHERE s.session_hash = $1";
    static const char *const end =
        "DELETE FROM ferry_sessions WHERE session_hash = (SELECT session_hash FROM ferry_sessions"
        " WHERE session_hash = $1 FOR UPDATE SKIP LOCKED) AND $2::text IS NOT NULL";
    static const char *const touch =
        "UPDATE ferry_sessions SET last_seen_at = $2 WHERE session_hash = (SELECT session_hash"
        " FROM ferry_sessions WHERE session_hash = $1 FOR UPDATE SKIP LOCKED)";
    int64_t now = ferry_time_now_ms();
    ferry_principal p;
    ferry_pg_params q = {0};
    PGresult *res;
    bool disabled, due;
    ferry_rc frc;

    ferry_pg_param_text(&q, session_hash);
    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "checking the session", sql, &q, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOTFOUND, "no such session");
    }
    memset(&p, 0, sizeof(p));
    p.user_id = ferry_pg_col_int(res, 0, 0);
    p.user = ferry_pg_col_str(res, 0, 1);
    ferry_role_parse(PQgetvalue(res, 0, 2), &p.role);
    disabled = ferry_pg_col_bool(res, 0, 3);
    p.created_at_ms = ferry_pg_col_int(res, 0, 4);
    p.last_seen_at_ms = ferry_pg_col_int(res, 0, 5);
    PQclear(res);
    if (p.user == NULL) {
        frc = ferry_err_set(err, FERRY_ENOMEM, "checking the session");
        goto out_done;
    }
    /* A dead session is deleted on the way out, so it cannot come back when the user is
     * enabled again. */
    if ((frc = ferry_store_session_check(&p, disabled, now, idle_ms, max_ms, &due, err)) !=
        FERRY_OK) {
        write_if_free(s, end, session_hash, now);
        goto out_done;
    }
    if (due && write_if_free(s, touch, session_hash, now))
        p.last_seen_at_ms = now;
    *ret = p;
    return FERRY_OK;

out_done:
    ferry_principal_done(&p);
    return frc;
}

static ferry_rc pg_session_delete(ferry_store *base, const char *session_hash, ferry_err *err)
{
    ferry_pg_params p = {0};

    ferry_pg_param_text(&p, session_hash);
    if (ferry_pg_run_count((ferry_pg_store *)base, FERRY_PG_MAY_RESET, "ending the session",
                           "DELETE FROM ferry_sessions WHERE session_hash = $1", &p, err) < 0)
        return FERRY_EDB;
    return FERRY_OK;
}

static ferry_rc pg_session_purge(ferry_store *base, int64_t idle_ms, int64_t max_ms, ferry_err *err)
{
    int64_t now = ferry_time_now_ms();
    ferry_pg_params p = {0};

    /* The same test as session_auth's. A bound at or before the epoch is NULL, which
     * matches nothing. */
    ferry_pg_param_time(&p, now - idle_ms);
    ferry_pg_param_time(&p, now - max_ms);
    if (ferry_pg_run_count((ferry_pg_store *)base, FERRY_PG_MAY_RESET, "deleting expired sessions",
                           "DELETE FROM ferry_sessions WHERE last_seen_at < $1 OR created_at < $2",
                           &p, err) < 0)
        return FERRY_EDB;
    return FERRY_OK;
}

static ferry_rc pg_audit_add(ferry_store *base, const ferry_audit_entry *e, ferry_err *err)
{
    ferry_pg_params p = {0};

    if (e->action == NULL)
        return ferry_err_set(err, FERRY_EINVAL, "an audit entry needs an action");
    ferry_pg_param_time(&p, ferry_time_now_ms());
    ferry_pg_param_text(&p, e->actor);
    ferry_pg_param_text(&p, e->action);
    ferry_pg_param_text(&p, e->target);
    ferry_pg_param_text(&p, e->detail);
    ferry_pg_param_text(&p, e->client);
    if (ferry_pg_run_count(
            (ferry_pg_store *)base, FERRY_PG_MAY_RESET, "recording the audit entry",
            "INSERT INTO ferry_audit (at, actor, action, target, detail, client) VALUES ($1,"
            " $2, $3, $4, $5, $6)",
            &p, err) < 0)
        return FERRY_EDB;
    return FERRY_OK;
}

static ferry_rc pg_audit_list(ferry_store *base, const ferry_audit_filter *filter,
                              ferry_audit_entry **ret, size_t *ret_n, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_audit_entry *entries = NULL;
    int limit = filter->limit;
    ferry_pg_params p = {0};
    PGresult *res;
    size_t n;

    if (limit <= 0)
        limit = AUDIT_LIST_DEFAULT;
    if (limit > AUDIT_LIST_MAX)
        limit = AUDIT_LIST_MAX;
    ferry_pg_param_text(&p, filter->actor);
    ferry_pg_param_text(&p, filter->action);
    ferry_pg_param_int(&p, filter->before_id > 0 ? filter->before_id : 0);
    ferry_pg_param_int(&p, limit);
    res = ferry_pg_run_sql(
        s, FERRY_PG_MAY_RESET, "listing the audit log",
        "SELECT id, " MS("at") ", actor, action, target, detail, client FROM ferry_audit"
                               " WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS"
                               " NULL OR action = $2) AND ($3::bigint = 0 OR id < $3)"
                               " ORDER BY id DESC LIMIT $4",
        &p, err);
    if (res == NULL)
        return FERRY_EDB;
    n = (size_t)PQntuples(res);
    if (n > 0 && (entries = calloc(n, sizeof(*entries))) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "listing the audit log");
    }
    for (size_t i = 0; i < n; i++) {
        ferry_audit_entry *e = &entries[i];
        e->id = ferry_pg_col_int(res, (int)i, 0);
        e->at_ms = ferry_pg_col_int(res, (int)i, 1);
        e->actor = ferry_pg_col_str(res, (int)i, 2);
        e->action = ferry_pg_col_str(res, (int)i, 3);
        e->target = ferry_pg_col_str(res, (int)i, 4);
        e->detail = ferry_pg_col_str(res, (int)i, 5);
        e->client = ferry_pg_col_str(res, (int)i, 6);
        if (e->action == NULL) {
            PQclear(res);
            ferry_audit_free(entries, n);
            return ferry_err_set(err, FERRY_ENOMEM, "listing the audit log");
        }
    }
    PQclear(res);
    *ret = entries;
    *ret_n = n;
    return FERRY_OK;
}

const ferry_store_people_ops ferry_pg_people_ops = {
    .user_add = pg_user_add,
    .user_load = pg_user_load,
    .user_list = pg_user_list,
    .user_set_password = pg_user_set_password,
    .user_set_disabled = pg_user_set_disabled,
    .user_set_role = pg_user_set_role,
    .token_add = pg_token_add,
    .token_list = pg_token_list,
    .token_revoke = pg_token_revoke,
    .token_auth = pg_token_auth,
    .session_add = pg_session_add,
    .session_auth = pg_session_auth,
    .session_delete = pg_session_delete,
    .session_purge = pg_session_purge,
    .audit_add = pg_audit_add,
    .audit_list = pg_audit_list,
};
