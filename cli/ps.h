/* ps.h: `attachpy ps`, every Python process on the machine and whether
 * attachpy may attach to it.
 *
 * Each process goes through the same preflight as an injection
 * (ap_target_inspect): a process is listed when an interpreter is mapped in
 * it, or, when its memory map cannot be read (another user's process, a
 * zombie), when its executable or argv[0] is named like one.  Nothing is
 * stopped, traced or written: ps needs no lock and no debugger.
 *
 * Ownership: an ap_ps_list owns its entries; ap_ps_list_free() accepts a
 * zeroed list.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "error.h"
#include "target.h"

typedef struct ap_ps_entry {
        ap_target target; /* the facts; target.refusal says why not attachable */
        ap_error error;   /* what an injection would report; AP_OK when attachable */
        char *user;       /* the owner's name, or its uid as text */
        bool by_name;     /* recognised by its name only: the maps were unreadable */
        bool serving;     /* an attachpy agent serves it (attachpy attach) */
} ap_ps_entry;

typedef struct ap_ps_list {
        ap_ps_entry *v;
        size_t n;
} ap_ps_list;

/* List the pids in proc_dir ("/proc"; the facts about each always come
 * from /proc) and keep the Python processes, sorted by pid, attachpy's own
 * process left out.  Fails only when proc_dir cannot be read. */
int ap_ps_scan(ap_ps_list *ret, const char *proc_dir, ap_error *err)
        __attribute__((warn_unused_result));

void ap_ps_list_free(ap_ps_list *l);

/* The JSON array of `ps --json` (schema: share/attachpy/schema/ps.schema.json). */
json_t *ap_ps_to_json(const ap_ps_list *l);

/* Print the list; return the exit status (0). */
int ap_ps_print_json(const ap_ps_list *l, FILE *out);
/* An aligned table; lines are cut at width columns when width > 0. */
int ap_ps_print_text(const ap_ps_list *l, FILE *out, int width);

/* Exposed for the unit tests. */

/* Is a program of this path or argv[0] named like a Python interpreter
 * ("python3.11", "/usr/bin/python", "pypy3")? */
bool ap_ps_name_looks_python(const char *path);

/* The command line (NUL-separated, len bytes) as one line for a table:
 * words joined by spaces, control characters shown as '?'.  Caller frees. */
char *ap_ps_cmdline_text(const char *cmdline, size_t len, const char *comm);

/* The ATTACH column: "yes" or "no: REASON". */
const char *ap_ps_attach_text(const ap_ps_entry *e, char *buf, size_t size);
