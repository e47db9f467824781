/* config.h - the YAML configuration, loaded into plain structs.
 *
 * ferry_config_load() reads a YAML file with libfyaml, checks every key against the schema
 * documented in docs/config.md and fills the structs below. Every error names the file, the
 * line and the dotted key ("ferry.yaml:14: syncs.therapists.fields.email.type: unknown type
 * 'mail'"). Unknown keys are errors, so a typo never silently changes behaviour.
 *
 * Values may name environment variables: ${VAR}, ${VAR:-default}, $${ for a literal ${ (see
 * config/expand.h); an unset variable without a default is an error naming file, line and key.
 * DATABASE_URL and PORT fill database: and listen: (0.0.0.0:PORT) when the file has neither.
 *
 * A loaded config is immutable and owned by whoever loaded it; all strings in it belong to
 * it and live until ferry_config_free(). It may be read from any thread. */
#ifndef FERRY_CONFIG_CONFIG_H
#define FERRY_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/cron.h"
#include "util/err.h"
#include "util/ipnet.h"
#include "util/log.h"
#include "util/notation.h"
#include "util/tls.h"

typedef enum {
    FERRY_TYPE_TEXT = 0,
    FERRY_TYPE_INTEGER,
    FERRY_TYPE_DECIMAL,
    FERRY_TYPE_BOOLEAN,
    FERRY_TYPE_DATE,
    FERRY_TYPE_DATETIME,
    FERRY_TYPE_EMAIL,
    FERRY_TYPE_ENUM,
} ferry_field_type;

/* The YAML name of a type ("text", "integer"...). */
const char *ferry_field_type_name(ferry_field_type type);

/* A name and a value (headers, query parameters, variables), in config order. */
typedef struct {
    char *name;
    char *value;
} ferry_pair;

/* The most match columns a look-up takes. */
#define FERRY_LOOKUP_MATCH_MAX 8

/* A field's look-up (fields.NAME.lookup, docs/config.md): the value written is the value column
 * of the row of table whose match columns hold the record's values. */
typedef struct {
    char *table;  /* NULL: the field has no look-up */
    char **match; /* match[0] holds the field's own value; match[i > 0], the value of the
                     record's field of that name */
    size_t nmatch;
    size_t *match_field; /* the field giving each match column's value (match_field[0]: this) */
    char *value;         /* the column written; default "id" */
    ferry_pair *scope;   /* only rows whose column holds the value ({variable}s of the run's
                            tenant expanded) are looked at */
    size_t nscope;
    bool optional;  /* no row found writes NULL instead of failing the record */
    bool from_step; /* an earlier step of the run writes the table (it may not exist before
                       the run: ferry check does not read it) */
    int line;
} ferry_lookup_spec;

/* A piece of a field's template: literal text, or a source value it reads. */
typedef struct {
    char *text;   /* the literal text, or the reference as written ("First Name", "/a/b") */
    size_t len;   /* of text */
    bool ref;     /* {text}: a source value */
    size_t input; /* ref: the index of its value in a source record (fields', then inputs) */
} ferry_template_part;

/* A source value that only templates read: a CSV column or a REST record's JSON pointer. A
 * source record's value[nfields + i] is inputs[i]'s (ferry_sync_input_count()). */
typedef struct {
    char *column;  /* CSV: the header; REST: NULL */
    char *pointer; /* REST: the pointer ("{name}" reads "/name"); CSV: NULL */
    size_t field;  /* the first field whose template reads it, for messages */
} ferry_source_input;

typedef enum {
    FERRY_CASE_KEEP = 0, /* default */
    FERRY_CASE_LOWER,
    FERRY_CASE_UPPER,
    FERRY_CASE_TITLE,
} ferry_letter_case;

typedef enum {
    FERRY_OTHERWISE_KEEP = 0, /* a value not in map is kept (default) */
    FERRY_OTHERWISE_FAIL,     /* ... fails its record */
    FERRY_OTHERWISE_VALUE,    /* ... becomes otherwise_value */
} ferry_otherwise;

/* A field's transforms (docs/config.md, "Transforms"), applied before typing in this order:
 * value or template (the raw value), trim, default, map and otherwise, case, format. */
