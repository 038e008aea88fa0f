/* test_session.c: the private session.  Where it is made and who owns what
 * (same user, another user, a target in another mount namespace: a directory
 * standing in for /proc/PID/root), that nothing planted in the way is
 * followed, that only the target's own connection is accepted, and that
 * nothing is left behind.  The cases that hand files to another user need
 * root; they say SKIP otherwise. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "session.h"
#include "util.h"

#define NOBODY 65534

static ap_session session;
static ap_error error;
static char scratch[PATH_MAX]; /* a temporary directory for each test */

static void rm_rf(const char *path) {
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
        (void)!system(cmd);
}

static void setup(void) {
        session = (ap_session)AP_SESSION_INIT;
        ap_error_clear(&error);
        snprintf(scratch, sizeof scratch, "/tmp/test-session-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(scratch));
}

static void teardown(void) {
        ap_session_destroy(&session);
        ap_error_clear(&error);
        rm_rf(scratch);
}

static ap_target me(void) {
        ap_target t;
        memset(&t, 0, sizeof t);
        t.pid = getpid();
        t.uid = geteuid();
        t.gid = getegid();
        t.same_root = true;
        return t;
}

static void expect_mode(const char *path, mode_t mode, uid_t uid) {
        struct stat st;
        ck_assert_msg(lstat(path, &st) == 0, "%s: %s", path, strerror(errno));
        ck_assert_msg((st.st_mode & 07777) == mode, "%s: mode %o, want %o", path,
                      (unsigned)(st.st_mode & 07777), (unsigned)mode);
        ck_assert_msg(st.st_uid == uid, "%s: uid %u, want %u", path, (unsigned)st.st_uid,
                      (unsigned)uid);
}

static bool exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0;
}

static char *join(const char *a, const char *b) {
        char *p = NULL;
        ck_assert_int_ge(asprintf(&p, "%s/%s", a, b), 0);
        return p;
}

START_TEST(test_same_user) {
        ap_target t = me();
        ck_assert_int_eq(ap_session_create(&session, &t, &error), 0);
        ck_assert_ptr_nonnull(session.dir);
        ck_assert_int_eq(strncmp(session.dir, "/tmp/attachpy-", 14), 0);
        ck_assert_uint_eq(strlen(session.dir), strlen("/tmp/attachpy-") + 10);
        ck_assert_str_eq(session.dir, session.target_dir);
        expect_mode(session.dir, 0700, geteuid());

        ck_assert_int_eq(ap_session_write(&session, "request", "x", 1, &error), 0);
        _cleanup_free_ char *req = ap_session_path(&session, "request");
        expect_mode(req, 0600, geteuid());
        /* A second file of the same name is an error, never a replacement. */
        ck_assert_int_eq(ap_session_write(&session, "request", "y", 1, &error), -1);
        ck_assert_str_eq(ap_code_name(error.code), "injection_failed");
        ap_error_clear(&error);

        _cleanup_free_ char *script = NULL;
        ck_assert_int_eq(ap_session_write_script(&session, "inject.gdb", "s", 1, &script, &error),
                         0);
        _cleanup_free_ char *want = join(session.dir, "inject.gdb");
        ck_assert_str_eq(script, want);
        ck_assert_int_eq(ap_session_listen(&session, &error), 0);
        _cleanup_free_ char *sock = ap_session_path(&session, "result.sock");
        expect_mode(sock, 0600, geteuid());

        /* The agent: its own path, readable by the same user. */
        ck_assert_int_eq(ap_session_stage_agent(&session, &t, "/bin/true", &error), 0);
        ck_assert_str_eq(session.agent, "/bin/true");

        _cleanup_free_ char *dir = strdup(session.dir);
        ap_session_destroy(&session);
        ck_assert_msg(!exists(dir), "%s left behind", dir);
        ap_session_destroy(&session); /* twice is fine */
}
END_TEST

