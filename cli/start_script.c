/* start_script.c: the script that starts the agent through a runtime's own
 * remote execution. */
#include "start_script.h"

int ap_start_script(const char *module, const char *call, const char *agent_path,
                    const char *session_dir, ap_buf *out) {
        if (ap_buf_printf(out,
                          "# attachpy: load the agent, start it, leave nothing behind.\n"
                          "def _attachpy_start(agent, session):\n"
                          "    import sys\n"
                          "    had = '%s' in sys.modules\n"
                          "    try:\n"
                          "%s"
                          "    except BaseException:\n"
                          "        pass\n"
                          "    finally:\n"
                          "        if not had:\n"
                          "            sys.modules.pop('%s', None)\n"
                          "try:\n"
                          "    _attachpy_start(",
                          module, call, module) < 0 ||
            ap_buf_py_bytes(out, agent_path) < 0 || ap_buf_append(out, ", ", 2) < 0 ||
            ap_buf_py_bytes(out, session_dir) < 0 ||
            ap_buf_printf(out, ")\n"
                               "finally:\n"
                               "    del _attachpy_start\n") < 0)
                return -1;
        return 0;
}
