/* sqlite_people.c - the people interface of the store on SQLite (store.h: users, API
 * tokens, login sessions, the audit log).
 *
 * Tokens and sessions are stored only as the SHA-256 of the secret, and those hashes never
 * appear in an error message. Checking a token or a session is a read; recording its use is a
 * write at most once a minute, and one that does not wait: a run holds the write lock of a
 * shared database for its whole transaction, and a request must not stall (or fail) over
 * bookkeeping. Changing a password or disabling a user deletes the user's sessions in the
 * same transaction. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"

/* A token's last use and a session's last request are written at most this often. */

/* audit_list's page size when the filter gives none, and its largest. */
#define AUDIT_LIST_DEFAULT 100

#define AUDIT_LIST_MAX 1001 /* the API pages by 1,000 and asks one more */

#define USER_COLUMNS "id, name, role, password_hash, disabled, created_at, password_changed_at"

static void user_from_row(sqlite3_stmt *st, ferry_user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = sqlite3_column_int64(st, 0);
    u->name = ferry_sqlite_col_strdup(st, 1);
    ferry_role_parse((const char *)sqlite3_column_text(st, 2), &u->role);
    u->password_hash = ferry_sqlite_col_strdup(st, 3);
    u->disabled = sqlite3_column_int(st, 4) != 0;
    u->created_at_ms = ferry_sqlite_col_time(st, 5);
    u->password_changed_at_ms = ferry_sqlite_col_time(st, 6);
}

static ferry_rc st_user_add(ferry_store *base, const char *name, ferry_role role,
                            const char *password_hash, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO ferry_users (name, role, password_hash, created_at,"
                           " password_changed_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "adding the user");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ferry_role_name(role), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, password_hash, -1, SQLITE_STATIC);
    ferry_sqlite_bind_time(st, 4, ferry_time_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT)
        return ferry_err_set(err, FERRY_EINVAL, "a user named '%s' already exists", name);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "adding the user");
    return FERRY_OK;
}

static ferry_rc st_user_load(ferry_store *base, const char *name, ferry_user *ret, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT " USER_COLUMNS " FROM ferry_users WHERE name = ?1", -1,
                           &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "reading the user");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        user_from_row(st, ret);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return FERRY_OK;
    if (rc == SQLITE_DONE)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", name);
    return ferry_sqlite_db_error(s->db, err, "reading the user");
}

static ferry_rc st_user_list(ferry_store *base, ferry_user **ret_users, size_t *ret_n,
                             ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    ferry_user *users = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT " USER_COLUMNS " FROM ferry_users ORDER BY name", -1, &st,
                           NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "listing users");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            ferry_user *grown = realloc(users, ncap * sizeof(*users));
            if (grown == NULL) {
                sqlite3_finalize(st);
                ferry_users_free(users, n);
                return ferry_err_set(err, FERRY_ENOMEM, "listing users");
            }
            users = grown;
            cap = ncap;
        }
        user_from_row(st, &users[n++]);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ferry_users_free(users, n);
        return ferry_sqlite_db_error(s->db, err, "listing users");
    }
    *ret_users = users;
    *ret_n = n;
    return FERRY_OK;
}

/* Runs an UPDATE of one user named ?1; FERRY_ENOTFOUND when there is none. */
static ferry_rc update_user(ferry_sqlite_store *s, const char *sql, const char *name,
                            const char *text, int64_t number, ferry_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "changing the user");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (text != NULL)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, number);
    ferry_sqlite_bind_time(st, 3, ferry_time_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "changing the user");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", name);
    return FERRY_OK;
}

/* Runs update_user() and deletes every session of the user in one transaction: a changed
 * password or a disabled user logs every browser out, or nothing changes at all. */