START_TEST(test_other_user) {
        if (geteuid() != 0) {
                const char *ci = getenv("CI");
                ck_assert_msg(!(ci && strcmp(ci, "true") == 0), "CI=true: needs root");
                fprintf(stderr, "SKIP test_other_user: needs root\n");
                return;
        }
        ap_target t = me();
        t.uid = NOBODY;
        t.gid = NOBODY;
        ck_assert_int_eq(ap_session_create(&session, &t, &error), 0);
        /* The target's user may enter, not change: the directory is root's. */
        expect_mode(session.dir, 0711, 0);
        ck_assert_int_eq(ap_session_write(&session, "request", "x", 1, &error), 0);
        ck_assert_int_eq(ap_session_listen(&session, &error), 0);
        _cleanup_free_ char *script = NULL;
        ck_assert_int_eq(ap_session_write_script(&session, "inject.gdb", "s", 1, &script, &error),
                         0);
        _cleanup_free_ char *req = ap_session_path(&session, "request");
        _cleanup_free_ char *sock = ap_session_path(&session, "result.sock");
        expect_mode(req, 0600, NOBODY);
        expect_mode(sock, 0600, NOBODY);
        expect_mode(script, 0600, 0); /* root's: nobody cannot change what gdb runs */

        /* An agent nobody cannot read is copied in, nobody's, 0500. */
        _cleanup_free_ char *hidden = join(scratch, "hidden");
        ck_assert_int_eq(mkdir(hidden, 0700), 0);
        _cleanup_free_ char *agent = join(hidden, "agent.so");
        int fd = open(agent, O_WRONLY | O_CREAT | O_EXCL, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "\177ELF-agent", 10), 10);
        close(fd);
        ck_assert_int_eq(ap_session_stage_agent(&session, &t, agent, &error), 0);
        _cleanup_free_ char *copy_target = join(session.target_dir, "attachpy-agent.so");
        ck_assert_str_eq(session.agent, copy_target);
        _cleanup_free_ char *copy = ap_session_path(&session, "attachpy-agent.so");
        expect_mode(copy, 0500, NOBODY);
        char *data = NULL;
        size_t len = 0;
        ck_assert_int_eq(ap_read_file(copy, 100, &data, &len), 0);
        ck_assert_uint_eq(len, 10);
        ck_assert_int_eq(memcmp(data, "\177ELF-agent", 10), 0);
        free(data);

        /* One nobody can read is used where it is. */
        ap_session_destroy(&session);
        ck_assert_int_eq(chmod(hidden, 0755), 0);
        ck_assert_int_eq(chmod(scratch, 0755), 0);
        ck_assert_int_eq(ap_session_create(&session, &t, &error), 0);
        ck_assert_int_eq(ap_session_stage_agent(&session, &t, agent, &error), 0);
        ck_assert_str_eq(session.agent, agent);
}
END_TEST

/* A directory standing in for /proc/PID/root of a target in a container. */
START_TEST(test_foreign_root) {
        _cleanup_free_ char *tmp = join(scratch, "tmp");
        ck_assert_int_eq(mkdir(tmp, 01777), 0);
        ap_target t = me();
        t.same_root = false;
        ck_assert_int_eq(ap_session_create_in(&session, &t, scratch, &error), 0);
        /* Created in the target's /tmp, named as the target sees it. */
        char want[PATH_MAX + 8];
        snprintf(want, sizeof want, "%s/tmp/", scratch);
        ck_assert_int_eq(strncmp(session.dir, want, strlen(want)), 0);
        ck_assert_int_eq(strncmp(session.target_dir, "/tmp/attachpy-", 14), 0);
        ck_assert_str_eq(session.dir + strlen(scratch), session.target_dir);

        /* The debugger script stays in attachpy's own /tmp. */
        _cleanup_free_ char *script = NULL;
        ck_assert_int_eq(ap_session_write_script(&session, "inject.gdb", "s", 1, &script, &error),
                         0);
        ck_assert_int_eq(strncmp(script, "/tmp/attachpy-", 14), 0);
        expect_mode(script, 0600, geteuid());
        _cleanup_free_ char *in_target = ap_session_path(&session, "inject.gdb");
        ck_assert(!exists(in_target));

        /* The agent is copied in: the target may not see attachpy's files. */
        ck_assert_int_eq(ap_session_stage_agent(&session, &t, "/bin/true", &error), 0);
        _cleanup_free_ char *copy = join(session.target_dir, "attachpy-agent.so");
        ck_assert_str_eq(session.agent, copy);

        /* The socket binds in the target's directory. */
        ck_assert_int_eq(ap_session_listen(&session, &error), 0);
        _cleanup_free_ char *sock = ap_session_path(&session, "result.sock");
        struct stat st;
        ck_assert_int_eq(lstat(sock, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));

        _cleanup_free_ char *dir = strdup(session.dir);
        char *private_dir = strdup(script);
        *strrchr(private_dir, '/') = '\0';
        ap_session_destroy(&session);
        ck_assert(!exists(dir));
        ck_assert(!exists(private_dir));
        free(private_dir);
}
END_TEST

