/* test_mapped_file.c: parsing maps lines, and finding the file a mapping
 * is, whatever root the process has. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mapped_file.h"
#include "util.h"

static const struct {
        const char *line;
        int ok;
        const char *path;
        unsigned long long start, end, offset, inode;
        unsigned maj, min;
        int deleted;
} lines[] = {
        {"7f1c2a000000-7f1c2a022000 r--p 00000000 fe:01 1234567                    "
         "/usr/lib/x86_64-linux-gnu/libc.so.6",
         0, "/usr/lib/x86_64-linux-gnu/libc.so.6", 0x7f1c2a000000, 0x7f1c2a022000, 0, 1234567, 0xfe,
         1, 0},
        {"55d0c0000000-55d0c0001000 r-xp 00001000 00:2a 99 /srv/root/usr/bin/python3.14", 0,
         "/srv/root/usr/bin/python3.14", 0x55d0c0000000, 0x55d0c0001000, 0x1000, 99, 0, 0x2a, 0},
        {"7f00-8f00 rw-p 00002000 08:03 42 /tmp/x (deleted)", 0, "/tmp/x (deleted)", 0x7f00, 0x8f00,
         0x2000, 42, 8, 3, 1},
        {.line = "7ffd1000-7ffd2000 rw-p 00000000 00:00 0                  [stack]", .ok = -1},
        {.line = "7ffd1000-7ffd2000 rw-p 00000000 00:00 0", .ok = -1},
        {.line = "garbage", .ok = -1},
        {.line = "", .ok = -1},
};

START_TEST(test_parse_line) {
        ap_mapping_id m;
        int r = ap_mapping_parse_line(lines[_i].line, &m);
        ck_assert_int_eq(r, lines[_i].ok);
        if (r < 0)
                return;
        ck_assert_str_eq(m.path, lines[_i].path);
        ck_assert_uint_eq(m.start, lines[_i].start);
        ck_assert_uint_eq(m.end, lines[_i].end);
        ck_assert_uint_eq(m.offset, lines[_i].offset);
        ck_assert_uint_eq(m.inode, lines[_i].inode);
        ck_assert_uint_eq(m.dev_major, lines[_i].maj);
        ck_assert_uint_eq(m.dev_minor, lines[_i].min);
        ck_assert_int_eq(m.deleted, lines[_i].deleted);
}
END_TEST

static ap_mapping_id id_of(const char *path) {
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ap_mapping_id m = {.path = path,
                           .start = 0x1000,
                           .end = 0x2000,
                           .dev_major = major(st.st_dev),
                           .dev_minor = minor(st.st_dev),
                           .inode = st.st_ino};
        return m;
}

/* Our own root: /proc/PID/root + path is the file itself. */
START_TEST(test_locate_same_root) {
        char tmpl[] = "/tmp/attachpy-test-mapped-XXXXXX";
        int fd = mkstemp(tmpl);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ap_mapping_id m = id_of(tmpl);
        _cleanup_free_ char *p = ap_mapped_file_locate(getpid(), &m);
        char want[128];
        snprintf(want, sizeof want, "/proc/%d/root%s", (int)getpid(), tmpl);
        ck_assert_str_eq(p, want);
        unlink(tmpl);
}
END_TEST

/* A process under another root (a chroot) in attachpy's mount namespace:
 * maps prints attachpy's view of the path, which does not exist under
 * /proc/PID/root; the path itself is the mapped inode and wins. */
START_TEST(test_locate_chroot) {
        if (geteuid() != 0) {
                fprintf(stderr, "SKIP test_locate_chroot: needs root (chroot)\n");
                return;
        }
        char dir[] = "/tmp/attachpy-test-root-XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(dir));
        char lib[300];
        snprintf(lib, sizeof lib, "%s/lib.so", dir);
        int fd = open(lib, O_CREAT | O_WRONLY, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, 4096), 0);
        close(fd);
        int ready[2];
        ck_assert_int_eq(pipe(ready), 0);
        pid_t child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                if (chroot(dir) < 0 || chdir("/") < 0)
                        _exit(1);
                int f = open("/lib.so", O_RDONLY);
                if (f < 0 || mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, f, 0) == MAP_FAILED)
                        _exit(2);
                (void)!write(ready[1], "r", 1);
                pause();
                _exit(0);
        }
        close(ready[1]);
        char c;
        ck_assert_int_eq(read(ready[0], &c, 1), 1);
        close(ready[0]);
        char maps_path[64];
        snprintf(maps_path, sizeof maps_path, "/proc/%d/maps", (int)child);
        _cleanup_free_ char *maps = NULL;
        ck_assert_int_eq(ap_read_file(maps_path, 1 << 20, &maps, NULL), 0);
        char *save = NULL, *located = NULL;
        for (char *line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                ap_mapping_id m;
                if (ap_mapping_parse_line(line, &m) == 0 && strstr(m.path, "/lib.so")) {
                        /* attachpy's view, not the child's "/lib.so" */
                        ck_assert_str_eq(m.path, lib);
                        located = ap_mapped_file_locate(child, &m);
                }
        }
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        ck_assert_ptr_nonnull(located);
        ck_assert_str_eq(located, lib);
        free(located);
        unlink(lib);
        rmdir(dir);
}
END_TEST

/* A deleted file: only map_files can reach it. */
START_TEST(test_locate_deleted) {
        ap_mapping_id m = {
                .path = "/nonexistent/lib.so", .start = 0xabc000, .end = 0xabd000, .deleted = 1};
        _cleanup_free_ char *p = ap_mapped_file_locate(1234, &m);
        ck_assert_str_eq(p, "/proc/1234/map_files/abc000-abd000");
}
END_TEST

/* Nothing exists: the old default, /proc/PID/root + path. */
START_TEST(test_locate_nothing_exists) {
        ap_mapping_id m = {.path = "/nonexistent/lib.so", .start = 0x1000, .end = 0x2000};
        _cleanup_free_ char *p = ap_mapped_file_locate(1234, &m);
        ck_assert_str_eq(p, "/proc/1234/root/nonexistent/lib.so");
}
END_TEST

static Suite *mapped_file_suite(void) {
        Suite *s = suite_create("mapped_file");
        TCase *tc = tcase_create("parse");
        tcase_add_loop_test(tc, test_parse_line, 0, AP_ARRAY_SIZE(lines));
        suite_add_tcase(s, tc);
        tc = tcase_create("locate");
        tcase_add_test(tc, test_locate_same_root);
        tcase_add_test(tc, test_locate_chroot);
        tcase_add_test(tc, test_locate_deleted);
        tcase_add_test(tc, test_locate_nothing_exists);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(mapped_file_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
