/* user_code.h: the code a run sends into the target: -c CODE, a script
 * file (at most AP_MAX_CODE_BYTES), or a recipe's payload.
 */
#pragma once

#include <stddef.h>

#include "error.h"
#include "options.h"

/* Fill *ret_code (ret_len bytes, NUL-terminated) and *ret_filename (the
 * code's __file__: "<string>", the script's real path, or the recipe's);
 * both malloc'd.  -1 with a usage error naming the file and what to do when
 * the script is missing, a directory, unreadable or too big. */
int ap_user_code_load(const ap_options *o, char **ret_code, size_t *ret_len, char **ret_filename,
                      ap_error *err) __attribute__((warn_unused_result));
