/* pypy_remote.c: PyPy's own remote execution, written from outside. */
#include "pypy_remote.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define OFF_VALUE 0
#define OFF_COOKIE 8
#define OFF_PENDING 16
#define OFF_PATH 24

static int read_word(ap_pypy_remote *r, uint64_t off, int64_t *ret) {
        return pread(r->mem_fd, ret, sizeof *ret, (off_t)(r->addr + off)) == (ssize_t)sizeof *ret
                       ? 0
                       : -1;
}

static int write_at(ap_pypy_remote *r, uint64_t off, const void *data, size_t len) {
        return pwrite(r->mem_fd, data, len, (off_t)(r->addr + off)) == (ssize_t)len ? 0 : -1;
}

int ap_pypy_remote_open(ap_pypy_remote *r, pid_t pid, uint64_t addr, ap_error *err) {
        *r = (ap_pypy_remote)AP_PYPY_REMOTE_INIT;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
        r->mem_fd = open(path, O_RDWR | O_CLOEXEC);
        r->pid = pid;
        r->addr = addr;
        if (r->mem_fd < 0)
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "cannot open the memory of process %d: %s", (int)pid,
                                    strerror(errno)),
                       ap_error_hint(err, "run attachpy as the target's user or as root"), -1;
        char cookie[8];
        int64_t pending = 0;
        if (pread(r->mem_fd, cookie, sizeof cookie, (off_t)(addr + OFF_COOKIE)) !=
                    (ssize_t)sizeof cookie ||
            memcmp(cookie, "pypysigs", 8) != 0 || read_word(r, OFF_PENDING, &pending) < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "process %d has no PyPy remote-execution block where its "
                                    "library says (pypysig_counter)",
                                    (int)pid),
                       -1;
        if (pending != 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "another client's remote-execution request is pending in "
                                    "process %d",
                                    (int)pid),
                       ap_error_hint(err, "try again once it has run"), -1;
        return 0;
}

int ap_pypy_remote_request(ap_pypy_remote *r, const char *path, ap_error *err) {
        size_t len = strlen(path);
        if (len + 1 > AP_PYPY_REMOTE_PATH_MAX)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "the session path is too long for PyPy's remote execution"),
                       -1;
        const int64_t one = 1, minus_one = -1;
        /* The path first, then the pending word, then the counter that
         * makes the target look: the order PyPy's own client uses. */
        if (write_at(r, OFF_PATH, path, len + 1) < 0 ||
            write_at(r, OFF_PENDING, &one, sizeof one) < 0 ||
            write_at(r, OFF_VALUE, &minus_one, sizeof minus_one) < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "cannot write into the memory of process %d: %s", (int)r->pid,
                                    strerror(errno)),
                       -1;
        return 0;
}

int ap_pypy_remote_taken(ap_pypy_remote *r) {
        int64_t pending;
        if (r->mem_fd < 0 || read_word(r, OFF_PENDING, &pending) < 0)
                return -1;
        return pending == 0;
}

int ap_pypy_remote_withdraw(ap_pypy_remote *r) {
        int taken = ap_pypy_remote_taken(r);
        if (taken != 0)
                return taken < 0 ? -1 : 0;
        const int64_t zero = 0;
        return write_at(r, OFF_PENDING, &zero, sizeof zero) < 0 ? -1 : 1;
}

void ap_pypy_remote_close(ap_pypy_remote *r) {
        if (r->mem_fd >= 0)
                close(r->mem_fd);
        r->mem_fd = -1;
}

int ap_pypy_remote_script(const char *agent_path, const char *session_dir, ap_buf *out) {
        static const char head[] =
                "# attachpy: load the agent, start it, leave nothing behind.\n"
                "def _attachpy_start(agent, session):\n"
                "    import sys\n"
                "    had = '_cffi_backend' in sys.modules\n"
                "    try:\n"
                "        import _cffi_backend as b\n"
                "        char_p = b.new_pointer_type(b.new_primitive_type('char'))\n"
                "        fn = b.new_function_type((char_p,), b.new_primitive_type('int'), False)\n"
                "        b.load_library(agent, 2).load_function(fn, "
                "'attachpy_agent_start_v1')(session)\n"
                "    except BaseException:\n"
                "        pass\n"
                "    finally:\n"
                "        if not had:\n"
                "            sys.modules.pop('_cffi_backend', None)\n"
                "try:\n"
                "    _attachpy_start(";
        static const char tail[] = ")\n"
                                   "finally:\n"
                                   "    del _attachpy_start\n";
        if (ap_buf_append(out, head, sizeof head - 1) < 0 || ap_buf_py_bytes(out, agent_path) < 0 ||
            ap_buf_append(out, ", ", 2) < 0 || ap_buf_py_bytes(out, session_dir) < 0 ||
            ap_buf_append(out, tail, sizeof tail - 1) < 0)
                return -1;
        return 0;
}