typedef struct {
    char *value;    /* value: a constant (the field reads no source value), or NULL */
    char *template; /* template: as written, or NULL */
    ferry_template_part *parts;
    size_t nparts;
    int template_line;
    char *def;       /* default: the value of an empty cell, or NULL */
    ferry_pair *map; /* map: source value (name) -> value, sorted by name; exact matches */
    size_t nmap;
    ferry_otherwise otherwise;
    char *otherwise_value; /* otherwise: as written */
    ferry_letter_case letter_case;
    char *format; /* format: as written, or NULL */
    int format_line;
    ferry_number_notation number; /* format: of a decimal or integer field */
} ferry_transform_spec;

typedef struct {
    char *name;            /* the target column, the key under fields: */
    char *column;          /* the source column header; defaults to name */
    ferry_field_type type; /* default text */
    bool required;         /* an empty value fails the record; default false */
    bool trim;             /* strip leading and trailing white space first; default true */
    char *pointer;         /* rest sources: JSON pointer into the record; default "/name" */
    char *join;            /* rest sources: joins array elements; default ", " */
    bool is_tenant;        /* the tenant column a sync with tenants adds (tenant.column) */
    char *scope_value;     /* a target.scope column: the value Ferry writes on every row */
    bool filled;           /* Ferry fills it (the tenant's or a scope column, or a field with
                              value: or template:): no source column or pointer of its own is
                              read for it */
    char **values;         /* enum: the allowed values, as written */
    size_t nvalues;
    ferry_lookup_spec lookup; /* lookup.table NULL when the field has none */
    ferry_transform_spec tf;  /* value, template, default, map, case, format */
    int line;                 /* line in the config file, for messages */
    int column_line;          /* line of column:, or 0 when not given */
    int pointer_line;         /* line of pointer: or join:, or 0 when not given */
} ferry_field_spec;

typedef enum {
    FERRY_SKIP_IN = 0, /* skip when the value is one of values */
    FERRY_SKIP_NOT_IN, /* skip when the value is none of values */
    FERRY_SKIP_EMPTY,  /* skip when the value is empty */
} ferry_skip_kind;

/* The longest label of a skip rule, in bytes. */
#define FERRY_SKIP_LABEL_MAX 64

typedef struct {
    size_t field; /* index into ferry_sync_spec.fields */
    ferry_skip_kind kind;
    char **values; /* in / not_in: compared case-insensitively */
    size_t nvalues;
    long label; /* label: the records it skips are counted apart, under
                   ferry_sync_spec.skip_labels[label]; -1 without a label */
} ferry_skip_rule;

/* The longest record name (label: on a sync) a run writes, in bytes; longer ones are cut. */
#define FERRY_RECORD_LABEL_MAX 256

/* One piece of a record name: literal text, then a field's value. */
typedef struct {
    char *text; /* the literal text before the field's value ("" when none) */
    long field; /* index into ferry_sync_spec.fields, or -1 for the text after the last field */
} ferry_label_part;

/* label: on a sync ("{name} ({email})", docs/config.md): how messages and change rows name a
 * record, from its mapped field values. */
typedef struct {
    char *text; /* as written; NULL: records are named by their key alone */
    ferry_label_part *parts;
    size_t nparts;
    int line;
} ferry_record_label;

typedef enum {
    FERRY_ON_MISSING_KEEP = 0, /* rows the source no longer has stay as they are */
    FERRY_ON_MISSING_DELETE,   /* ... are deleted */
    FERRY_ON_MISSING_FLAG,     /* ... get ferry_missing_since set to the run's time */
} ferry_on_missing;

typedef enum {
    FERRY_SOURCE_CSV = 0,
    FERRY_SOURCE_REST,
} ferry_source_kind;

/* Where a secret (or a user name) comes from; read when a run starts, never stored here. */
typedef struct {
    char *literal; /* user names only: the value as written */
    char *env;     /* the environment variable holding it */
    char *file;    /* the file holding it (resolved against the config's directory) */
} ferry_secret_ref;

typedef enum {
    FERRY_AUTH_NONE = 0,
    FERRY_AUTH_BASIC,
    FERRY_AUTH_BEARER,
    FERRY_AUTH_HEADER,
    FERRY_AUTH_GOOGLE_SA, /* google_service_account: a key traded for bearer tokens */
    FERRY_AUTH_OAUTH2,    /* oauth2: a client's credentials or a refresh token traded for them */
} ferry_auth_type;

typedef enum {
    FERRY_OAUTH2_CLIENT_CREDENTIALS = 0,
    FERRY_OAUTH2_REFRESH_TOKEN,
} ferry_oauth2_grant;

