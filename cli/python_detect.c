/* python_detect.c: which runtime a process maps, its version, whether
 * attachpy supports it (the table in runtimes.c), and where the functions
 * the debugger calls are. */
#include "python_detect.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_symbols.h"
#include "pypy_remote.h"
#include "python_version.h"
#include "runtimes.h"
#include "util.h"

enum {
        SYM_GIL_ENSURE,
        SYM_PYPY_GIL_ENSURE,
        SYM_PY_VERSION,
        SYM_GET_VERSION,
        SYM_DECREF_SHARED,
        SYM_MERGE_ZERO_LOCAL,
        SYM_ADD_PENDING,
        SYM_RUNTIME,
        SYM_PYPY_REMOTE,
        SYM_COUNT_,
};

/* PyPy's versions, from its sys.version string in the mapped libpypy. */
static void pypy_versions(ap_target *t, const ap_loaded_object *o) {
        int fd = open(o->open_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return;
        struct stat st;
        void *data = MAP_FAILED;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
            (uint64_t)st.st_size < (1ull << 31))
                data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (data == MAP_FAILED)
                return;
        char lang[32], pypy[32];
        if (ap_pypy_versions_parse(data, (size_t)st.st_size, lang, sizeof lang, pypy,
                                   sizeof pypy) == 0) {
                int major, minor;
                char tmp[32];
                memcpy(tmp, lang, sizeof tmp);
                if (ap_python_version_parse(tmp, sizeof tmp, &major, &minor) == 0) {
                        t->version = strdup(lang);
                        t->impl_version = strdup(pypy);
                        t->version_major = major;
                        t->version_minor = minor;
                }
        }
        munmap(data, (size_t)st.st_size);
}

/* The exact version, from the object the process maps: what the runtime
 * publishes at the start of _PyRuntime (_Py_DebugOffsets, 3.13+: a cookie,
 * PY_VERSION_HEX and whether the build is free-threaded), else Py_Version
 * (3.11+), else the PY_VERSION string that Py_GetVersion() formats.  Sets
 * t->version and, where the name gave none, the major and minor;
 * *ret_free_threaded when the runtime says it is. */
static void exact_version(ap_target *t, const ap_loaded_object *o, const ap_elf_sym *syms,
                          bool *ret_free_threaded) {
        char buf[32];
        int major = 0, minor = 0;

        if (syms[SYM_RUNTIME].found && syms[SYM_RUNTIME].size >= 24) {
                uint8_t head[24];
                uint32_t hex = 0;
                bool ft = false;
                if (ap_elf_read_at_vaddr(o->open_path, syms[SYM_RUNTIME].value, head,
                                         sizeof head) == 0 &&
                    ap_debug_offsets_parse(head, sizeof head, &hex, &ft) == 0 &&
                    ap_python_version_from_hex(hex, buf, sizeof buf) == 0 &&
                    ap_python_version_parse(buf, sizeof buf, &major, &minor) == 0) {
                        *ret_free_threaded = ft;
                        goto found;
                }
        }
        if (syms[SYM_PY_VERSION].found && syms[SYM_PY_VERSION].size >= 4) {
                uint32_t hex = 0;
                if (ap_elf_read_at_vaddr(o->open_path, syms[SYM_PY_VERSION].value, &hex, 4) == 0 &&
                    ap_python_version_from_hex(hex, buf, sizeof buf) == 0 &&
                    ap_python_version_parse(buf, sizeof buf, &major, &minor) == 0)
                        goto found;
        }
        if (syms[SYM_GET_VERSION].found) {
                uint8_t code[96];
                uint64_t addrs[32];
                ssize_t n = ap_elf_read_upto_vaddr(o->open_path, syms[SYM_GET_VERSION].value, code,
                                                   sizeof code);
                size_t k = n > 0 ? ap_code_address_operands(code, (size_t)n,
                                                            syms[SYM_GET_VERSION].value, addrs,
                                                            AP_ARRAY_SIZE(addrs))
                                 : 0;
                for (size_t i = 0; i < k; i++) {
                        ssize_t got =
                                ap_elf_read_upto_vaddr(o->open_path, addrs[i], buf, sizeof buf);
                        if (got <= 0 ||
                            ap_python_version_parse(buf, (size_t)got, &major, &minor) < 0)
                                continue;
                        /* The name, where it has a version, must agree. */
                        if (t->version_major &&
                            (major != t->version_major || minor != t->version_minor))
                                continue;
                        goto found;
                }
        }
        return;
found:
        t->version = strdup(buf);
        t->version_major = major;
        t->version_minor = minor;
}

/* The object that exports the C API, its ELF facts and symbols, and how
 * many objects do. */
typedef struct runtime_object {
        const ap_loaded_object *o;
        ap_elf_info info;
        ap_elf_sym syms[SYM_COUNT_];
        int n_found;
} runtime_object;

/* The candidates: the executable, libpython*, libpypy*; the first that
 * exports PyGILState_Ensure (or PyPy's) wins, the others are counted. */
