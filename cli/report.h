/* report.h: the only code that writes attachpy's results.
 *
 * Text for people: the code's stdout on stdout, its stderr and any traceback
 * on stderr, errors as "attachpy: error: ..." and "attachpy: hint: ...".
 * JSON for programs: exactly one object on stdout (DESIGN.md, "JSON
 * status").
 */
#pragma once

#include <jansson.h>
#include <stdio.h>

#include "inject.h"

/* The JSON status object (a new reference). */
json_t *ap_report_to_json(const ap_report *r);

/* Print the report; returns the exit status. */
int ap_report_print_text(const ap_report *r, FILE *out, FILE *err);
int ap_report_print_json(const ap_report *r, FILE *out);

/* Turn arbitrary bytes into valid UTF-8 (each invalid byte becomes U+FFFD;
 * NUL bytes stay).  Sets *ret_len; caller frees. */
char *ap_utf8_sanitize(const char *data, size_t len, size_t *ret_len);
