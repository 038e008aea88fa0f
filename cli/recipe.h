/* recipe.h: answers without writing code.
 *
 * A recipe is Python that attachpy ships (recipes/NAME.py, installed in the
 * data directory) and runs through the normal path, its options as
 * attachpy_args.  It prints one JSON document on stdout; attachpy takes it
 * out of result.stdout into the report ("recipe": {"name", "data"} in
 * --json, schema/recipes.schema.json) and renders it for people.  The
 * recipes leave no module behind in the target's sys.modules and call no
 * repr() the target's own classes define.
 */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "error.h"
#include "options.h"
#include "report.h"

/* The recipe's code and the __file__ it runs as ("<attachpy stacks>").
 * Callers free both. */
int ap_recipe_load(ap_recipe r, char **ret_code, size_t *ret_len, char **ret_filename,
                   ap_error *err) __attribute__((warn_unused_result));

/* After a run that succeeded: parse the recipe's document out of
 * report->result.stdout into report->recipe_data (and empty the stdout).
 * A document that does not parse becomes an injection_failed error. */
void ap_recipe_take_output(ap_recipe r, ap_report *report);

/* The document for people, on out. */
void ap_recipe_print_text(const ap_report *report, FILE *out);
