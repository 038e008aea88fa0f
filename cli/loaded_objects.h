/* loaded_objects.h: the objects a process maps (from /proc/PID/maps, each
 * with a path attachpy can open whatever the process's root and mount
 * namespace), their load bias, and the C library's functions the debugger
 * calls (mmap, munmap, dlopen, dlsym, dlerror).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "elf_symbols.h"
#include "error.h"
#include "target.h"

/* One object mapped into the target, with its load bias. */
typedef struct ap_loaded_object {
        char *path;            /* as the target sees it */
        char *open_path;       /* where we can read it (/proc/PID/root/..., map_files) */
        uint64_t start;        /* lowest address mapped */
        uint64_t start_offset; /* file offset of that mapping */
} ap_loaded_object;

typedef struct ap_loaded_objects {
        ap_loaded_object *v;
        size_t n;
} ap_loaded_objects;

/* Read /proc/PID/maps into out (at most 4096 objects): 0, or -1 with
 * target_exited or permission_denied (with a hint).  Free out with
 * ap_loaded_objects_free in both cases. */
int ap_loaded_objects_read(pid_t pid, ap_loaded_objects *out, ap_error *err)
        __attribute__((warn_unused_result));
void ap_loaded_objects_free(ap_loaded_objects *l);

/* The last component of path. */
const char *ap_path_basename(const char *path);

/* The absolute address, in the process, of link-time address value in o. */
uint64_t ap_loaded_object_address(const ap_loaded_object *o, const ap_elf_info *info,
                                  uint64_t value);

/* The C library's (or libdl's) mmap, munmap, dlopen, dlsym and dlerror
 * into t, and t->libc_path.  -1 with injection_failed and a hint when the
 * process has no glibc or its loader lacks them. */
int ap_loader_find(ap_target *t, const ap_loaded_objects *objs, ap_error *err)
        __attribute__((warn_unused_result));
