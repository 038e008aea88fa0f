/* embedder.c: a non-Python host for the agent tests.
 *
 *     embedder AGENT SESSION_DIR nopython
 *     embedder AGENT SESSION_DIR uninit  LIBPYTHON
 *     embedder AGENT SESSION_DIR embed   LIBPYTHON [nothreads] [held|otherthread]
 *
 * nopython:    no libpython at all (the agent must answer -2).
 * uninit:      libpython loaded RTLD_LOCAL but never initialised (-3; and the
 *              agent can only find it through dl_iterate_phdr).
 * embed:       libpython loaded RTLD_LOCAL and initialised, the GIL released
 *              as an embedding application would, and the entry point called
 *              from the main thread outside Python (as from a blocking call).
 * nothreads:   skip PyEval_InitThreads (before 3.7 the GIL then does not
 *              exist).
 * held:        call the entry point while the main thread runs Python (its
 *              thread state current, as at a breakpoint or in a pending
 *              call), then release the GIL.
 * otherthread: call the entry point from a thread that never ran Python.
 *
 * Prints "rc N" on stdout, then waits for stdin to close (the agent thread
 * runs meanwhile), takes the GIL back in the main thread, runs
 * print('main-after'), and exits without finalising Python.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef int (*start_fn)(const char *);

static void *need(void *handle, const char *name) {
        void *sym = dlsym(handle, name);
        if (!sym) {
                fprintf(stderr, "embedder: %s: %s\n", name, dlerror());
                _exit(2);
        }
        return sym;
}

struct call {
        start_fn start;
        const char *dir;
        int rc;
};

static void *call_thread(void *arg) {
        struct call *c = arg;
        c->rc = c->start(c->dir);
        return NULL;
}

static bool has_flag(int argc, char **argv, const char *flag) {
        for (int i = 5; i < argc; i++)
                if (strcmp(argv[i], flag) == 0)
                        return true;
        return false;
}

int main(int argc, char **argv) {
        if (argc < 4) {
                fprintf(stderr, "usage: embedder AGENT SESSION_DIR MODE [LIBPYTHON] [FLAG...]\n");
                return 2;
        }
        const char *mode = argv[3];
        void *python = NULL;
        void *tstate = NULL;
        bool embed = strcmp(mode, "embed") == 0;
        bool held = embed && has_flag(argc, argv, "held");

        if (strcmp(mode, "nopython") != 0) {
                if (argc < 5) {
                        fprintf(stderr, "embedder: %s needs LIBPYTHON\n", mode);
                        return 2;
                }
                python = dlopen(argv[4], RTLD_NOW | RTLD_LOCAL);
                if (!python) {
                        fprintf(stderr, "embedder: %s\n", dlerror());
                        return 2;
                }
        }
        void *(*save_thread)(void) = NULL;
        if (embed) {
                void (*initialize)(int) = (void (*)(int))need(python, "Py_InitializeEx");
                save_thread = (void *(*)(void))need(python, "PyEval_SaveThread");
                initialize(0);
                if (!has_flag(argc, argv, "nothreads")) {
                        void (*init_threads)(void) =
                                (void (*)(void))dlsym(python, "PyEval_InitThreads");
                        if (init_threads)
                                init_threads();
                }
                if (!held)
                        tstate = save_thread();
        }

        void *agent = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!agent) {
                fprintf(stderr, "embedder: %s\n", dlerror());
                return 2;
        }
        struct call c = {(start_fn)need(agent, "attachpy_agent_start_v1"), argv[2], 0};
        if (embed && has_flag(argc, argv, "otherthread")) {
                pthread_t t;
                if (pthread_create(&t, NULL, call_thread, &c) != 0 || pthread_join(t, NULL) != 0) {
                        fprintf(stderr, "embedder: no thread\n");
                        return 2;
                }
        } else
                call_thread(&c);
        if (held)
                tstate = save_thread();
        printf("rc %d\n", c.rc);
        fflush(stdout);

        char buf[256];
        while (read(STDIN_FILENO, buf, sizeof buf) > 0)
                ;
        if (embed) {
                void (*restore_thread)(void *) =
                        (void (*)(void *))need(python, "PyEval_RestoreThread");
                int (*run)(const char *) =
                        (int (*)(const char *))need(python, "PyRun_SimpleString");
                restore_thread(tstate);
                run("import sys\nsys.stdout.write('main-after\\n')\nsys.stdout.flush()\n");
        }
        _exit(0);
}
