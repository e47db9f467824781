/* config.c - loads and validates ferry.yaml into the plain structs of config.h.
 *
 * Design. yaml.c reads the file and has libfyaml turn it into a document tree; the tree is
 * then checked by a small schema walker (walk.h) against tables of keys (keys.h): one row per
 * key, one handler per kind of value. This file holds the top level's table and the public
 * functions; sync_section.c walks syncs: and source_section.c each sync's source:. The files
 * depend on each other one way:
 *
 *   config.c -> yaml.c, sync_section.c -> source_section.c -> keys.c -> walk.c -> expand.c
 *   show.c (ferry config) -> config.c
 *
 * walk.c reads every value through expand.c, so ${VAR} references work under every key;
 * from_environment() below then fills database: and listen: from DATABASE_URL and PORT when
 * the file left them out.
 *
 * Everything is built straight into the final structs; on any error the half-built config
 * goes to ferry_config_free(), which copes with missing parts. */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/keys.h"
#include "config/notify_section.h"
#include "config/source_section.h"
#include "config/sync_section.h"
#include "config/walk.h"
#include "config/yaml.h"
#include "util/password.h" /* ferry_password_wipe() */

#define DEFAULT_DATABASE "sqlite:ferry.db"
#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_WORKERS 4
#define WORKERS_MAX 64
#define DEFAULT_SESSION_IDLE_MS (30L * 60 * 1000)
#define DEFAULT_LEASE_MS (5L * 60 * 1000)
#define DEFAULT_SHUTDOWN_GRACE_MS (30L * 1000)
#define DEFAULT_SESSION_MAX_MS (12L * 3600 * 1000)
#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_CONNECTIONS_PER_IP 256
#define DEFAULT_IDLE_TIMEOUT_MS (60L * 1000)
#define DEFAULT_MAX_BODY (1024L * 1024)
#define DEFAULT_NOTIFY_RETRY_BASE_MS (20L * 1000)
#define DEFAULT_EMBED_MAX_AGE_MS (10L * 60 * 1000)
#define METRICS_TOKEN_MIN 16
#define MAX_BODY_LIMIT (64L * 1024 * 1024)
#define MAX_FIELD_BYTES_LIMIT (256UL * 1024 * 1024)

#define TOP(member) offsetof(ferry_config, member)

/* HOST:PORT with a non-empty host and a port from 1 to 65535. */
static bool listen_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    long port;

    if (colon == NULL || colon == s || colon[1] == '-')
        return false;
    return ferry_config_long_parse(colon + 1, &port) && port >= 1 && port <= 65535;
}

static ferry_rc check_listen(struct walk *w, const struct val *v, const struct key_rule *rule,
                             void *obj, void *data)
{
    ferry_config *cfg = data;

    (void)rule;
    (void)obj;
    if (!listen_ok(cfg->listen))
        return ferry_config_fail(w, v->line,
                                 "expected HOST:PORT with a port from 1 to 65535, such as "
                                 "127.0.0.1:8080, not '%.*s'",
                                 ferry_config_show_len(strlen(cfg->listen)), cfg->listen);
    return FERRY_OK;
}

static ferry_rc on_max_body(struct walk *w, const struct val *v, const struct key_rule *rule,
                            void *obj, void *data)
{
    ferry_config *cfg = data;
    char *s = NULL;
    size_t bytes = 0;
    ferry_rc rc = ferry_config_scalar_load(w, v, &s);

    (void)rule;
    (void)obj;
    if (rc != FERRY_OK)
        return rc;
    if (ferry_config_size_parse(s, MAX_FIELD_BYTES_LIMIT, &bytes) != 1 || bytes < 1024 ||
        bytes > MAX_BODY_LIMIT)
        rc = ferry_config_fail(w, v->line,
                               "expected a size from 1KiB to 64MiB, such as 1MiB or 65536");
    else
        cfg->max_body_bytes = (long)bytes;
    free(s);
    return rc;
}

/* metrics_token: the token itself, or ${NAME} to read it from the environment (so it need not
 * be written in the file; walk.c replaces it). The value is never echoed in messages. */
static ferry_rc on_metrics_token(struct walk *w, const struct val *v, const struct key_rule *rule,
                                 void *obj, void *data)
{
    ferry_config *cfg = data;
    char *s = NULL;
    ferry_rc rc = ferry_config_string_load(w, v, &s);

    (void)rule;
    (void)obj;
    if (rc != FERRY_OK)
        return rc;
    if (strlen(s) < METRICS_TOKEN_MIN) {
        ferry_password_wipe(s, strlen(s));
        free(s);
        return ferry_config_fail(w, v->line, "the token must have at least %d characters",
                                 METRICS_TOKEN_MIN);
    }
    if (cfg->metrics_token != NULL)
        ferry_password_wipe(cfg->metrics_token, strlen(cfg->metrics_token));
    free(cfg->metrics_token);
    cfg->metrics_token = s;
    return FERRY_OK;
}

