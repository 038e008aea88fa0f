/* pyapi.c: resolve the CPython C API at run time. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "pyapi.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stddef.h>
#include <string.h>

_Static_assert(sizeof(void *) == sizeof(int (*)(void)), "dlsym results must fit function pointers");

static const struct {
        const char *names[2]; /* the name, then an older spelling or NULL */
        size_t offset;
        bool optional;
        bool pypy; /* optional, and looked up on PyPy too (safe with the GIL held there) */
} symbol_table[] = {
        {{"Py_IsInitialized", NULL}, offsetof(ap_pyapi, Py_IsInitialized), false, false},
        {{"Py_GetVersion", NULL}, offsetof(ap_pyapi, Py_GetVersion), false, false},
        {{"PyGILState_Ensure", NULL}, offsetof(ap_pyapi, PyGILState_Ensure), false, false},
        {{"PyGILState_Release", NULL}, offsetof(ap_pyapi, PyGILState_Release), false, false},
        {{"PyDict_New", NULL}, offsetof(ap_pyapi, PyDict_New), false, false},
        {{"PyDict_SetItemString", NULL}, offsetof(ap_pyapi, PyDict_SetItemString), false, false},
        {{"PyDict_GetItemString", NULL}, offsetof(ap_pyapi, PyDict_GetItemString), false, false},
        {{"PyDict_DelItemString", NULL}, offsetof(ap_pyapi, PyDict_DelItemString), false, false},
        {{"PyBytes_FromStringAndSize", NULL},
         offsetof(ap_pyapi, PyBytes_FromStringAndSize),
         false,
         false},
        {{"PyBytes_AsStringAndSize", NULL},
         offsetof(ap_pyapi, PyBytes_AsStringAndSize),
         false,
         false},
        {{"PyRun_StringFlags", NULL}, offsetof(ap_pyapi, PyRun_StringFlags), false, false},
        {{"PyEval_GetBuiltins", NULL}, offsetof(ap_pyapi, PyEval_GetBuiltins), false, false},
        {{"Py_DecRef", NULL}, offsetof(ap_pyapi, Py_DecRef), false, false},
        {{"PyErr_Occurred", NULL}, offsetof(ap_pyapi, PyErr_Occurred), false, false},
        {{"PyErr_Clear", NULL}, offsetof(ap_pyapi, PyErr_Clear), false, false},
        {{"Py_IsFinalizing", "_Py_IsFinalizing"}, offsetof(ap_pyapi, Py_IsFinalizing), true, false},
        {{"_Py_Finalizing", NULL}, offsetof(ap_pyapi, Py_Finalizing), true, false},
        {{"PyEval_ThreadsInitialized", NULL},
         offsetof(ap_pyapi, PyEval_ThreadsInitialized),
         true,
         false},
        {{"PyEval_InitThreads", NULL}, offsetof(ap_pyapi, PyEval_InitThreads), true, false},
        {{"PyEval_SaveThread", NULL}, offsetof(ap_pyapi, PyEval_SaveThread), true, true},
        {{"PyEval_RestoreThread", NULL}, offsetof(ap_pyapi, PyEval_RestoreThread), true, true},
        {{"Py_IncRef", NULL}, offsetof(ap_pyapi, Py_IncRef), true, true},
        {{"PyCFunction_NewEx", NULL}, offsetof(ap_pyapi, PyCFunction_NewEx), true, true},
        {{"PyCMethod_New", NULL}, offsetof(ap_pyapi, PyCMethod_New), true, true},
        {{"PyThreadState_Swap", NULL}, offsetof(ap_pyapi, PyThreadState_Swap), true, false},
        {{"PyGILState_GetThisThreadState", NULL},
         offsetof(ap_pyapi, PyGILState_GetThisThreadState),
         true,
         false},
        {{"PyThread_get_thread_ident", NULL},
         offsetof(ap_pyapi, PyThread_get_thread_ident),
         true,
         false},
        {{"PyThreadState_SetAsyncExc", NULL},
         offsetof(ap_pyapi, PyThreadState_SetAsyncExc),
         true,
         false},
        {{"PyExc_KeyboardInterrupt", NULL},
         offsetof(ap_pyapi, PyExc_KeyboardInterrupt),
         true,
         false},
        {{"Py_CompileStringExFlags", NULL},
         offsetof(ap_pyapi, Py_CompileStringExFlags),
         true,
         false},
        /* PyPy's cpyext has only this one (CPython too, for the ABI). */
        {{"Py_CompileStringFlags", NULL}, offsetof(ap_pyapi, Py_CompileStringFlags), true, true},
        {{"PyEval_EvalCode", NULL}, offsetof(ap_pyapi, PyEval_EvalCode), true, true},
};

