/* embedpy.c: an application that embeds CPython, for the integration tests.
 *
 *     embedpy [-S] [--second-libpython PATH] SCRIPT [ARG...]
 *
 * Not a python executable: it links libpython (Debian's libpython3.X through
 * pkg-config's python3-embed), initialises the interpreter with sys.argv =
 * [SCRIPT, ARG...] (no site with -S), and runs SCRIPT from C, as many
 * applications run their Python plugins; tests/targets/target.py then runs
 * its loop.  --second-libpython first loads another libpython with
 * RTLD_LOCAL, never initialised, as a plugin of the application might: the
 * process then maps two Python runtimes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, PyStatus status) {
        fprintf(stderr, "embedpy: %s: %s\n", what, status.err_msg ? status.err_msg : "failed");
        return 2;
}

int main(int argc, char **argv) {
        int i = 1;
        int no_site = 0;
        for (; i < argc; i++) {
                if (strcmp(argv[i], "-S") == 0)
                        no_site = 1;
                else if (strcmp(argv[i], "--second-libpython") == 0 && i + 1 < argc) {
                        if (!dlopen(argv[++i], RTLD_NOW | RTLD_LOCAL)) {
                                fprintf(stderr, "embedpy: %s\n", dlerror());
                                return 2;
                        }
                } else
                        break;
        }
        if (i >= argc) {
                fprintf(stderr, "usage: embedpy [-S] [--second-libpython PATH] SCRIPT [ARG...]\n");
                return 2;
        }
        const char *script = argv[i];

        PyConfig config;
        PyConfig_InitPythonConfig(&config);
        config.parse_argv = 0; /* the arguments are the script's, not options */
        config.site_import = !no_site;
        PyStatus status = PyConfig_SetBytesArgv(&config, argc - i, argv + i);
        if (PyStatus_Exception(status))
                return fail("argv", status);
        status = Py_InitializeFromConfig(&config);
        PyConfig_Clear(&config);
        if (PyStatus_Exception(status))
                return fail("initialise", status);

        FILE *f = fopen(script, "r");
        if (!f) {
                perror(script);
                return 2;
        }
        /* target.py loops until a signal ends it (SystemExit from its
         * SIGUSR2 handler). */
        int rc = PyRun_SimpleFileExFlags(f, script, 1, NULL);
        if (Py_FinalizeEx() < 0)
                rc = 120;
        return rc == 0 ? 0 : 1;
}
