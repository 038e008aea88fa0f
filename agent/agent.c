/* agent.c: the library the debugger loads into the target.
 *
 * attachpy_agent_start_v1() runs inside a debugger's inferior call while the
 * target is stopped.  It only checks that Python is there, reads the request,
 * connects to the CLI's result socket and starts a detached thread; it never
 * waits for the GIL.  The thread says HELO and VERS, waits for the CLI's
 * go-ahead (sent once the debugger has let go of the target), takes the GIL,
 * runs the embedded bootstrap (bootstrap.py), which runs the user's code, and
 * sends the result records.  docs/protocol.md is the contract.
 *
 * The library keeps no global state: everything a run needs lives in one
 * struct job, owned by the entry point until the thread starts and by the
 * thread afterwards.  It never logs and never writes to the target's streams.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "ap_cleanup.h"
#include "ap_record.h"
#include "bootstrap.h"
#include "channel.h"
#include "job.h"
#include "pyapi.h"
#include "request.h"
#include "serve.h"

#define AP_EXPORT __attribute__((visibility("default")))

#define AP_PROTOCOL 1
/* How long the agent, holding the GIL, waits for the CLI's answer to GIL. */
#define AP_ANSWER_MS 2000

enum {
        AP_START_OK = 0,
        AP_START_BAD_ARGUMENT = -1,
        AP_START_NO_PYTHON = -2,
        AP_START_NOT_READY = -3,
        AP_START_BAD_REQUEST = -4,
        AP_START_NO_SOCKET = -5,
        AP_START_NO_THREAD = -6,
        AP_START_NO_MEMORY = -7,
};

/* Everything one run owns. */
typedef struct job {
        ap_pyapi py;
        ap_channel ch; /* the connection to the CLI (result.sock, or a serving agent's) */
        char *request; /* the raw request; handed to Python, then freed */
        size_t request_len;
        char *result; /* the bootstrap's encoded records */
        size_t result_len;
        sigset_t run_mask; /* the creating thread's signal mask, for the code */
        bool wait;         /* the request's wait flag: the CLI waits for the result */
        char serve[AP_SERVE_NAME_MAX + 1]; /* the request's serve name, or "" */
        bool console;      /* the request's mode is "console": the bootstrap talks with the CLI */
        char identity[48]; /* "cpython 3.12.1" (VERS, and the serving agent's INFO) */
        /* The thread that watches the socket for INTR while the code runs. */
        bool watching;
        pthread_t watcher;
        int stop_watch[2];        /* a pipe: written to end the watcher */
        unsigned long code_ident; /* PyThread_get_thread_ident() of the code's thread */
} job;

static void stop_watcher(job *j) {
        if (!j->watching)
                return;
        ssize_t n;
        do
                n = write(j->stop_watch[1], "x", 1);
        while (n < 0 && errno == EINTR);
        (void)pthread_join(j->watcher, NULL);
        close(j->stop_watch[0]);
        close(j->stop_watch[1]);
        j->watching = false;
}

static void job_free(job *j) {
        if (!j)
                return;
        stop_watcher(j);
        ap_channel_close(&j->ch);
        free(j->request);
        free(j->result);
        ap_pyapi_release(&j->py);
        free(j);
}

static void job_freep(job **j) { job_free(*j); }

static void job_free_void(void *j) { job_free(j); }

#define _cleanup_job_ __attribute__((cleanup(job_freep)))

/* ---- output sent while the code runs ------------------------------------ */

/* The job whose code runs in this thread, for send_from_python(); NULL in
 * every other thread and once the run is over, so that a function object
 * the code kept sends nothing to a connection that is gone. */
static __thread job *running_job;

/* PyMethodDef, declared by hand (the layout is the same from 3.6 to 3.15
 * and in PyPy's cpyext). */
typedef struct ap_pymethoddef {
        const char *ml_name;
        ap_pyobject *(*ml_meth)(ap_pyobject *self, ap_pyobject *arg);
        int ml_flags;
        const char *ml_doc;
} ap_pymethoddef;

#define AP_METH_O 0x0008

/* __attachpy_send__(bytes): send encoded records to the CLI now, with the
 * GIL released (the CLI may be slow to read; the target's other threads
 * run on).  Returns its argument; a send to a CLI that hung up does
 * nothing. */
