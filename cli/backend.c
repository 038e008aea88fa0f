/* backend.c: choosing a debugger backend, and the environment it runs
 * with.  The backends themselves are tables (backend_gdb.c, backend_lldb.c). */
#include "backend.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "spawn.h"
#include "util.h"

extern char **environ;

int ap_backend_select(ap_debugger_choice choice, const ap_backend **ret, char **ret_program,
                      ap_error *err) {
        const ap_backend *b = NULL;
        switch (choice) {
        case AP_DEBUGGER_AUTO:
        case AP_DEBUGGER_GDB:
                b = &ap_backend_gdb;
                break;
        case AP_DEBUGGER_LLDB:
                b = &ap_backend_lldb;
                break;
        }
        if (choice == AP_DEBUGGER_AUTO) {
                char *gdb = ap_find_program(ap_backend_gdb.name);
                if (!gdb) {
                        char *lldb = ap_find_program(ap_backend_lldb.name);
                        if (lldb) {
                                b = &ap_backend_lldb;
                                free(lldb);
                        }
                }
                free(gdb);
        }
        if (!b)
                return ap_error_set(err, AP_ERR_USAGE, "unknown debugger");
        char *prog = ap_find_program(b->name);
        if (!prog)
                return ap_error_set(err, AP_ERR_DEBUGGER_NOT_FOUND,
                                    "%s is not installed (not found on PATH)", b->name),
                       ap_error_hint(err, "install it, e.g. 'apt-get install %s'", b->package), -1;
        *ret = b;
        *ret_program = prog;
        return 0;
}

char **ap_debugger_environ(void) {
        static const char *const drop[] = {"LC_ALL=",          "LANG=",
                                           "LANGUAGE=",        "PYTHONHOME=",
                                           "PYTHONPATH=",      "PYTHONSTARTUP=",
                                           "DEBUGINFOD_URLS=", "GDBHISTFILE=",
                                           "SHELL=",           NULL};
        size_t n = 0;
        for (char **e = environ; e && *e; e++)
                n++;
        char **out = calloc(n + 3, sizeof *out);
        if (!out)
                return NULL;
        size_t k = 0;
        for (char **e = environ; e && *e; e++) {
                bool skip = false;
                for (const char *const *d = drop; *d; d++)
                        if (strncmp(*e, *d, strlen(*d)) == 0)
                                skip = true;
                if (skip)
                        continue;
                out[k] = strdup(*e);
                if (!out[k]) {
                        ap_strv_free(out);
                        return NULL;
                }
                k++;
        }
        /* The scripts' shell commands (lldb prints its markers with
         * `platform shell`) need a POSIX shell, not the user's login shell:
         * a service account's is /usr/sbin/nologin. */
        static const char *const add[] = {"SHELL=/bin/sh", "LC_ALL=C"};
        for (size_t i = 0; i < AP_ARRAY_SIZE(add); i++) {
                out[k] = strdup(add[i]);
                if (!out[k]) {
                        ap_strv_free(out);
                        return NULL;
                }
                k++;
        }
        return out;
}
