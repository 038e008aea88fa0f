/* paths.c: build tree or installed locations. */
#include "paths.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"

static bool running_from_build_tree(void) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0)
                return false;
        self[n] = '\0';
        size_t lb = strlen(AP_BUILD_ROOT);
        return strncmp(self, AP_BUILD_ROOT, lb) == 0 && self[lb] == '/';
}

char *ap_path_script(const char *dir, const char *file) {
        char *p = NULL;
        const char *env = getenv("ATTACHPY_DATADIR");
        const char *root = env && *env ? env
                           : running_from_build_tree() ? AP_SOURCE_ROOT
                                                       : AP_INSTALLED_DATADIR;
        if (asprintf(&p, "%s/%s/%s", root, dir, file) < 0)
                return NULL;
        return p;
}

char *ap_path_agent(void) {
        const char *env = getenv("ATTACHPY_AGENT");
        if (env && *env)
                return strdup(env);
        if (running_from_build_tree())
                return strdup(AP_AGENT_BUILD_PATH);
        char *p = NULL;
        if (asprintf(&p, "%s/%s", AP_INSTALLED_LIBDIR, AP_AGENT_FILENAME) < 0)
                return NULL;
        return p;
}
