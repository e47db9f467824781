/* yaml.c - reading the config file and parsing it with libfyaml (see yaml.h). */
#include "config/yaml.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

#define CONFIG_MAX_BYTES (16L * 1024 * 1024)

/* Reads a whole file of at most CONFIG_MAX_BYTES. */
ferry_rc ferry_config_file_load(const char *path, char **ret, size_t *ret_len, ferry_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL, *grown;
    size_t len = 0, cap = 0, n;
    ferry_rc rc = FERRY_OK;

    if (f == NULL)
        return ferry_err_set_errno(err, errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO,
                                   "%s: cannot open the config file", path);
    for (;;) {
        if (cap - len < 4096) {
            if (cap >= (size_t)CONFIG_MAX_BYTES) {
                rc = ferry_err_set(err, FERRY_ECONFIG, "%s: the config file is over %ld bytes",
                                   path, CONFIG_MAX_BYTES);
                goto fail;
            }
            grown = realloc(buf, cap * 2 + 4096);
            if (grown == NULL) {
                rc = ferry_err_set(err, FERRY_ENOMEM, "%s: out of memory", path);
                goto fail;
            }
            buf = grown;
            cap = cap * 2 + 4096;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        rc = ferry_err_set_errno(err, FERRY_EIO, "%s: cannot read the config file", path);
        goto fail;
    }
    fclose(f);
    *ret = buf;
    *ret_len = len;
    return FERRY_OK;
fail:
    fclose(f);
    free(buf);
    return rc;
}

ferry_rc ferry_config_file_load_with_dir(const char *path, char **ret, size_t *ret_len,
                                         char **ret_dir, ferry_err *err)
{
    char *text = NULL, *copy, *dir;
    size_t len = 0;
    ferry_rc rc = ferry_config_file_load(path, &text, &len, err);

    if (rc != FERRY_OK)
        return rc;
    copy = strdup(path);
    dir = copy != NULL ? strdup(dirname(copy)) : NULL;
    free(copy);
    if (dir == NULL) {
        free(text);
        return ferry_err_set(err, FERRY_ENOMEM, "%s: out of memory", path);
    }
    *ret = text;
    *ret_len = len;
    *ret_dir = dir;
    return FERRY_OK;
}

/* Keeps libfyaml's own output off stderr. */
static void diag_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    struct yaml *y = user;
    size_t n = strcspn(buf, "\n");

    (void)diag;
    if (y->output[0] != '\0' || len == 0)
        return;
    if (n > len)
        n = len;
    if (n >= sizeof(y->output))
        n = sizeof(y->output) - 1;
    memcpy(y->output, buf, n);
    y->output[n] = '\0';
}

static ferry_rc yaml_error(struct walk *w, struct yaml *y)
{
    struct fy_diag_error *e;
    void *it = NULL;

    while ((e = fy_diag_errors_iterate(y->diag, &it)) != NULL) {
        if (e->type < FYET_ERROR || e->msg == NULL)
            continue;
        return ferry_err_set(w->err, FERRY_ECONFIG, "%s:%d: YAML syntax error: %s (column %d)",
                             w->file, e->line > 0 ? e->line : 1, e->msg, e->column);
    }
    return ferry_err_set(w->err, FERRY_ECONFIG, "%s: YAML syntax error: %s", w->file,
                         y->output[0] != '\0' ? y->output : "the file could not be parsed");
}

/* YAML is Unicode text, and libfyaml 0.7 (Debian 12's) loops forever on some invalid UTF-8,
 * such as a directive line "%\x80" (upstream issue #101), so the bytes are checked first.
 * Line by line, since a UTF-8 sequence never spans a line break: the error names the line. */
static ferry_rc check_utf8(struct walk *w, const char *text, size_t len)
{
    size_t start = 0;
    int line = 1;

    while (start < len) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;

        if (!ferry_utf8_is_valid(text + start, end - start))
            return ferry_config_fail(w, line, "the file is not valid UTF-8 text");
        start = end + 1;
        line++;
    }
    return FERRY_OK;
}

/* Parses text into y->doc; y->doc stays NULL for a stream without documents. */
ferry_rc ferry_config_yaml_open(struct walk *w, const char *text, size_t len, struct yaml *y)
{
    struct fy_diag_cfg dcfg;
    struct fy_parse_cfg pcfg;
    struct fy_document *extra;
    ferry_rc rc;

    if ((rc = check_utf8(w, text, len)) != FERRY_OK)
        return rc;

    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_output;
    dcfg.user = y;
    dcfg.colorize = false;
    y->diag = fy_diag_create(&dcfg);
    if (y->diag == NULL)
        return ferry_config_oom(w);
    fy_diag_set_collect_errors(y->diag, true);
    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT;
    pcfg.diag = y->diag;
    y->parser = fy_parser_create(&pcfg);
    if (y->parser == NULL)
        return ferry_config_oom(w);
    if (fy_parser_set_string(y->parser, len > 0 ? text : "", len) != 0)
        return ferry_config_oom(w);
    y->doc = fy_parse_load_document(y->parser);
    if (fy_parser_get_stream_error(y->parser))
        return yaml_error(w, y);
    if (y->doc == NULL)
        return FERRY_OK;
    extra = fy_parse_load_document(y->parser);
    if (extra != NULL) {
        int line = ferry_config_node_line(fy_document_root(extra));

        fy_parse_document_destroy(y->parser, extra);
        return ferry_err_set(w->err, FERRY_ECONFIG,
                             "%s:%d: only one YAML document is allowed (a second one starts here)",
                             w->file, line > 0 ? line : 1);
    }
    if (fy_parser_get_stream_error(y->parser))
        return yaml_error(w, y);
    return FERRY_OK;
}

void ferry_config_yaml_close(struct yaml *y)
{
    if (y->doc != NULL)
        fy_parse_document_destroy(y->parser, y->doc);
    if (y->parser != NULL)
        fy_parser_destroy(y->parser);
    if (y->diag != NULL)
        fy_diag_destroy(y->diag);
}