static ferry_rc update_user_ending_sessions(ferry_sqlite_store *s, const char *sql,
                                            const char *name, const char *text, int64_t number,
                                            ferry_err *err)
{
    sqlite3_stmt *st;
    ferry_rc rc;
    int src;

    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "changing the user");
    rc = update_user(s, sql, name, text, number, err);
    if (rc != FERRY_OK)
        goto out_rollback;
    if (sqlite3_prepare_v2(s->db,
                           "DELETE FROM ferry_sessions WHERE user_id IN (SELECT id FROM"
                           " ferry_users WHERE name = ?1)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = ferry_sqlite_db_error(s->db, err, "ending the user's sessions");
        goto out_rollback;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src != SQLITE_DONE) {
        rc = ferry_sqlite_db_error(s->db, err, "ending the user's sessions");
        goto out_rollback;
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = ferry_sqlite_db_error(s->db, err, "changing the user");
        goto out_rollback;
    }
    return FERRY_OK;

out_rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static ferry_rc st_user_set_password(ferry_store *base, const char *name, const char *password_hash,
                                     ferry_err *err)
{
    return update_user_ending_sessions((ferry_sqlite_store *)base,
                                       "UPDATE ferry_users SET password_hash = ?2,"
                                       " password_changed_at = ?3 WHERE name = ?1",
                                       name, password_hash, 0, err);
}

static ferry_rc st_user_set_disabled(ferry_store *base, const char *name, bool disabled,
                                     ferry_err *err)
{
    static const char *const sql =
        "UPDATE ferry_users SET disabled = ?2 WHERE name = ?1 AND ?3 IS NOT NULL";

    if (disabled)
        return update_user_ending_sessions((ferry_sqlite_store *)base, sql, name, NULL, 1, err);
    return update_user((ferry_sqlite_store *)base, sql, name, NULL, 0, err);
}

static ferry_rc st_user_set_role(ferry_store *base, const char *name, ferry_role role,
                                 ferry_err *err)
{
    if ((unsigned)role > FERRY_ROLE_ADMIN)
        return ferry_err_set(err, FERRY_EINVAL, "unknown role %d", (int)role);
    return update_user((ferry_sqlite_store *)base,
                       "UPDATE ferry_users SET role = ?2 WHERE name = ?1 AND ?3 IS NOT NULL", name,
                       ferry_role_name(role), 0, err);
}

static ferry_rc st_token_add(ferry_store *base, const char *user, const char *label,
                             const char *token_hash, int64_t *ret_id, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO ferry_api_tokens (user_id, label, token_hash, created_at)"
                           " SELECT id, ?2, ?3, ?4 FROM ferry_users WHERE name = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "adding the token");
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, label, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, token_hash, -1, SQLITE_STATIC);
    ferry_sqlite_bind_time(st, 4, ferry_time_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "adding the token");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", user);
    *ret_id = sqlite3_last_insert_rowid(s->db);
    return FERRY_OK;
}

static ferry_rc st_token_list(ferry_store *base, ferry_token **ret_tokens, size_t *ret_n,
                              ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    ferry_token *tokens = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT t.id, u.name, t.label, t.created_at, t.last_used_at,"
                           " t.revoked_at FROM ferry_api_tokens t JOIN ferry_users u ON"
                           " u.id = t.user_id ORDER BY t.id",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "listing tokens");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            ferry_token *grown = realloc(tokens, ncap * sizeof(*tokens));
            if (grown == NULL) {
                sqlite3_finalize(st);
                ferry_tokens_free(tokens, n);
                return ferry_err_set(err, FERRY_ENOMEM, "listing tokens");
            }
            tokens = grown;
            cap = ncap;
        }
        ferry_token *t = &tokens[n++];
        memset(t, 0, sizeof(*t));
        t->id = sqlite3_column_int64(st, 0);
        t->user = ferry_sqlite_col_strdup(st, 1);
        t->label = ferry_sqlite_col_strdup(st, 2);
        t->created_at_ms = ferry_sqlite_col_time(st, 3);
        t->last_used_at_ms = ferry_sqlite_col_time(st, 4);
        t->revoked_at_ms = ferry_sqlite_col_time(st, 5);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ferry_tokens_free(tokens, n);
        return ferry_sqlite_db_error(s->db, err, "listing tokens");
    }
    *ret_tokens = tokens;
    *ret_n = n;
    return FERRY_OK;
}