static ap_pyobject *send_from_python(ap_pyobject *self, ap_pyobject *arg) {
        job *j = running_job;
        (void)self;
        if (!j)
                return NULL; /* the bootstrap never calls it outside the run */
        const ap_pyapi *py = &j->py;
        char *data = NULL;
        ap_pyssize len = 0;
        if (py->PyBytes_AsStringAndSize(arg, &data, &len) < 0)
                return NULL; /* TypeError set */
        if (len > 0 && !j->ch.hung_up) {
                void *tstate = py->PyEval_SaveThread();
                ap_channel_send(&j->ch, data, (size_t)len);
                py->PyEval_RestoreThread(tstate);
        }
        py->Py_IncRef(arg);
        return arg;
}

static ap_pymethoddef send_method = {"__attachpy_send__", send_from_python, AP_METH_O, NULL};

static void start_watcher(job *j);

/* The largest record the console takes from the CLI (a line, a completion). */
#define AP_MAX_CONSOLE_RECORD (1024u * 1024)

/* __attachpy_recv__(): the console's next record from the CLI, as bytes
 * (its 4-byte tag, then its payload), waited for with the GIL released;
 * b"" when the CLI is gone or sent too much. */
static ap_pyobject *recv_from_python(ap_pyobject *self, ap_pyobject *arg) {
        job *j = running_job;
        (void)self;
        (void)arg;
        if (!j)
                return NULL;
        const ap_pyapi *py = &j->py;
        unsigned char h[AP_RECORD_HEADER_BYTES];
        char *data = NULL;
        uint32_t len = 0;
        void *tstate = py->PyEval_SaveThread();
        bool ok = ap_channel_recv(&j->ch, h, sizeof h);
        if (ok) {
                len = ap_record_header_length(h);
                data = len <= AP_MAX_CONSOLE_RECORD ? malloc(4 + (size_t)len) : NULL;
                ok = data && ap_channel_recv(&j->ch, data + 4, len);
        }
        py->PyEval_RestoreThread(tstate);
        if (!ok) {
                free(data);
                return py->PyBytes_FromStringAndSize("", 0);
        }
        memcpy(data, h, 4);
        ap_pyobject *ret = py->PyBytes_FromStringAndSize(data, 4 + (ap_pyssize)len);
        free(data);
        return ret;
}

/* __attachpy_watch__(b"1" | b"0"): while a console statement runs (b"1"),
 * an INTR from the CLI raises KeyboardInterrupt in it; b"0" stops that.
 * Returns its argument. */
static ap_pyobject *watch_from_python(ap_pyobject *self, ap_pyobject *arg) {
        job *j = running_job;
        (void)self;
        if (!j)
                return NULL;
        const ap_pyapi *py = &j->py;
        char *data = NULL;
        ap_pyssize len = 0;
        if (py->PyBytes_AsStringAndSize(arg, &data, &len) < 0)
                return NULL;
        void *tstate = py->PyEval_SaveThread();
        stop_watcher(j); /* joins: without the GIL, the watcher may want it */
        py->PyEval_RestoreThread(tstate);
        if (len == 1 && data[0] == '1')
                start_watcher(j);
        py->Py_IncRef(arg);
        return arg;
}

#define AP_METH_NOARGS 0x0004

static ap_pymethoddef recv_method = {"__attachpy_recv__", recv_from_python, AP_METH_NOARGS, NULL};
static ap_pymethoddef watch_method = {"__attachpy_watch__", watch_from_python, AP_METH_O, NULL};

/* The function object, or NULL when this interpreter cannot make one (the
 * bootstrap then keeps the output until the code ends; a console cannot
 * start). */
static ap_pyobject *new_function(const ap_pyapi *py, ap_pymethoddef *def) {
        if (!py->PyEval_SaveThread || !py->PyEval_RestoreThread || !py->Py_IncRef)
                return NULL;
        if (py->PyCMethod_New)
                return py->PyCMethod_New(def, NULL, NULL, NULL);
        if (py->PyCFunction_NewEx)
                return py->PyCFunction_NewEx(def, NULL, NULL);
        return NULL;
}

