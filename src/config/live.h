/* live.h - the config a running server serves with, and its reload.
 *
 * The live config holds the current ferry_config and counts who uses each one: a worker for
 * a run, the scheduler for a tick, an HTTP request, a notification's delivery. A reload
 * installs a new config; one that was replaced is freed when its last user releases it, so
 * a borrowed `const ferry_config *` stays valid for as long as its acquirer holds it. Every
 * function may be called from any thread. */
#ifndef FERRY_CONFIG_LIVE_H
#define FERRY_CONFIG_LIVE_H

#include <stddef.h>

#include "config/config.h"
#include "util/err.h"

typedef struct ferry_config_live ferry_config_live;

/* What a reload did: the syncs of the new config, those added and removed, and warnings
 * (settings that take effect only at a restart). Lists of owned strings; freed with
 * ferry_config_reload_done(). */
typedef struct {
    char **syncs;
    size_t nsyncs;
    char **added;
    size_t nadded;
    char **removed;
    size_t nremoved;
    char **warnings;
    size_t nwarnings;
} ferry_config_reload;

/* Makes a live config serving cfg (consumed on every path). On success *ret_live is owned by
 * the caller (ferry_config_live_free()). */
ferry_rc ferry_config_live_new(ferry_config *cfg, ferry_config_live **ret_live, ferry_err *err);

/* Frees live and the current config, once nothing holds a config any more. NULL is allowed. */
void ferry_config_live_free(ferry_config_live *live);

/* The current config, borrowed until the caller passes it to ferry_config_live_release(). */
const ferry_config *ferry_config_live_acquire(ferry_config_live *live);

/* Gives back a config ferry_config_live_acquire() returned; a replaced config is freed with
 * its last release. NULL is allowed. */
void ferry_config_live_release(ferry_config_live *live, const ferry_config *cfg);

/* Loads the file the current config came from again, with the checks of ferry_config_load(),
 * and installs it: the settings that need a restart keep their current values (each changed
 * one is a warning in *ret). One reload at a time: a second waits for the first. On failure
 * nothing changes and err says why (file:line: key). On success *ret is filled (the caller
 * frees it with ferry_config_reload_done()). */
ferry_rc ferry_config_live_reload(ferry_config_live *live, ferry_config_reload *ret,
                                  ferry_err *err);

/* Frees what a reload reported; a zeroed struct is allowed. */
void ferry_config_reload_done(ferry_config_reload *r);

#endif
