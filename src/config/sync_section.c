/* sync_section.c - one entry of syncs: (docs/config.md): its target, fields, skip rules,
 * schedule, guard and tenants; its source: goes to source_section.c.
 *
 * Checks that span keys (target.key and skip name fields, noun defaults to the table) run
 * once a sync's mapping has been walked, from the nodes kept on the way, so the order of the
 * keys in the file does not matter. */
#include "config/sync_section.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/keys.h"
#include "config/notify_section.h"
#include "config/source_section.h"
#include "config/transform_section.h"
#include "util/template.h"

#define SCHEDULE_MIN_MS 10000L
#define SYNC_NAME_MAX 64

#define SYNC(member) offsetof(ferry_sync_spec, member)
#define TARGET(member) offsetof(ferry_target_spec, member)
#define FIELD(member) offsetof(ferry_field_spec, member)
#define GUARD(member) offsetof(ferry_guard_spec, member)
#define LOOKUP(member) offsetof(ferry_lookup_spec, member)

/* What walking one sync keeps for the checks that need the whole sync. */
struct sync_state {
    ferry_sync_spec *sync;
    struct val key;  /* target.key */
    struct val skip; /* skip:, parsed once the fields are known */
    bool has_skip;
    struct val tenant; /* tenant:, applied once the fields are known */
    bool has_tenant;
    struct val scope; /* target.scope, applied once the fields are known */
    bool has_scope;
    struct val label; /* label:, parsed once the fields are known */
    bool has_label;
    struct val steps; /* steps:, walked once the sync's own keys are known */
    bool has_steps;
    char shared[SYNC_NAME_MAX + 1]; /* a step's source: NAME, or "" */
    int shared_line;
    struct val source_val; /* source:, for a later step sharing it */
    struct source_state source;
};

/* [a-z0-9_-]{1,SYNC_NAME_MAX} */
static bool is_sync_name(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || ferry_config_is_digit(s[i]) || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return i >= 1 && i <= SYNC_NAME_MAX;
}

/* ---- syncs.NAME.target ---- */

static const char *const on_missing_names[] = {
    [FERRY_ON_MISSING_KEEP] = "keep",
    [FERRY_ON_MISSING_DELETE] = "delete",
    [FERRY_ON_MISSING_FLAG] = "flag",
};

/* target.key: kept for check_key(), which runs once the fields are known. */
static ferry_rc note_key(struct walk *w, const struct val *v, const struct key_rule *rule,
                         void *obj, void *data)
{
    struct sync_state *st = obj;

    (void)w;
    (void)rule;
    (void)data;
    st->key = *v;
    return FERRY_OK;
}

#define TS_CREATED "created_at"
#define TS_UPDATED "updated_at"

static const struct key_rule timestamp_rules[] = {
    {"created", FERRY_KEY_STRING, .offset = TARGET(created_column), .what = "column",
     .fn = ferry_config_identifier_key_check}, /* default: created_at */
    {"updated", FERRY_KEY_STRING, .offset = TARGET(updated_column), .what = "column",
     .fn = ferry_config_identifier_key_check}, /* default: updated_at */
};

/* target.timestamps: true (created_at and updated_at), false, or {created: C, updated: U}
 * naming other columns (a column left out keeps its default name). */
static ferry_rc on_timestamps(struct walk *w, const struct val *v, const struct key_rule *rule,
                              void *obj, void *data)
{
    ferry_target_spec *tg = data;
    bool on = false;
    ferry_rc rc;

    (void)rule;
    if (v->node != NULL && fy_node_is_mapping(v->node)) {
        rc = ferry_config_table_walk(w, v, timestamp_rules, NITEMS(timestamp_rules), obj, tg, NULL);
        if (rc != FERRY_OK)
            return rc;
        on = true;
    } else if (v->node == NULL || !fy_node_is_scalar(v->node)) {
        return ferry_config_fail(w, v->line,
                                 "expected true, false or a mapping such as {created: "
                                 "inserted_at, updated: modified_at}");
    } else if ((rc = ferry_config_bool_get(w, v, &on)) != FERRY_OK) {
        return rc;
    }
    if (!on)
        return FERRY_OK;
    if (tg->created_column == NULL && (tg->created_column = strdup(TS_CREATED)) == NULL)
        return ferry_config_oom(w);
    if (tg->updated_column == NULL && (tg->updated_column = strdup(TS_UPDATED)) == NULL)
        return ferry_config_oom(w);
    if (strcmp(tg->created_column, tg->updated_column) == 0)
        return ferry_config_fail(w, v->line, "created and updated name the same column '%s'",
                                 tg->created_column);
    return FERRY_OK;
}

static const struct key_rule flag_rules[] = {
    {"column", FERRY_KEY_STRING, .flags = FERRY_KEY_REQUIRED, .offset = TARGET(flag_column),
     .what = "column", .fn = ferry_config_identifier_key_check},
    {"value", FERRY_KEY_BOOL, .offset = TARGET(flag_value)}, /* a boolean column's value */
};

/* target.flag: {column: deleted_at} or {column: active, value: false}. */
static ferry_rc on_flag(struct walk *w, const struct val *v, const struct key_rule *rule, void *obj,
                        void *data)
{
    ferry_target_spec *tg = data;
    struct key_seen seen = {0};
    ferry_rc rc;

    (void)rule;
    if (v->node == NULL || !fy_node_is_mapping(v->node))
        return ferry_config_fail(w, v->line,
                                 "expected a mapping such as {column: deleted_at} or {column: "
                                 "active, value: false}");
    rc = ferry_config_table_walk(w, v, flag_rules, NITEMS(flag_rules), obj, tg, &seen);
    if (rc != FERRY_OK)
        return rc;
    tg->flag_bool = ferry_config_seen_get(&seen, flag_rules, NITEMS(flag_rules), "value") != NULL;
    tg->flag_line = v->line;
    return FERRY_OK;
}

/* target.scope: {column: value, ...}, applied by apply_scope() once the fields are known. */
static ferry_rc note_scope(struct walk *w, const struct val *v, const struct key_rule *rule,
                           void *obj, void *data)
{
    struct sync_state *st = obj;
    size_t count = 0;
    ferry_rc rc;

    (void)rule;
    (void)data;
    if (v->node == NULL || !fy_node_is_mapping(v->node))
        return ferry_config_fail(w, v->line,
                                 "expected a mapping of columns to values such as "
                                 "{source_system: jira}");
    if ((rc = ferry_config_mapping_count(w, v, &count)) != FERRY_OK)
        return rc;
    if (count == 0)
        return ferry_config_fail(w, v->line,
                                 "a scope names at least one column and its value, such as "
                                 "{source_system: jira}");
    st->scope = *v;
    st->has_scope = true;
    return FERRY_OK;
}

static const struct key_rule target_rules[] = {
    {"table", FERRY_KEY_STRING, .flags = FERRY_KEY_REQUIRED, .offset = TARGET(table),
     .what = "table", .fn = ferry_config_identifier_key_check},
    /* the synced table lives in another database than Ferry's own tables */
    {"database", FERRY_KEY_STRING, .offset = TARGET(database), .fn = ferry_config_database_check},
    {"key", FERRY_KEY_STRINGS, .flags = FERRY_KEY_REQUIRED | FERRY_KEY_ONE_OK,
     .offset = TARGET(key), .count_offset = TARGET(nkey), .fn = note_key},
    {"on_missing", FERRY_KEY_ENUM, .offset = TARGET(on_missing), .what = "value",
     .names = on_missing_names, .nnames = NITEMS(on_missing_names), .def = FERRY_ON_MISSING_KEEP},
    /* created_at/updated_at filled by Ferry (docs/app-tables.md) */
    {"timestamps", FERRY_KEY_CUSTOM, .fn = on_timestamps},
    /* the application's soft-delete column for on_missing: flag (docs/app-tables.md) */
    {"flag", FERRY_KEY_CUSTOM, .fn = on_flag},
    /* constant columns that keep this sync's rows apart from other syncs' (app-tables.md) */
    {"scope", FERRY_KEY_CUSTOM, .fn = note_scope},
};

/* ---- syncs.NAME.fields.FIELD ---- */

static const char *const type_names[] = {
    [FERRY_TYPE_TEXT] = "text",       [FERRY_TYPE_INTEGER] = "integer",
    [FERRY_TYPE_DECIMAL] = "decimal", [FERRY_TYPE_BOOLEAN] = "boolean",
    [FERRY_TYPE_DATE] = "date",       [FERRY_TYPE_DATETIME] = "datetime",
    [FERRY_TYPE_EMAIL] = "email",     [FERRY_TYPE_ENUM] = "enum",
};

const char *ferry_field_type_name(ferry_field_type type)
{
    if ((unsigned)type < NITEMS(type_names))
        return type_names[type];
    return "unknown";
}

/* fields.NAME.lookup.scope: {column: value, ...} */
static ferry_rc on_lookup_scope(struct walk *w, const struct val *v, const struct key_rule *rule,
                                void *obj, void *data)
{
    ferry_lookup_spec *lk = data;

    (void)rule;
    (void)obj;
    return ferry_config_pairs_get(w, v, "column", &lk->scope, &lk->nscope);
}

