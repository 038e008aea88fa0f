/* loaded_objects.c: the objects a process maps, and its loader's
 * functions. */
#include "loaded_objects.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mapped_file.h"
#include "proc.h"
#include "util.h"

#define MAX_OBJECTS 4096

void ap_loaded_objects_free(ap_loaded_objects *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].path);
                free(l->v[i].open_path);
        }
        free(l->v);
        l->v = NULL;
        l->n = 0;
}

int ap_loaded_objects_read(pid_t pid, ap_loaded_objects *out, ap_error *err) {
        _cleanup_free_ char *maps = NULL;
        if (ap_proc_read(pid, "maps", &maps, NULL) < 0) {
                if (errno == ENOENT || errno == ESRCH)
                        return ap_error_set(err, AP_ERR_TARGET_EXITED,
                                            "process %d exited while attachpy inspected it",
                                            (int)pid);
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "cannot read the memory map of process %d: %s", (int)pid,
                                    strerror(errno)),
                       ap_error_hint(err, "%s", ap_proc_unreadable_hint()), -1;
        }
        char *save = NULL;
        for (char *line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                ap_mapping_id m;
                if (ap_mapping_parse_line(line, &m) < 0)
                        continue;
                size_t plen = strlen(m.path) - (m.deleted ? strlen(" (deleted)") : 0);
                ap_loaded_object *o = NULL;
                for (size_t i = 0; i < out->n; i++)
                        if (strlen(out->v[i].path) == plen &&
                            strncmp(out->v[i].path, m.path, plen) == 0)
                                o = &out->v[i];
                if (o) {
                        if (m.start < o->start) {
                                o->start = m.start;
                                o->start_offset = m.offset;
                        }
                        continue;
                }
                if (out->n >= MAX_OBJECTS)
                        break;
                ap_loaded_object *nv = realloc(out->v, (out->n + 1) * sizeof *nv);
                if (!nv)
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
                out->v = nv;
                o = &out->v[out->n++];
                memset(o, 0, sizeof *o);
                o->path = strndup(m.path, plen);
                o->start = m.start;
                o->start_offset = m.offset;
                if (o->path) {
                        /* Under another root, or in another mount namespace:
                         * the candidate that is the mapped inode. */
                        m.path = o->path;
                        o->open_path = ap_mapped_file_locate(pid, &m);
                }
                if (!o->path || !o->open_path)
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
        }
        return 0;
}

const char *ap_path_basename(const char *path) {
        const char *b = strrchr(path, '/');
        return b ? b + 1 : path;
}

uint64_t ap_loaded_object_address(const ap_loaded_object *o, const ap_elf_info *info,
                                  uint64_t value) {
        uint64_t bias =
                o->start - (info->first_load_vaddr + (o->start_offset - info->first_load_offset));
        return bias + value;
}

int ap_loader_find(ap_target *t, const ap_loaded_objects *objs, ap_error *err) {
        enum { L_MMAP, L_MUNMAP, L_DLOPEN, L_DLSYM, L_DLERROR, L_COUNT_ };
        bool have[L_COUNT_] = {0};
        uint64_t *dest[L_COUNT_] = {&t->addr_mmap, &t->addr_munmap, &t->addr_dlopen, &t->addr_dlsym,
                                    &t->addr_dlerror};
        for (size_t i = 0; i < objs->n; i++) {
                const ap_loaded_object *o = &objs->v[i];
                const char *base = ap_path_basename(o->path);
                bool is_libc = strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-2.", 7) == 0;
                bool is_libdl =
                        strncmp(base, "libdl.so", 8) == 0 || strncmp(base, "libdl-2.", 8) == 0;
                if (!is_libc && !is_libdl)
                        continue;
                ap_elf_sym syms[L_COUNT_] = {{.name = "mmap"},
                                             {.name = "munmap"},
                                             {.name = "dlopen"},
                                             {.name = "dlsym"},
                                             {.name = "dlerror"}};
                ap_elf_info info;
                if (ap_elf_lookup(o->open_path, syms, L_COUNT_, &info, err) < 0)
                        return -1;
                for (size_t k = 0; k < L_COUNT_; k++) {
                        if (!syms[k].found || have[k])
                                continue;
                        *dest[k] = ap_loaded_object_address(o, &info, syms[k].value);
                        have[k] = true;
                }
                if (is_libc && !t->libc_path)
                        t->libc_path = strdup(o->path);
                ap_elf_info_free(&info);
        }
        if (!t->libc_path)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "process %d does not use the GNU C library (no libc.so.6 "
                                    "mapped)",
                                    (int)t->pid),
                       ap_error_hint(err, "attachpy needs glibc in the target (musl and static "
                                          "binaries are not supported)"),
                       -1;
        for (size_t k = 0; k < L_COUNT_; k++)
                if (!have[k])
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                            "the C library of process %d lacks dlopen/dlsym "
                                            "(glibc older than 2.34 without libdl loaded)",
                                            (int)t->pid),
                               ap_error_hint(err, "the target must have libdl loaded; 'import "
                                                  "ctypes' in it would load it"),
                               -1;
        return 0;
}