typedef enum {
    FERRY_OAUTH2_AUTH_BASIC = 0, /* client id and secret in an Authorization: Basic header */
    FERRY_OAUTH2_AUTH_BODY,      /* as client_id and client_secret in the form */
} ferry_oauth2_client_auth;

/* auth: { oauth2: ... } (docs/sources.md); its client secret is the auth's secret and its
 * scope the auth's scope. */
typedef struct {
    char *token_url; /* may hold {variables} */
    char *client_id; /* may hold {variables} */
    ferry_oauth2_grant grant;
    ferry_oauth2_client_auth client_auth;
    ferry_secret_ref refresh; /* refresh_token grant: refresh_token_env or refresh_token_file */
} ferry_oauth2_spec;

typedef struct {
    ferry_auth_type type;
    ferry_secret_ref user;   /* basic */
    ferry_secret_ref secret; /* basic: the password; bearer: the token; header: the key;
                                google_service_account: the key file's JSON */
    char *header;            /* header: the header's name */
    char *scope;             /* google_service_account, oauth2: the scopes asked for, or NULL */
    ferry_oauth2_spec oauth2;
} ferry_auth_spec;

typedef enum {
    FERRY_PAGE_NONE = 0,
    FERRY_PAGE_NEXT_LINK,
    FERRY_PAGE_LINK_HEADER,
    FERRY_PAGE_OFFSET,
    FERRY_PAGE_CURSOR,
    FERRY_PAGE_PAGE,
} ferry_page_style;

/* The YAML name of a pagination style ("next_link"...). */
const char *ferry_page_style_name(ferry_page_style style);

typedef struct {
    ferry_page_style style;
    char *next;         /* next_link: pointer to the next URL; default /links/next */
    char *total;        /* pointer to the stated total, or NULL */
    char *offset_param; /* offset: default startAt */
    char *limit_param;  /* offset: default maxResults */
    long limit;         /* offset: page size; default 100 */
    long start;         /* offset: first index (default 0); page: first page (default 1) */
    char *cursor;       /* cursor: pointer to the token; default /nextPageToken */
    char *cursor_param; /* cursor: default nextPageToken */
    char *page_param;   /* page: default page */
    char *size_param;   /* page: the page size parameter, or NULL */
    long size;          /* page: the page size (0: unknown, only an empty page ends) */
    long max_pages;     /* default 100000 */
} ferry_pagination_spec;

/* How a since value is written (incremental.format). */
typedef enum {
    FERRY_SINCE_ISO = 0, /* 2026-12-06T09:00:00Z */
    FERRY_SINCE_EPOCH,   /* seconds since the Unix epoch */
} ferry_since_format;

/* incremental: on a REST source (docs/sources.md, "Incremental syncs"): each run after the
 * first asks only for the records changed since the last successful run's highest cursor. */
typedef struct {
    char *cursor;       /* JSON pointer into each record to an instant; NULL: not incremental */
    char *param;        /* the query parameter the since value goes in, or NULL when the url or
                           a query value holds {since} */
    long overlap_ms;    /* subtracted from the watermark; default 0 */
    long full_every_ms; /* a full run when the last one is this old; 0: only the first and on
                           demand */
    ferry_since_format format;
    int line;
} ferry_incremental_spec;

typedef struct {
    ferry_source_kind kind;
    char *url;              /* as written: a path, a file:// URL or an http(s) URL; may hold
                               {variables} */
    long timeout_ms;        /* csv: whole transfer; rest: one request; default 60 s */
    size_t max_field_bytes; /* a longer CSV field fails its record; default 1 MiB */
    char delimiter;         /* default ',' */
    /* rest only (docs/sources.md) */
    char *method; /* "GET" (default) or "POST" */
    ferry_pair *headers;
    size_t nheaders;
    ferry_pair *query;
    size_t nquery;
    ferry_pair *vars;
    size_t nvars;
    char *body; /* or NULL */
    ferry_auth_spec auth;
    char *records; /* pointer to the records array in a page; default "" */
    ferry_pagination_spec pagination;
    char *rate_limit;      /* as written, or NULL */
    double rate_per_s;     /* 0 without a rate limit */
    long stall_timeout_ms; /* default 30 s */
    size_t max_page_bytes; /* default 16 MiB */
    int page_retries;      /* default 4 */
    long retry_backoff_ms; /* default 1 s */
    long max_wait_ms;      /* default 15 min */
    ferry_incremental_spec incremental;
    /* Where the source may read from (docs/security.md). After loading, each source holds
     * its own settings merged with the top level's. */
    bool allow_private; /* private and loopback addresses allowed; default false */
    char **allow_hosts; /* hosts (lower case) or addresses that may resolve anywhere */
    size_t nallow_hosts;
    char *files_dir;  /* a local file must resolve inside it: the top level's files_dir */
    size_t max_bytes; /* csv: a download larger than this (decoded) fails; default 1 GiB */
} ferry_source_spec;