/* cors_origins: [ORIGIN, ...], each scheme://host[:port] with no path, as browsers send it in
 * the Origin header. */
static ferry_rc check_cors_origins(struct walk *w, const struct val *v, const struct key_rule *rule,
                                   void *obj, void *data)
{
    ferry_config *cfg = data;

    (void)rule;
    (void)obj;
    (void)rule;
    (void)obj;
    for (size_t i = 0; i < cfg->ncors_origins; i++) {
        const char *o = cfg->cors_origins[i];
        const char *host = strncmp(o, "https://", 8) == 0  ? o + 8
                           : strncmp(o, "http://", 7) == 0 ? o + 7
                                                           : NULL;
        if (host == NULL || host[0] == '\0' || strpbrk(host, "/?#* ") != NULL)
            return ferry_config_fail(w, v->line,
                                     "'%.*s' is not an origin: expected scheme://host[:port] such "
                                     "as https://admin.example.com, with no path",
                                     ferry_config_show_len(strlen(o)), o);
    }
    return FERRY_OK;
}

/* trusted_proxies: [ADDRESS or CIDR, ...], the reverse proxies in front of Ferry (at the top
 * level: only a request from one of them has its client address read from X-Forwarded-For;
 * auth.trusted_proxies: only one from them may name the user in auth.trusted_header). Into
 * the ferry_ipnet array at the row's offset and its length at count_offset. */
static ferry_rc on_trusted_proxies(struct walk *w, const struct val *v, const struct key_rule *rule,
                                   void *obj, void *data)
{
    ferry_ipnet **member = FERRY_KEY_MEMBER(ferry_ipnet *, data, rule->offset);
    char **texts = NULL;
    size_t n = 0;
    ferry_ipnet *nets;
    ferry_rc rc = ferry_config_strings_load(w, v, true, false, &texts, &n);

    (void)obj;
    if (rc != FERRY_OK)
        return rc;
    if ((nets = calloc(n > 0 ? n : 1, sizeof(*nets))) == NULL) {
        ferry_config_strv_free(texts, n);
        return ferry_config_oom(w);
    }
    for (size_t i = 0; i < n; i++) {
        if (!ferry_ipnet_parse(texts[i], &nets[i])) {
            rc = ferry_config_fail(
                w, v->line,
                "'%.*s' is not an address or a network: expected an IPv4 or IPv6 address "
                "(10.0.0.5) or a CIDR block (10.0.0.0/8), with no bits set past the prefix",
                ferry_config_show_len(strlen(texts[i])), texts[i]);
            free(nets);
            ferry_config_strv_free(texts, n);
            return rc;
        }
    }
    ferry_config_strv_free(texts, n);
    free(*member);
    *member = nets;
    *FERRY_KEY_MEMBER(size_t, data, rule->count_offset) = n;
    return FERRY_OK;
}

/* auth: a trusted_header needs the proxies it is believed from, and is a header's name. */
static ferry_rc check_auth(struct walk *w, const struct val *v, const struct key_rule *rule,
                           void *obj, void *data)
{
    ferry_config *cfg = data;
    const char *h = cfg->auth.trusted_header;

    (void)rule;
    (void)obj;
    if (h == NULL)
        return cfg->auth.ntrusted_proxies == 0
                   ? FERRY_OK
                   : ferry_config_fail(w, v->line,
                                       "trusted_proxies is given without trusted_header");
    if (strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
            strlen(h) ||
        strlen(h) > 64)
        return ferry_config_fail(w, v->line,
                                 "trusted_header must be a header's name such as X-Forwarded-User "
                                 "(letters, digits, - and _), not '%.*s'",
                                 ferry_config_show_len(strlen(h)), h);
    if (cfg->auth.ntrusted_proxies == 0)
        return ferry_config_fail(w, v->line,
                                 "trusted_header needs trusted_proxies: the addresses of the "
                                 "proxies allowed to name the user (such as [10.0.0.5/32])");
    return FERRY_OK;
}

