/* embedder.c: a non-Python host for the agent tests.
 *
 *     embedder AGENT SESSION_DIR nopython
 *     embedder AGENT SESSION_DIR uninit  LIBPYTHON
 *     embedder AGENT SESSION_DIR embed   LIBPYTHON [nothreads]
 *
 * nopython: no libpython at all (the agent must answer -2).
 * uninit:   libpython loaded RTLD_LOCAL but never initialised (-3; and the
 *           agent can only find it through dl_iterate_phdr).
 * embed:    libpython loaded RTLD_LOCAL and initialised, the GIL released
 *           as an embedding application would; "nothreads" skips
 *           PyEval_InitThreads (before 3.7 the GIL then does not exist).
 *
 * Prints "rc N" on stdout, then waits for stdin to close (the agent thread
 * runs meanwhile) and exits without finalising Python.
 */
#include <dlfcn.h>
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

int main(int argc, char **argv) {
        if (argc < 4) {
                fprintf(stderr, "usage: embedder AGENT SESSION_DIR MODE [LIBPYTHON] [nothreads]\n");
                return 2;
        }
        const char *mode = argv[3];
        void *python = NULL;

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
        if (strcmp(mode, "embed") == 0) {
                void (*initialize)(int) = (void (*)(int))need(python, "Py_InitializeEx");
                void *(*save_thread)(void) = (void *(*)(void))need(python, "PyEval_SaveThread");
                initialize(0);
                if (!(argc > 5 && strcmp(argv[5], "nothreads") == 0)) {
                        void (*init_threads)(void) =
                                (void (*)(void))dlsym(python, "PyEval_InitThreads");
                        if (init_threads)
                                init_threads();
                }
                (void)save_thread();
        }

        void *agent = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!agent) {
                fprintf(stderr, "embedder: %s\n", dlerror());
                return 2;
        }
        start_fn start = (start_fn)need(agent, "attachpy_agent_start_v1");
        printf("rc %d\n", start(argv[2]));
        fflush(stdout);

        char buf[256];
        while (read(STDIN_FILENO, buf, sizeof buf) > 0)
                ;
        _exit(0);
}