typedef struct {
    char *table;
    char *database; /* where the table lives when not in the config's database (a URL as
                       for database:), else NULL */
    char **key;     /* field names forming the key, at least one */
    size_t nkey;
    ferry_on_missing on_missing;
    /* target.timestamps: the columns Ferry fills with the time a row was created and last
       changed (created_at, updated_at for "true"), or NULL when timestamps are off */
    char *created_column;
    char *updated_column;
    /* target.flag (on_missing: flag only): the application's column that marks a missing row,
       or NULL for Ferry's own ferry_missing_since. With flag_bool the column takes flag_value
       on missing rows and !flag_value when the record returns; without, the run's time, and
       NULL when the record returns. */
    char *flag_column;
    bool flag_bool;
    bool flag_value;
    int flag_line; /* where flag: was written, or 0 */
    /* target.scope: how many of the fields are scope columns (filled with scope_value, and
       key columns after those of target.key) */
    size_t nscope;
} ferry_target_spec;

/* One limit of a sync's guard: a share of the rows (or records) or a count of them. */
typedef struct {
    bool set;      /* false: no limit */
    bool percent;  /* value is a share, in hundredths of a percent (1000 is 10%) */
    int64_t value; /* hundredths of a percent, or a count */
} ferry_guard_limit;

#define FERRY_GUARD_PROTECT_MAX 64 /* fields guard.protect may name */

/* A sync's guard (docs/config.md, "guard"; docs/review.md): what a run may do before it is
 * held for a person to approve. */
typedef struct {
    ferry_guard_limit max_missing; /* rows on_missing deletes or flags; default 10% */
    ferry_guard_limit max_failed;  /* records that fail; default none */
    ferry_guard_limit max_updated; /* rows updated; default none */
    char **protect;                /* fields whose change holds the run for an admin, or NULL
                                      (the sync's; a step's guard borrows them) */
    size_t nprotect;
    long hold_for_ms; /* an undecided held run is rejected (expired) after this; default 24 h */
} ferry_guard_spec;

/* syncs.NAME.tenants (docs/sources.md, "Tenants"). */
typedef struct {
    char *query;    /* one SELECT; NULL without tenants: */
    char *database; /* NULL: the sync's target database */
    int line;
} ferry_tenants_spec;

/* Where a finished run is told (notify:, docs/config.md "Notifications"). */
typedef enum {
    FERRY_NOTIFY_WEBHOOK = 0, /* a signed POST of the run (and, with records, its changes) */
    FERRY_NOTIFY_EMAIL,       /* a plain-text message through smtp: */
    FERRY_NOTIFY_PG_CHANNEL,  /* NOTIFY channel, run id, when a run commits (PostgreSQL) */
} ferry_notify_kind;

/* Which ends of a run an endpoint hears of (on:); finished is all three. */
#define FERRY_NOTIFY_ON_SUCCEEDED 0x1u
#define FERRY_NOTIFY_ON_FAILED 0x2u
#define FERRY_NOTIFY_ON_CANCELLED 0x4u
#define FERRY_NOTIFY_ON_FINISHED 0x7u

/* The most endpoints one notify: lists, and the most records in one change-feed request. */
#define FERRY_NOTIFY_MAX 16
#define FERRY_NOTIFY_BATCH_MAX 10000

/* One endpoint. The secret is read when the config loads (from secret_env or secret_file),
 * is never shown, and is wiped when the config is freed. */
typedef struct {
    ferry_notify_kind kind;
    unsigned on;           /* FERRY_NOTIFY_ON_... */
    char *url;             /* webhook: http(s) URL */
    char *secret;          /* webhook: the HMAC-SHA256 key */
    char *previous_secret; /* webhook: while rotating, the key before it (also signs), or NULL */
    bool records;          /* webhook: also the run's record changes, in batches */
    long batch;            /* webhook: records per request; default 500 */
    char **to;             /* email: the recipients */
    size_t nto;
    char *channel; /* pg_channel: the channel (a PostgreSQL identifier) */
    /* secret_file: the file as written, resolved and read once the config's directory is
     * known, and where it was written (for messages) */
    char *secret_file;
    int secret_line;
    char secret_path[256];
    int line;
} ferry_notify_spec;