static ferry_rc st_token_revoke(ferry_store *base, int64_t id, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "UPDATE ferry_api_tokens SET revoked_at = ?2 WHERE id = ?1 AND"
                           " revoked_at IS NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "revoking the token");
    sqlite3_bind_int64(st, 1, id);
    ferry_sqlite_bind_time(st, 2, ferry_time_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "revoking the token");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no active token %lld", (long long)id);
    return FERRY_OK;
}

/* Runs a bookkeeping write (a token's last use, a session's last request, an expired
 * session's deletion) without waiting for the write lock: a run may hold it for minutes, and
 * the request that triggered the write must not wait or fail for it. ?1 is key (text) or id,
 * ?2 (when the statement has one) is now. A skipped write is done by a later request.
 * Returns true when the row was written. */
static bool write_if_free(ferry_sqlite_store *s, const char *sql, const char *key, int64_t id,
                          int64_t now)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return false;
    if (key != NULL)
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, id);
    if (sqlite3_bind_parameter_count(st) >= 2)
        ferry_sqlite_bind_time(st, 2, now);
    sqlite3_busy_timeout(s->db, 0);
    rc = sqlite3_step(st);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE;
}

static ferry_rc st_token_auth(ferry_store *base, const char *token_hash, ferry_principal *ret,
                              ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    static const char *const sql =
        "SELECT t.id, t.label, u.id, u.name, u.role, u.disabled, t.created_at, t.last_used_at,"
        " t.revoked_at IS NOT NULL FROM ferry_api_tokens t JOIN ferry_users u ON u.id ="
        " t.user_id WHERE t.token_hash = ?1";
    int64_t now = ferry_time_now_ms();
    bool disabled, revoked, due;
    ferry_principal p;
    sqlite3_stmt *st;
    ferry_rc frc;
    int rc;

    /* Asked on every authenticated request: the statement is prepared once. */
    if (s->token_select == NULL && sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                                      &s->token_select, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "checking the API token");
    st = s->token_select;
    sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        frc = rc == SQLITE_DONE ? ferry_err_set(err, FERRY_ENOTFOUND, "no such API token")
                                : ferry_sqlite_db_error(s->db, err, "checking the API token");
        sqlite3_reset(st);
        return frc;
    }
    memset(&p, 0, sizeof(p));
    p.token_id = sqlite3_column_int64(st, 0);
    p.token_label = ferry_sqlite_col_strdup(st, 1);
    p.user_id = sqlite3_column_int64(st, 2);
    p.user = ferry_sqlite_col_strdup(st, 3);
    ferry_role_parse((const char *)sqlite3_column_text(st, 4), &p.role);
    disabled = sqlite3_column_int(st, 5) != 0;
    p.created_at_ms = ferry_sqlite_col_time(st, 6);
    p.last_seen_at_ms = ferry_sqlite_col_time(st, 7);
    revoked = sqlite3_column_int(st, 8) != 0;
    sqlite3_reset(st);
    /* label and name are NOT NULL: a NULL here is a failed copy. */
    if (p.token_label == NULL || p.user == NULL) {
        frc = ferry_err_set(err, FERRY_ENOMEM, "checking the API token");
        goto out_done;
    }
    if ((frc = ferry_store_token_check(&p, revoked, disabled, now, &due, err)) != FERRY_OK)
        goto out_done;
    if (due && write_if_free(s, "UPDATE ferry_api_tokens SET last_used_at = ?2 WHERE id = ?1", NULL,
                             p.token_id, now))
        p.last_seen_at_ms = now;
    *ret = p;
    return FERRY_OK;

out_done:
    ferry_principal_done(&p);
    return frc;
}

