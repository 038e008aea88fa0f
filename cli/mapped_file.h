/* mapped_file.h: where attachpy can open a file that a process has mapped.
 *
 * /proc/PID/maps names each file as the kernel prints it for the reader:
 * for a target under another root directory in attachpy's mount namespace
 * (chroot, systemd's RootDirectory=) that is attachpy's view of the path
 * (/srv/root/usr/bin/python3); for a target in another mount namespace it is
 * usually the target's own view (/usr/bin/python3), reached through
 * /proc/PID/root.  Neither rule holds for every combination, so the
 * candidates are tried in turn and the one that is the mapped inode wins. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* One file mapping, as a line of /proc/PID/maps describes it. */
typedef struct ap_mapping_id {
        const char *path;   /* as maps prints it (without " (deleted)") */
        uint64_t start;     /* one mapping of the file: its range, for */
        uint64_t end;       /* /proc/PID/map_files */
        uint64_t offset;    /* the file offset of that mapping */
        unsigned dev_major; /* the device and inode maps prints */
        unsigned dev_minor;
        uint64_t inode;
        int deleted; /* maps said " (deleted)" */
} ap_mapping_id;

/* A path attachpy can open for the mapping (caller frees), or NULL when out
 * of memory.  In order: /proc/PID/root + path, the path itself, and
 * /proc/PID/map_files/START-END (which needs CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE); the first that is the mapped device and inode
 * wins, then the first that is the mapped inode (overlayfs reports the
 * lower layer's device), and when none is, the first that exists, else
 * /proc/PID/root + path (a deleted file: map_files). */
char *ap_mapped_file_locate(pid_t pid, const ap_mapping_id *m);

/* Parse one line of /proc/PID/maps that maps a file (path starting with
 * '/').  Returns 0 and fills *ret (ret->path points into line), -1 for any
 * other line.  Modifies nothing. */
int ap_mapping_parse_line(const char *line, ap_mapping_id *ret);