/* A notify: setting: its endpoints in config order. set: the key was given (a sync's notify:
 * replaces the top level's, even when empty). */
typedef struct {
    ferry_notify_spec *items;
    size_t n;
    bool set;
} ferry_notify_list;

/* The most steps a sync has. */
#define FERRY_STEPS_MAX 16

typedef struct ferry_sync_spec {
    char *name;  /* the key under syncs: (a step's: its key under steps:) */
    char *title; /* defaults to name */
    char *noun;  /* what a record is called in messages ("therapists");
                    defaults to the target table */
    /* A sync with steps: (docs/sync.md, "Steps") has no source, target, fields or skip of its
     * own: each step is a ferry_sync_spec of the form of a sync without steps, run in order
     * in one run. Use ferry_sync_step_count() and ferry_sync_step(), which treat a sync
     * without steps as its own single step. */
    struct ferry_sync_spec *steps;
    size_t nsteps;
    const struct ferry_sync_spec *parent; /* a step's sync (borrowed), or NULL */
    long source_step; /* a step that reads the rows of an earlier step's source (source:
                         NAME): that step's index; -1 otherwise */
    ferry_source_spec source;
    ferry_target_spec target;
    ferry_field_spec *fields;
    size_t nfields;
    ferry_skip_rule *skips;
    size_t nskips;
    char **skip_labels; /* the skip rules' labels, each once, in config order */
    size_t nskip_labels;
    ferry_record_label label;   /* how records are named; label.text NULL: by their key */
    ferry_source_input *inputs; /* what templates read that no field does */
    size_t ninputs;
    char *schedule;        /* as written ("every 1h"), or NULL */
    long schedule_every_s; /* the period in seconds, or 0 without an 'every' schedule */
    bool has_cron;         /* schedule is 'cron "EXPR"' */
    ferry_cron cron;
    char *timezone;   /* the sync's timezone: as written, or NULL for the top level's */
    ferry_tz *tz;     /* the zone its cron schedule is read in (owned), NULL: UTC */
    bool allow_empty; /* an empty source is not an error; default false */
    long timeout_ms;  /* a run taking longer fails; 0 (default) for no limit */
    long cooldown_ms; /* a new run is refused this long after the last one finished */
    int retries;      /* transient source errors retried this many times; default 0 */
    ferry_guard_spec guard;
    /* Tenants (docs/sources.md): NULL variable when the sync has none. The tenant column is
     * the last field (is_tenant) and the last key column. */
    char *tenant_variable;
    char **tenant_values; /* the allowed tenants, or NULL for any */
    size_t ntenant_values;
    long tenant_field; /* index of the tenant field, or -1 */
    /* tenants: { query, database }: the tenants are what query's first column holds in
     * database (a URL as for database:; NULL for the sync's target database), read when a
     * schedule fires, by ferry check and when a run is asked for (target/tenants.h). */
    ferry_tenants_spec tenants;
    ferry_notify_list notify; /* set: replaces the top level's notify: */
    int line;
} ferry_sync_spec;

/* retention: how long Ferry keeps its history, in ms; FERRY_RETENTION_KEEP keeps it forever.
 * changes is never longer than runs (a run's change rows go with it at the latest). */
#define FERRY_RETENTION_KEEP 0L
typedef struct {
    long runs_ms;    /* finished runs, with their change rows and deliveries; default 180 days */
    long changes_ms; /* the change rows of finished runs; default 30 days */
    long audit_ms;   /* audit entries; default 365 days */
    long every_ms;   /* how often ferry serve prunes; default 1 h (the first a minute after
                        start, or after every_ms when that is shorter) */
} ferry_retention_spec;

/* smtp: the server e-mail notifications go through (docs/config.md, "E-mail"). The login
 * is read from the environment when a message is sent, so the file holds no secret. */
