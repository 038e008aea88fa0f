/* pypy_remote.c: PyPy's own remote execution, written from outside. */
#include "pypy_remote.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "process_memory.h"
#include "start_script.h"

#define OFF_VALUE 0
#define OFF_COOKIE 8
#define OFF_PENDING 16
#define OFF_PATH 24

static int read_word(ap_pypy_remote *r, uint64_t off, int64_t *ret) {
        return ap_process_memory_read(r->mem_fd, r->addr + off, ret, sizeof *ret);
}

static int write_at(ap_pypy_remote *r, uint64_t off, const void *data, size_t len) {
        return ap_process_memory_write(r->mem_fd, r->addr + off, data, len);
}

int ap_pypy_remote_open(ap_pypy_remote *r, pid_t pid, uint64_t addr, ap_error *err) {
        *r = (ap_pypy_remote)AP_PYPY_REMOTE_INIT;
        r->pid = pid;
        r->addr = addr;
        r->mem_fd = ap_process_memory_open(pid, err);
        if (r->mem_fd < 0)
                return -1;
        char cookie[8];
        int64_t pending = 0;
        if (ap_process_memory_read(r->mem_fd, addr + OFF_COOKIE, cookie, sizeof cookie) < 0 ||
            memcmp(cookie, "pypysigs", 8) != 0 || read_word(r, OFF_PENDING, &pending) < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "process %d has no PyPy remote-execution block where its "
                                    "library says (pypysig_counter)",
                                    (int)pid),
                       -1;
        if (pending != 0)
                return ap_pending_word_busy(err, pid);
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
        return ap_pending_word_taken(r->mem_fd, r->addr + OFF_PENDING, sizeof(int64_t));
}

int ap_pypy_remote_withdraw(ap_pypy_remote *r) {
        return ap_pending_word_withdraw(r->mem_fd, r->addr + OFF_PENDING, sizeof(int64_t));
}

void ap_pypy_remote_close(ap_pypy_remote *r) { ap_process_memory_close(&r->mem_fd); }

int ap_pypy_remote_script(const char *agent_path, const char *session_dir, ap_buf *out) {
        return ap_start_script(
                "_cffi_backend",
                "        import _cffi_backend as b\n"
                "        char_p = b.new_pointer_type(b.new_primitive_type('char'))\n"
                "        fn = b.new_function_type((char_p,), b.new_primitive_type('int'), False)\n"
                "        b.load_library(agent, 2).load_function(fn, "
                "'attachpy_agent_start_v1')(session)\n",
                agent_path, session_dir, out);
}