START_TEST(test_foreign_root_tmp_symlink) {
        /* The container's /tmp is a symbolic link (to its /elsewhere, which
         * attachpy would resolve in its own namespace): refused, nothing
         * created anywhere. */
        _cleanup_free_ char *elsewhere = join(scratch, "elsewhere");
        _cleanup_free_ char *tmp = join(scratch, "tmp");
        ck_assert_int_eq(mkdir(elsewhere, 0777), 0);
        ck_assert_int_eq(symlink(elsewhere, tmp), 0);
        ap_target t = me();
        t.same_root = false;
        ck_assert_int_eq(ap_session_create_in(&session, &t, scratch, &error), -1);
        ck_assert_str_eq(ap_code_name(error.code), "injection_failed");
        ck_assert_msg(strstr(error.message, "is not a directory"), "%s", error.message);
        ck_assert_ptr_null(session.dir);
        ck_assert_int_eq(rmdir(elsewhere), 0); /* empty */
}
END_TEST

START_TEST(test_planted_files_not_followed) {
        ap_target t = me();
        ck_assert_int_eq(ap_session_create(&session, &t, &error), 0);
        _cleanup_free_ char *victim = join(scratch, "victim");
        int fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "precious", 8), 8);
        close(fd);

        /* A symlink where the request goes: refused, the victim untouched. */
        _cleanup_free_ char *req = ap_session_path(&session, "request");
        ck_assert_int_eq(symlink(victim, req), 0);
        ck_assert_int_eq(ap_session_write(&session, "request", "evil", 4, &error), -1);
        ck_assert_str_eq(ap_code_name(error.code), "injection_failed");
        ck_assert_msg(strstr(error.message, "File exists"), "%s", error.message);
        ap_error_clear(&error);
        /* A file where the socket goes. */
        _cleanup_free_ char *sock = ap_session_path(&session, "result.sock");
        ck_assert_int_eq(symlink(victim, sock), 0);
        ck_assert_int_eq(ap_session_listen(&session, &error), -1);
        ck_assert_str_eq(ap_code_name(error.code), "injection_failed");
        ap_error_clear(&error);

        char *data = NULL;
        ck_assert_int_eq(ap_read_file(victim, 100, &data, NULL), 0);
        ck_assert_str_eq(data, "precious");
        free(data);
        struct stat st;
        ck_assert_int_eq(stat(victim, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        /* What attachpy did not create it does not remove either (the
         * directory then stays: the test removes it). */
        ck_assert_int_eq(unlink(req), 0);
        ck_assert_int_eq(unlink(sock), 0);
}
END_TEST

/* Connect to the session's socket from a child; returns its pid.  The
 * child stays connected until killed. */
static pid_t connect_from_child(const char *path) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int fd = socket(AF_UNIX, SOCK_STREAM, 0);
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
                if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
                        _exit(1);
                (void)!write(fd, "FORGED", 6);
                for (;;)
                        pause();
        }
        return pid;
}

static void end(pid_t pid) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

START_TEST(test_accept_only_the_target) {
        ap_target t = me();
        ck_assert_int_eq(ap_session_create(&session, &t, &error), 0);
        ck_assert_int_eq(ap_session_listen(&session, &error), 0);
        _cleanup_free_ char *sock = ap_session_path(&session, "result.sock");

        /* Another process connects first (a leftover agent, a forger): it
         * is not the target, so it is never accepted as the agent. */
        pid_t forger = connect_from_child(sock);
        pid_t target = connect_from_child(sock);
        int c = ap_session_accept(&session, target, -1, ap_now_ms() + 5000, &error);
        ck_assert_msg(c >= 0, "%s", error.message ? error.message : "?");
        struct ucred cred;
        socklen_t len = sizeof cred;
        ck_assert_int_eq(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len), 0);
        ck_assert_int_eq(cred.pid, target);
        close(c);

        /* Only a forger: the deadline passes, nothing accepted. */
        pid_t forger2 = connect_from_child(sock);
        c = ap_session_accept(&session, target, -1, ap_now_ms() + 300, &error);
        end(forger);
        end(forger2);
        end(target);
        /* -2: the deadline passed, the caller words the error. */
        ck_assert_int_eq(c, -2);
        ck_assert_int_eq(error.code, AP_OK);
}
END_TEST

static Suite *session_suite(void) {
        Suite *s = suite_create("session");
        TCase *tc = tcase_create("session");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_same_user);
        tcase_add_test(tc, test_other_user);
        tcase_add_test(tc, test_foreign_root);
        tcase_add_test(tc, test_foreign_root_tmp_symlink);
        tcase_add_test(tc, test_planted_files_not_followed);
        tcase_add_test(tc, test_accept_only_the_target);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(session_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