/* base_path: "/ferry" (a trailing slash is dropped): segments of letters, digits and . _ ~ -. */
static ferry_rc check_base_path(struct walk *w, const struct val *v, const struct key_rule *rule,
                                void *obj, void *data)
{
    ferry_config *cfg = data;
    char *p = cfg->base_path;
    size_t n = strlen(p);

    (void)rule;
    (void)obj;
    if (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    if (p[0] != '/' || n < 2 || n > 100 || strstr(p, "//") != NULL || strstr(p, "/.") != NULL ||
        strspn(p, "/ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-") != n)
        return ferry_config_fail(w, v->line,
                                 "expected a path such as /ferry (segments of letters, digits and "
                                 ". _ ~ -), not '%.*s'",
                                 ferry_config_show_len(n), p);
    return FERRY_OK;
}

#define EMBED(member) offsetof(ferry_embed_spec, member)
#define PROXY_AUTH(member) offsetof(ferry_proxy_auth_spec, member)

static const struct key_rule embed_rules[] = {
    {"secret_env", FERRY_KEY_STRING, .flags = FERRY_KEY_REQUIRED, .offset = EMBED(secret_env)},
    {"max_age", FERRY_KEY_DURATION, .offset = EMBED(max_age_ms), .min = 10L * 1000,
     .max = 86400000L, .def = DEFAULT_EMBED_MAX_AGE_MS},
};

static const struct key_rule auth_rules[] = {
    {"trusted_header", FERRY_KEY_STRING, .offset = PROXY_AUTH(trusted_header)},
    {"trusted_proxies", FERRY_KEY_CUSTOM, .offset = PROXY_AUTH(trusted_proxies),
     .count_offset = PROXY_AUTH(ntrusted_proxies), .fn = on_trusted_proxies},
};

/* path as written in the file, resolved against the config's directory: a new string, or NULL
 * when out of memory. */
static char *relative_to_config(const ferry_config *cfg, const char *path)
{
    size_t n = strlen(cfg->dir) + strlen(path) + 2;
    char *full;

    if (path[0] == '/')
        return strdup(path);
    if ((full = malloc(n)) != NULL)
        snprintf(full, n, "%s/%s", cfg->dir, path);
    return full;
}

/* A directory key (files_dir, data_dir): its path relative to the config's, into the member
 * at rule->offset; must_exist: it must be a directory already. */
static ferry_rc on_dir(struct walk *w, const struct val *v, const struct key_rule *rule, void *obj,
                       void *data)
{
    char **member = FERRY_KEY_MEMBER(char *, data, rule->offset);
    bool must_exist = rule->def != 0;
    char *s = NULL, *path;
    struct stat st;
    ferry_rc rc = ferry_config_string_load(w, v, &s);

    (void)obj;
    if (rc != FERRY_OK)
        return rc;
    path = relative_to_config(data, s);
    free(s);
    if (path == NULL)
        return ferry_config_oom(w);
    if (must_exist && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) {
        rc = ferry_config_fail(w, v->line, "'%.*s' is not a directory",
                               ferry_config_show_len(strlen(path)), path);
        free(path);
        return rc;
    }
    free(*member);
    *member = path;
    return FERRY_OK;
}

/* Every source inherits the top level's allow_private, allow_hosts and files_dir, and every
 * sync the top level's timezone, whichever order the keys came in. */
static ferry_rc inherit_top_level(struct walk *w, ferry_config *cfg)
{
    ferry_rc rc = FERRY_OK;

    for (size_t i = 0; i < cfg->nsyncs && rc == FERRY_OK; i++) {
        ferry_sync_spec *s = &cfg->syncs[i];
        if (s->nsteps == 0)
            rc = ferry_config_source_inherit(w, &s->source, cfg);
        for (size_t k = 0; k < s->nsteps && rc == FERRY_OK; k++)
            rc = ferry_config_source_inherit(w, &s->steps[k].source, cfg);
        /* A sync's timezone: wins over the top level's; both were checked when read. */
        const char *zone = s->timezone != NULL ? s->timezone : cfg->timezone;
        ferry_err zerr;
        ferry_err_clear(&zerr);
        if (rc == FERRY_OK && zone != NULL && ferry_tz_load(zone, &s->tz, &zerr) != FERRY_OK)
            rc = ferry_config_fail(w, s->line, "syncs.%s: %s", s->name, zerr.msg);
    }
    return rc;
}

/* public_url: http(s)://HOST[:PORT][/PATH], the page's address in the links Ferry sends; a
 * trailing slash is dropped. */
static ferry_rc check_public_url(struct walk *w, const struct val *v, const struct key_rule *rule,
                                 void *obj, void *data)
{
    ferry_config *cfg = data;
    char *u = cfg->public_url;
    const char *host = strncmp(u, "https://", 8) == 0  ? u + 8
                       : strncmp(u, "http://", 7) == 0 ? u + 7
                                                       : NULL;
    size_t len = strlen(u);

    (void)rule;
    (void)obj;
    if (host == NULL || host[0] == '\0' || host[0] == '/' || strpbrk(u, " ?#\t\r\n") != NULL)
        return ferry_config_fail(w, v->line,
                                 "expected the address people open Ferry's page at, such as "
                                 "https://admin.example.com/ferry");
    while (len > 0 && u[len - 1] == '/')
        u[--len] = '\0';
    return FERRY_OK;
}

#define SMTP(member) offsetof(ferry_smtp_spec, member)

/* The smtp: URL: smtp:// or smtps://, with a host. */
static ferry_rc check_smtp_url(struct walk *w, const struct val *v, const struct key_rule *rule,
                               void *obj, void *data)
{
    const ferry_smtp_spec *smtp = data;
    const char *u = smtp->url, *host;

    (void)rule;
    (void)obj;
    host = strncmp(u, "smtp://", 7) == 0 ? u + 7 : strncmp(u, "smtps://", 8) == 0 ? u + 8 : NULL;
    if (host == NULL || host[0] == '\0' || host[0] == '/' || host[0] == ':')
        return ferry_config_fail(w, v->line,
                                 "expected smtps://HOST:465 (TLS) or smtp://HOST:587 (STARTTLS)");
    if (strpbrk(host, "@?#") != NULL)
        return ferry_config_fail(w, v->line,
                                 "the URL names only the server: put the login in user_env and "
                                 "password_env");
    return FERRY_OK;
}

static ferry_rc check_smtp_from(struct walk *w, const struct val *v, const struct key_rule *rule,
                                void *obj, void *data)
{
    const ferry_smtp_spec *smtp = data;
    const char *at = strchr(smtp->from, '@');

    (void)rule;
    (void)obj;
    if (at == NULL || at == smtp->from || at[1] == '\0' || strpbrk(smtp->from, " <>\r\n,") != NULL)
        return ferry_config_fail(w, v->line,
                                 "expected an e-mail address such as ferry@clinic.example");
    return FERRY_OK;
}

/* ca_file: resolved against the config's directory; it must be readable. */
static ferry_rc check_smtp_ca_file(struct walk *w, const struct val *v, const struct key_rule *rule,
                                   void *obj, void *data)
{
    ferry_smtp_spec *smtp = data;
    const ferry_config *cfg = obj;
    char *path = relative_to_config(cfg, smtp->ca_file);

    (void)rule;
    if (path == NULL)
        return ferry_config_oom(w);
    free(smtp->ca_file);
    smtp->ca_file = path;
    if (access(smtp->ca_file, R_OK) != 0)
        return ferry_config_fail(w, v->line, "cannot read '%.*s'",
                                 ferry_config_show_len(strlen(smtp->ca_file)), smtp->ca_file);
    return FERRY_OK;
}

static const struct key_rule smtp_rules[] = {
    {"url", FERRY_KEY_STRING, .flags = FERRY_KEY_REQUIRED, .offset = SMTP(url),
     .fn = check_smtp_url},
    {"user_env", FERRY_KEY_STRING, .offset = SMTP(user_env)},
    {"password_env", FERRY_KEY_STRING, .offset = SMTP(password_env)},
    {"from", FERRY_KEY_STRING, .flags = FERRY_KEY_REQUIRED, .offset = SMTP(from),
     .fn = check_smtp_from},
    {"ca_file", FERRY_KEY_STRING, .offset = SMTP(ca_file), .fn = check_smtp_ca_file},
    {"starttls", FERRY_KEY_BOOL, .offset = SMTP(starttls), .def = true},
};

/* The smtp: section as a whole: a login is both names or neither, and never sent in clear. */
static ferry_rc check_smtp(struct walk *w, const struct val *v, const struct key_rule *rule,
                           void *obj, void *data)
{
    const ferry_smtp_spec *smtp = &((ferry_config *)data)->smtp;

    (void)rule;
    (void)obj;
    if ((smtp->user_env == NULL) != (smtp->password_env == NULL))
        return ferry_config_fail(w, v->line, "a login needs both user_env and password_env");
    if (smtp->password_env != NULL && !smtp->starttls && strncmp(smtp->url, "smtps://", 8) != 0)
        return ferry_config_fail(w, v->line,
                                 "starttls: false would send the password in clear: use "
                                 "smtps:// or leave starttls on");
    return FERRY_OK;
}

#define LOG(member) offsetof(ferry_log_spec, member)

static const char *const log_formats[] = {"text", "json"};
static const char *const log_levels[] = {"debug", "info", "warn", "error"};

static const struct key_rule log_rules[] = {
    {"format", FERRY_KEY_ENUM, .offset = LOG(format), .what = "log format", .names = log_formats,
     .nnames = NITEMS(log_formats), .def = FERRY_LOG_TEXT},
    {"level", FERRY_KEY_ENUM, .offset = LOG(level), .what = "log level", .names = log_levels,
     .nnames = NITEMS(log_levels), .def = FERRY_LOG_INFO},
};

#define TLS(member) offsetof(ferry_tls_spec, member)

/* tls.cert and tls.key: resolved against the config's directory. */
static ferry_rc check_tls_file(struct walk *w, const struct val *v, const struct key_rule *rule,
                               void *obj, void *data)
{
    char **slot = (char **)((char *)data + rule->offset);
    char *path = relative_to_config(obj, *slot);

    (void)v;
    if (path == NULL)
        return ferry_config_oom(w);
    free(*slot);
    *slot = path;
    return FERRY_OK;
}

static const struct key_rule tls_rules[] = {
    {"cert", FERRY_KEY_STRING, .offset = TLS(cert), .fn = check_tls_file},
    {"key", FERRY_KEY_STRING, .offset = TLS(key), .fn = check_tls_file},
};

/* The tls: section as a whole: both files or neither, readable, PEM, and the key the
 * certificate's (loaded now, so a reload with a bad file is refused). */
static ferry_rc check_tls(struct walk *w, const struct val *v, const struct key_rule *rule,
                          void *obj, void *data)
{
    ferry_tls_spec *tls = &((ferry_config *)data)->tls;
    ferry_err why;

    (void)rule;
    (void)obj;
    if ((tls->cert == NULL) != (tls->key == NULL))
        return ferry_config_fail(w, v->line, "HTTPS needs both cert and key");
    if (tls->cert == NULL)
        return FERRY_OK;
    ferry_err_clear(&why);
    if (ferry_tls_pair_load(tls->cert, tls->key, &tls->pair, &why) != FERRY_OK)
        return why.code == FERRY_ENOMEM ? ferry_config_oom(w)
                                        : ferry_config_fail(w, v->line, "%s", why.msg);
    return FERRY_OK;
}

#define RETENTION(member) offsetof(ferry_retention_spec, member)
#define DAY_MS (24L * 3600 * 1000)

/* A retention: a duration such as 30d, or keep (forever). */
static ferry_rc on_retention(struct walk *w, const struct val *v, const struct key_rule *rule,
                             void *obj, void *data)
{
    long *dst = FERRY_KEY_MEMBER(long, data, rule->offset);
    char *s = NULL;
    long ms = 0;
    ferry_rc rc = ferry_config_scalar_load(w, v, &s);

    (void)obj;
    if (rc != FERRY_OK)
        return rc;
    if (strcmp(s, "keep") == 0)
        *dst = FERRY_RETENTION_KEEP;
    else if (ferry_duration_parse(s, &ms) && ms >= 3600L * 1000)
        *dst = ms;
    else
        rc = ferry_config_fail(w, v->line,
                               "expected a duration of at least an hour, such as 30d, or keep");
    free(s);
    return rc;
}

static const struct key_rule retention_rules[] = {
    {"runs", FERRY_KEY_CUSTOM, .offset = RETENTION(runs_ms), .fn = on_retention},
    {"changes", FERRY_KEY_CUSTOM, .offset = RETENTION(changes_ms), .fn = on_retention},
    {"audit", FERRY_KEY_CUSTOM, .offset = RETENTION(audit_ms), .fn = on_retention},
    {"every", FERRY_KEY_DURATION, .offset = RETENTION(every_ms), .min = 1000, .max = 7 * DAY_MS,
     .def = 3600L * 1000},
};

/* The retention: section as a whole: a run's change rows cannot outlive it. */
static ferry_rc check_retention(struct walk *w, const struct val *v, const struct key_rule *rule,
                                void *obj, void *data)
{
    const ferry_retention_spec *r = &((ferry_config *)data)->retention;

    (void)rule;
    (void)obj;
    if (r->runs_ms != FERRY_RETENTION_KEEP && r->changes_ms != FERRY_RETENTION_KEEP &&
        r->changes_ms > r->runs_ms)
        return ferry_config_fail(w, v->line,
                                 "changes may not be kept longer than runs: a run's change rows "
                                 "go with the run");
    return FERRY_OK;
}

static const struct key_rule top_rules[] = {
    {"database", FERRY_KEY_STRING, .offset = TOP(database), .def_text = DEFAULT_DATABASE,
     .fn = ferry_config_database_check},
    {"store_key_env", FERRY_KEY_STRING, .offset = TOP(store_key_env),
     .def_text = "FERRY_STORE_KEY"},
    {"listen", FERRY_KEY_STRING, .offset = TOP(listen), .def_text = DEFAULT_LISTEN,
     .fn = check_listen},
    {"workers", FERRY_KEY_INT, .offset = TOP(workers), .min = 1, .max = WORKERS_MAX,
     .def = DEFAULT_WORKERS},
    /* the heartbeat renews a lease every 5 s, so it must leave room for several */
    {"lease", FERRY_KEY_DURATION, .offset = TOP(lease_ms), .min = 10L * 1000, .max = 86400000L,
     .def = DEFAULT_LEASE_MS},
    /* how long running runs may go on after SIGTERM: 0 (or 0s) stops them at once */
    {"shutdown_grace", FERRY_KEY_DURATION, .flags = FERRY_KEY_ZERO_OK,
     .offset = TOP(shutdown_grace_ms), .min = 0, .max = 86400000L,
     .def = DEFAULT_SHUTDOWN_GRACE_MS},
    {"session_idle", FERRY_KEY_DURATION, .offset = TOP(session_idle_ms), .min = 60L * 1000,
     .max = 30L * 86400000, .def = DEFAULT_SESSION_IDLE_MS},
    {"session_max", FERRY_KEY_DURATION, .offset = TOP(session_max_ms), .min = 60L * 1000,
     .max = 365L * 86400000, .def = DEFAULT_SESSION_MAX_MS},
    {"metrics_token", FERRY_KEY_CUSTOM, .fn = on_metrics_token},
    {"max_connections", FERRY_KEY_LONG, .offset = TOP(max_connections), .min = 16, .max = 100000,
     .def = DEFAULT_MAX_CONNECTIONS},
    {"max_connections_per_ip", FERRY_KEY_LONG, .offset = TOP(max_connections_per_ip), .min = 0,
     .max = 100000, .def = DEFAULT_CONNECTIONS_PER_IP},
    {"idle_timeout", FERRY_KEY_DURATION, .offset = TOP(idle_timeout_ms), .min = 1000,
     .max = 86400000, .def = DEFAULT_IDLE_TIMEOUT_MS},
    {"max_body", FERRY_KEY_CUSTOM, .fn = on_max_body}, /* default in config_new() */
    {"cors_origins", FERRY_KEY_STRINGS, .flags = FERRY_KEY_ONE_OK, .offset = TOP(cors_origins),
     .count_offset = TOP(ncors_origins), .fn = check_cors_origins},
    {"allow_private", FERRY_KEY_BOOL, .offset = TOP(allow_private)},
    {"allow_hosts", FERRY_KEY_STRINGS, .flags = FERRY_KEY_ONE_OK | FERRY_KEY_NOCASE,
     .offset = TOP(allow_hosts), .count_offset = TOP(nallow_hosts), .fn = ferry_config_hosts_check},
    /* files_dir must exist; data_dir is made when first needed */
    {"files_dir", FERRY_KEY_CUSTOM, .offset = TOP(files_dir), .def = 1, .fn = on_dir},
    {"data_dir", FERRY_KEY_CUSTOM, .offset = TOP(data_dir), .fn = on_dir},
    {"held_max_bytes", FERRY_KEY_SIZE, .offset = TOP(held_max_bytes),
     .max = 1024L * 1024 * 1024 * 1024, .what = "1TiB", .def = 1024L * 1024 * 1024},
    {"trusted_proxies", FERRY_KEY_CUSTOM, .offset = TOP(trusted_proxies),
     .count_offset = TOP(ntrusted_proxies), .fn = on_trusted_proxies},
    {"embed", FERRY_KEY_TABLE, .offset = TOP(embed), .sub = embed_rules,
     .nsub = NITEMS(embed_rules)},
    {"auth", FERRY_KEY_TABLE, .offset = TOP(auth), .sub = auth_rules, .nsub = NITEMS(auth_rules),
     .fn = check_auth},
    {"base_path", FERRY_KEY_STRING, .offset = TOP(base_path), .fn = check_base_path},
    {"notify", FERRY_KEY_CUSTOM, .offset = TOP(notify), .fn = ferry_config_notify_walk},
    {"public_url", FERRY_KEY_STRING, .offset = TOP(public_url), .fn = check_public_url},
    /* the first retry of a failed delivery; documented as a knob for tests */
    {"notify_retry_base", FERRY_KEY_DURATION, .offset = TOP(notify_retry_base_ms), .min = 100,
     .max = 3600L * 1000, .def = DEFAULT_NOTIFY_RETRY_BASE_MS},
    {"smtp", FERRY_KEY_TABLE, .offset = TOP(smtp), .sub = smtp_rules, .nsub = NITEMS(smtp_rules),
     .fn = check_smtp},
    {"timezone", FERRY_KEY_STRING, .offset = TOP(timezone), .fn = ferry_config_timezone_check},
    {"log", FERRY_KEY_TABLE, .offset = TOP(log), .sub = log_rules, .nsub = NITEMS(log_rules)},
    {"tls", FERRY_KEY_TABLE, .offset = TOP(tls), .sub = tls_rules, .nsub = NITEMS(tls_rules),
     .fn = check_tls},
    {"retention", FERRY_KEY_TABLE, .offset = TOP(retention), .sub = retention_rules,
     .nsub = NITEMS(retention_rules), .fn = check_retention},
    {"syncs", FERRY_KEY_CUSTOM, .fn = ferry_config_syncs_walk}, /* sync_section.c */
};

const struct key_rule *ferry_config_top_rules_get(size_t *ret_n)
{
    *ret_n = NITEMS(top_rules);
    return top_rules;
}

/* DATABASE_URL and PORT, as platforms that run apps set them, when the file leaves database:
 * or listen: out (a key in the file wins). PORT listens on every interface: the platform's
 * router reaches the app from outside the loopback. Unset or empty variables are ignored. */
static ferry_rc from_environment(struct walk *w, const struct key_seen *seen, ferry_config *cfg)
{
    const char *url = getenv(FERRY_CONFIG_DATABASE_VAR);
    const char *port = getenv(FERRY_CONFIG_PORT_VAR);
    long n;
    char *s;

    if (url != NULL && url[0] != '\0' &&
        ferry_config_seen_get(seen, top_rules, NITEMS(top_rules), "database") == NULL) {
        /* the value is not echoed: it may carry a password */
        if (!ferry_config_database_is_valid(url))
            return ferry_err_set(w->err, FERRY_ECONFIG,
                                 "%s: the environment variable " FERRY_CONFIG_DATABASE_VAR
                                 " (used as database:) is not sqlite:PATH or a postgres:// "
                                 "or postgresql:// URL",
                                 w->file);
        if ((s = strdup(url)) == NULL)
            return ferry_config_oom(w);
        free(cfg->database);
        cfg->database = s;
    }
    if (port != NULL && port[0] != '\0' &&
        ferry_config_seen_get(seen, top_rules, NITEMS(top_rules), "listen") == NULL) {
        char buf[32];

        if (!ferry_config_long_parse(port, &n) || n < 1 || n > 65535)
            return ferry_err_set(w->err, FERRY_ECONFIG,
                                 "%s: the environment variable " FERRY_CONFIG_PORT_VAR
                                 " (used as the port of listen:) is not a port number from 1 "
                                 "to 65535",
                                 w->file);
        snprintf(buf, sizeof(buf), "0.0.0.0:%ld", n);
        if ((s = strdup(buf)) == NULL)
            return ferry_config_oom(w);
        free(cfg->listen);
        cfg->listen = s;
    }
    return FERRY_OK;
}

static ferry_config *config_new(const char *path, const char *dir)
{
    ferry_config *cfg = calloc(1, sizeof(*cfg));

    if (cfg == NULL)
        return NULL;
    cfg->max_body_bytes = DEFAULT_MAX_BODY;
    cfg->retention.runs_ms = 180 * DAY_MS;
    cfg->retention.changes_ms = 30 * DAY_MS;
    cfg->retention.audit_ms = 365 * DAY_MS;
    cfg->path = strdup(path);
    cfg->dir = strdup(dir);
    if (!ferry_config_table_defaults(top_rules, NITEMS(top_rules), cfg) ||
        !ferry_config_table_defaults(smtp_rules, NITEMS(smtp_rules), &cfg->smtp) ||
        !ferry_config_table_defaults(log_rules, NITEMS(log_rules), &cfg->log) ||
        !ferry_config_table_defaults(retention_rules, NITEMS(retention_rules), &cfg->retention) ||
        cfg->path == NULL || cfg->dir == NULL) {
        ferry_config_free(cfg);
        return NULL;
    }
    return cfg;
}

ferry_rc ferry_config_parse(const char *text, size_t len, const char *name, const char *dir,
                            ferry_config **ret_cfg, ferry_err *err)
{
    struct walk w;
    struct yaml y;
    ferry_config *cfg = NULL;
    struct fy_node *root;
    struct key_seen seen;
    ferry_rc rc;

    if (ret_cfg == NULL || (text == NULL && len > 0))
        return ferry_err_set(err, FERRY_EINVAL, "ferry_config_parse: invalid arguments");
    *ret_cfg = NULL;
    memset(&w, 0, sizeof(w));
    memset(&y, 0, sizeof(y));
    memset(&seen, 0, sizeof(seen));
    w.file = name != NULL ? name : "<config>";
    w.err = err;
    cfg = config_new(w.file, dir != NULL ? dir : ".");
    if (cfg == NULL)
        return ferry_config_oom(&w);
    rc = ferry_config_yaml_open(&w, text, len, &y);
    if (rc != FERRY_OK)
        goto out;
    root = y.doc != NULL ? fy_document_root(y.doc) : NULL;
    if (!ferry_config_is_null(root)) { /* an empty document is a config of defaults */
        struct val v = ferry_config_val_of(root, 1);

        rc = ferry_config_table_walk(&w, &v, top_rules, NITEMS(top_rules), cfg, cfg, &seen);
    }
    if (rc == FERRY_OK)
        rc = from_environment(&w, &seen, cfg);
    if (rc == FERRY_OK)
        rc = inherit_top_level(&w, cfg);
    if (rc == FERRY_OK)
        rc = ferry_config_shared_tables_check(&w, cfg);
    if (rc == FERRY_OK)
        rc = ferry_config_notify_finish(&w, cfg);
    if (rc == FERRY_OK && cfg->data_dir == NULL &&
        (cfg->data_dir = relative_to_config(cfg, "ferry-data")) == NULL)
        rc = ferry_config_oom(&w);
out:
    ferry_config_walk_done(&w);
    ferry_config_yaml_close(&y);
    if (rc != FERRY_OK) {
        ferry_config_free(cfg);
        if (err != NULL) {
            /* An error is one line: keys and values quoted in it may hold line breaks or
             * other control characters, shown as '?'. */
            for (char *p = err->msg; *p != '\0'; p++) {
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                    *p = '?';
            }
        }
        return rc;
    }
    *ret_cfg = cfg;
    return FERRY_OK;
}

ferry_rc ferry_config_load(const char *path, ferry_config **ret_cfg, ferry_err *err)
{
    char *text = NULL, *dir = NULL;
    size_t len = 0;
    ferry_rc rc;

    if (path == NULL || ret_cfg == NULL)
        return ferry_err_set(err, FERRY_EINVAL, "ferry_config_load: invalid arguments");
    *ret_cfg = NULL;
    rc = ferry_config_file_load_with_dir(path, &text, &len, &dir, err);
    if (rc != FERRY_OK)
        return rc;
    rc = ferry_config_parse(text, len, path, dir, ret_cfg, err);
    free(dir);
    free(text);
    return rc;
}

void ferry_config_free(ferry_config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    for (i = 0; i < cfg->nsyncs; i++)
        ferry_config_sync_done(&cfg->syncs[i]);
    free(cfg->syncs);
    free(cfg->path);
    free(cfg->dir);
    free(cfg->database);
    free(cfg->store_key_env);
    free(cfg->listen);
    if (cfg->metrics_token != NULL)
        ferry_password_wipe(cfg->metrics_token, strlen(cfg->metrics_token));
    free(cfg->metrics_token);
    ferry_config_strv_free(cfg->cors_origins, cfg->ncors_origins);
    ferry_config_strv_free(cfg->allow_hosts, cfg->nallow_hosts);
    free(cfg->files_dir);
    free(cfg->data_dir);
    free(cfg->trusted_proxies);
    ferry_config_notify_list_done(&cfg->notify);
    free(cfg->public_url);
    free(cfg->embed.secret_env);
    free(cfg->auth.trusted_header);
    free(cfg->auth.trusted_proxies);
    free(cfg->base_path);
    free(cfg->timezone);
    free(cfg->smtp.url);
    free(cfg->smtp.user_env);
    free(cfg->smtp.password_env);
    free(cfg->smtp.from);
    free(cfg->smtp.ca_file);
    free(cfg->tls.cert);
    free(cfg->tls.key);
    ferry_tls_pair_unref(cfg->tls.pair);
    free(cfg);
}

void ferry_config_tls_keep(ferry_config *next, const ferry_config *cur)
{
    free(next->tls.cert);
    free(next->tls.key);
    ferry_tls_pair_unref(next->tls.pair);
    next->tls.cert = cur->tls.cert != NULL ? strdup(cur->tls.cert) : NULL;
    next->tls.key = cur->tls.key != NULL ? strdup(cur->tls.key) : NULL;
    next->tls.pair = ferry_tls_pair_ref(cur->tls.pair);
    if (next->tls.cert == NULL || next->tls.key == NULL) { /* out of memory: as if off */
        free(next->tls.cert);
        free(next->tls.key);
        ferry_tls_pair_unref(next->tls.pair);
        memset(&next->tls, 0, sizeof(next->tls));
    }
}

const ferry_notify_list *ferry_config_notify_get(const ferry_config *cfg,
                                                 const ferry_sync_spec *sync)
{
    if (sync != NULL && sync->notify.set)
        return &sync->notify;
    return &cfg->notify;
}

const ferry_sync_spec *ferry_config_sync_get(const ferry_config *cfg, const char *name)
{
    size_t i;

    if (cfg == NULL || name == NULL)
        return NULL;
    for (i = 0; i < cfg->nsyncs; i++)
        if (strcmp(cfg->syncs[i].name, name) == 0)
            return &cfg->syncs[i];
    return NULL;
}