struct find_libpython {
        char path[PATH_MAX];
        bool found;
};

static int find_libpython_cb(struct dl_phdr_info *info, size_t size, void *userdata) {
        struct find_libpython *f = userdata;

        (void)size;
        if (!info->dlpi_name || !info->dlpi_name[0])
                return 0;
        const char *base = strrchr(info->dlpi_name, '/');
        base = base ? base + 1 : info->dlpi_name;
        if (strncmp(base, "libpython", strlen("libpython")) != 0)
                return 0;
        if (strlen(info->dlpi_name) >= sizeof f->path)
                return 0;
        strcpy(f->path, info->dlpi_name);
        f->found = true;
        return 1; /* stop */
}

/* A handle on an already loaded libpython, or NULL.  Never loads anything. */
static void *open_loaded_libpython(void) {
        struct find_libpython f = {.found = false};

        dl_iterate_phdr(find_libpython_cb, &f);
        if (!f.found)
                return NULL;
        return dlopen(f.path, RTLD_NOW | RTLD_NOLOAD);
}

/* PyPy's spelling of a C-API name: "PyDict_New" -> "PyPyDict_New". */
static void *pypy_dlsym(void *scope, const char *name) {
        char buf[128];

        if (strncmp(name, "Py", 2) != 0 || strlen(name) + 3 > sizeof buf)
                return NULL;
        strcpy(buf, "PyPy");
        strcat(buf, name + 2);
        return dlsym(scope, buf);
}

static int resolve_all(void *scope, ap_pyapi *api) {
        for (size_t i = 0; i < sizeof symbol_table / sizeof symbol_table[0]; i++) {
                void *sym = NULL;

                if (api->pypy) {
                        if (symbol_table[i].optional && !symbol_table[i].pypy)
                                continue; /* needs the GIL there: never called */
                        sym = pypy_dlsym(scope, symbol_table[i].names[0]);
                }
                for (size_t n = 0; n < 2 && !sym && !api->pypy && symbol_table[i].names[n]; n++)
                        sym = dlsym(scope, symbol_table[i].names[n]);
                if (!sym && !symbol_table[i].optional)
                        return -ENOENT;
                memcpy((char *)api + symbol_table[i].offset, &sym, sizeof sym);
        }
        return 0;
}

int ap_pyapi_load(ap_pyapi *ret_api) {
        ap_pyapi api = {.handle = NULL};

        if (!dlsym(RTLD_DEFAULT, "Py_IsInitialized") && dlsym(RTLD_DEFAULT, "PyPy_IsInitialized")) {
                api.pypy = true;
                api.pypy_init_threads = (void (*)(void))dlsym(RTLD_DEFAULT, "pypy_init_threads");
                api.PyPyRun_SimpleString =
                        (int (*)(const char *))dlsym(RTLD_DEFAULT, "PyPyRun_SimpleString");
                if (!api.pypy_init_threads || !api.PyPyRun_SimpleString ||
                    resolve_all(RTLD_DEFAULT, &api) < 0)
                        return -ENOENT;
        } else if (dlsym(RTLD_DEFAULT, "Py_IsInitialized")) {
                if (resolve_all(RTLD_DEFAULT, &api) < 0)
                        return -ENOENT;
        } else {
                api.handle = open_loaded_libpython();
                if (!api.handle)
                        return -ENOENT;
                if (resolve_all(api.handle, &api) < 0) {
                        dlclose(api.handle);
                        return -ENOENT;
                }
        }
        *ret_api = api;
        return 0;
}