/* The console's two functions in globals (a console request only). */
static const char *add_console_functions(job *j, ap_pyobject *globals) {
        const ap_pyapi *py = &j->py;
        ap_pymethoddef *defs[] = {&recv_method, &watch_method};
        for (size_t i = 0; i < AP_ARRAY_SIZE(defs); i++) {
                ap_pyobject *f = new_function(py, defs[i]);
                if (!f)
                        return "this interpreter cannot run attachpy's console";
                int r = py->PyDict_SetItemString(globals, defs[i]->ml_name, f);
                py->Py_DecRef(f);
                if (r < 0)
                        return "could not hand the console its channel";
        }
        return NULL;
}

/* With the GIL held, before the code starts: may it run?  The CLI alone
 * decides (docs/protocol.md, "The last word"): it answers RUN if its
 * deadline has not passed and it was not interrupted.  Anything else, the
 * end of the connection, or no answer within AP_ANSWER_MS means no: the
 * code is withdrawn. */
static bool ask_to_run(job *j) {
        ap_channel_record(&j->ch, "GIL ", "", 0);
        if (j->ch.hung_up)
                return false;
        struct pollfd p = {.fd = j->ch.fd, .events = POLLIN};
        int r;
        do
                r = poll(&p, 1, AP_ANSWER_MS);
        while (r < 0 && errno == EINTR);
        if (r <= 0)
                return false;
        unsigned char h[AP_RECORD_HEADER_BYTES];
        if (!ap_channel_recv(&j->ch, h, sizeof h))
                return false;
        return memcmp(h, "RUN ", 4) == 0 && ap_record_header_length(h) == 0;
}

/* While the code runs: an INTR record from the CLI (attachpy was
 * interrupted) raises KeyboardInterrupt in the code's thread.  Ends at the
 * end of the connection, after one INTR, or when told to stop. */
static void *watch_thread(void *userdata) {
        job *j = userdata;
        for (;;) {
                struct pollfd p[2] = {{.fd = j->ch.fd, .events = POLLIN},
                                      {.fd = j->stop_watch[0], .events = POLLIN}};
                int r = poll(p, 2, -1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0 || p[1].revents)
                        return NULL;
                unsigned char h[AP_RECORD_HEADER_BYTES];
                ssize_t n = recv(j->ch.fd, h, sizeof h, MSG_PEEK | MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < (ssize_t)sizeof h)
                        return NULL; /* EOF, an error, or a partial record: the CLI is gone */
                (void)recv(j->ch.fd, h, sizeof h, 0);
                if (memcmp(h, "INTR", 4) != 0)
                        return NULL;
                ap_pygilstate gil = j->py.PyGILState_Ensure();
                (void)j->py.PyThreadState_SetAsyncExc(j->code_ident,
                                                      *j->py.PyExc_KeyboardInterrupt);
                j->py.PyGILState_Release(gil);
                return NULL;
        }
}

/* With the GIL held: start the watcher, where the interpreter lets the
 * agent interrupt a thread.  Without it the code cannot be interrupted
 * (the CLI says so). */
static void start_watcher(job *j) {
        const ap_pyapi *py = &j->py;
        if (!py->PyThread_get_thread_ident || !py->PyThreadState_SetAsyncExc ||
            !py->PyExc_KeyboardInterrupt || pipe2(j->stop_watch, O_CLOEXEC) < 0)
                return;
        j->code_ident = py->PyThread_get_thread_ident();
        sigset_t all, saved;
        sigfillset(&all);
        (void)pthread_sigmask(SIG_SETMASK, &all, &saved);
        int r = pthread_create(&j->watcher, NULL, watch_thread, j);
        (void)pthread_sigmask(SIG_SETMASK, &saved, NULL);
        if (r != 0) {
                close(j->stop_watch[0]);
                close(j->stop_watch[1]);
                return;
        }
        j->watching = true;
}

/* ---- the thread --------------------------------------------------------- */

/* The bootstrap compiled once, for every later run in this process (a
 * serving agent's runs would each spend most of their time compiling it).
 * Read and written only with the GIL held; never freed (the library is
 * never unloaded).  NULL where the interpreter cannot do it: the source is
 * run each time. */
static ap_pyobject *compiled_bootstrap;

