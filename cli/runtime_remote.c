/* runtime_remote.c: the runtime's own remote execution, whichever runtime. */
#include "runtime_remote.h"

bool ap_runtime_remote_available(const ap_target *t) {
        return t->impl == AP_IMPL_PYPY ? t->addr_pypy_remote != 0 : t->addr_runtime != 0;
}

int ap_runtime_remote_open(ap_runtime_remote *r, const ap_target *t, ap_error *err) {
        *r = (ap_runtime_remote)AP_RUNTIME_REMOTE_INIT;
        r->impl = t->impl;
        if (t->impl == AP_IMPL_PYPY)
                return ap_pypy_remote_open(&r->pypy, t->pid, t->addr_pypy_remote, err);
        return ap_cpython_remote_open(&r->cpython, t->pid, t->addr_runtime, err);
}

int ap_runtime_remote_script(const ap_runtime_remote *r, const char *agent_path,
                             const char *session_dir, ap_buf *out) {
        return r->impl == AP_IMPL_PYPY ? ap_pypy_remote_script(agent_path, session_dir, out)
                                       : ap_cpython_remote_script(agent_path, session_dir, out);
}

int ap_runtime_remote_request(ap_runtime_remote *r, const char *path, ap_error *err) {
        return r->impl == AP_IMPL_PYPY ? ap_pypy_remote_request(&r->pypy, path, err)
                                       : ap_cpython_remote_request(&r->cpython, path, err);
}

int ap_runtime_remote_taken(ap_runtime_remote *r) {
        return r->impl == AP_IMPL_PYPY ? ap_pypy_remote_taken(&r->pypy)
                                       : ap_cpython_remote_taken(&r->cpython);
}

int ap_runtime_remote_withdraw(ap_runtime_remote *r) {
        return r->impl == AP_IMPL_PYPY ? ap_pypy_remote_withdraw(&r->pypy)
                                       : ap_cpython_remote_withdraw(&r->cpython);
}

void ap_runtime_remote_close(ap_runtime_remote *r) {
        ap_pypy_remote_close(&r->pypy);
        ap_cpython_remote_close(&r->cpython);
}