void ap_pyapi_release(ap_pyapi *api) {
        if (!api)
                return;
        if (api->handle)
                dlclose(api->handle);
        api->handle = NULL;
}

bool ap_pyapi_alive(const ap_pyapi *api) {
        if (api->pypy)
                return true; /* a running PyPy is initialised; it cannot be asked */
        if (!api->Py_IsInitialized())
                return false;
        if (api->Py_IsFinalizing && api->Py_IsFinalizing())
                return false;
        if (!api->Py_IsFinalizing && api->Py_Finalizing && *api->Py_Finalizing)
                return false;
        return true;
}

bool ap_pyapi_ready(const ap_pyapi *api) {
        /* Before 3.7 the GIL is created only when a second thread is first
         * started; taking it from our thread then would create it under the
         * feet of the thread running Python. */
        return ap_pyapi_alive(api) &&
               (!api->PyEval_ThreadsInitialized || api->PyEval_ThreadsInitialized());
}

int ap_pyapi_ensure_gil_exists(const ap_pyapi *api) {
        if (api->pypy) {
                /* PyPy's GIL is a flag until threads are set up: a thread
                 * that waits for it then aborts the process ("the GIL was
                 * not initialized").  pypy_init_threads() sets them up; it
                 * is an RPython entry point that takes the GIL itself, so
                 * it is only safe in a thread that does not hold it
                 * (docs/pypy.md).  Calling it again does nothing. */
                api->pypy_init_threads();
                return 0;
        }
        if (!api->PyEval_ThreadsInitialized || api->PyEval_ThreadsInitialized())
                return 0;
        if (!api->PyEval_InitThreads || !api->PyEval_SaveThread || !api->PyThreadState_Swap ||
            !api->PyGILState_GetThisThreadState)
                return -1;

        /* Without threads nothing else touches the current thread state (a
         * global before 3.7), so reading it by swapping is safe.  This
         * thread's own state comes from thread-local storage. */
        void *current = api->PyThreadState_Swap(NULL);
        (void)api->PyThreadState_Swap(current);
        void *mine = api->PyGILState_GetThisThreadState();
        if (!mine)
                return -1; /* not the thread that runs Python */
        if (current == mine) {
                /* Interrupted while running Python (a breakpoint, a pending
                 * call): PyEval_InitThreads() creates the GIL and takes it
                 * for this thread, which is what the interrupted code
                 * assumes from now on; it drops it like any holder. */
                api->PyEval_InitThreads();
                return 0;
        }
        if (current)
                return -1; /* another thread state runs Python */
        /* Outside Python (a blocking call between PyEval_SaveThread and
         * PyEval_RestoreThread): create the GIL as this thread, then
         * release it.  PyEval_RestoreThread() checks for the GIL only after
         * the blocking call returns, and this thread is busy here until
         * then: it will take the GIL like any thread. */
        (void)api->PyThreadState_Swap(mine);
        api->PyEval_InitThreads();
        (void)api->PyEval_SaveThread();
        return 0;
}

int ap_pyapi_prepare(const ap_pyapi *api) {
        if (!api->pypy)
                return 0;
        /* One expression statement, binding no name in __main__ (where
         * PyRun_SimpleString runs).  cpyext leaves sys.modules unless it
         * was there before.  Whatever the import raises (an __import__
         * hook's SystemExit too, which PyRun_SimpleString would obey by
         * exiting) becomes a RuntimeError; PyPy's PyRun_SimpleString
         * prints nothing and returns -1. */
        return api->PyPyRun_SimpleString("exec(\"try:\\n"
                                         " import sys\\n"
                                         " had = 'cpyext' in sys.modules\\n"
                                         " import cpyext\\n"
                                         " if not had: del sys.modules['cpyext']\\n"
                                         "except BaseException as e:\\n"
                                         " raise RuntimeError('attachpy: cannot start cpyext: %r' "
                                         "% (e,)) from None\\n"
                                         "\", {})\n") == 0
                       ? 0
                       : -1;
}