/* Each match column is a column name. */
static ferry_rc on_lookup_match(struct walk *w, const struct val *v, const struct key_rule *rule,
                                void *obj, void *data)
{
    ferry_lookup_spec *lk = data;

    (void)rule;
    (void)obj;
    if (lk->nmatch > FERRY_LOOKUP_MATCH_MAX)
        return ferry_config_fail(w, v->line, "at most %d match columns", FERRY_LOOKUP_MATCH_MAX);
    for (size_t i = 0; i < lk->nmatch; i++)
        if (!ferry_config_is_identifier(lk->match[i]))
            return ferry_config_fail(w, v->line,
                                     "'%s' is not a column name (letters, digits and '_', not "
                                     "starting with a digit)",
                                     lk->match[i]);
    lk->line = v->line;
    return FERRY_OK;
}

/* fields.NAME.lookup (docs/config.md): the value written is found in another table. */
static const struct key_rule lookup_rules[] = {
    {"table", FERRY_KEY_STRING, .flags = FERRY_KEY_REQUIRED, .offset = LOOKUP(table),
     .what = "table", .fn = ferry_config_identifier_key_check},
    {"match", FERRY_KEY_STRINGS, .flags = FERRY_KEY_REQUIRED | FERRY_KEY_ONE_OK,
     .offset = LOOKUP(match), .count_offset = LOOKUP(nmatch), .fn = on_lookup_match},
    {"value", FERRY_KEY_STRING, .offset = LOOKUP(value), .what = "column",
     .fn = ferry_config_identifier_key_check}, /* default: id */
    {"scope", FERRY_KEY_CUSTOM, .fn = on_lookup_scope},
    {"optional", FERRY_KEY_BOOL, .offset = LOOKUP(optional)}, /* default: false */
};

static const char *const case_names[] = {
    [FERRY_CASE_KEEP] = "keep",
    [FERRY_CASE_LOWER] = "lower",
    [FERRY_CASE_UPPER] = "upper",
    [FERRY_CASE_TITLE] = "title",
};

static const struct key_rule field_rules[] = {
    {"column", FERRY_KEY_STRING, .offset = FIELD(column)}, /* default: the field's name */
    {"type", FERRY_KEY_ENUM, .flags = FERRY_KEY_UNLISTED, .offset = FIELD(type), .what = "type",
     .names = type_names, .nnames = NITEMS(type_names)}, /* default: text */
    {"required", FERRY_KEY_BOOL,
     .offset = FIELD(required)}, /* default: false; true for key fields */
    {"trim", FERRY_KEY_BOOL, .offset = FIELD(trim), .def = true},
    {"values", FERRY_KEY_STRINGS, .offset = FIELD(values),
     .count_offset = FIELD(nvalues)}, /* enum only, and required */
    {"pointer", FERRY_KEY_TEXT, .flags = FERRY_KEY_REST,
     .offset = FIELD(pointer)}, /* rest: default "/name" */
    {"join", FERRY_KEY_TEXT, .flags = FERRY_KEY_REST,
     .offset = FIELD(join)}, /* rest: default ", " */
    {"lookup", FERRY_KEY_TABLE, .offset = FIELD(lookup), .sub = lookup_rules,
     .nsub = NITEMS(lookup_rules)},
    /* transforms, applied before typing (transform_section.c, docs/config.md) */
    {"value", FERRY_KEY_STRING, .offset = FIELD(tf.value)}, /* a constant */
    {"template", FERRY_KEY_STRING, .offset = FIELD(tf.template),
     .fn = ferry_config_template_parse},                    /* "{First Name} {Last Name}" */
    {"default", FERRY_KEY_STRING, .offset = FIELD(tf.def)}, /* for an empty value */
    {"map", FERRY_KEY_CUSTOM, .fn = ferry_config_map_walk}, /* source value: value */
    {"otherwise", FERRY_KEY_STRING, .offset = FIELD(tf.otherwise_value),
     .fn = ferry_config_otherwise_parse}, /* keep (default), fail, or a value */
    {"case", FERRY_KEY_ENUM, .offset = FIELD(tf.letter_case), .what = "case", .min = 1,
     .names = case_names, .nnames = NITEMS(case_names)}, /* default: as written */
    {"format", FERRY_KEY_STRING, .offset = FIELD(tf.format),
     .fn = ferry_config_format_note}, /* "%d/%m/%Y", "1.234,50" */
};

/* One entry of fields:; the path ends in the field's name. */
static ferry_rc on_field(struct walk *w, const char *name, int line, const struct val *v, void *obj)
{
    struct sync_state *st = obj;
    ferry_sync_spec *sync = st->sync;
    struct key_seen seen = {0};
    const struct val *column, *values;
    ferry_field_spec *f;
    long rest;
    size_t i, old;
    ferry_rc rc = ferry_config_identifier_check(w, line, name, "field");

    if (rc != FERRY_OK)
        return rc;
    for (i = 0; i < sync->nfields; i++)
        if (strcasecmp(sync->fields[i].name, name) == 0)
            return ferry_config_fail(w, line,
                                     "field '%s' repeats field '%s' (column names ignore case)",
                                     name, sync->fields[i].name);
    f = &sync->fields[sync->nfields++];
    f->line = line;
    f->name = strdup(name);
    if (f->name == NULL)
        return ferry_config_oom(w);
    (void)ferry_config_table_defaults(field_rules, NITEMS(field_rules), f); /* no strings */
    if (!ferry_config_is_null(v->node)) { /* "phone:" alone means all defaults */
        rc = ferry_config_table_walk(w, v, field_rules, NITEMS(field_rules), st, f, &seen);
        if (rc != FERRY_OK)
            return rc;
    }
    rc = ferry_config_field_transforms_check(w, f, &seen, field_rules, NITEMS(field_rules));
    if (rc != FERRY_OK)
        return rc;
    column = ferry_config_seen_get(&seen, field_rules, NITEMS(field_rules), "column");
    values = ferry_config_seen_get(&seen, field_rules, NITEMS(field_rules), "values");
    rest = ferry_config_seen_first(&seen, field_rules, FERRY_KEY_REST);
    f->column_line = column != NULL ? column->line : 0;
    f->pointer_line = rest >= 0 ? seen.vals[rest].line : 0;
    if (f->column == NULL) {
        f->column = strdup(name);
        if (f->column == NULL)
            return ferry_config_oom(w);
    }
    if (f->type == FERRY_TYPE_ENUM && values == NULL)
        return ferry_config_fail(w, v->line,
                                 "missing required key 'values' (type enum needs the list of "
                                 "allowed values)");
    if (f->type != FERRY_TYPE_ENUM && values != NULL) {
        old = ferry_config_path_push(w, "values", 6);
        rc = ferry_config_fail(w, values->line,
                               "'values' is only allowed with type enum (this field is "
                               "%s)",
                               ferry_field_type_name(f->type));
        ferry_config_path_pop(w, old);
        return rc;
    }
    for (i = 0; i + 1 < sync->nfields && !f->filled; i++) {
        if (sync->fields[i].filled || strcmp(sync->fields[i].column, f->column) != 0)
            continue;
        old = column != NULL ? ferry_config_path_push(w, "column", 6) : w->pathlen;
        rc = ferry_config_fail(w, column != NULL ? column->line : line,
                               "column '%s' is already mapped by field '%s'", f->column,
                               sync->fields[i].name);
        ferry_config_path_pop(w, old);
        return rc;
    }
    return FERRY_OK;
}

/* ---- syncs.NAME.skip.FIELD ---- */

struct skip_state {
    ferry_sync_spec *sync;
    ferry_skip_rule *rule;
    int nkinds; /* how many of in, not_in and empty were given */
};

/* in:, not_in: or empty: (the row's def is its ferry_skip_kind). */
static ferry_rc on_skip_kind(struct walk *w, const struct val *v, const struct key_rule *rule,
                             void *obj, void *data)
{
    struct skip_state *ss = obj;
    ferry_skip_kind kind = (ferry_skip_kind)rule->def;

    (void)data;
    if (ss->nkinds++ > 0)
        return ferry_config_fail(w, v->line, "a rule takes exactly one of in, not_in or empty");
    ss->rule->kind = kind;
    if (kind == FERRY_SKIP_EMPTY) {
        bool empty = false;
        ferry_rc rc = ferry_config_bool_get(w, v, &empty);

        if (rc != FERRY_OK)
            return rc;
        return empty ? FERRY_OK : ferry_config_fail(w, v->line, "only 'empty: true' is meaningful");
    }
    return ferry_config_strings_load(w, v, false, true, &ss->rule->values, &ss->rule->nvalues);
}

/* Whether label may name a kind of skip in messages ("3 FLAT skipped"): 1 to
 * FERRY_SKIP_LABEL_MAX bytes of letters, digits, spaces, '-' and '_' (any UTF-8 letter),
 * neither starting nor ending with a space. */