static ap_pyobject *run_bootstrap_code(const ap_pyapi *py, ap_pyobject *globals) {
        if (!compiled_bootstrap && py->PyEval_EvalCode) {
                /* "<string>": the name PyRun_StringFlags gives it. */
                if (py->Py_CompileStringExFlags)
                        compiled_bootstrap = py->Py_CompileStringExFlags(
                                ap_bootstrap_source, "<string>", AP_PY_FILE_INPUT, NULL, -1);
                else if (py->Py_CompileStringFlags)
                        compiled_bootstrap = py->Py_CompileStringFlags(
                                ap_bootstrap_source, "<string>", AP_PY_FILE_INPUT, NULL);
                if (!compiled_bootstrap)
                        py->PyErr_Clear();
        }
        if (compiled_bootstrap)
                return py->PyEval_EvalCode(compiled_bootstrap, globals, globals);
        return py->PyRun_StringFlags(ap_bootstrap_source, AP_PY_FILE_INPUT, globals, globals, NULL);
}

/* Did the bootstrap run the code (its last record END "ok" or
 * "exception"), rather than refuse it (an audit hook's veto, a failure)? */
static bool code_was_run(const job *j) {
        static const char *const ran[] = {"ok", "exception"};
        for (size_t i = 0; i < AP_ARRAY_SIZE(ran); i++) {
                size_t n = strlen(ran[i]);
                if (j->result_len < 8 + n)
                        continue;
                const char *h = j->result + j->result_len - 8 - n;
                if (memcmp(h, "END ", 4) == 0 && (unsigned char)h[4] == n && !h[5] && !h[6] &&
                    !h[7] && memcmp(h + 8, ran[i], n) == 0)
                        return true;
        }
        return false;
}

/* The request asked the agent to stay (attachpy attach, --keep): serve from
 * now on, and say where (SERV "ok <dir>") or why not (SERV "error <why>"). */
static void start_serving(job *j) {
        char text[AP_SERVE_DIR_MAX + 64];
        char dir[AP_SERVE_DIR_MAX];
        char why[128];
        int r = ap_serve_start(j->serve, &j->run_mask, j->identity, dir, why, sizeof why);
        if (r >= 0)
                snprintf(text, sizeof text, "%s %s", r > 0 ? "already" : "ok", dir);
        else
                snprintf(text, sizeof text, "error %s", why);
        ap_channel_text(&j->ch, "SERV", text);
}

/* Run the bootstrap with the GIL held.  On success the encoded records are
 * in j->result.  On failure returns a message for FAIL; the Python error is
 * cleared, never printed. */
static const char *run_bootstrap(job *j) {
        const ap_pyapi *py = &j->py;
        const char *fail = NULL;
        ap_pyobject *globals = NULL, *request = NULL, *ret = NULL, *send = NULL, *builtins, *result;
        char *data = NULL;
        ap_pyssize len = 0;

        globals = py->PyDict_New();
        if (!globals) {
                fail = "could not create the bootstrap's namespace";
                goto out;
        }
        builtins = py->PyEval_GetBuiltins();
        if (!builtins || py->PyDict_SetItemString(globals, "__builtins__", builtins) < 0) {
                fail = "could not set the bootstrap's builtins";
                goto out;
        }
        request = py->PyBytes_FromStringAndSize(j->request, (ap_pyssize)j->request_len);
        if (!request || py->PyDict_SetItemString(globals, "__attachpy_request__", request) < 0) {
                fail = "could not hand the request to the bootstrap";
                goto out;
        }
        send = new_function(py, &send_method);
        if (send && py->PyDict_SetItemString(globals, "__attachpy_send__", send) < 0) {
                fail = "could not hand the output channel to the bootstrap";
                goto out;
        }
        if (!send && py->PyErr_Occurred())
                py->PyErr_Clear();
        if (j->console && (fail = add_console_functions(j, globals)) != NULL)
                goto out;
        /* Python holds its own copy now. */
        free(j->request);
        j->request = NULL;
        py->Py_DecRef(request);
        request = NULL;

        running_job = j;
        ret = run_bootstrap_code(py, globals);
        running_job = NULL;
        if (!ret) {
                fail = "the agent's bootstrap raised an exception";
                goto out;
        }

        /* Borrowed; GetItemString never raises. */
        result = py->PyDict_GetItemString(globals, "__attachpy_result__");
        if (!result || py->PyBytes_AsStringAndSize(result, &data, &len) < 0 || len < 0) {
                fail = "the agent's bootstrap left no result";
                goto out;
        }
        j->result = malloc((size_t)len ? (size_t)len : 1);
        if (!j->result) {
                fail = "out of memory";
                goto out;
        }
        memcpy(j->result, data, (size_t)len);
        j->result_len = (size_t)len;
        /* The dict itself lives on until the garbage collector breaks its
         * cycles; the result, possibly large, goes now. */
        (void)py->PyDict_DelItemString(globals, "__attachpy_result__");

out:
        if (py->PyErr_Occurred())
                py->PyErr_Clear();
        if (ret)
                py->Py_DecRef(ret);
        if (send)
                py->Py_DecRef(send);
        if (request)
                py->Py_DecRef(request);
        if (globals)
                py->Py_DecRef(globals);
        return fail;
}

