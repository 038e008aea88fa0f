/* cpython_remote.c: CPython 3.14+'s own remote execution, written from
 * outside. */
#include "cpython_remote.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "process_memory.h"
#include "start_script.h"

/* _PY_EVAL_PLEASE_STOP_BIT: the eval breaker bit the runtime's own client
 * sets (Include/internal/pycore_ceval.h). */
#define PLEASE_STOP_BIT ((uint64_t)1 << 5)

/* Word indexes in _Py_DebugOffsets that 3.14 and 3.15 share: the cookie,
 * version, free_threaded, runtime_state {size, finalizing,
 * interpreters_head}, interpreter_state {size, id, next, threads_head,
 * threads_main, ...}. */
enum {
        W_VERSION = 1,
        W_FREE_THREADED = 2,
        W_INTERPRETERS_HEAD = 5,
        W_INTERP_SIZE = 6,
        W_THREADS_MAIN = 10,
};

int ap_remote_offsets_parse(const uint8_t *data, size_t len, ap_remote_offsets *ret) {
        size_t n = len / 8;
        if (n < 32 || memcmp(data, "xdebugpy", 8) != 0)
                return -1;
        uint64_t w[AP_DEBUG_OFFSETS_READ / 8];
        if (n > AP_ARRAY_SIZE(w))
                n = AP_ARRAY_SIZE(w);
        memcpy(w, data, n * 8);
        if (w[W_VERSION] < 0x030e0000 || w[W_VERSION] > UINT32_MAX || w[W_FREE_THREADED] != 0)
                return -1;
        uint64_t interp_size = w[W_INTERP_SIZE];
        if (interp_size < 1024 || interp_size > (1u << 24) || w[W_THREADS_MAIN] >= interp_size ||
            w[W_THREADS_MAIN] % 8 != 0)
                return -1;
        /* debugger_support: {eval_breaker, remote_debugger_support,
         * remote_debugging_enabled, debugger_pending_call,
         * debugger_script_path, debugger_script_path_size}. */
        size_t found = 0, at = 0;
        for (size_t i = W_THREADS_MAIN + 4; i + 3 <= n; i++) {
                uint64_t eval_breaker = w[i - 3], support = w[i - 2], enabled = w[i - 1];
                if (w[i] == 0 && (w[i + 1] == 4 || w[i + 1] == 8) && w[i + 2] >= 256 &&
                    w[i + 2] <= 4096 && eval_breaker < 65536 && eval_breaker % 8 == 0 &&
                    support < 65536 && support % 4 == 0 && enabled < interp_size &&
                    enabled % 4 == 0) {
                        found++;
                        at = i;
                }
        }
        if (found != 1)
                return -1;
        *ret = (ap_remote_offsets){.version = (uint32_t)w[W_VERSION],
                                   .interpreters_head = w[W_INTERPRETERS_HEAD],
                                   .threads_main = w[W_THREADS_MAIN],
                                   .eval_breaker = w[at - 3],
                                   .support = w[at - 2],
                                   .enabled = w[at - 1],
                                   .pending = w[at],
                                   .path = w[at + 1],
                                   .path_size = w[at + 2]};
        return 0;
}

int ap_cpython_remote_open(ap_cpython_remote *r, pid_t pid, uint64_t runtime_addr, ap_error *err) {
        *r = (ap_cpython_remote)AP_CPYTHON_REMOTE_INIT;
        r->pid = pid;
        r->mem_fd = ap_process_memory_open(pid, err);
        if (r->mem_fd < 0)
                return -1;
        uint8_t head[AP_DEBUG_OFFSETS_READ];
        ap_remote_offsets o;
        if (ap_process_memory_read(r->mem_fd, runtime_addr, head, sizeof head) < 0 ||
            ap_remote_offsets_parse(head, sizeof head, &o) < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "the runtime of process %d publishes no remote-execution "
                                    "interface attachpy can use",
                                    (int)pid),
                       -1;
        uint64_t interp = 0, tstate = 0;
        int32_t enabled = 0, pending = 1;
        int fd = r->mem_fd;
        if (ap_process_memory_read(fd, runtime_addr + o.interpreters_head, &interp, sizeof interp) <
                    0 ||
            interp == 0 ||
            ap_process_memory_read(fd, interp + o.enabled, &enabled, sizeof enabled) < 0 ||
            ap_process_memory_read(fd, interp + o.threads_main, &tstate, sizeof tstate) < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "cannot read the main thread's state of process %d", (int)pid),
                       -1;
        /* threads.main is set when the main thread runs Py_RunMain (the
         * python executable); an application that embeds the interpreter
         * and runs its code another way has none, and the runtime's own
         * client (sys.remote_exec) cannot reach it either. */
        if (tstate == 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "process %d has no main thread state for remote execution "
                                    "(an application embedding Python without Py_RunMain)",
                                    (int)pid),
                       -1;
        if (ap_process_memory_read(fd, tstate + o.support + o.pending, &pending, sizeof pending) <
            0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "cannot read the main thread's state of process %d", (int)pid),
                       -1;
        if (enabled != 1)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "the runtime of process %d has its remote execution turned "
                                    "off (a build configured --without-remote-debug, or an "
                                    "opt-out)",
                                    (int)pid),
                       -1;
        if (pending != 0)
                return ap_pending_word_busy(err, pid);
        r->pending_addr = tstate + o.support + o.pending;
        r->path_addr = tstate + o.support + o.path;
        r->path_size = o.path_size;
        r->eval_breaker_addr = tstate + o.eval_breaker;
        return 0;
}

int ap_cpython_remote_request(ap_cpython_remote *r, const char *path, ap_error *err) {
        size_t len = strlen(path);
        if (len + 1 > r->path_size)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "the session path is too long for the runtime's remote "
                                    "execution (%zu bytes, at most %llu)",
                                    len, (unsigned long long)r->path_size - 1),
                       -1;
        const int32_t one = 1;
        uint64_t breaker = 0;
        /* The path, the flag, then the bit that makes the thread look: the
         * order of the runtime's own client (sys.remote_exec). */
        if (ap_process_memory_write(r->mem_fd, r->path_addr, path, len + 1) < 0 ||
            ap_process_memory_write(r->mem_fd, r->pending_addr, &one, sizeof one) < 0 ||
            ap_process_memory_read(r->mem_fd, r->eval_breaker_addr, &breaker, sizeof breaker) < 0 ||
            (breaker |= PLEASE_STOP_BIT, ap_process_memory_write(r->mem_fd, r->eval_breaker_addr,
                                                                 &breaker, sizeof breaker) < 0))
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "cannot write into the memory of process %d: %s", (int)r->pid,
                                    strerror(errno)),
                       -1;
        return 0;
}

int ap_cpython_remote_taken(ap_cpython_remote *r) {
        return ap_pending_word_taken(r->mem_fd, r->pending_addr, sizeof(int32_t));
}

int ap_cpython_remote_withdraw(ap_cpython_remote *r) {
        return ap_pending_word_withdraw(r->mem_fd, r->pending_addr, sizeof(int32_t));
}

void ap_cpython_remote_close(ap_cpython_remote *r) { ap_process_memory_close(&r->mem_fd); }

int ap_cpython_remote_script(const char *agent_path, const char *session_dir, ap_buf *out) {
        return ap_start_script(
                "_ctypes",
                "        import _ctypes\n"
                "        _ctypes.call_function(_ctypes.dlsym(_ctypes.dlopen(agent, 2),\n"
                "                                            'attachpy_agent_start_v1'),\n"
                "                              (session,))\n",
                agent_path, session_dir, out);
}
