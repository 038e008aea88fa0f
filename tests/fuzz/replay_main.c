/* replay_main.c: a main() for a fuzz target in the normal (gcc) build.
 *
 *   replay_<target> SEED_DIR...
 *
 * Runs every file of the seed folders once through LLVMFuzzerTestOneInput,
 * so that the targets are compiled, and their properties checked on the
 * seeds, by every build: a target that no longer compiles fails the normal
 * build, not only tools/fuzz.sh.  Prints how many inputs it ran; an empty
 * or missing folder is a failure.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static int replay_file(const char *path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
                fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
                return -1;
        }
        size_t cap = 4096, len = 0;
        uint8_t *buf = malloc(cap);
        FUZZ_ASSERT(buf, "out of memory");
        size_t n;
        while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
                len += n;
                if (len == cap) {
                        cap *= 2;
                        buf = realloc(buf, cap);
                        FUZZ_ASSERT(buf, "out of memory");
                }
        }
        int bad = ferror(f);
        fclose(f);
        if (bad) {
                fprintf(stderr, "replay: cannot read %s\n", path);
                free(buf);
                return -1;
        }
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        return 0;
}

int main(int argc, char **argv) {
        int total = 0;
        for (int i = 1; i < argc; i++) {
                DIR *d = opendir(argv[i]);
                if (!d) {
                        fprintf(stderr, "replay: cannot open seed folder %s: %s\n", argv[i],
                                strerror(errno));
                        return 1;
                }
                int in_dir = 0;
                struct dirent *e;
                while ((e = readdir(d))) {
                        if (e->d_name[0] == '.')
                                continue;
                        char path[4096];
                        snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                        if (replay_file(path) < 0) {
                                closedir(d);
                                return 1;
                        }
                        in_dir++;
                }
                closedir(d);
                if (in_dir == 0) {
                        fprintf(stderr, "replay: seed folder %s is empty\n", argv[i]);
                        return 1;
                }
                total += in_dir;
        }
        printf("replay: %d inputs ran, every property held\n", total);
        return total > 0 ? 0 : 1;
}