static void *agent_thread(void *userdata) {
        job *j = userdata;

        /* CPython ends a thread that wants the GIL while the interpreter
         * finalises with pthread_exit(): the cleanup handler still closes
         * the connection (the CLI sees a stream without END) and frees. */
        pthread_cleanup_push(job_free_void, j);

        /* The thread's id lets the CLI tell, while it waits for the GIL,
         * which thread holds it. */
        char helo[64];
        snprintf(helo, sizeof helo, "%d %ld %ld %s", AP_PROTOCOL, (long)getpid(),
                 (long)syscall(SYS_gettid), j->py.pypy ? "pypy" : "cpython");
        ap_channel_text(&j->ch, "HELO", helo);

        /* PyPy's Py_GetVersion needs the GIL. */
        ap_pygilstate vers_gil = 0;
        if (j->py.pypy)
                vers_gil = j->py.PyGILState_Ensure();
        const char *version = j->py.Py_GetVersion();
        ap_channel_record(&j->ch, "VERS", version, strcspn(version, " "));
        snprintf(j->identity, sizeof j->identity, "%s %.*s", j->py.pypy ? "pypy" : "cpython",
                 (int)(strcspn(version, " ") < 32 ? strcspn(version, " ") : 32), version);
        if (j->py.pypy)
                j->py.PyGILState_Release(vers_gil);

        /* Without the go-ahead (attachpy died or gave up) nothing runs and
         * nothing more is sent. */
        bool go = ap_channel_receive_go(&j->ch);
        if (go && !ap_pyapi_ready(&j->py)) {
                /* It began to finalise since the entry point checked:
                 * PyGILState_Ensure() would never return, or crash. */
                ap_channel_text(&j->ch, "FAIL", "the interpreter is finalising");
                ap_channel_text(&j->ch, "END ", "failed");
        } else if (go) {
                /* The code runs with the mask a thread started by the
                 * target would have had (its subprocesses inherit it). */
                (void)pthread_sigmask(SIG_SETMASK, &j->run_mask, NULL);
                ap_pygilstate gil = j->py.PyGILState_Ensure();
                /* The deadline may have passed while this thread waited for
                 * the GIL: the CLI says whether the code may still run.
                 * Nobody answers with --no-wait: the code runs. */
                if (j->wait && !ask_to_run(j)) {
                        j->py.PyGILState_Release(gil);
                        goto done;
                }
                ap_channel_record(&j->ch, "RUN ", "", 0);
                if (j->wait && !j->console)
                        start_watcher(j); /* the console starts it per statement */
                const char *fail = ap_pyapi_prepare(&j->py) < 0
                                           ? "could not start PyPy's C API (cpyext)"
                                           : run_bootstrap(j);
                j->py.PyGILState_Release(gil);
                stop_watcher(j);

                if (fail) {
                        ap_channel_text(&j->ch, "FAIL", fail);
                        ap_channel_text(&j->ch, "END ", "failed");
                } else {
                        /* Before the last records: the CLI reads up to END. */
                        if (j->serve[0] && code_was_run(j))
                                start_serving(j);
                        ap_channel_send(&j->ch, j->result, j->result_len);
                }
        }

done:
        pthread_cleanup_pop(1);
        return NULL;
}

