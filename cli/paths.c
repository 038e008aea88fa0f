/* paths.c: build tree, relocated install, or configured locations. */
#include "paths.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"

static bool self_exe(char *buf, size_t size) {
        ssize_t n = readlink("/proc/self/exe", buf, size - 1);
        if (n < 0)
                return false;
        buf[n] = '\0';
        return true;
}

static bool running_from_build_tree(void) {
        char self[PATH_MAX];
        if (!self_exe(self, sizeof self))
                return false;
        size_t lb = strlen(AP_BUILD_ROOT);
        return strncmp(self, AP_BUILD_ROOT, lb) == 0 && self[lb] == '/';
}

char *ap_path_prefix_of(const char *exe, const char *bindir) {
        if (!exe || !bindir || bindir[0] == '/' || exe[0] != '/')
                return NULL;
        const char *slash = strrchr(exe, '/');
        size_t dir_len = (size_t)(slash - exe); /* exe's directory, without the slash */
        size_t bl = strlen(bindir);
        while (bl > 0 && bindir[bl - 1] == '/')
                bl--;
        if (bl == 0 || dir_len < bl + 1 || exe[dir_len - bl - 1] != '/' ||
            strncmp(exe + dir_len - bl, bindir, bl) != 0)
                return NULL;
        size_t prefix_len = dir_len - bl - 1;
        return strndup(exe, prefix_len ? prefix_len : 1); /* "/bin/attachpy": prefix "/" */
}

/* PREFIX/rel when attachpy runs from PREFIX/bindir and PREFIX/rel exists. */
static char *relocated(const char *rel) {
        char self[PATH_MAX];
        if (rel[0] == '/' || !self_exe(self, sizeof self))
                return NULL;
        char *prefix = ap_path_prefix_of(self, AP_REL_BINDIR);
        char *p = NULL;
        if (prefix && asprintf(&p, "%s/%s", strcmp(prefix, "/") == 0 ? "" : prefix, rel) < 0)
                p = NULL;
        free(prefix);
        if (p && access(p, F_OK) != 0) {
                free(p);
                p = NULL;
        }
        return p;
}

char *ap_path_datadir(void) {
        const char *env = getenv("ATTACHPY_DATADIR");
        if (env && *env)
                return strdup(env);
        if (running_from_build_tree())
                return strdup(AP_SOURCE_ROOT);
        char *p = relocated(AP_REL_DATADIR);
        return p ? p : strdup(AP_INSTALLED_DATADIR);
}

char *ap_path_script(const char *dir, const char *file) {
        char *root = ap_path_datadir();
        char *p = NULL;
        if (!root || asprintf(&p, "%s/%s/%s", root, dir, file) < 0)
                p = NULL;
        free(root);
        return p;
}

char *ap_path_agent(void) {
        const char *env = getenv("ATTACHPY_AGENT");
        if (env && *env)
                return strdup(env);
        if (running_from_build_tree())
                return strdup(AP_AGENT_BUILD_PATH);
        char *p = NULL;
        if (asprintf(&p, "%s/%s", AP_REL_LIBDIR, AP_AGENT_FILENAME) >= 0) {
                char *r = relocated(p);
                free(p);
                if (r)
                        return r;
        }
        if (asprintf(&p, "%s/%s", AP_INSTALLED_LIBDIR, AP_AGENT_FILENAME) < 0)
                return NULL;
        return p;
}