static void find_runtime_object(const ap_target *t, const ap_loaded_objects *objs,
                                runtime_object *ret) {
        memset(ret, 0, sizeof *ret);
        for (size_t i = 0; i < objs->n; i++) {
                const ap_loaded_object *o = &objs->v[i];
                const char *base = ap_path_basename(o->path);
                bool is_exe = t->exe && strcmp(o->path, t->exe) == 0;
                if (!is_exe && strncmp(base, "libpython", 9) != 0 &&
                    strncmp(base, "libpypy", 7) != 0)
                        continue;
                ap_elf_sym syms[SYM_COUNT_] = {
                        [SYM_GIL_ENSURE] = {.name = "PyGILState_Ensure"},
                        [SYM_PYPY_GIL_ENSURE] = {.name = "PyPyGILState_Ensure"},
                        [SYM_PY_VERSION] = {.name = "Py_Version"},
                        [SYM_GET_VERSION] = {.name = "Py_GetVersion"},
                        /* Exported only by free-threaded builds
                         * (Py_GIL_DISABLED): their Py_DECREF calls them. */
                        [SYM_DECREF_SHARED] = {.name = "_Py_DecRefShared"},
                        [SYM_MERGE_ZERO_LOCAL] = {.name = "_Py_MergeZeroLocalRefcount"},
                        [SYM_ADD_PENDING] = {.name = "Py_AddPendingCall"},
                        [SYM_RUNTIME] = {.name = "_PyRuntime"},
                        [SYM_PYPY_REMOTE] = {.name = "pypysig_counter"},
                };
                ap_elf_info info;
                ap_error e = AP_ERROR_INIT;
                if (ap_elf_lookup(o->open_path, syms, SYM_COUNT_, &info, &e) < 0) {
                        ap_error_clear(&e);
                        continue;
                }
                if (!syms[SYM_GIL_ENSURE].found && !syms[SYM_PYPY_GIL_ENSURE].found) {
                        ap_elf_info_free(&info);
                        continue;
                }
                ret->n_found++;
                if (ret->o) {
                        ap_elf_info_free(&info);
                        continue;
                }
                ret->o = o;
                ret->info = info;
                memcpy(ret->syms, syms, sizeof syms);
        }
}

static int two_runtimes(const ap_target *t, int n, const char *second, ap_error *err) {
        ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                     "process %d has %d Python runtimes loaded; attachpy cannot tell which one "
                     "is live",
                     (int)t->pid, n);
        ap_error_hint(err,
                      "this happens when a program embeds a second %s; it is not supported yet",
                      second);
        return -1;
}

/* The code bytes at sym, which the script compares with the process's
 * before it calls anything: a PID reused by another program fails. */
static int read_check_code(ap_target *t, const runtime_object *r, int sym, ap_error *err) {
        t->addr_check = ap_loaded_object_address(r->o, &r->info, r->syms[sym].value);
        if (ap_elf_read_at_vaddr(r->o->open_path, r->syms[sym].value, &t->check_code, 8) == 0)
                return 0;
        ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot read the code of %s from %s",
                     r->syms[sym].name, r->o->path);
        ap_error_hint(err, "check that %s is readable", r->o->path);
        return -1;
}

/* PyPy: its C API is cpyext's PyPy* functions (docs/pypy.md). */
static int pypy_plan(ap_target *t, const runtime_object *r, ap_error *err) {
        char range[64];
        t->impl = AP_IMPL_PYPY;
        pypy_versions(t, r->o);
        if (!t->version && ap_python_version_from_name(r->o->path, &t->version_major,
                                                       &t->version_minor, NULL) == 0)
                (void)!asprintf(&t->version, "%d.%d", t->version_major, t->version_minor);
        if (r->n_found > 1)
                return two_runtimes(t, r->n_found, "runtime", err);
        if (t->version_major &&
            !ap_runtime_supported(AP_IMPL_PYPY, t->version_major, t->version_minor)) {
                ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                             "process %d runs PyPy %s (Python %s), which attachpy does not "
                             "support",
                             (int)t->pid, t->impl_version ? t->impl_version : "?", t->version);
                ap_error_hint(err, "attachpy supports %s",
                              ap_runtime_range(AP_IMPL_PYPY, range, sizeof range));
                return -1;
        }
        /* No pending call: PyPy_AddPendingCall takes the GIL, which a
         * debugger must not do (docs/pypy.md).  Only the direct plan, in a
         * thread that waits. */
        t->addr_add_pending_call = 0;
        /* PyPy 8's own remote execution, where it has it. */
        if (r->syms[SYM_PYPY_REMOTE].found &&
            r->syms[SYM_PYPY_REMOTE].size >= AP_PYPY_REMOTE_MIN_SIZE)
                t->addr_pypy_remote =
                        ap_loaded_object_address(r->o, &r->info, r->syms[SYM_PYPY_REMOTE].value);
        return read_check_code(t, r, SYM_PYPY_GIL_ENSURE, err);
}

/* The version: the major and minor from the file name, then exact from the
 * object itself.  *ret_free_threaded: the name or the runtime says so. */
