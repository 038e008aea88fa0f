/* start_script.h: the Python script a runtime's own remote execution runs
 * to start the agent (cli/runtime_remote.h).  It loads the agent, calls its
 * entry point with the session directory in a call that releases the GIL,
 * catches everything, and leaves nothing behind: no module the target had
 * not imported, no name, no exception.
 */
#pragma once

#include "util.h"

/* Append the script to out.  module: the built-in module the call goes
 * through ("_ctypes"), taken out of sys.modules again when the target had
 * not imported it; call: the lines (indented 8 spaces) that import it and
 * call attachpy_agent_start_v1 of the library at `agent` with `session`.
 * agent_path and session_dir are as the target sees them.  -1 when out of
 * memory or a path cannot be written as a Python literal. */
int ap_start_script(const char *module, const char *call, const char *agent_path,
                    const char *session_dir, ap_buf *out) __attribute__((warn_unused_result));
