/* yaml.h - the text of the config file, and libfyaml's document of it (internal to config/).
 *
 * libfyaml turns the text into a document tree (anchors and merge keys resolved, duplicate
 * keys rejected). Its diagnostics are collected, never printed; the first one becomes
 * "FILE:LINE: YAML syntax error: ...". */
#ifndef FERRY_CONFIG_YAML_H
#define FERRY_CONFIG_YAML_H

#include <libfyaml.h>
#include <stddef.h>

#include "config/walk.h"
#include "util/err.h"

/* The libfyaml objects of one parse. */
struct yaml {
    struct fy_diag *diag;
    struct fy_parser *parser;
    struct fy_document *doc;
    char output[256]; /* the first line libfyaml wanted to print, for want of a better one */
};

/* Reads the whole file at path (at most 16 MiB) into *ret (caller frees). */
ferry_rc ferry_config_file_load(const char *path, char **ret, size_t *ret_len, ferry_err *err);

/* ferry_config_file_load(), and the directory part of path (relative paths in the config
 * resolve against it) into *ret_dir: both malloc'ed, the caller frees them. */
ferry_rc ferry_config_file_load_with_dir(const char *path, char **ret, size_t *ret_len,
                                         char **ret_dir, ferry_err *err);

/* Parses text into y->doc (y zeroed by the caller); y->doc stays NULL for a stream without
 * documents. Close y with ferry_config_yaml_close() whatever this returns. */
ferry_rc ferry_config_yaml_open(struct walk *w, const char *text, size_t len, struct yaml *y);

void ferry_config_yaml_close(struct yaml *y);

#endif