static int cpython_version(ap_target *t, const runtime_object *r, bool *ret_free_threaded,
                           ap_error *err) {
        char range[64];
        bool named_free_threaded = false, published_free_threaded = false;
        const char *name_for_version = r->info.soname ? r->info.soname : r->o->path;
        if (ap_python_version_from_name(name_for_version, &t->version_major, &t->version_minor,
                                        &named_free_threaded) < 0 &&
            ap_python_version_from_name(r->o->path, &t->version_major, &t->version_minor,
                                        &named_free_threaded) < 0)
                t->version_major = t->version_minor = 0;
        exact_version(t, r->o, r->syms, &published_free_threaded);
        if (!t->version && t->version_major)
                (void)!asprintf(&t->version, "%d.%d", t->version_major, t->version_minor);
        *ret_free_threaded = named_free_threaded || published_free_threaded;
        if (t->version_major)
                return 0;
        ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                     "cannot tell which Python version process %d runs (%s)", (int)t->pid,
                     r->o->path);
        ap_error_hint(err,
                      "attachpy supports %s built as libpythonX.Y or as pythonX.Y exporting its "
                      "C API",
                      ap_runtime_range(AP_IMPL_CPYTHON, range, sizeof range));
        return -1;
}

/* The table's verdict, and the builds refused whatever their version. */
static int cpython_supported(const ap_target *t, const runtime_object *r, bool free_threaded,
                             ap_error *err) {
        char range[64];
        ap_runtime_range(AP_IMPL_CPYTHON, range, sizeof range);
        /* Free-threaded: a "t" in the name (libpython3.13t.so, python3.13t),
         * or, whatever the file is called, what the runtime publishes or the
         * functions only such a build exports. */
        if (free_threaded || r->syms[SYM_DECREF_SHARED].found ||
            r->syms[SYM_MERGE_ZERO_LOCAL].found) {
                ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                             "process %d runs a free-threaded CPython %s (built without the "
                             "GIL), which attachpy does not support yet",
                             (int)t->pid, t->version);
                ap_error_hint(err,
                              "attachpy supports %s with the GIL; free-threaded builds are "
                              "refused until one can be tested",
                              range);
                return -1;
        }
        if (t->version_major == 2) {
                /* The agent ran on 2.7, but parity could not be shown: 2.7
                 * runs no signal handler while its main thread waits on a
                 * lock, and its accept() fails on EINTR, so a target's
                 * liveness cannot be checked in those states. */
                ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                             "process %d runs Python %s, which attachpy does not support "
                             "(Python 2 reached its end of life in 2020)",
                             (int)t->pid, t->version);
                ap_error_hint(err, "attachpy supports %s", range);
                return -1;
        }
        if (!ap_runtime_supported(AP_IMPL_CPYTHON, t->version_major, t->version_minor)) {
                ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                             "process %d runs Python %s, which attachpy does not support",
                             (int)t->pid, t->version);
                ap_error_hint(err, "attachpy supports %s", range);
                return -1;
        }
        if (!r->syms[SYM_ADD_PENDING].found) {
                ap_error_set(err, AP_ERR_UNSUPPORTED_PYTHON,
                             "%s does not export the C API attachpy needs (Py_AddPendingCall)",
                             r->o->path);
                ap_error_hint(err, "this Python was built without exported symbols");
                return -1;
        }
        return 0;
}

static int cpython_plan(ap_target *t, const runtime_object *r, ap_error *err) {
        t->impl = AP_IMPL_CPYTHON;
        if (r->n_found > 1)
                return two_runtimes(t, r->n_found, "libpython", err);
        bool free_threaded = false;
        if (cpython_version(t, r, &free_threaded, err) < 0 ||
            cpython_supported(t, r, free_threaded, err) < 0)
                return -1;
        t->addr_add_pending_call =
                ap_loaded_object_address(r->o, &r->info, r->syms[SYM_ADD_PENDING].value);
        /* The runtime's own remote execution (3.14+), where it publishes it. */
        if (r->syms[SYM_RUNTIME].found && t->version_major == 3 && t->version_minor >= 14)
                t->addr_runtime =
                        ap_loaded_object_address(r->o, &r->info, r->syms[SYM_RUNTIME].value);
        return read_check_code(t, r, SYM_ADD_PENDING, err);
}

int ap_python_detect(ap_target *t, const ap_loaded_objects *objs, ap_error *err) {
        runtime_object r;
        find_runtime_object(t, objs, &r);
        if (!r.o) {
                ap_error_set(err, AP_ERR_NOT_PYTHON,
                             "process %d (%s) is not a Python process: no Python interpreter "
                             "is loaded in it",
                             (int)t->pid, t->exe ? t->exe : "?");
                ap_error_hint(err, "give the PID of a running Python program; 'attachpy ps' "
                                   "lists them");
                return -1;
        }
        t->python_path = strdup(r.o->path);
        bool pypy = r.syms[SYM_PYPY_GIL_ENSURE].found && !r.syms[SYM_GIL_ENSURE].found;
        int rc = pypy ? pypy_plan(t, &r, err) : cpython_plan(t, &r, err);
        ap_elf_info_free(&r.info);
        return rc;
}