static ferry_rc st_session_add(ferry_store *base, const char *user, const char *session_hash,
                               ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    bool disabled;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO ferry_sessions (session_hash, user_id, created_at,"
                           " last_seen_at) SELECT ?1, id, ?3, ?3 FROM ferry_users WHERE name = ?2"
                           " AND disabled = 0",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "starting the session");
    sqlite3_bind_text(st, 1, session_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    ferry_sqlite_bind_time(st, 3, ferry_time_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "starting the session");
    if (sqlite3_changes(s->db) == 1)
        return FERRY_OK;
    /* No row was inserted: say whether the user is missing or disabled. */
    if (sqlite3_prepare_v2(s->db, "SELECT disabled FROM ferry_users WHERE name = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "starting the session");
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    disabled = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "starting the session");
    if (disabled)
        return ferry_err_set(err, FERRY_ENOTFOUND, "user '%s' is disabled", user);
    return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", user);
}

static ferry_rc st_session_auth(ferry_store *base, const char *session_hash, int64_t idle_ms,
                                int64_t max_ms, ferry_principal *ret, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    static const char *const sql =
        "SELECT u.id, u.name, u.role, u.disabled, s.created_at, s.last_seen_at FROM"
        " ferry_sessions s JOIN ferry_users u ON u.id = s.user_id WHERE s.session_hash = ?1";
    static const char *const end = "DELETE FROM ferry_sessions WHERE session_hash = ?1";
    int64_t now = ferry_time_now_ms();
    ferry_principal p;
    sqlite3_stmt *st;
    bool disabled, due;
    ferry_rc frc;
    int rc;

    /* Asked on every authenticated request: the statement is prepared once. */
    if (s->session_select == NULL && sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                                        &s->session_select, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "checking the session");
    st = s->session_select;
    sqlite3_bind_text(st, 1, session_hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        frc = rc == SQLITE_DONE ? ferry_err_set(err, FERRY_ENOTFOUND, "no such session")
                                : ferry_sqlite_db_error(s->db, err, "checking the session");
        sqlite3_reset(st);
        return frc;
    }
    memset(&p, 0, sizeof(p));
    p.user_id = sqlite3_column_int64(st, 0);
    p.user = ferry_sqlite_col_strdup(st, 1);
    ferry_role_parse((const char *)sqlite3_column_text(st, 2), &p.role);
    disabled = sqlite3_column_int(st, 3) != 0;
    p.created_at_ms = ferry_sqlite_col_time(st, 4);
    p.last_seen_at_ms = ferry_sqlite_col_time(st, 5);
    sqlite3_reset(st);
    if (p.user == NULL) {
        frc = ferry_err_set(err, FERRY_ENOMEM, "checking the session");
        goto out_done;
    }
    /* A dead session is deleted on the way out (when the database is free; session_purge
     * gets the others), so it cannot come back when the user is enabled again. */
    if ((frc = ferry_store_session_check(&p, disabled, now, idle_ms, max_ms, &due, err)) !=
        FERRY_OK) {
        write_if_free(s, end, session_hash, 0, now);
        goto out_done;
    }
    if (due &&
        write_if_free(s, "UPDATE ferry_sessions SET last_seen_at = ?2 WHERE session_hash = ?1",
                      session_hash, 0, now))
        p.last_seen_at_ms = now;
    *ret = p;
    return FERRY_OK;

out_done:
    ferry_principal_done(&p);
    return frc;
}

static ferry_rc st_session_delete(ferry_store *base, const char *session_hash, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, "DELETE FROM ferry_sessions WHERE session_hash = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "ending the session");
    sqlite3_bind_text(st, 1, session_hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "ending the session");
    return FERRY_OK;
}

static ferry_rc st_session_purge(ferry_store *base, int64_t idle_ms, int64_t max_ms, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    int64_t now = ferry_time_now_ms();
    sqlite3_stmt *st;
    int rc;

    /* The same test as session_auth's, on the text times: idle for more than idle_ms is a
     * last request before now - idle_ms. A bound at or before the epoch binds NULL, which
     * matches nothing. */
    if (sqlite3_prepare_v2(s->db,
                           "DELETE FROM ferry_sessions WHERE last_seen_at < ?1 OR created_at < ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "deleting expired sessions");
    ferry_sqlite_bind_time(st, 1, now - idle_ms);
    ferry_sqlite_bind_time(st, 2, now - max_ms);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "deleting expired sessions");
    return FERRY_OK;
}

static ferry_rc st_audit_add(ferry_store *base, const ferry_audit_entry *e, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (e->action == NULL)
        return ferry_err_set(err, FERRY_EINVAL, "an audit entry needs an action");
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO ferry_audit (at, actor, action, target, detail, client)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "recording the audit entry");
    ferry_sqlite_bind_time(st, 1, ferry_time_now_ms());
    ferry_sqlite_bind_text_or_null(st, 2, e->actor);
    sqlite3_bind_text(st, 3, e->action, -1, SQLITE_STATIC);
    ferry_sqlite_bind_text_or_null(st, 4, e->target);
    ferry_sqlite_bind_text_or_null(st, 5, e->detail);
    ferry_sqlite_bind_text_or_null(st, 6, e->client);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "recording the audit entry");
    return FERRY_OK;
}

static ferry_rc st_audit_list(ferry_store *base, const ferry_audit_filter *filter,
                              ferry_audit_entry **ret, size_t *ret_n, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    ferry_audit_entry *entries = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st;
    int limit = filter->limit, rc;

    if (limit <= 0)
        limit = AUDIT_LIST_DEFAULT;
    if (limit > AUDIT_LIST_MAX)
        limit = AUDIT_LIST_MAX;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, at, actor, action, target, detail, client FROM ferry_audit"
                           " WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2)"
                           " AND (?3 = 0 OR id < ?3) ORDER BY id DESC LIMIT ?4",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "listing the audit log");
    ferry_sqlite_bind_text_or_null(st, 1, filter->actor);
    ferry_sqlite_bind_text_or_null(st, 2, filter->action);
    sqlite3_bind_int64(st, 3, filter->before_id > 0 ? filter->before_id : 0);
    sqlite3_bind_int(st, 4, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            ferry_audit_entry *grown = realloc(entries, ncap * sizeof(*entries));
            if (grown == NULL) {
                sqlite3_finalize(st);
                ferry_audit_free(entries, n);
                return ferry_err_set(err, FERRY_ENOMEM, "listing the audit log");
            }
            entries = grown;
            cap = ncap;
        }
        ferry_audit_entry *e = &entries[n++];
        memset(e, 0, sizeof(*e));
        e->id = sqlite3_column_int64(st, 0);
        e->at_ms = ferry_sqlite_col_time(st, 1);
        e->actor = ferry_sqlite_col_strdup(st, 2);
        e->action = ferry_sqlite_col_strdup(st, 3);
        e->target = ferry_sqlite_col_strdup(st, 4);
        e->detail = ferry_sqlite_col_strdup(st, 5);
        e->client = ferry_sqlite_col_strdup(st, 6);
        if (e->action == NULL) {
            sqlite3_finalize(st);
            ferry_audit_free(entries, n);
            return ferry_err_set(err, FERRY_ENOMEM, "listing the audit log");
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ferry_audit_free(entries, n);
        return ferry_sqlite_db_error(s->db, err, "listing the audit log");
    }
    *ret = entries;
    *ret_n = n;
    return FERRY_OK;
}

const ferry_store_people_ops ferry_sqlite_people_ops = {
    .user_add = st_user_add,
    .user_load = st_user_load,
    .user_list = st_user_list,
    .user_set_password = st_user_set_password,
    .user_set_disabled = st_user_set_disabled,
    .user_set_role = st_user_set_role,
    .token_add = st_token_add,
    .token_list = st_token_list,
    .token_revoke = st_token_revoke,
    .token_auth = st_token_auth,
    .session_add = st_session_add,
    .session_auth = st_session_auth,
    .session_delete = st_session_delete,
    .session_purge = st_session_purge,
    .audit_add = st_audit_add,
    .audit_list = st_audit_list,
};
