/* fake_libpython.c: a stand-in for a libpython, for preflight's unit tests.
 * It exports only what preflight looks at: the C API it needs, Py_Version,
 * and (with FREE_THREADED) the functions only a free-threaded build
 * (Py_GIL_DISABLED) exports, which Py_DECREF calls there.  Loaded into a
 * child of the test, never called. */
int PyGILState_Ensure(void);
int Py_AddPendingCall(int (*func)(void *), void *arg);
int PyErr_CheckSignals(void);
void *PyObject_Malloc(unsigned long n);
void _Py_DecRefShared(void *o);
void _Py_MergeZeroLocalRefcount(void *o);

#ifndef FAKE_PY_VERSION
#define FAKE_PY_VERSION 0x030d01f0 /* 3.13.1 */
#endif
extern const unsigned long Py_Version;
const unsigned long Py_Version = FAKE_PY_VERSION;

#ifdef FAKE_DEBUG_OFFSETS_FREE_THREADED
/* What 3.13+ publishes at the start of _PyRuntime (_Py_DebugOffsets' head):
 * here a free-threaded build that exports none of the functions that would
 * tell it otherwise. */
struct fake_runtime {
        char cookie[8];
        unsigned long long version;
        unsigned long long free_threaded;
        char rest[64];
};
extern struct fake_runtime _PyRuntime;
struct fake_runtime _PyRuntime = {{'x', 'd', 'e', 'b', 'u', 'g', 'p', 'y'},
                                  FAKE_PY_VERSION,
                                  FAKE_DEBUG_OFFSETS_FREE_THREADED,
                                  {0}};
#endif

int PyGILState_Ensure(void) { return 0; }

int Py_AddPendingCall(int (*func)(void *), void *arg) {
        (void)func;
        (void)arg;
        return -1;
}

int PyErr_CheckSignals(void) { return 0; }

void *PyObject_Malloc(unsigned long n) {
        (void)n;
        return 0;
}

#ifdef FREE_THREADED
void _Py_DecRefShared(void *o) { (void)o; }

void _Py_MergeZeroLocalRefcount(void *o) { (void)o; }
#endif
