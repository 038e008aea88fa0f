/* user_code.c: the code a run sends into the target, read from where the
 * command line says. */
#include "user_code.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "recipe.h"
#include "util.h"

int ap_user_code_load(const ap_options *o, char **ret_code, size_t *ret_len, char **ret_filename,
                      ap_error *err) {
        if (o->command == AP_CMD_RECIPE)
                return ap_recipe_load(o->recipe, ret_code, ret_len, ret_filename, err);
        if (o->code || o->command == AP_CMD_ATTACH || o->command == AP_CMD_DETACH) {
                /* attach runs nothing of the user's: an empty module. */
                const char *code = o->code ? o->code : "";
                *ret_code = strdup(code);
                *ret_len = strlen(code);
                *ret_filename = strdup("<string>");
                return *ret_code && *ret_filename
                               ? 0
                               : ap_error_set(err, AP_ERR_USAGE, "out of memory");
        }
        struct stat st;
        if (stat(o->script_path, &st) < 0)
                return ap_error_set(err, AP_ERR_USAGE, "script '%s' not found: %s", o->script_path,
                                    strerror(errno)),
                       ap_error_hint(err, "give the path of a Python file, or the code itself "
                                          "with -c CODE"),
                       -1;
        if (S_ISDIR(st.st_mode))
                return ap_error_set(err, AP_ERR_USAGE, "script '%s' is a directory",
                                    o->script_path),
                       ap_error_hint(err, "give the path of a Python file"), -1;
        if (ap_read_file(o->script_path, AP_MAX_CODE_BYTES, ret_code, ret_len) < 0)
                return ap_error_set(err, AP_ERR_USAGE, "cannot read script '%s': %s",
                                    o->script_path,
                                    errno == EFBIG ? "larger than 16 MiB" : strerror(errno)),
                       ap_error_hint(err, "check the file and its permissions"), -1;
        char real[PATH_MAX];
        *ret_filename = strdup(realpath(o->script_path, real) ? real : o->script_path);
        return *ret_filename ? 0 : ap_error_set(err, AP_ERR_USAGE, "out of memory");
}