typedef struct {
    char *url;          /* smtps://host:465 or smtp://host:587; NULL: no smtp: section */
    char *user_env;     /* the variable holding the login's user name, or NULL */
    char *password_env; /* ... and its password (both or neither) */
    char *from;         /* the sender's address */
    char *ca_file;      /* CA certificates to verify the server with; NULL: the system's */
    bool starttls;      /* smtp:// only: STARTTLS required before anything is sent; default true */
} ferry_smtp_spec;
/* embed: tokens a host application mints for the person using its page (HS256 JWTs). */
typedef struct {
    char *secret_env; /* the environment variable holding the secret; NULL: embed tokens off */
    long max_age_ms;  /* a token living longer (exp - iat) is refused; default 10 min */
} ferry_embed_spec;

/* log: how the process writes its log lines on stderr (docs/config.md, "log"). */
typedef struct {
    ferry_log_format format; /* text (default) or json */
    ferry_log_level level;   /* lines below it are left out; default info (--log-level and
                                FERRY_LOG_LEVEL take precedence) */
} ferry_log_spec;

/* auth: a reverse proxy names the signed-in user in a header. */
typedef struct {
    char *trusted_header;         /* "X-Forwarded-User", or NULL: off */
    ferry_ipnet *trusted_proxies; /* the only peers whose header is believed */
    size_t ntrusted_proxies;
} ferry_proxy_auth_spec;

/* tls: the HTTPS server's certificate and key (docs/config.md, "HTTPS"). */
typedef struct {
    char *cert;           /* the PEM certificate chain's path (resolved), or NULL: plain HTTP */
    char *key;            /* the PEM private key's path (resolved) */
    ferry_tls_pair *pair; /* both, loaded and checked at load (one reference, the config's) */
} ferry_tls_spec;

typedef struct {
    char *path;             /* the file it was loaded from */
    char *dir;              /* its directory: relative paths in the config are relative to it */
    char *database;         /* as written; default "sqlite:ferry.db" */
    char *store_key_env;    /* the variable holding the key of secrets kept in the store;
                               default FERRY_STORE_KEY */
    char *listen;           /* default "127.0.0.1:8080" */
    int workers;            /* default 4 */
    long lease_ms;          /* a running run whose heartbeat stops this long is run again elsewhere;
                               default 5 min */
    long shutdown_grace_ms; /* on SIGTERM, running runs may finish for this long before they
                               are rolled back and queued again; default 30 s */
    /* Sessions and the HTTP server's limits (docs/config.md, "Users and limits"). */
    long session_idle_ms;        /* a session unused this long ends; default 30 min */
    long session_max_ms;         /* a session ends this long after login; default 12 h */
    char *metrics_token;         /* GET /metrics requires it as a Bearer token; NULL: open */
    long max_connections;        /* default 1024 */
    long max_connections_per_ip; /* default 256; 0 for no limit */
    long idle_timeout_ms;        /* an idle connection is closed after this; default 60 s */
    long max_body_bytes;         /* a larger request body is refused (413); default 1 MiB */
    char **cors_origins;         /* origins whose pages may call the API ("https://a.example") */
    size_t ncors_origins;
    /* Outbound requests and local files (docs/security.md); every source inherits them. */
    bool allow_private; /* default false: sources reach public addresses only */
    char **allow_hosts; /* hosts (or addresses) that may resolve anywhere, or NULL */
    size_t nallow_hosts;
    char *files_dir;       /* local sources are confined to it; default: the config's directory */
    char *data_dir;        /* Ferry's own files (held runs' snapshots); default ferry-data beside
                              the config, made when first needed */
    size_t held_max_bytes; /* a held run's snapshot may take this much; default 1 GiB */
    ferry_ipnet *trusted_proxies; /* reverse proxies whose X-Forwarded-For is believed */
    size_t ntrusted_proxies;
    /* Telling the application (docs/config.md, "Notifications"). */
    ferry_notify_list notify;  /* for every sync without a notify: of its own */
    char *public_url;          /* the page's address in links; default http://LISTEN */
    long notify_retry_base_ms; /* the first retry's wait; doubled per failure; default 20 s */
    ferry_smtp_spec smtp;
    /* How long history is kept (docs/config.md, "Retention"). */
    ferry_retention_spec retention;
    /* Sign-in from the host application (docs/embedding.md, docs/security.md). */
    ferry_embed_spec embed;
    ferry_proxy_auth_spec auth;
    char *base_path; /* the prefix everything is served under ("/ferry"), or NULL: the root */
    char *timezone;  /* the zone of cron schedules without their own, or NULL: UTC */
    ferry_log_spec log;
    ferry_tls_spec tls;
    ferry_sync_spec *syncs;
    size_t nsyncs;
} ferry_config;