/* A thread of the agent's, detached and with every signal blocked, so that
 * the target's signals keep going to its own threads (the code's thread
 * takes the caller's mask once it runs: *ret_caller_mask, if not NULL).
 * The caller's mask is restored.  0, or -errno. */
int ap_thread_start_detached(void *(*fn)(void *), void *arg, sigset_t *ret_caller_mask) {
        pthread_attr_t attr;
        sigset_t all, saved;
        pthread_t thread;
        int r = pthread_attr_init(&attr);
        if (r != 0)
                return -r;
        r = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (r == 0) {
                sigfillset(&all);
                r = pthread_sigmask(SIG_SETMASK, &all, &saved);
                if (r == 0) {
                        if (ret_caller_mask)
                                *ret_caller_mask = saved;
                        r = pthread_create(&thread, &attr, fn, arg);
                        (void)pthread_sigmask(SIG_SETMASK, &saved, NULL);
                }
        }
        (void)pthread_attr_destroy(&attr);
        return -r;
}

/* ---- the entry point ---------------------------------------------------- */

AP_EXPORT int attachpy_agent_start_v1(const char *session_dir);

int attachpy_agent_start_v1(const char *session_dir) {
        char request_path[PATH_MAX], socket_path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
        int r;

        if (!session_dir || !session_dir[0])
                return AP_START_BAD_ARGUMENT;
        r = snprintf(request_path, sizeof request_path, "%s/request", session_dir);
        if (r < 0 || (size_t)r >= sizeof request_path)
                return AP_START_BAD_ARGUMENT;
        r = snprintf(socket_path, sizeof socket_path, "%s/result.sock", session_dir);
        if (r < 0 || (size_t)r >= sizeof socket_path)
                return AP_START_BAD_ARGUMENT;

        _cleanup_job_ job *j = calloc(1, sizeof *j);
        if (!j)
                return AP_START_NO_MEMORY;
        j->ch.fd = -1;

        if (ap_pyapi_load(&j->py) < 0)
                return AP_START_NO_PYTHON;
        if (!ap_pyapi_alive(&j->py))
                return AP_START_NOT_READY;

        r = ap_request_read_file(request_path, &j->request, &j->request_len);
        if (r == -ENOMEM)
                return AP_START_NO_MEMORY;
        if (r < 0)
                return AP_START_BAD_REQUEST;
        if (ap_request_check(j->request, j->request_len, &j->wait, j->serve, &j->console) < 0)
                return AP_START_BAD_REQUEST;

        /* Even with --no-wait: the go-ahead comes through it. */
        if (ap_channel_connect(&j->ch, socket_path) < 0)
                return AP_START_NO_SOCKET;

        /* 3.6 with no thread started yet: create the GIL here, in
         * the target's own thread, or give up. */
        if (ap_pyapi_ensure_gil_exists(&j->py) < 0 || !ap_pyapi_ready(&j->py))
                return AP_START_NOT_READY;

        r = ap_thread_start_detached(agent_thread, j, &j->run_mask);
        if (r == -ENOMEM)
                return AP_START_NO_MEMORY;
        if (r < 0)
                return AP_START_NO_THREAD;
        j = NULL; /* the thread's now */
        return AP_START_OK;
}

/* ---- a run through the serving agent (serve.c) --------------------------- */

void ap_job_run_connected(int fd, char *request, size_t request_len, const sigset_t *run_mask) {
        job *j = calloc(1, sizeof *j);
        if (!j) {
                close(fd);
                free(request);
                return;
        }
        j->ch.fd = fd;
        j->request = request;
        j->request_len = request_len;
        j->run_mask = *run_mask;
        const char *fail = NULL;
        if (ap_pyapi_load(&j->py) < 0)
                fail = "the Python C API is gone from the process";
        else if (!ap_pyapi_alive(&j->py) || !ap_pyapi_ready(&j->py))
                fail = "the interpreter is finalising";
        else if (ap_request_check(j->request, j->request_len, &j->wait, j->serve, &j->console) < 0)
                fail = "the request is malformed";
        if (fail) {
                ap_channel_text(&j->ch, "FAIL", fail);
                ap_channel_text(&j->ch, "END ", "failed");
                job_free(j);
                return;
        }
        (void)agent_thread(j); /* owns and frees j */
}
