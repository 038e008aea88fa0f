/* python_detect.h: the Python runtime in a process, from the objects it
 * maps: the one object exporting the C API (libpython, the executable, an
 * embedder's libpython, libpypy), CPython or PyPy, the exact version (what
 * the runtime publishes, else its name), the verdict of the table of
 * supported runtimes (cli/runtimes.h), and the addresses and code bytes
 * the scripts use.
 */
#pragma once

#include "error.h"
#include "loaded_objects.h"
#include "target.h"

/* Fill t's impl, version, python_path and addresses.  -1 with not_python,
 * unsupported_python (a version outside the table, free-threaded, two
 * runtimes, no exported C API) or injection_failed (code unreadable). */
int ap_python_detect(ap_target *t, const ap_loaded_objects *objs, ap_error *err)
        __attribute__((warn_unused_result));
