/* config.h: the YAML configuration file.
 *
 *     # $XDG_CONFIG_HOME/attachpy/config.yaml
 *     debugger: gdb      # gdb, lldb or auto
 *     timeout: 30        # seconds
 *
 * An empty or comment-only file is fine.  Unknown keys, wrong types and
 * syntax errors are AP_ERR_USAGE errors naming file:line:column.
 */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "options.h"

typedef struct ap_config {
        bool has_debugger;
        ap_debugger_choice debugger;
        bool has_timeout;
        double timeout_s;
} ap_config;

/* Load the config at path.  missing_ok: a file that does not exist is not an
 * error (used for the default path).  Returns 0 on success. */
int ap_config_load(ap_config *cfg, const char *path, bool missing_ok, ap_error *err)
        __attribute__((warn_unused_result));

/* The default path: $XDG_CONFIG_HOME/attachpy/config.yaml, or
 * $HOME/.config/attachpy/config.yaml; NULL when neither is set.  Caller frees. */
char *ap_config_default_path(void);

/* Fill in what the command line did not set: config first, then defaults. */
void ap_options_apply_config(ap_options *opts, const ap_config *cfg);