static bool is_skip_label(const char *label)
{
    size_t n = strlen(label);

    if (n == 0 || n > FERRY_SKIP_LABEL_MAX || label[0] == ' ' || label[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)label[i];
        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              ferry_config_is_digit((char)c) || c == ' ' || c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* label: the records the rule skips are counted apart under it; rules sharing a label share
 * its count. The sync's skip_labels keeps each label once, in config order. */
static ferry_rc on_skip_label(struct walk *w, const struct val *v, const struct key_rule *rule,
                              void *obj, void *data)
{
    struct skip_state *ss = obj;
    ferry_sync_spec *sync = ss->sync;
    char *label = NULL, **grown;
    ferry_rc rc = ferry_config_string_load(w, v, &label);
    size_t i;

    (void)rule;
    (void)data;
    if (rc != FERRY_OK)
        return rc;
    if (!is_skip_label(label)) {
        rc = ferry_config_fail(w, v->line,
                               "'%.*s' is not a label: use 1 to %d letters, digits, spaces, '-' "
                               "and '_', such as FLAT (messages say \"3 FLAT skipped\")",
                               ferry_config_show_len(strlen(label)), label, FERRY_SKIP_LABEL_MAX);
        free(label);
        return rc;
    }
    for (i = 0; i < sync->nskip_labels && strcmp(sync->skip_labels[i], label) != 0; i++)
        ;
    if (i == sync->nskip_labels) {
        grown = realloc(sync->skip_labels, (i + 1) * sizeof(*grown));
        if (grown == NULL) {
            free(label);
            return ferry_config_oom(w);
        }
        sync->skip_labels = grown;
        sync->skip_labels[sync->nskip_labels++] = label;
    } else {
        free(label);
    }
    ss->rule->label = (long)i;
    return FERRY_OK;
}

static const struct key_rule skip_rules[] = {
    {"in", FERRY_KEY_CUSTOM, .def = FERRY_SKIP_IN, .fn = on_skip_kind},
    {"not_in", FERRY_KEY_CUSTOM, .def = FERRY_SKIP_NOT_IN, .fn = on_skip_kind},
    {"empty", FERRY_KEY_CUSTOM, .def = FERRY_SKIP_EMPTY, .fn = on_skip_kind},
    /* the records this rule skips are counted apart under the label ("3 FLAT skipped") */
    {"label", FERRY_KEY_CUSTOM, .fn = on_skip_label},
};

static ferry_rc on_skip(struct walk *w, const char *name, int line, const struct val *v, void *obj)
{
    struct sync_state *st = obj;
    ferry_sync_spec *sync = st->sync;
    struct skip_state ss = {0};
    long index = ferry_sync_field_index(sync, name);
    ferry_rc rc;

    if (index < 0)
        return ferry_config_fail(w, line, "no field named '%s'", name);
    ss.sync = sync;
    ss.rule = &sync->skips[sync->nskips++];
    ss.rule->field = (size_t)index;
    ss.rule->label = -1;
    rc = ferry_config_table_walk(w, v, skip_rules, NITEMS(skip_rules), &ss, ss.rule, NULL);
    if (rc == FERRY_OK && ss.nkinds == 0)
        rc = ferry_config_fail(w, v->line, "a rule takes exactly one of in, not_in or empty");
    return rc;
}

/* ---- syncs.NAME keys ---- */

static ferry_rc on_sync_source(struct walk *w, const struct val *v, const struct key_rule *rule,
                               void *obj, void *data)
{
    struct sync_state *st = obj;

    (void)rule;
    (void)data;
    if (v->node != NULL && fy_node_is_scalar(v->node)) {
        /* source: NAME, a step reading the rows of an earlier step's source: resolved once
         * every step is known (resolve_shared_sources()). */
        size_t len = 0;
        const char *text = NULL;
        ferry_rc rc;

        if (!ferry_config_is_null(v->node) &&
            (rc = ferry_config_scalar_get(w, v, &text, &len)) != FERRY_OK)
            return rc;
        if (text == NULL || len == 0 || len > SYNC_NAME_MAX)
            return ferry_config_fail(w, v->line,
                                     "expected a mapping such as {url: ...}, or the name of an "
                                     "earlier step whose rows this step reads");
        memcpy(st->shared, text, len);
        st->shared[len] = '\0';
        st->shared_line = v->line;
        return FERRY_OK;
    }
    st->source_val = *v;
    st->source.src = &st->sync->source;
    return ferry_config_source_walk(w, v, &st->source);
}

static ferry_rc on_sync_fields(struct walk *w, const struct val *v, const struct key_rule *rule,
                               void *obj, void *data)
{
    struct sync_state *st = obj;
    size_t count = 0;
    ferry_rc rc = ferry_config_mapping_count(w, v, &count);

    (void)rule;
    (void)data;
    if (rc != FERRY_OK)
        return rc;
    if (count == 0)
        return ferry_config_fail(w, v->line, "define at least one field");
    if (st->sync->fields != NULL)
        return ferry_config_fail(w, v->line, "fields are given twice");
    st->sync->fields = calloc(count, sizeof(*st->sync->fields));
    if (st->sync->fields == NULL)
        return ferry_config_oom(w);
    return ferry_config_entries_walk(w, v, on_field, st);
}

/* skip: kept, and parsed once the fields are known. */
static ferry_rc on_sync_skip(struct walk *w, const struct val *v, const struct key_rule *rule,
                             void *obj, void *data)
{
    struct sync_state *st = obj;
    size_t count = 0;
    ferry_rc rc = ferry_config_mapping_count(w, v, &count);

    (void)rule;
    (void)data;
    if (rc == FERRY_OK) {
        st->skip = *v;
        st->has_skip = true;
    }
    return rc;
}

/* 'cron "0 * * * *"' (quotes optional): fills sync->cron; false with a reason otherwise. */
static bool parse_cron_schedule(const char *s, ferry_sync_spec *sync, const char **ret_why)
{
    char expr[256];
    size_t n;

    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
        s++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(expr)) {
        *ret_why = "needs five fields: minute hour day-of-month month day-of-week";
        return false;
    }
    memcpy(expr, s, n);
    expr[n] = '\0';
    *ret_why = ferry_cron_parse(expr, &sync->cron);
    sync->has_cron = *ret_why == NULL;
    return sync->has_cron;
}

static ferry_rc on_sync_schedule(struct walk *w, const struct val *v, const struct key_rule *rule,
                                 void *obj, void *data)
{
    struct sync_state *st = obj;
    const char *p, *why = NULL;
    long ms = 0;
    char *s = NULL;
    ferry_rc rc = ferry_config_string_load(w, v, &s);

    (void)rule;
    (void)data;
    if (rc != FERRY_OK)
        return rc;
    if (strncasecmp(s, "cron", 4) == 0 && (s[4] == ' ' || s[4] == '\t')) {
        if (parse_cron_schedule(s + 4, st->sync, &why)) {
            free(st->sync->schedule);
            st->sync->schedule = s;
            st->sync->schedule_every_s = 0;
            return FERRY_OK;
        }
        rc = ferry_config_fail(w, v->line, "the cron expression %s", why);
        free(s);
        return rc;
    }
    p = s;
    if (strncasecmp(p, "every", 5) == 0 && (p[5] == ' ' || p[5] == '\t')) {
        p += 5;
        while (*p == ' ' || *p == '\t')
            p++;
    } else {
        p = NULL;
    }
    if (p == NULL || !ferry_duration_parse(p, &ms)) {
        rc = ferry_config_fail(
            w, v->line, "expected 'every <duration>' such as 'every 1h', or 'cron \"0 * * * *\"'");
    } else if (ms < SCHEDULE_MIN_MS) {
        rc = ferry_config_fail(w, v->line, "the period must be at least 10s");
    } else if (ms % 1000 != 0) {
        rc = ferry_config_fail(w, v->line, "the period must be a whole number of seconds");
    } else {
        free(st->sync->schedule);
        st->sync->schedule = s;
        st->sync->schedule_every_s = ms / 1000;
        st->sync->has_cron = false;
        return FERRY_OK;
    }
    free(s);
    return rc;
}

/* ---- syncs.NAME.label ---- */

#define LABEL_TEXT_MAX 256

/* label: kept, and parsed once the fields are known. */
static ferry_rc note_label(struct walk *w, const struct val *v, const struct key_rule *rule,
                           void *obj, void *data)
{
    struct sync_state *st = obj;
    const char *s = NULL;
    size_t len = 0;
    ferry_rc rc = ferry_config_scalar_get(w, v, &s, &len);

    (void)rule;
    (void)data;
    if (rc != FERRY_OK)
        return rc;
    st->label = *v;
    st->has_label = true;
    return FERRY_OK;
}

/* Appends one part (literal text of len bytes, then field, or -1) to the label. */
static ferry_rc label_part_add(struct walk *w, ferry_record_label *lb, const char *text, size_t len,
                               long field)
{
    ferry_label_part *grown = realloc(lb->parts, (lb->nparts + 1) * sizeof(*grown));

    if (grown == NULL)
        return ferry_config_oom(w);
    lb->parts = grown;
    grown[lb->nparts].field = field;
    if ((grown[lb->nparts].text = strndup(text, len)) == NULL)
        return ferry_config_oom(w);
    lb->nparts++;
    return FERRY_OK;
}

/* label: "{name} ({email})": literal text and {field} placeholders, each naming a field of
 * the sync (at least one). */
static ferry_rc apply_label(struct walk *w, struct sync_state *st)
{
    ferry_record_label *lb = &st->sync->label;
    size_t old = ferry_config_path_push(w, "label", 5), pos = 0, from = 0, len;
    const char *name;
    char *text = NULL;
    ferry_rc rc = ferry_config_string_load(w, &st->label, &text);

    if (rc != FERRY_OK)
        goto out;
    lb->text = text;
    lb->line = st->label.line;
    if (strlen(text) > LABEL_TEXT_MAX) {
        rc = ferry_config_fail(w, lb->line, "a label is at most %d characters", LABEL_TEXT_MAX);
        goto out;
    }
    while (ferry_template_next(text, &pos, &name, &len)) {
        char field[LABEL_TEXT_MAX + 1];
        long index;

        snprintf(field, sizeof(field), "%.*s", (int)len, name);
        if ((index = ferry_sync_field_index(st->sync, field)) < 0) {
            rc = ferry_config_fail(w, lb->line,
                                   "no field named '%s' (a label names records by their fields' "
                                   "values, such as \"{name} ({email})\")",
                                   field);
            goto out;
        }
        /* The literal text runs up to the placeholder's '{'. */
        if ((rc = label_part_add(w, lb, text + from, (size_t)(name - 1 - (text + from)), index)) !=
            FERRY_OK)
            goto out;
        from = pos;
    }
    if (lb->nparts == 0) {
        rc = ferry_config_fail(w, lb->line,
                               "a label names at least one field in braces, such as \"{name} "
                               "({email})\"");
        goto out;
    }
    rc = label_part_add(w, lb, text + from, strlen(text + from), -1);
out:
    ferry_config_path_pop(w, old);
    return rc;
}

/* ---- syncs.NAME.guard ---- */

#define GUARD_COUNT_MAX 1000000000000LL

/* A limit of the guard: "10%" (0% to 100%, at most two decimals) or a count ("50"). */
static ferry_rc get_guard_limit(struct walk *w, const struct val *v, ferry_guard_limit *ret)
{
    const char *s = NULL, *p;
    size_t len = 0, i = 0;
    int64_t whole = 0, hundredths = 0;
    int decimals = 0;
    ferry_rc rc = ferry_config_scalar_get(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    p = s;
    while (i < len && ferry_config_is_digit(p[i]) && whole <= GUARD_COUNT_MAX)
        whole = whole * 10 + (p[i++] - '0');
    if (i == 0 || whole > GUARD_COUNT_MAX)
        goto bad;
    if (i == len) {
        *ret = (ferry_guard_limit){.set = true, .percent = false, .value = whole};
        return FERRY_OK;
    }
    if (p[i] == '.') {
        for (i++; i < len && ferry_config_is_digit(p[i]) && decimals < 2; decimals++)
            hundredths = hundredths * 10 + (p[i++] - '0');
        if (decimals == 0)
            goto bad;
        if (decimals == 1)
            hundredths *= 10;
    }
    if (i + 1 != len || p[i] != '%' || whole > 100 || (whole == 100 && hundredths > 0))
        goto bad;
    *ret = (ferry_guard_limit){.set = true, .percent = true, .value = whole * 100 + hundredths};
    return FERRY_OK;
bad:
    return ferry_config_fail(
        w, v->line,
        "'%.*s' is not a limit: write a share of the rows such as 10%% (0%% to 100%%, "
        "at most two decimals) or a number of rows such as 50",
        ferry_config_show_len(len), s);
}

static ferry_rc on_guard_limit(struct walk *w, const struct val *v, const struct key_rule *rule,
                               void *obj, void *data)
{
    (void)obj;
    return get_guard_limit(w, v, FERRY_KEY_MEMBER(ferry_guard_limit, data, rule->offset));
}

static const struct key_rule guard_rules[] = {
    {"max_missing", FERRY_KEY_CUSTOM, .offset = GUARD(max_missing), .fn = on_guard_limit}, /* 10% */
    {"max_failed", FERRY_KEY_CUSTOM, .offset = GUARD(max_failed), .fn = on_guard_limit}, /* none */
    {"max_updated", FERRY_KEY_CUSTOM, .offset = GUARD(max_updated),
     .fn = on_guard_limit}, /* none */
    {"protect", FERRY_KEY_STRINGS, .flags = FERRY_KEY_ONE_OK, .offset = GUARD(protect),
     .count_offset = GUARD(nprotect)},
    {"hold_for", FERRY_KEY_DURATION, .offset = GUARD(hold_for_ms), .min = 60L * 1000,
     .max = 90L * 86400000, .def = 86400000L},
};

/* guard.protect: each name a field of the sync (of one of its steps). */
static ferry_rc check_protect(struct walk *w, const ferry_sync_spec *sync)
{
    if (sync->guard.nprotect > FERRY_GUARD_PROTECT_MAX)
        return ferry_config_fail(w, sync->line, "guard.protect: at most %d fields",
                                 FERRY_GUARD_PROTECT_MAX);
    for (size_t i = 0; i < sync->guard.nprotect; i++) {
        const char *name = sync->guard.protect[i];
        bool found = false;
        for (size_t k = 0; k <= sync->nsteps && !found; k++) {
            const ferry_sync_spec *s = k == 0 ? sync : &sync->steps[k - 1];
            for (size_t f = 0; f < s->nfields && !found; f++)
                found = strcmp(s->fields[f].name, name) == 0;
        }
        if (!found)
            return ferry_config_fail(w, sync->line, "guard.protect: '%s' is not a field of %s",
                                     name, sync->name);
    }
    return FERRY_OK;
}

/* ---- syncs.NAME.tenant ---- */

/* tenant: kept, and applied once the fields are known. */
static ferry_rc on_sync_tenant(struct walk *w, const struct val *v, const struct key_rule *rule,
                               void *obj, void *data)
{
    struct sync_state *st = obj;

    (void)rule;
    (void)data;
    if (v->node == NULL || !fy_node_is_mapping(v->node))
        return ferry_config_fail(w, v->line,
                                 "expected a mapping such as {variable: org_id, column: org_id}");
    st->tenant = *v;
    st->has_tenant = true;
    return FERRY_OK;
}

struct tenant_state {
    char *variable;
    char *column;
    char **values;
    size_t nvalues;
    int column_line;
};

static ferry_rc check_tenant_variable(struct walk *w, const struct val *v,
                                      const struct key_rule *rule, void *obj, void *data)
{
    struct tenant_state *ts = data;

    (void)rule;
    (void)obj;
    if (!ferry_config_is_identifier(ts->variable))
        return ferry_config_fail(w, v->line,
                                 "a variable name is letters, digits and '_', not starting with a "
                                 "digit");
    return FERRY_OK;
}

static ferry_rc check_tenant_column(struct walk *w, const struct val *v,
                                    const struct key_rule *rule, void *obj, void *data)
{
    struct tenant_state *ts = data;

    ts->column_line = v->line;
    return ferry_config_identifier_key_check(w, v, rule, obj, data);
}

static ferry_rc check_tenant_values(struct walk *w, const struct val *v,
                                    const struct key_rule *rule, void *obj, void *data)
{
    struct tenant_state *ts = data;
    ferry_rc rc = FERRY_OK;

    (void)rule;
    (void)obj;
    for (size_t i = 0; rc == FERRY_OK && i < ts->nvalues; i++) {
        const char *why = ferry_sync_tenant_problem(NULL, ts->values[i]);
        if (why != NULL)
            rc =
                ferry_config_fail(w, v->line, "'%.*s': %s",
                                  ferry_config_show_len(strlen(ts->values[i])), ts->values[i], why);
    }
    return rc;
}

#define TENANT(member) offsetof(struct tenant_state, member)

static const struct key_rule tenant_rules[] = {
    {"variable", FERRY_KEY_STRING, .flags = FERRY_KEY_REQUIRED, .offset = TENANT(variable),
     .fn = check_tenant_variable},
    {"column", FERRY_KEY_STRING, .flags = FERRY_KEY_REQUIRED, .offset = TENANT(column),
     .what = "column", .fn = check_tenant_column},
    {"values", FERRY_KEY_STRINGS, .flags = FERRY_KEY_ONE_OK, .offset = TENANT(values),
     .count_offset = TENANT(nvalues), .fn = check_tenant_values},
};

/* Appends a copy of name to sync's key columns. */
static ferry_rc key_append(struct walk *w, ferry_sync_spec *sync, const char *name)
{
    char **key = realloc(sync->target.key, (sync->target.nkey + 1) * sizeof(*key));

    if (key == NULL)
        return ferry_config_oom(w);
    sync->target.key = key;
    if ((key[sync->target.nkey] = strdup(name)) == NULL)
        return ferry_config_oom(w);
    sync->target.nkey++;
    return FERRY_OK;
}

/* Makes room for one more field at the end of sync's fields, zeroed. */
static ferry_field_spec *field_append(struct walk *w, ferry_sync_spec *sync)
{
    ferry_field_spec *fields = realloc(sync->fields, (sync->nfields + 1) * sizeof(*fields));

    if (fields == NULL) {
        ferry_config_oom(w);
        return NULL;
    }
    sync->fields = fields;
    memset(&fields[sync->nfields], 0, sizeof(fields[0]));
    return &fields[sync->nfields++];
}

/* Adds the tenant's column as the last field and the last key column (add_field false: only
 * the variable and values, for a sync whose steps hold the fields). */
static ferry_rc apply_tenant(struct walk *w, struct sync_state *st, bool add_field)
{
    ferry_sync_spec *sync = st->sync;
    struct tenant_state ts = {0};
    size_t old = ferry_config_path_push(w, "tenant", 6);
    ferry_field_spec *f;
    ferry_rc rc =
        ferry_config_table_walk(w, &st->tenant, tenant_rules, NITEMS(tenant_rules), st, &ts, NULL);

    if (rc == FERRY_OK && ferry_sync_field_index(sync, ts.column) >= 0)
        rc = ferry_config_fail(
            w, ts.column_line,
            "column '%s' is also a field: the tenant's column is filled by Ferry", ts.column);
    if (rc != FERRY_OK || !add_field)
        goto vars;
    if ((rc = key_append(w, sync, ts.column)) != FERRY_OK)
        goto out;
    if ((f = field_append(w, sync)) == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    f->name = ts.column;
    f->column = strdup(ts.column);
    f->required = true;
    f->is_tenant = true;
    f->filled = true;
    f->line = st->tenant.line;
    ts.column = NULL;
    sync->tenant_field = (long)sync->nfields - 1;
    if (f->column == NULL) {
        rc = ferry_config_oom(w);
        goto out;
    }
vars:
    if (rc != FERRY_OK)
        goto out;
    sync->tenant_variable = ts.variable;
    sync->tenant_values = ts.values;
    sync->ntenant_values = ts.nvalues;
    ts.variable = NULL;
    ts.values = NULL;
out:
    free(ts.variable);
    free(ts.column);
    ferry_config_strv_free(ts.values, ts.nvalues);
    ferry_config_path_pop(w, old);
    return rc;
}

const char *ferry_sync_tenant_problem(const ferry_sync_spec *sync, const char *tenant)
{
    size_t i;

    if (sync != NULL && sync->tenant_variable == NULL)
        return tenant == NULL ? NULL : "this sync has no tenants";
    if (tenant == NULL || tenant[0] == '\0')
        return "this sync runs per tenant: name the tenant";
    for (i = 0; tenant[i] != '\0'; i++)
        if (!ferry_config_is_alpha(tenant[i]) && !ferry_config_is_digit(tenant[i]) &&
            strchr("._-", tenant[i]) == NULL)
            return "a tenant is letters, digits, '.', '_' and '-'";
    if (i > 64)
        return "a tenant is at most 64 characters";
    if (sync == NULL || sync->tenant_values == NULL)
        return NULL;
    for (i = 0; i < sync->ntenant_values; i++)
        if (strcmp(sync->tenant_values[i], tenant) == 0)
            return NULL;
    return "not one of the sync's tenants (tenant.values)";
}

static ferry_rc on_sync_steps(struct walk *w, const struct val *v, const struct key_rule *rule,
                              void *obj, void *data);

/* ---- syncs.NAME.tenants ---- */

/* tenants.query: one SELECT (or WITH) statement, whose first column names the tenants. */
static ferry_rc check_tenants_query(struct walk *w, const struct val *v,
                                    const struct key_rule *rule, void *obj, void *data)
{
    const ferry_tenants_spec *ts = data;
    const char *q = ts->query;
    size_t n;

    (void)rule;
    (void)obj;
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
        q++;
    n = strcspn(q, " \t\r\n(");
    if (!((n == 6 && strncasecmp(q, "select", 6) == 0) ||
          (n == 4 && strncasecmp(q, "with", 4) == 0)))
        return ferry_config_fail(w, v->line,
                                 "expected one SELECT statement whose first column names the "
                                 "tenants, such as \"SELECT slug FROM organisations WHERE "
                                 "sync_enabled\"");
    return FERRY_OK;
}

#define TENANTS(member) offsetof(ferry_tenants_spec, member)

static const struct key_rule tenants_rules[] = {
    {"query", FERRY_KEY_STRING, .flags = FERRY_KEY_REQUIRED, .offset = TENANTS(query),
     .fn = check_tenants_query},
    {"database", FERRY_KEY_STRING, .offset = TENANTS(database), .fn = ferry_config_database_check},
};

/* tenants: walked by its rows; this notes its line for the checks made after the walk. */
static ferry_rc on_sync_tenants(struct walk *w, const struct val *v, const struct key_rule *rule,
                                void *obj, void *data)
{
    ferry_sync_spec *sync = data;

    (void)w;
    (void)rule;
    (void)obj;
    sync->tenants.line = v->line;
    return FERRY_OK;
}

/* The rows before STEP_RULES are a step's (steps.NAME): the form of a sync without steps.
 * source, target and fields are required in a step and in a sync without steps, and refused
 * beside steps: (check_section_keys()). */
#define STEP_RULES 6
static const struct key_rule sync_rules[] = {
    {"noun", FERRY_KEY_STRING, .offset = SYNC(noun)},   /* default: the target table */
    {"label", FERRY_KEY_CUSTOM, .fn = note_label},      /* "{name} ({email})", after the fields */
    {"source", FERRY_KEY_CUSTOM, .fn = on_sync_source}, /* source_section.c, or a step's name */
    {"target", FERRY_KEY_TABLE, .offset = SYNC(target), .sub = target_rules,
     .nsub = NITEMS(target_rules)},
    {"fields", FERRY_KEY_CUSTOM, .fn = on_sync_fields}, /* name -> field_rules */
    {"skip", FERRY_KEY_CUSTOM, .fn = on_sync_skip},     /* field -> skip_rules, after the fields */
    /* STEP_RULES: the sync's own from here */
    {"title", FERRY_KEY_STRING, .offset = SYNC(title)},     /* default: the sync's name */
    {"steps", FERRY_KEY_CUSTOM, .fn = on_sync_steps},       /* name -> the rows above */
    {"schedule", FERRY_KEY_CUSTOM, .fn = on_sync_schedule}, /* "every <duration>", cron */
    {"timezone", FERRY_KEY_STRING, .offset = SYNC(timezone), .fn = ferry_config_timezone_check},
    {"allow_empty", FERRY_KEY_BOOL, .offset = SYNC(allow_empty)},
    {"timeout", FERRY_KEY_DURATION, .offset = SYNC(timeout_ms)},   /* default: none */
    {"cooldown", FERRY_KEY_DURATION, .offset = SYNC(cooldown_ms)}, /* default: none */
    {"retries", FERRY_KEY_INT, .offset = SYNC(retries), .min = 0, .max = 10},
    {"tenant", FERRY_KEY_CUSTOM, .fn = on_sync_tenant}, /* applied after the fields */
    {"tenants", FERRY_KEY_TABLE, .offset = SYNC(tenants), .sub = tenants_rules,
     .nsub = NITEMS(tenants_rules), .fn = on_sync_tenants},
    {"guard", FERRY_KEY_TABLE, .offset = SYNC(guard), .sub = guard_rules,
     .nsub = NITEMS(guard_rules)},
    {"notify", FERRY_KEY_CUSTOM, .offset = SYNC(notify), .fn = ferry_config_notify_walk},
};

/* A column Ferry fills with a time is no field's: a field of that name would be written
 * twice. */
static ferry_rc check_timestamps(struct walk *w, struct sync_state *st)
{
    const ferry_target_spec *tg = &st->sync->target;
    const char *cols[2] = {tg->created_column, tg->updated_column};
    ferry_rc rc = FERRY_OK;
    size_t old;

    for (size_t i = 0; i < 2; i++) {
        if (cols[i] == NULL || ferry_sync_field_index(st->sync, cols[i]) < 0)
            continue;
        old = ferry_config_path_push(w, "target", 6);
        ferry_config_path_push(w, "timestamps", 10);
        rc = ferry_config_fail(w, st->sync->line,
                               "field '%s' is also the %s timestamp column: remove the field "
                               "(Ferry fills the column) or name another column",
                               cols[i], i == 0 ? "created" : "updated");
        ferry_config_path_pop(w, old);
        break;
    }
    return rc;
}

/* target.flag belongs to on_missing: flag, and names no field's column. */
static ferry_rc check_flag(struct walk *w, struct sync_state *st)
{
    const ferry_target_spec *tg = &st->sync->target;
    ferry_rc rc = FERRY_OK;
    size_t old;

    if (tg->flag_column == NULL)
        return FERRY_OK;
    old = ferry_config_path_push(w, "target", 6);
    ferry_config_path_push(w, "flag", 4);
    if (tg->on_missing != FERRY_ON_MISSING_FLAG)
        rc = ferry_config_fail(w, tg->flag_line,
                               "flag needs on_missing: flag (it names the column that marks "
                               "the rows the source no longer has)");
    else if (ferry_sync_field_index(st->sync, tg->flag_column) >= 0 ||
             (tg->updated_column != NULL && strcmp(tg->flag_column, tg->updated_column) == 0) ||
             (tg->created_column != NULL && strcmp(tg->flag_column, tg->created_column) == 0))
        rc = ferry_config_fail(w, tg->flag_line,
                               "column '%s' is already written by a field or target.timestamps: "
                               "name another column for flag",
                               tg->flag_column);
    ferry_config_path_pop(w, old);
    return rc;
}

/* Every name in target.key must be a field; key fields become required. */
static ferry_rc check_key(struct walk *w, struct sync_state *st)
{
    ferry_sync_spec *sync = st->sync;
    size_t i, old = ferry_config_path_push(w, "target", 6);
    ferry_rc rc = FERRY_OK;

    ferry_config_path_push(w, "key", 3);
    for (i = 0; i < sync->target.nkey && rc == FERRY_OK; i++) {
        long index = ferry_sync_field_index(sync, sync->target.key[i]);

        if (index >= 0) {
            sync->fields[index].required = true;
        } else {
            struct val item = ferry_config_list_item(&st->key, i);
            size_t before =
                item.node != st->key.node ? ferry_config_path_push_index(w, i) : w->pathlen;

            rc = ferry_config_fail(w, item.line, "no field named '%s'", sync->target.key[i]);
            ferry_config_path_pop(w, before);
        }
    }
    ferry_config_path_pop(w, old);
    if (rc == FERRY_OK)
        rc = check_timestamps(w, st);
    if (rc == FERRY_OK)
        rc = check_flag(w, st);
    return rc;
}

/* Each look-up's further match columns name fields of the sync (their values are matched);
 * value defaults to id. */
static ferry_rc check_lookups(struct walk *w, ferry_sync_spec *sync)
{
    for (size_t i = 0; i < sync->nfields; i++) {
        ferry_lookup_spec *lk = &sync->fields[i].lookup;
        ferry_rc rc = FERRY_OK;

        if (lk->table == NULL)
            continue;
        if (lk->value == NULL && (lk->value = strdup("id")) == NULL)
            return ferry_config_oom(w);
        if ((lk->match_field = calloc(lk->nmatch, sizeof(*lk->match_field))) == NULL)
            return ferry_config_oom(w);
        lk->match_field[0] = i;
        for (size_t k = 1; k < lk->nmatch && rc == FERRY_OK; k++) {
            long j = ferry_sync_field_index(sync, lk->match[k]);
            if (j >= 0 && j != (long)i) {
                lk->match_field[k] = (size_t)j;
                continue;
            }
            size_t old = ferry_config_path_push(w, "fields", 6);
            ferry_config_path_push(w, sync->fields[i].name, strlen(sync->fields[i].name));
            ferry_config_path_push(w, "lookup", 6);
            ferry_config_path_push(w, "match", 5);
            rc = ferry_config_fail(w, lk->line,
                                   "'%s': after the first, each match column takes the value "
                                   "of the record's field of the same name, and this sync has "
                                   "no other field named '%s'",
                                   lk->match[k], lk->match[k]);
            ferry_config_path_pop(w, old);
        }
        if (rc != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

/* One column of target.scope: a field Ferry fills with value on every row, and a key
 * column, so that matching and on_missing see only the rows holding that value. */
static ferry_rc on_scope_entry(struct walk *w, const char *name, int line, const struct val *v,
                               void *obj)
{
    struct sync_state *st = obj;
    ferry_sync_spec *sync = st->sync;
    const ferry_target_spec *tg = &sync->target;
    ferry_field_spec *f;
    char *value = NULL;
    ferry_rc rc = ferry_config_identifier_check(w, line, name, "column");

    if (rc != FERRY_OK)
        return rc;
    if (ferry_sync_field_index(sync, name) >= 0)
        return ferry_config_fail(w, line,
                                 "column '%s' is also a field: a scope column is filled by Ferry "
                                 "with the scope's value",
                                 name);
    if ((tg->created_column != NULL && strcmp(name, tg->created_column) == 0) ||
        (tg->updated_column != NULL && strcmp(name, tg->updated_column) == 0) ||
        (tg->flag_column != NULL && strcmp(name, tg->flag_column) == 0))
        return ferry_config_fail(w, line,
                                 "column '%s' is already written by target.timestamps or "
                                 "target.flag: name another column for the scope",
                                 name);
    if (v->node == NULL || !fy_node_is_scalar(v->node))
        return ferry_config_fail(w, v->line, "expected the value every row of this sync holds");
    if ((rc = ferry_config_scalar_load(w, v, &value)) != FERRY_OK)
        return rc;
    if (value[0] == '\0') {
        free(value);
        return ferry_config_fail(w, v->line, "a scope value cannot be empty");
    }
    if ((f = field_append(w, sync)) == NULL) {
        free(value);
        return FERRY_ENOMEM;
    }
    f->name = strdup(name);
    f->column = strdup(name);
    f->scope_value = value;
    f->filled = true;
    f->required = true;
    f->line = line;
    if (f->name == NULL || f->column == NULL)
        return ferry_config_oom(w);
    sync->target.nscope++;
    return key_append(w, sync, name);
}

static ferry_rc apply_scope(struct walk *w, struct sync_state *st)
{
    size_t old = ferry_config_path_push(w, "target", 6);
    ferry_rc rc;

    ferry_config_path_push(w, "scope", 5);
    rc = ferry_config_entries_walk(w, &st->scope, on_scope_entry, st);
    ferry_config_path_pop(w, old);
    return rc;
}

static ferry_rc parse_skips(struct walk *w, struct sync_state *st)
{
    size_t count = 0, old;
    ferry_rc rc = ferry_config_mapping_count(w, &st->skip, &count);

    if (rc != FERRY_OK || count == 0)
        return rc;
    st->sync->skips = calloc(count, sizeof(*st->sync->skips));
    if (st->sync->skips == NULL)
        return ferry_config_oom(w);
    old = ferry_config_path_push(w, "skip", 4);
    rc = ferry_config_entries_walk(w, &st->skip, on_skip, st);
    ferry_config_path_pop(w, old);
    return rc;
}

/* The keys a section must have, or may not: source, target and fields in a step and in a
 * sync without steps; none of a step's keys beside steps:. */
static ferry_rc check_section_keys(struct walk *w, const struct val *map,
                                   const struct key_seen *seen, bool has_steps)
{
    static const char *const required[] = {"source", "target", "fields"};

    if (has_steps) {
        for (size_t i = 0; i < seen->n; i++) {
            const char *name = sync_rules[seen->order[i]].name;
            size_t old;
            ferry_rc rc;
            if (seen->order[i] >= STEP_RULES)
                continue;
            old = ferry_config_path_push(w, name, strlen(name));
            rc = ferry_config_fail(
                w, seen->vals[seen->order[i]].line,
                "'%s' goes in each step of a sync with steps (steps.NAME.%s), not beside them",
                name, name);
            ferry_config_path_pop(w, old);
            return rc;
        }
        return FERRY_OK;
    }
    for (size_t i = 0; i < NITEMS(required); i++)
        if (ferry_config_seen_get(seen, sync_rules, STEP_RULES, required[i]) == NULL)
            return ferry_config_fail(w, map->line, "missing required key '%s'", required[i]);
    return FERRY_OK;
}

/* The checks of a section (a sync without steps, or one step) that need all its keys. */
static ferry_rc finish_section(struct walk *w, struct sync_state *st, const struct val *tenant)
{
    ferry_sync_spec *sync = st->sync;
    ferry_rc rc = check_key(w, st);

    if (rc == FERRY_OK)
        rc = check_lookups(w, sync);
    if (rc == FERRY_OK && st->has_skip)
        rc = parse_skips(w, st);
    if (rc == FERRY_OK && st->has_scope)
        rc = apply_scope(w, st);
    if (rc == FERRY_OK && tenant != NULL) {
        st->tenant = *tenant;
        rc = apply_tenant(w, st, true);
    }
    if (rc == FERRY_OK && st->has_label)
        rc = apply_label(w, st);
    if (rc == FERRY_OK)
        rc = ferry_config_source_check(w, sync, &st->source);
    if (rc == FERRY_OK)
        rc = ferry_config_templates_resolve(w, sync);
    if (rc != FERRY_OK)
        return rc;
    if (sync->noun == NULL && (sync->noun = strdup(sync->target.table)) == NULL)
        return ferry_config_oom(w);
    return FERRY_OK;
}

/* steps: kept, and walked once the sync's own keys are known. */
static ferry_rc on_sync_steps(struct walk *w, const struct val *v, const struct key_rule *rule,
                              void *obj, void *data)
{
    struct sync_state *st = obj;
    size_t count = 0;
    ferry_rc rc = ferry_config_mapping_count(w, v, &count);

    (void)rule;
    (void)data;
    if (rc != FERRY_OK)
        return rc;
    if (count == 0)
        return ferry_config_fail(w, v->line, "define at least one step");
    if (count > FERRY_STEPS_MAX)
        return ferry_config_fail(w, v->line, "a sync has at most %d steps", FERRY_STEPS_MAX);
    st->steps = *v;
    st->has_steps = true;
    return FERRY_OK;
}

/* What walking a sync's steps keeps: each step's state, and the sync's. */
struct steps_state {
    struct sync_state *parent;
    struct sync_state states[FERRY_STEPS_MAX];
};

/* The index of the step named name among the first n of sync's, or -1. */
static long step_index(const ferry_sync_spec *sync, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(sync->steps[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* source: NAME: the step reads the rows of the named earlier step's source, walked again
 * into its own source so every later check and default holds for it as for the first. */
static ferry_rc share_source(struct walk *w, struct steps_state *ss, size_t i)
{
    ferry_sync_spec *sync = ss->parent->sync, *step = &sync->steps[i];
    struct sync_state *st = &ss->states[i];
    long j = step_index(sync, i, st->shared);
    size_t old;
    ferry_rc rc;

    old = ferry_config_path_push(w, "source", 6);
    if (j < 0)
        rc = ferry_config_fail(w, st->shared_line,
                               "'%s' is not an earlier step of this sync: a step shares the "
                               "source of a step above it",
                               st->shared);
    else if (sync->steps[j].source.kind != FERRY_SOURCE_CSV)
        rc = ferry_config_fail(w, st->shared_line,
                               "step '%s' reads a REST source: only a CSV source's rows can be "
                               "shared by steps",
                               st->shared);
    else
        rc = FERRY_OK;
    ferry_config_path_pop(w, old);
    if (rc != FERRY_OK)
        return rc;
    if (sync->steps[j].source_step >= 0)
        j = sync->steps[j].source_step;
    step->source_step = j;
    st->source.src = &step->source;
    return ferry_config_source_walk(w, &ss->states[j].source_val, &st->source);
}

static ferry_rc on_step(struct walk *w, const char *name, int line, const struct val *v, void *obj)
{
    struct steps_state *ss = obj;
    ferry_sync_spec *sync = ss->parent->sync;
    size_t i = sync->nsteps;
    ferry_sync_spec *step = &sync->steps[i];
    struct sync_state *st = &ss->states[i];
    struct key_seen seen;
    ferry_rc rc;

    if (!is_sync_name(name))
        return ferry_config_fail(
            w, line, "invalid step name (use 1 to %d of a-z, 0-9, '_' and '-')", SYNC_NAME_MAX);
    if (step_index(sync, i, name) >= 0)
        return ferry_config_fail(w, line, "step '%s' is given twice", name);
    sync->nsteps++;
    step->line = line;
    step->parent = sync;
    step->tenant_field = -1;
    step->source_step = -1;
    (void)ferry_config_table_defaults(sync_rules, STEP_RULES, step); /* no strings */
    ferry_config_source_defaults(&step->source);
    step->name = strdup(name);
    step->title = strdup(name);
    if (step->name == NULL || step->title == NULL)
        return ferry_config_oom(w);
    /* What every step's run needs of the sync's own keys. */
    step->allow_empty = sync->allow_empty;
    step->guard = sync->guard;
    st->sync = step;
    rc = ferry_config_table_walk(w, v, sync_rules, STEP_RULES, st, step, &seen);
    if (rc == FERRY_OK)
        rc = check_section_keys(w, v, &seen, false);
    if (rc == FERRY_OK && step->target.database != NULL) {
        /* One transaction holds every step: on one connection, the store's. */
        size_t old = ferry_config_path_push(w, "target", 6);
        ferry_config_path_push(w, "database", 8);
        rc = ferry_config_fail(w,
                               ferry_config_seen_get(&seen, sync_rules, STEP_RULES, "target")->line,
                               "the steps of a sync write into the config's database, in one "
                               "transaction: target.database is not for a step");
        ferry_config_path_pop(w, old);
    }
    if (rc == FERRY_OK && st->shared[0] != '\0')
        rc = share_source(w, ss, i);
    if (rc == FERRY_OK)
        rc = finish_section(w, st, ss->parent->has_tenant ? &ss->parent->tenant : NULL);
    return rc;
}

/* Whether a and b name the same table: the same database (the config's, or one URL) and a
 * table name that differs at most in case. */
static bool same_table_name(const char *da, const char *ta, const char *db, const char *tb)
{
    if ((da == NULL) != (db == NULL) || (da != NULL && strcmp(da, db) != 0))
        return false;
    return strcasecmp(ta, tb) == 0;
}

static bool same_table(const ferry_sync_spec *a, const ferry_sync_spec *b)
{
    return same_table_name(a->target.database, a->target.table, b->target.database,
                           b->target.table);
}

/* Two steps never write one table, and a step's look-up never reads a table a later step
 * writes (it would see the table as it was before the run: the order is wrong). */
static ferry_rc check_steps(struct walk *w, ferry_sync_spec *sync)
{
    for (size_t i = 0; i < sync->nsteps; i++) {
        ferry_sync_spec *a = &sync->steps[i];
        for (size_t f = 0; f < a->nfields; f++) {
            ferry_lookup_spec *lk = &a->fields[f].lookup;
            for (size_t j = 0; lk->table != NULL && j < i; j++)
                if (same_table_name(a->target.database, lk->table, sync->steps[j].target.database,
                                    sync->steps[j].target.table))
                    lk->from_step = true;
        }
        for (size_t j = i + 1; j < sync->nsteps; j++) {
            const ferry_sync_spec *b = &sync->steps[j];
            size_t old;
            ferry_rc rc;

            if (same_table(a, b)) {
                old = ferry_config_path_push(w, b->name, strlen(b->name));
                ferry_config_path_push(w, "target", 6);
                rc = ferry_config_fail(w, b->line,
                                       "steps '%s' and '%s' both write table %s: one step per "
                                       "table",
                                       a->name, b->name, b->target.table);
                ferry_config_path_pop(w, old);
                return rc;
            }
            for (size_t f = 0; f < a->nfields; f++) {
                const ferry_lookup_spec *lk = &a->fields[f].lookup;
                if (lk->table == NULL || !same_table_name(a->target.database, lk->table,
                                                          b->target.database, b->target.table))
                    continue;
                old = ferry_config_path_push(w, a->name, strlen(a->name));
                ferry_config_path_push(w, "fields", 6);
                ferry_config_path_push(w, a->fields[f].name, strlen(a->fields[f].name));
                ferry_config_path_push(w, "lookup", 6);
                rc = ferry_config_fail(w, lk->line,
                                       "looks up table %s, which the later step '%s' writes: "
                                       "put step '%s' before step '%s'",
                                       lk->table, b->name, b->name, a->name);
                ferry_config_path_pop(w, old);
                return rc;
            }
        }
    }
    return FERRY_OK;
}

static ferry_rc apply_steps(struct walk *w, struct sync_state *parent)
{
    ferry_sync_spec *sync = parent->sync;
    struct steps_state *ss = calloc(1, sizeof(*ss));
    size_t count = 0, old;
    ferry_rc rc;

    if (ss == NULL)
        return ferry_config_oom(w);
    ss->parent = parent;
    (void)ferry_config_mapping_count(w, &parent->steps, &count);
    sync->steps = calloc(count, sizeof(*sync->steps));
    if (sync->steps == NULL) {
        free(ss);
        return ferry_config_oom(w);
    }
    old = ferry_config_path_push(w, "steps", 5);
    rc = ferry_config_entries_walk(w, &parent->steps, on_step, ss);
    if (rc == FERRY_OK)
        rc = check_steps(w, sync);
    ferry_config_path_pop(w, old);
    free(ss);
    if (rc == FERRY_OK && parent->has_tenant)
        rc = apply_tenant(w, parent, false);
    return rc;
}

static ferry_rc on_sync(struct walk *w, const char *name, int line, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;
    struct sync_state st = {0};
    struct key_seen seen;
    ferry_sync_spec *sync;
    ferry_rc rc;

    if (!is_sync_name(name))
        return ferry_config_fail(
            w, line, "invalid sync name (use 1 to %d of a-z, 0-9, '_' and '-')", SYNC_NAME_MAX);
    sync = &cfg->syncs[cfg->nsyncs++];
    sync->line = line;
    sync->tenant_field = -1;
    sync->source_step = -1;
    (void)ferry_config_table_defaults(sync_rules, NITEMS(sync_rules), sync); /* no strings */
    ferry_config_source_defaults(&sync->source);
    sync->guard.max_missing = (ferry_guard_limit){.set = true, .percent = true, .value = 1000};
    sync->guard.hold_for_ms = 86400000L;
    sync->name = strdup(name);
    if (sync->name == NULL)
        return ferry_config_oom(w);
    st.sync = sync;
    rc = ferry_config_table_walk(w, v, sync_rules, NITEMS(sync_rules), &st, sync, &seen);
    if (rc == FERRY_OK)
        rc = check_section_keys(w, v, &seen, st.has_steps);
    if (rc == FERRY_OK)
        rc = st.has_steps ? apply_steps(w, &st)
                          : finish_section(w, &st, st.has_tenant ? &st.tenant : NULL);
    if (rc == FERRY_OK && sync->tenants.query != NULL && sync->tenant_variable == NULL)
        rc = ferry_config_fail(w, sync->tenants.line,
                               "tenants: needs tenant: { variable, column } beside it (the "
                               "query names the tenants, tenant: says where they go)");
    if (rc == FERRY_OK && sync->tenants.query != NULL && sync->tenant_values != NULL)
        rc = ferry_config_fail(w, sync->tenants.line,
                               "tenants: and tenant.values both name the tenants: keep one");
    if (rc == FERRY_OK && sync->tenant_variable != NULL && sync->schedule != NULL &&
        sync->tenant_values == NULL && sync->tenants.query == NULL)
        rc = ferry_config_fail(w, line,
                               "a scheduled sync with tenants needs tenant.values or "
                               "tenants.query: the tenants each scheduled time runs");
    if (rc == FERRY_OK)
        rc = check_protect(w, sync);
    if (rc != FERRY_OK)
        return rc;
    for (size_t k = 0; k < sync->nsteps; k++) /* a step's guard is the sync's, whatever the order */
        sync->steps[k].guard = sync->guard;
    if (sync->title == NULL && (sync->title = strdup(name)) == NULL)
        return ferry_config_oom(w);
    return FERRY_OK;
}

ferry_rc ferry_config_syncs_walk(struct walk *w, const struct val *v, const struct key_rule *rule,
                                 void *obj, void *data)
{
    ferry_config *cfg = data;
    size_t count = 0;
    ferry_rc rc = ferry_config_mapping_count(w, v, &count);

    (void)rule;
    (void)obj;
    if (rc != FERRY_OK || count == 0)
        return rc;
    cfg->syncs = calloc(count, sizeof(*cfg->syncs));
    if (cfg->syncs == NULL)
        return ferry_config_oom(w);
    return ferry_config_entries_walk(w, v, on_sync, cfg);
}

/* Whether some scope column of a holds another value in b's scope: then no row is both's. */
static bool scopes_apart(const ferry_sync_spec *a, const ferry_sync_spec *b)
{
    for (size_t i = 0; i < a->nfields; i++) {
        long j;
        if (a->fields[i].scope_value == NULL)
            continue;
        j = ferry_sync_field_index(b, a->fields[i].name);
        if (j >= 0 && b->fields[j].scope_value != NULL &&
            strcmp(a->fields[i].scope_value, b->fields[j].scope_value) != 0)
            return true;
    }
    return false;
}

static const char *removes_rows(const ferry_sync_spec *s)
{
    switch (s->target.on_missing) {
    case FERRY_ON_MISSING_DELETE:
        return "deletes";
    case FERRY_ON_MISSING_FLAG:
        return "flags";
    default:
        return NULL;
    }
}

/* The path and line of a section in messages: syncs.NAME, or syncs.NAME.steps.STEP. */
static size_t section_path_push(struct walk *w, const ferry_sync_spec *sync,
                                const ferry_sync_spec *step)
{
    size_t old = ferry_config_path_push(w, "syncs", 5);

    ferry_config_path_push(w, sync->name, strlen(sync->name));
    if (step != sync) {
        ferry_config_path_push(w, "steps", 5);
        ferry_config_path_push(w, step->name, strlen(step->name));
    }
    return old;
}

ferry_rc ferry_config_shared_tables_check(struct walk *w, const ferry_config *cfg)
{
    /* Every pair of sections of different syncs (a sync's steps are checked apart). */
    for (size_t j = 1; j < cfg->nsyncs; j++) {
        for (size_t jj = 0; jj < ferry_sync_step_count(&cfg->syncs[j]); jj++) {
            const ferry_sync_spec *b = ferry_sync_step(&cfg->syncs[j], jj);
            for (size_t i = 0; i < j; i++) {
                for (size_t ii = 0; ii < ferry_sync_step_count(&cfg->syncs[i]); ii++) {
                    const ferry_sync_spec *a = ferry_sync_step(&cfg->syncs[i], ii);
                    const ferry_sync_spec *r = removes_rows(a) != NULL ? a : b;
                    size_t old;
                    ferry_rc rc;

                    if (!same_table(a, b) || (removes_rows(a) == NULL && removes_rows(b) == NULL) ||
                        scopes_apart(a, b))
                        continue;
                    old = section_path_push(w, &cfg->syncs[j], b);
                    ferry_config_path_push(w, "target", 6);
                    rc = ferry_config_fail(
                        w, b->line,
                        "syncs '%s' and '%s' both write table %s, and '%s' %s the rows its source "
                        "no longer has (on_missing: %s), so each run would take the other's rows "
                        "for missing ones: give both a target.scope with a column whose values "
                        "differ, such as scope: {source_system: %s} and scope: {source_system: "
                        "%s}",
                        cfg->syncs[i].name, cfg->syncs[j].name, a->target.table,
                        r == a ? cfg->syncs[i].name : cfg->syncs[j].name, removes_rows(r),
                        r->target.on_missing == FERRY_ON_MISSING_DELETE ? "delete" : "flag",
                        cfg->syncs[i].name, cfg->syncs[j].name);
                    ferry_config_path_pop(w, old);
                    return rc;
                }
            }
        }
    }
    return FERRY_OK;
}

size_t ferry_sync_step_count(const ferry_sync_spec *sync)
{
    return sync->nsteps > 0 ? sync->nsteps : 1;
}

const ferry_sync_spec *ferry_sync_step(const ferry_sync_spec *sync, size_t i)
{
    return sync->nsteps > 0 ? &sync->steps[i] : sync;
}

long ferry_sync_field_index(const ferry_sync_spec *sync, const char *name)
{
    size_t i;

    if (sync == NULL || name == NULL)
        return -1;
    for (i = 0; i < sync->nfields; i++)
        if (sync->fields[i].name != NULL && strcmp(sync->fields[i].name, name) == 0)
            return (long)i;
    return -1;
}

size_t ferry_sync_input_count(const ferry_sync_spec *sync)
{
    return sync->nfields + sync->ninputs;
}

const char *ferry_sync_input_column(const ferry_sync_spec *sync, size_t i)
{
    if (i < sync->nfields)
        return sync->fields[i].filled ? NULL : sync->fields[i].column;
    return sync->inputs[i - sync->nfields].column;
}

const char *ferry_sync_input_pointer(const ferry_sync_spec *sync, size_t i)
{
    if (i < sync->nfields)
        return sync->fields[i].filled ? NULL : sync->fields[i].pointer;
    return sync->inputs[i - sync->nfields].pointer;
}

size_t ferry_sync_key_shown(const ferry_sync_spec *sync)
{
    return sync->target.nkey - sync->target.nscope;
}

bool ferry_sync_key_append(const ferry_sync_spec *sync, size_t k, const char *v, size_t len,
                           ferry_buf *out)
{
    const ferry_target_spec *tg = &sync->target;
    size_t nuser = tg->nkey - tg->nscope - (sync->tenant_field >= 0 ? 1 : 0);
    const char *name = tg->key[k];

    if (k >= nuser && k < nuser + tg->nscope)
        return true; /* a scope column */
    if (ferry_sync_key_shown(sync) == 1)
        return ferry_buf_append(out, v, len) == FERRY_OK;
    return (out->len == 0 || ferry_buf_append(out, ", ", 2) == FERRY_OK) &&
           ferry_buf_append(out, name, strlen(name)) == FERRY_OK &&
           ferry_buf_append(out, "=", 1) == FERRY_OK && ferry_buf_append(out, v, len) == FERRY_OK;
}

static void field_free(ferry_field_spec *f)
{
    free(f->name);
    free(f->column);
    free(f->pointer);
    free(f->join);
    free(f->scope_value);
    ferry_config_strv_free(f->values, f->nvalues);
    free(f->lookup.table);
    ferry_config_strv_free(f->lookup.match, f->lookup.nmatch);
    free(f->lookup.match_field);
    free(f->lookup.value);
    ferry_config_pairs_free(f->lookup.scope, f->lookup.nscope);
    ferry_config_transform_done(&f->tf);
}

void ferry_config_sync_done(ferry_sync_spec *s)
{
    size_t i;

    free(s->name);
    free(s->title);
    free(s->noun);
    ferry_config_source_done(&s->source);
    free(s->tenant_variable);
    ferry_config_strv_free(s->tenant_values, s->ntenant_values);
    free(s->tenants.query);
    free(s->tenants.database);
    free(s->target.table);
    free(s->target.database);
    ferry_config_strv_free(s->target.key, s->target.nkey);
    free(s->target.created_column);
    free(s->target.updated_column);
    free(s->target.flag_column);
    ferry_config_notify_list_done(&s->notify);
    for (i = 0; i < s->nfields; i++)
        field_free(&s->fields[i]);
    free(s->fields);
    for (i = 0; i < s->nskips; i++)
        ferry_config_strv_free(s->skips[i].values, s->skips[i].nvalues);
    free(s->skips);
    ferry_config_strv_free(s->skip_labels, s->nskip_labels);
    free(s->label.text);
    for (i = 0; i < s->label.nparts; i++)
        free(s->label.parts[i].text);
    free(s->label.parts);
    for (i = 0; i < s->ninputs; i++) {
        free(s->inputs[i].column);
        free(s->inputs[i].pointer);
    }
    free(s->inputs);
    free(s->schedule);
    free(s->timezone);
    ferry_tz_free(s->tz);
    if (s->parent == NULL) /* a step borrows its sync's guard */
        ferry_config_strv_free(s->guard.protect, s->guard.nprotect);
    for (i = 0; i < s->nsteps; i++)
        ferry_config_sync_done(&s->steps[i]);
    free(s->steps);
}
