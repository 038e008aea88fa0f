/* template.h: render a debugger script from a template file.
 *
 * Placeholders are {{name}}.  Every placeholder must have a value and every
 * value must be used; values are things attachpy generated (numbers,
 * addresses, paths it created, blocks of commands it built), and as a second
 * line of defence they may hold only printable ASCII without quotes,
 * backslashes, backticks or semicolons (newlines are allowed for generated
 * blocks).
 */
#pragma once

#include <stddef.h>

#include "error.h"

typedef struct ap_template_var {
        const char *name;
        const char *value;
} ap_template_var;

/* Render text with vars.  On success returns 0 and a malloc'd string in
 * *ret.  Errors are AP_ERR_DEBUGGER_FAILED (a broken template is a bug of
 * the installation, not of the user's input). */
int ap_template_render(const char *text, const ap_template_var *vars, size_t n_vars, char **ret,
                       ap_error *err) __attribute__((warn_unused_result));

/* Remove, in place, every line whose first character other than blanks is
 * '#' (the comments of gdb and lldb command files). */
void ap_template_strip_comments(char *script);

/* Is value safe to place into a debugger script? */
int ap_template_value_ok(const char *value);