/* Loads and validates the YAML file at path. On success *ret_cfg owns the config (free it
 * with ferry_config_free()). On failure nothing is returned and err names file:line: key. */
ferry_rc ferry_config_load(const char *path, ferry_config **ret_cfg, ferry_err *err);

/* Like ferry_config_load() on text held in memory; name is used in messages and dir is the
 * directory relative paths resolve against (may be NULL for the current directory). */
ferry_rc ferry_config_parse(const char *text, size_t len, const char *name, const char *dir,
                            ferry_config **ret_cfg, ferry_err *err);

/* Frees a config; NULL is allowed. */
void ferry_config_free(ferry_config *cfg);

/* The variables that stand in for database: and listen:'s port when the file sets neither. */
#define FERRY_CONFIG_DATABASE_VAR "DATABASE_URL"
#define FERRY_CONFIG_PORT_VAR "PORT"

/* ferry config: the effective config of the YAML text (as ferry_config_parse() takes it) as
 * YAML: the document with its ${VAR} references replaced, then every top-level key it leaves
 * out with its value ("# default", or "# from DATABASE_URL"); secrets (tokens, passwords in
 * URLs, secret-looking headers and parameters) are written ********. The text is checked
 * first: an invalid config fails as ferry_config_parse() does. On success *ret_yaml is a
 * malloc'ed NUL-terminated string the caller frees. */
ferry_rc ferry_config_show(const char *text, size_t len, const char *name, const char *dir,
                           char **ret_yaml, ferry_err *err);

/* ferry_config_show() of the file at path. */
ferry_rc ferry_config_show_file(const char *path, char **ret_yaml, ferry_err *err);
/* Replaces next's tls: with a copy of cur's (its pair shared): what a server keeps serving
 * when a reload would turn TLS on or off, which only a restart can. */
void ferry_config_tls_keep(ferry_config *next, const ferry_config *cur);

/* The sync named name, borrowed from cfg, or NULL. */
const ferry_sync_spec *ferry_config_sync_get(const ferry_config *cfg, const char *name);

/* The endpoints told of sync's runs: the sync's own notify: when it has one, else the top
 * level's (borrowed from cfg; n is 0 when there are none). */
const ferry_notify_list *ferry_config_notify_get(const ferry_config *cfg,
                                                 const ferry_sync_spec *sync);

/* How many steps a run of sync executes: its steps', or 1 for a sync without steps. */
size_t ferry_sync_step_count(const ferry_sync_spec *sync);

/* Step i (0-based, below ferry_sync_step_count()) of sync, borrowed: sync itself when it has
 * no steps. */
const ferry_sync_spec *ferry_sync_step(const ferry_sync_spec *sync, size_t i);

/* The index of the field named name in sync, or -1. */
long ferry_sync_field_index(const ferry_sync_spec *sync, const char *name);

/* How many values a source record of sync holds: one per field (NULL for a field it does
 * not read), then one per input of the templates (ferry_sync_spec.inputs). */
size_t ferry_sync_input_count(const ferry_sync_spec *sync);

/* The CSV header (or, for a REST source, the JSON pointer) a source reads for value i of a
 * record; NULL when it reads none (a field Ferry fills). Borrowed from sync. */
const char *ferry_sync_input_column(const ferry_sync_spec *sync, size_t i);
const char *ferry_sync_input_pointer(const ferry_sync_spec *sync, size_t i);

/* Appends key column k's value (v, len bytes) to the key text out (reset for each key) as
 * the run reports a record's key: the value alone for a one-column key, else "k1=v1, k2=v2".
 * Scope columns (target.scope: the same on every row) are left out. False when out is full. */
bool ferry_sync_key_append(const ferry_sync_spec *sync, size_t k, const char *v, size_t len,
                           ferry_buf *out);

/* How many key columns a key text shows (target.key and the tenant's; not the scope's). */
size_t ferry_sync_key_shown(const ferry_sync_spec *sync);

/* NULL when tenant is acceptable for sync (a sync without tenants takes only NULL), else a
 * static message saying why not. */
const char *ferry_sync_tenant_problem(const ferry_sync_spec *sync, const char *tenant);

/* Parses a duration such as "90s", "15m", "1h", "2d", "500ms" into milliseconds. Returns
 * false when text is not a duration. */
bool ferry_duration_parse(const char *text, long *ret_ms);

#endif
