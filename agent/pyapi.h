/* pyapi.h: the few CPython C-API calls the agent makes, found at run time.
 *
 * The agent never links libpython: one .so serves every interpreter, whether
 * the C API comes from a shared libpython or from a statically linked
 * executable that exports it.  The types below are declared by hand and only
 * as far as the agent needs them; PyObject stays opaque.
 *
 * Symbols are looked up with dlsym(RTLD_DEFAULT).  When that finds no
 * Py_IsInitialized (an embedding application that loaded libpython with
 * RTLD_LOCAL), the loaded objects are searched for one named libpython* and
 * the symbols are taken from that object's handle (opened with RTLD_NOLOAD:
 * nothing new is ever loaded).
 *
 * Nothing here needs the GIL except where the CPython documentation says so.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef struct ap_pyobject ap_pyobject; /* PyObject */
typedef int ap_pygilstate;              /* PyGILState_STATE, an int-sized enum */
typedef ssize_t ap_pyssize;             /* Py_ssize_t */

#define AP_PY_FILE_INPUT 257 /* Py_file_input */

typedef struct ap_pyapi {
        /* The libpython handle when the symbols were found through
         * dl_iterate_phdr, NULL when they came from the global scope. */
        void *handle;

        /* PyPy: the C API is cpyext's, every name spelled PyPy* (PyPyDict_New,
         * PyPy_DecRef).  No cpyext function may be called without the GIL
         * there, not even PyPy_IsInitialized (it crashes), so the optional
         * functions below stay NULL and pypy_init_threads is set. */
        bool pypy;
        void (*pypy_init_threads)(void);
        int (*PyPyRun_SimpleString)(const char *src); /* runs in __main__'s namespace */

        /* Required. */
        int (*Py_IsInitialized)(void);
        const char *(*Py_GetVersion)(void);
        ap_pygilstate (*PyGILState_Ensure)(void);
        void (*PyGILState_Release)(ap_pygilstate state);
        ap_pyobject *(*PyDict_New)(void);
        int (*PyDict_SetItemString)(ap_pyobject *dict, const char *key, ap_pyobject *value);
        ap_pyobject *(*PyDict_GetItemString)(ap_pyobject *dict, const char *key);
        int (*PyDict_DelItemString)(ap_pyobject *dict, const char *key);
        ap_pyobject *(*PyBytes_FromStringAndSize)(const char *data, ap_pyssize len);
        int (*PyBytes_AsStringAndSize)(ap_pyobject *obj, char **ret_data, ap_pyssize *ret_len);
        ap_pyobject *(*PyRun_StringFlags)(const char *src, int start, ap_pyobject *globals,
                                          ap_pyobject *locals, void *flags);
        ap_pyobject *(*PyEval_GetBuiltins)(void);
        void (*Py_DecRef)(ap_pyobject *obj);
        ap_pyobject *(*PyErr_Occurred)(void);
        void (*PyErr_Clear)(void);

        /* Optional: NULL when the interpreter does not have them. */
        int (*Py_IsFinalizing)(void);           /* Py_IsFinalizing, _Py_IsFinalizing (3.7+) */
        void *const *Py_Finalizing;             /* PyThreadState *_Py_Finalizing (3.6) */
        int (*PyEval_ThreadsInitialized)(void); /* 0 before the GIL exists (3.6) */
        /* For creating the GIL where it does not exist yet (3.6). */
        void (*PyEval_InitThreads)(void);
        void *(*PyEval_SaveThread)(void);             /* returns PyThreadState * */
        void *(*PyThreadState_Swap)(void *tstate);    /* PyThreadState * */
        void *(*PyGILState_GetThisThreadState)(void); /* PyThreadState * */
        /* For the output sent while the code runs (looked up on PyPy too,
         * called there with the GIL held only). */
        void (*PyEval_RestoreThread)(void *tstate);
        void (*Py_IncRef)(ap_pyobject *obj);
        ap_pyobject *(*PyCFunction_NewEx)(void *method_def, ap_pyobject *self,
                                          ap_pyobject *module); /* before 3.9 */
        ap_pyobject *(*PyCMethod_New)(void *method_def, ap_pyobject *self, ap_pyobject *module,
                                      void *cls); /* 3.9+, PyPy 3.9 */
        /* For interrupting the code (KeyboardInterrupt in its thread). */
        unsigned long (*PyThread_get_thread_ident)(void);
        int (*PyThreadState_SetAsyncExc)(unsigned long id, ap_pyobject *exc);
        ap_pyobject *const *PyExc_KeyboardInterrupt; /* the data symbol: a PyObject * */
        /* For compiling the bootstrap once (the serving agent's runs). */
        ap_pyobject *(*Py_CompileStringExFlags)(const char *src, const char *filename, int start,
                                                void *flags, int optimize);
        ap_pyobject *(*Py_CompileStringFlags)(const char *src, const char *filename, int start,
                                              void *flags); /* PyPy */
        ap_pyobject *(*PyEval_EvalCode)(ap_pyobject *code, ap_pyobject *globals,
                                        ap_pyobject *locals);
} ap_pyapi;

/* Find the C API.  On success returns 0 and fills *ret_api, which must be
 * released with ap_pyapi_release().  Returns -ENOENT when the process has no
 * usable Python C API; *ret_api is untouched then. */
int ap_pyapi_load(ap_pyapi *ret_api) __attribute__((warn_unused_result));

/* Drop the libpython handle, if any.  Accepts NULL and a zeroed struct. */
void ap_pyapi_release(ap_pyapi *api);

/* Initialised and not finalising.  Safe without the GIL. */
bool ap_pyapi_alive(const ap_pyapi *api);

/* Whether the interpreter can take a new thread right now: initialised, not
 * finalising, and its GIL created.  Safe without the GIL. */
bool ap_pyapi_ready(const ap_pyapi *api);

/* Before 3.7 the GIL is created only when a second thread starts
 * (PyEval_InitThreads); until then the one thread that runs Python does so
 * without a lock, and a new thread calling PyGILState_Ensure() would create
 * the GIL under its feet.  Called from the agent's entry point, in the
 * target's thread, this creates the GIL when it is missing, and only if
 * that is safe here: this thread is the one that runs Python, either
 * running it now (the Python thread state is current: the GIL is then held
 * by this thread on return, as the interrupted code expects) or outside it
 * (no thread state current: the GIL is left created and free).  Returns 0
 * when the GIL exists afterwards, -1 when it does not and cannot be created
 * from this thread (another thread runs Python, or a subinterpreter's state
 * is current). */
int ap_pyapi_ensure_gil_exists(const ap_pyapi *api);

/* With the GIL held: make the object C API usable.  On PyPy cpyext starts
 * only when the first C extension is imported; before that PyPyDict_New()
 * crashes.  This imports it (leaving sys.modules and __main__ as they
 * were).  A no-op on CPython.  Returns 0, or -1. */
int ap_pyapi_prepare(const ap_pyapi *api);
