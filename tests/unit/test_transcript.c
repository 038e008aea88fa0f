/* test_transcript.c: the marker-line classifier, on transcripts recorded from
 * real gdb runs (tests/fixtures/transcripts, made by
 * tests/unit/record-transcripts.sh) and on synthetic ones for the cases a
 * real run cannot produce on demand. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "build-config.h"
#include "transcript.h"
#include "util.h"

/* ---- fixtures -------------------------------------------------------------- */

/* ATTACHPY_FIXTURES (meson sets it), else ../fixtures next to this file
 * (__FILE__ is relative to where it was compiled), else the source tree the
 * build was configured from. */
static char *fixtures_dir(void) {
        const char *env = getenv("ATTACHPY_FIXTURES");
        char *dir = NULL;
        if (env && *env) {
                ck_assert_int_ge(asprintf(&dir, "%s/transcripts", env), 0);
                return dir;
        }
        char *file = strdup(__FILE__);
        ck_assert_int_ge(asprintf(&dir, "%s/../fixtures/transcripts", dirname(file)), 0);
        free(file);
        if (access(dir, R_OK) == 0)
                return dir;
        free(dir);
        ck_assert_int_ge(asprintf(&dir, "%s/tests/fixtures/transcripts", AP_SOURCE_ROOT), 0);
        return dir;
}

typedef struct fixture {
        char *text;
        ap_debugger_end end;
        pid_t pid;
} fixture;

/* Parse a .end line: ["deadline"] ("exit N" | "signal N") "pid N" ["timeout S"]. */
static void parse_end(const char *line, fixture *f, const char *name) {
        memset(&f->end, 0, sizeof f->end);
        f->end.timeout_s = 30.0;
        f->pid = 0;
        bool how = false;
        char *copy = strdup(line), *save = NULL;
        for (char *w = strtok_r(copy, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
                if (strcmp(w, "deadline") == 0) {
                        f->end.deadline_hit = true;
                        continue;
                }
                char *arg = strtok_r(NULL, " \n", &save);
                ck_assert_msg(arg, "%s.end: '%s' without a value", name, w);
                if (strcmp(w, "exit") == 0) {
                        f->end.exited = true;
                        f->end.exit_code = atoi(arg);
                        how = true;
                } else if (strcmp(w, "signal") == 0) {
                        f->end.exited = false;
                        f->end.term_signal = atoi(arg);
                        how = true;
                } else if (strcmp(w, "pid") == 0) {
                        f->pid = (pid_t)atoi(arg);
                } else if (strcmp(w, "timeout") == 0) {
                        f->end.timeout_s = strtod(arg, NULL);
                } else {
                        ck_abort_msg("%s.end: unknown word '%s'", name, w);
                }
        }
        free(copy);
        ck_assert_msg(how, "%s.end says neither exit nor signal", name);
        ck_assert_msg(f->pid > 0, "%s.end has no pid", name);
}

static void load_fixture(const char *name, fixture *f) {
        char *dir = fixtures_dir();
        char *txt = NULL, *end = NULL, *end_text = NULL;
        ck_assert_int_ge(asprintf(&txt, "%s/%s.txt", dir, name), 0);
        ck_assert_int_ge(asprintf(&end, "%s/%s.end", dir, name), 0);
        int r = ap_read_file(txt, 4 * 1024 * 1024, &f->text, NULL);
        ck_assert_msg(r == 0, "cannot read %s: %s (set ATTACHPY_FIXTURES)", txt, strerror(errno));
        r = ap_read_file(end, 4096, &end_text, NULL);
        ck_assert_msg(r == 0, "cannot read %s: %s", end, strerror(errno));
        parse_end(end_text, f, name);
        free(end_text);
        free(txt);
        free(end);
        free(dir);
}

/* "%PID%" in a fragment stands for the fixture's pid. */
static char *expand_pid(const char *fragment, pid_t pid) {
        const char *at = strstr(fragment, "%PID%");
        char *s = NULL;
        if (at)
                ck_assert_int_ge(
                        asprintf(&s, "%.*s%d%s", (int)(at - fragment), fragment, (int)pid, at + 5),
                        0);
        else
                s = strdup(fragment);
        return s;
}

typedef struct expectation {
        const char *name;
        int rc; /* 0: the agent started */
        ap_code code;
        ap_stage stage;
        const char *safepoint; /* "" when none was reached */
        bool has_start_rc;
        int start_rc;
        bool scheduled; /* a "scheduled" marker: queued with Py_AddPendingCall */
        int queue_rc;
        bool armed; /* the script armed the queued call */
        bool moved, mismatch;
        const char *message[4]; /* fragments of the message */
        const char *hint;       /* a fragment of the hint, or NULL */
} expectation;

/* What each recorded transcript must classify as.  Recorded with
 * tests/unit/record-transcripts.sh (faults provoked with ATTACHPY_FAULT,
 * cli/fault.h). */
#define OK_DIRECT(n, sp)                                                                           \
        {                                                                                          \
                .name = n, .rc = 0, .code = AP_OK, .stage = AP_STAGE_DETACHED, .safepoint = sp,    \
                .has_start_rc = true, .start_rc = 0                                                \
        }
#define OK_SCHEDULED(n)                                                                            \
        {                                                                                          \
                .name = n, .rc = 0, .code = AP_OK, .stage = AP_STAGE_DETACHED, .safepoint = "",    \
                .scheduled = true, .queue_rc = 0, .armed = true                                    \
        }
static const expectation recorded[] = {
        /* gdb: every thread sleeps; the trampoline called in the main
         * thread, parked in clock_nanosleep. */
        OK_DIRECT("idle-parked", "parked"),
        /* gdb: the main thread runs bytecode; the trampoline queued. */
        OK_SCHEDULED("busy-scheduled"),
        /* gdb: every thread in a futex wait: queued first; the call did
         * not run, was withdrawn, and the second run called in a futex
         * waiter. */
        OK_SCHEDULED("lockwait-scheduled"),
        OK_DIRECT("lockwait-futex", "futex"),
        /* ATTACHPY_FAULT=moved: the thread guard failed. */
        {.name = "moved",
         .rc = -1,
         .code = AP_ERR_INJECTION_FAILED,
         .stage = AP_STAGE_ATTACHED,
         .safepoint = "",
         .moved = true,
         .message = {"process %PID% was no longer where attachpy saw it when gdb stopped it",
                     "nothing was injected", NULL},
         .hint = "again"},
        /* ATTACHPY_FAULT=wrong-code: Py_AddPendingCall's bytes differ. */
        {.name = "mismatch",
         .rc = -1,
         .code = AP_ERR_INJECTION_FAILED,
         .stage = AP_STAGE_ATTACHED,
         .safepoint = "",
         .mismatch = true,
         .message = {"process %PID% is not the program attachpy inspected", NULL},
         .hint = "nothing was injected"},
        /* ATTACHPY_AGENT=a text file: dlopen's error in the message. */
        {.name = "dlopen-failed",
         .rc = -1,
         .code = AP_ERR_INJECTION_FAILED,
         .stage = AP_STAGE_DETACHED,
         .safepoint = "parked",
         .message = {"process %PID% could not load the attachpy agent: ", "/not-an-elf.so: ", NULL},
         .hint = "agent library"},
        /* The target SIGKILLed while gdb held it (pause-after:attached):
         * gdb's next read fails with "Cannot access memory", which the
         * transcript alone cannot tell from a changed memory map.  (Reported
         * to the lead: a dead target shows as INJECTION_FAILED unless
         * inject.c looks at /proc afterwards.) */
        {.name = "target-killed",
         .rc = -1,
         .code = AP_ERR_INJECTION_FAILED,
         .stage = AP_STAGE_ATTACHED,
         .safepoint = "",
         .message = {"gdb could not access the memory of process %PID%", NULL},
         .hint = "run attachpy again"},
        /* gdb SIGKILLed after it queued the call and before it armed it
         * (pause-after:called, a busy target): queued, not armed. */
        {.name = "debugger-killed-unarmed",
         .rc = 0,
         .code = AP_OK,
         .stage = AP_STAGE_STARTED,
         .safepoint = "",
         .scheduled = true,
         .queue_rc = 0,
         .armed = false},
        /* gdb SIGKILLed after it mapped the page (pause-after:mapped). */
        {.name = "debugger-killed",
         .rc = -1,
         .code = AP_ERR_DEBUGGER_FAILED,
         .stage = AP_STAGE_SAFEPOINT,
         .safepoint = "parked",
         .message = {"gdb was killed by signal 9 (", "while loading the agent", NULL},
         .hint = "--verbose"},
        {.name = "no-such-process",
         .rc = -1,
         .code = AP_ERR_TARGET_EXITED,
         .stage = AP_STAGE_NONE,
         .safepoint = "",
         .message = {"process %PID% exited before gdb could attach to it", NULL},
         .hint = "nothing left"},
        {.name = "permission-denied",
         .rc = -1,
         .code = AP_ERR_PERMISSION_DENIED,
         .stage = AP_STAGE_NONE,
         .safepoint = "",
         .message = {"the kernel did not allow gdb to trace process %PID%", NULL},
         .hint = "ptrace_scope"},
        /* lldb 14 (cli/backend_lldb.c): every transcript starts with the
         * traceback of its missing Python, and echoes each command. */
        OK_DIRECT("lldb-idle-parked", "parked"),
        OK_SCHEDULED("lldb-busy-scheduled"),
        {.name = "lldb-dlopen-failed",
         .rc = -1,
         .code = AP_ERR_INJECTION_FAILED,
         .stage = AP_STAGE_DETACHED,
         .safepoint = "parked",
         .message = {"process %PID% could not load the attachpy agent", NULL},
         .hint = "agent library"},
        {.name = "lldb-mismatch",
         .rc = -1,
         .code = AP_ERR_INJECTION_FAILED,
         .stage = AP_STAGE_ATTACHED,
         .safepoint = "",
         .mismatch = true,
         .message = {"process %PID% is not the program attachpy inspected", NULL},
         .hint = "nothing was injected"},
        {.name = "lldb-moved",
         .rc = -1,
         .code = AP_ERR_INJECTION_FAILED,
         .stage = AP_STAGE_ATTACHED,
         .safepoint = "",
         .moved = true,
         .message = {"process %PID% was no longer where attachpy saw it when lldb stopped it",
                     NULL},
         .hint = "again"},
        {.name = "lldb-no-such-process",
         .rc = -1,
         .code = AP_ERR_TARGET_EXITED,
         .stage = AP_STAGE_NONE,
         .safepoint = "",
         .message = {"process %PID% exited before lldb could attach to it", NULL},
         .hint = "nothing left"},
        {.name = "lldb-permission-denied",
         .rc = -1,
         .code = AP_ERR_PERMISSION_DENIED,
         .stage = AP_STAGE_NONE,
         .safepoint = "",
         .message = {"the kernel did not allow lldb to trace process %PID%", NULL},
         .hint = "ptrace_scope"},
};

/* Fixtures named lldb-* were recorded with lldb. */
static bool is_lldb(const char *name) { return strncmp(name, "lldb-", 5) == 0; }

static void check_expectation(const expectation *x, const char *text, pid_t pid,
                              const ap_debugger_end *end) {
        ap_transcript_outcome o;
        memset(&o, 0x55, sizeof o);
        ap_error err = AP_ERROR_INIT;
        const ap_backend *b = is_lldb(x->name) ? &ap_backend_lldb : &ap_backend_gdb;
        int rc = ap_transcript_classify(text, b->name, pid, end, b->patterns, &o, &err);
        ck_assert_msg(rc == x->rc, "%s: classify returned %d (%s: %s)", x->name, rc,
                      ap_code_name(err.code) ? ap_code_name(err.code) : "ok",
                      err.message ? err.message : "");
        ck_assert_msg(err.code == x->code, "%s: code %s, want %s (%s)", x->name,
                      ap_code_name(err.code) ? ap_code_name(err.code) : "ok",
                      ap_code_name(x->code) ? ap_code_name(x->code) : "ok",
                      err.message ? err.message : "");
        ck_assert_msg(o.stage == x->stage, "%s: stage %d, want %d", x->name, o.stage, x->stage);
        ck_assert_msg(strcmp(o.safepoint, x->safepoint) == 0, "%s: safepoint '%s', want '%s'",
                      x->name, o.safepoint, x->safepoint);
        ck_assert_msg(o.scheduled == x->scheduled, "%s: scheduled %d", x->name, o.scheduled);
        if (x->scheduled) {
                ck_assert_msg(o.queue_rc == x->queue_rc, "%s: queue_rc %d", x->name, o.queue_rc);
                /* A page address, page-aligned, in user space. */
                ck_assert_msg(o.page != 0 && o.page % 4096 == 0 && o.page < (1ULL << 47),
                              "%s: page %#llx", x->name, o.page);
        }
        ck_assert_msg(o.armed == x->armed, "%s: armed %d", x->name, o.armed);
        ck_assert_msg(o.moved == x->moved, "%s: moved %d", x->name, o.moved);
        ck_assert_msg(o.mismatch == x->mismatch, "%s: mismatch %d", x->name, o.mismatch);
        ck_assert_msg(o.has_start_rc == x->has_start_rc, "%s: has_start_rc %d", x->name,
                      o.has_start_rc);
        if (x->has_start_rc)
                ck_assert_int_eq(o.start_rc, x->start_rc);
        ck_assert_int_eq(ap_transcript_stage(text), x->stage);
        if (x->rc == 0) {
                ck_assert_ptr_null(err.message);
                return;
        }
        ck_assert_ptr_nonnull(err.message);
        for (size_t i = 0; x->message[i]; i++) {
                char *frag = expand_pid(x->message[i], pid);
                ck_assert_msg(strstr(err.message, frag), "%s: message lacks '%s': %s", x->name,
                              frag, err.message);
                free(frag);
        }
        ck_assert_msg(!strchr(err.message, '\r') && !strchr(err.message, '\n'),
                      "%s: message spans lines: %s", x->name, err.message);
        if (x->hint)
                ck_assert_msg(err.hint && strstr(err.hint, x->hint), "%s: hint lacks '%s': %s",
                              x->name, x->hint, err.hint ? err.hint : "(none)");
        ap_error_clear(&err);
}

START_TEST(test_drive_markers) {
        /* The interactive drive's markers (inject.c drive_step): counted by
         * word, only at the start of a line, never in an echoed command. */
        const char *text = "@@ATTACHPY:attached\n"
                           "@@ATTACHPY:stopped\n"
                           "(lldb) platform shell echo @@ATTACHPY:fit 2\n"
                           "@@ATTACHPY:unfit\n"
                           "@@ATTACHPY:unfitx\n"
                           " @@ATTACHPY:unfit\n"
                           "@@ATTACHPY:unfit\r\n"
                           "@@ATTACHPY:fit 1\n";
        ck_assert(ap_transcript_has_marker(text, "stopped"));
        ck_assert(!ap_transcript_has_marker(text, "ready"));
        ck_assert_int_eq(ap_transcript_count_marker(text, "unfit"), 2);
        ck_assert_int_eq(ap_transcript_count_marker(text, "fit"), 1);
        ck_assert_int_eq(ap_transcript_count_marker(NULL, "fit"), 0);
        /* Neither changes the outcome: an unfit plan replaced while the
         * target was stopped is no "moved". */
        ck_assert_int_eq(ap_transcript_stage(text), AP_STAGE_ATTACHED);
}
END_TEST

START_TEST(test_recorded) {
        const expectation *x = &recorded[_i];
        fixture f;
        load_fixture(x->name, &f);
        check_expectation(x, f.text, f.pid, &f.end);
        free(f.text);
}
END_TEST

START_TEST(test_recorded_crlf) {
        /* The same transcripts with CRLF line ends classify the same. */
        const expectation *x = &recorded[_i];
        fixture f;
        load_fixture(x->name, &f);
        ap_buf crlf = {0};
        for (const char *p = f.text; *p; p++) {
                if (*p == '\n')
                        ck_assert_int_eq(ap_buf_append(&crlf, "\r", 1), 0);
                ck_assert_int_eq(ap_buf_append(&crlf, p, 1), 0);
        }
        check_expectation(x, crlf.data ? crlf.data : "", f.pid, &f.end);
        ap_buf_free(&crlf);
        free(f.text);
}
END_TEST

START_TEST(test_recorded_prefixes) {
        /* While gdb runs, the stage seen in the transcript so far only ever
         * rises, and ends where the whole transcript is. */
        const expectation *x = &recorded[_i];
        fixture f;
        load_fixture(x->name, &f);
        size_t len = strlen(f.text);
        ap_stage last = AP_STAGE_NONE;
        for (size_t n = 0; n <= len; n++) {
                char saved = f.text[n];
                f.text[n] = '\0';
                ap_stage s = ap_transcript_stage(f.text);
                f.text[n] = saved;
                ck_assert_msg(s >= last, "%s: stage fell from %d to %d at byte %zu", x->name, last,
                              s, n);
                last = s;
        }
        ck_assert_int_eq(last, x->stage);
        free(f.text);
}
END_TEST

START_TEST(test_every_fixture_is_tested) {
        /* A recorded transcript without an expectation here, or an
         * expectation without its recording, is an error. */
        char *dir = fixtures_dir();
        DIR *d = opendir(dir);
        ck_assert_msg(d, "cannot open %s: %s", dir, strerror(errno));
        size_t seen = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                bool is_txt = n > 4 && strcmp(de->d_name + n - 4, ".txt") == 0;
                bool is_end = n > 4 && strcmp(de->d_name + n - 4, ".end") == 0;
                if (!is_txt && !is_end)
                        continue;
                bool known = false;
                for (size_t i = 0; i < AP_ARRAY_SIZE(recorded); i++)
                        known |= strlen(recorded[i].name) == n - 4 &&
                                 strncmp(recorded[i].name, de->d_name, n - 4) == 0;
                ck_assert_msg(known, "%s/%s has no expectation in test_transcript.c", dir,
                              de->d_name);
                seen++;
        }
        closedir(d);
        ck_assert_uint_eq(seen, 2 * AP_ARRAY_SIZE(recorded));
        free(dir);
}
END_TEST

START_TEST(test_recorded_are_clean) {
        /* attachpy's own --verbose lines were cut out by the recorder. */
        const expectation *x = &recorded[_i];
        fixture f;
        load_fixture(x->name, &f);
        ck_assert_msg(!strstr(f.text, "attachpy: "), "%s holds attachpy's own output", x->name);
        free(f.text);
}
END_TEST

/* ---- synthetic ---------------------------------------------------------------- */

static const ap_debugger_end exit0 = {.exited = true, .exit_code = 0, .timeout_s = 30};

static int classify(const char *text, const ap_debugger_end *end, ap_transcript_outcome *o,
                    ap_error *err) {
        return ap_transcript_classify(text, "gdb", 4242, end, ap_backend_gdb.patterns, o, err);
}

START_TEST(test_marker_must_start_line) {
        /* gdb echoing a command, a marker inside a longer line, a marker with
         * a longer word: none counts. */
        static const char text[] = "(lldb) printf \"@@ATTACHPY:started 0\\n\"\n"
                                   "  @@ATTACHPY:attached\n"
                                   "echo @@ATTACHPY:started 0\n"
                                   "\t@@ATTACHPY:detached\n"
                                   "@@ATTACHPY:startedx 0\n"
                                   "@@ATTACHPY:attachedd\n"
                                   "@@attachpy:started 0\n"
                                   "@@ATTACHPY:\n"
                                   "@@ATTACHPY:Started 0\n";
        ck_assert_int_eq(ap_transcript_stage(text), AP_STAGE_NONE);
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify(text, &exit0, &o, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_DEBUGGER_FAILED);
        ck_assert(!o.has_start_rc);
        ck_assert_int_eq(o.stage, AP_STAGE_NONE);
        ap_error_clear(&err);
}
END_TEST

static int classify_lldb(const char *text, const ap_debugger_end *end, ap_transcript_outcome *o,
                         ap_error *err) {
        return ap_transcript_classify(text, "lldb", 4242, end, ap_backend_lldb.patterns, o, err);
}

#define LLDB_NOISE                                                                                 \
        "Traceback (most recent call last):\n"                                                     \
        "  File \"<string>\", line 1, in <module>\n"                                               \
        "ModuleNotFoundError: No module named 'lldb.embedded_interpreter'\n"                       \
        "(lldb) command source -s 0 '/tmp/attachpy-x/inject.lldb'\n"                               \
        "Executing commands in '/tmp/attachpy-x/inject.lldb'.\n"

START_TEST(test_lldb_echo_does_not_count) {
        /* lldb echoes every command, markers included: only the shell's
         * output, at the start of a line, counts. */
        static const char text[] =
                LLDB_NOISE "(lldb) platform shell echo @@ATTACHPY:attached\n"
                           "(lldb) platform shell echo @@ATTACHPY:safepoint parked 1\n"
                           "(lldb) platform shell test `(long) $attachpy_entry` = 0 || echo "
                           "@@ATTACHPY:started `$attachpy_rc`\n"
                           "(lldb) platform shell echo @@ATTACHPY:detached\n";
        ck_assert_int_eq(ap_transcript_stage(text), AP_STAGE_NONE);
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify_lldb(text, &exit0, &o, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_DEBUGGER_FAILED);
        ck_assert(!o.has_start_rc);
        ck_assert_msg(strstr(err.message, "lldb failed before attaching"), "%s", err.message);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_lldb_noise_and_markers) {
        /* The traceback of lldb's missing Python does not disturb the
         * markers the shell printed between echoed commands. */
        static const char text[] =
                LLDB_NOISE "(lldb) platform shell echo @@ATTACHPY:attached\n"
                           "@@ATTACHPY:attached\n"
                           "(lldb) platform shell echo @@ATTACHPY:safepoint parked 2\n"
                           "@@ATTACHPY:safepoint parked 2\n"
                           "(lldb) platform shell test `(long) $attachpy_entry` = 0 || echo "
                           "@@ATTACHPY:started `$attachpy_rc`\n"
                           "@@ATTACHPY:started -5\n"
                           "(lldb) process detach\n"
                           "(lldb) platform shell echo @@ATTACHPY:detached\n"
                           "Process 4242 detached\n"
                           "@@ATTACHPY:detached\n";
        ck_assert_int_eq(ap_transcript_stage(text), AP_STAGE_DETACHED);
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify_lldb(text, &exit0, &o, &err), -1);
        ck_assert(o.has_start_rc);
        ck_assert_int_eq(o.start_rc, -5);
        ck_assert_str_eq(o.safepoint, "parked");
        ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
        ck_assert_msg(strstr(err.message, "connect back"), "%s", err.message);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_lldb_guard_failed) {
        /* The thread the CLI chose woke up before lldb stopped it: the guard
         * expression fails, the script ends, nothing was called. */
        static const char text[] =
                LLDB_NOISE "(lldb) process attach --pid 4242\n"
                           "Process 4242 stopped\n"
                           "(lldb) platform shell echo @@ATTACHPY:attached\n"
                           "@@ATTACHPY:attached\n"
                           "(lldb) thread select 3\n"
                           "(lldb) expression -l c -- (int) ((((long) $rax == -512)) ? 0 : "
                           "*(volatile int *) 0)\n"
                           "error: supposed to interpret, but failed: Interpreter couldn't read "
                           "from memory\n";
        static const ap_debugger_end exit1 = {.exited = true, .exit_code = 1, .timeout_s = 30};
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify_lldb(text, &exit1, &o, &err), -1);
        ck_assert_int_eq(o.stage, AP_STAGE_ATTACHED);
        ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
        ck_assert_msg(strstr(err.message, "process 4242 was not where attachpy expected it when "
                                          "lldb stopped it"),
                      "%s", err.message);
        ck_assert_msg(strstr(err.message, "nothing was injected"), "%s", err.message);
        ck_assert_msg(err.hint && strstr(err.hint, "again"), "%s", err.hint ? err.hint : "");
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_success_minimal) {
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify("@@ATTACHPY:attached\n@@ATTACHPY:safepoint parked 3\n"
                                  "@@ATTACHPY:started 0\n@@ATTACHPY:detached",
                                  &exit0, &o, &err),
                         0);
        ck_assert(!ap_error_is_set(&err));
        ck_assert_int_eq(o.stage, AP_STAGE_DETACHED);
        ck_assert_str_eq(o.safepoint, "parked");
        ck_assert(o.has_start_rc);
        ck_assert_int_eq(o.start_rc, 0);
}
END_TEST

START_TEST(test_started_even_if_gdb_then_died) {
        /* Once the entry point returned 0 the agent runs: a debugger killed
         * before "detached" does not undo that. */
        ap_debugger_end killed = {.exited = false, .term_signal = SIGKILL, .timeout_s = 30};
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify("@@ATTACHPY:attached\n@@ATTACHPY:safepoint futex 1\n"
                                  "@@ATTACHPY:started 0\n",
                                  &killed, &o, &err),
                         0);
        ck_assert_int_eq(o.stage, AP_STAGE_STARTED);
        ck_assert_str_eq(o.safepoint, "futex");
}
END_TEST

START_TEST(test_start_errors) {
        for (int rc = -7; rc <= -1; rc++) {
                char text[256];
                snprintf(text, sizeof text,
                         "@@ATTACHPY:attached\n@@ATTACHPY:safepoint parked 1\n"
                         "@@ATTACHPY:started %d\n@@ATTACHPY:detached\n",
                         rc);
                ap_transcript_outcome o;
                ap_error err = AP_ERROR_INIT;
                ck_assert_int_eq(classify(text, &exit0, &o, &err), -1);
                ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
                ck_assert(o.has_start_rc);
                ck_assert_int_eq(o.start_rc, rc);
                const char *words = ap_agent_start_error(rc);
                ck_assert_msg(strstr(err.message, words), "rc %d: %s", rc, err.message);
                char code[32];
                snprintf(code, sizeof code, "(code %d)", rc);
                ck_assert_msg(strstr(err.message, code), "rc %d: %s", rc, err.message);
                ck_assert_ptr_nonnull(err.hint);
                if (rc == -3)
                        ck_assert_msg(strstr(err.hint, "once the program is up"), "%s", err.hint);
                if (rc == -4 || rc == -5)
                        ck_assert_msg(strstr(err.hint, "session directory"), "%s", err.hint);
                ap_error_clear(&err);
        }
}
END_TEST

START_TEST(test_start_error_texts) {
        /* docs/protocol.md, "The entry point": each value has its own words. */
        static const struct {
                int rc;
                const char *words;
        } table[] = {
                {-1, "bad session path"},       {-2, "no Python C API"},
                {-3, "not initialised"},        {-4, "could not read its request"},
                {-5, "could not connect back"}, {-6, "could not start its thread"},
                {-7, "out of memory"},
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(table); i++) {
                const char *s = ap_agent_start_error(table[i].rc);
                ck_assert_msg(strstr(s, table[i].words), "%d: %s", table[i].rc, s);
                for (size_t j = 0; j < i; j++)
                        ck_assert_str_ne(s, ap_agent_start_error(table[j].rc));
        }
        ck_assert_str_eq(ap_agent_start_error(-99), "the agent failed to start");
        ck_assert_str_eq(ap_agent_start_error(1), "the agent failed to start");
}
END_TEST

START_TEST(test_start_error_unknown_code) {
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(
                classify("@@ATTACHPY:attached\n@@ATTACHPY:started -42\n", &exit0, &o, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
        ck_assert_msg(strstr(err.message, "(code -42)"), "%s", err.message);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_started_without_number) {
        /* "started" with garbage: no return value was seen; not a success. */
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify("@@ATTACHPY:attached\n@@ATTACHPY:started\n"
                                  "@@ATTACHPY:started abc\n",
                                  &exit0, &o, &err),
                         -1);
        ck_assert(!o.has_start_rc);
        ck_assert_int_eq(o.stage, AP_STAGE_STARTED);
        ck_assert_int_eq(err.code, AP_ERR_DEBUGGER_FAILED);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_deadline_after_attach) {
        ap_debugger_end end = {
                .exited = true, .exit_code = 0, .deadline_hit = true, .timeout_s = 2.5};
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify("@@ATTACHPY:attached\n", &end, &o, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_TIMEOUT);
        ck_assert_int_eq(o.stage, AP_STAGE_ATTACHED);
        ck_assert_msg(strstr(err.message, "gdb did not finish within 2.5 s (after attaching); the "
                                          "code did not run"),
                      "%s", err.message);
        ck_assert_msg(err.hint && strstr(err.hint, "--timeout"), "%s", err.hint);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_cancelled) {
        /* attachpy was asked to stop (a signal): INTERRUPTED, whatever the
         * debugger said, with the stage in the message. */
        ap_debugger_end end = {
                .exited = false, .term_signal = SIGINT, .cancelled = true, .timeout_s = 30};
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify("@@ATTACHPY:attached\n@@ATTACHPY:safepoint parked 1\n"
                                  "Quit\n",
                                  &end, &o, &err),
                         -1);
        ck_assert_int_eq(err.code, AP_ERR_INTERRUPTED);
        ck_assert_msg(strstr(err.message, "attachpy was interrupted while loading the agent; the "
                                          "code did not run"),
                      "%s", err.message);
        ck_assert_msg(err.hint && strstr(err.hint, "process 4242 runs on"), "%s",
                      err.hint ? err.hint : "");
        ap_error_clear(&err);
        /* Cancelled wins over a deadline at the same time. */
        end.deadline_hit = true;
        ck_assert_int_eq(classify("", &end, &o, &err), -1);
        ck_assert_msg(strstr(err.message, "attachpy was interrupted before attaching"), "%s",
                      err.message);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_scheduled) {
        /* gdb prints the page in hex, lldb in decimal. */
        static const struct {
                const char *line;
                unsigned long long page;
        } table[] = {
                {"@@ATTACHPY:scheduled 0x7f12a4c3d000 0", 0x7f12a4c3d000ULL},
                {"@@ATTACHPY:scheduled 139718420025344 0", 139718420025344ULL},
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(table); i++) {
                char text[256];
                snprintf(text, sizeof text, "@@ATTACHPY:attached\n%s\n@@ATTACHPY:detached\n",
                         table[i].line);
                ap_transcript_outcome o;
                ap_error err = AP_ERROR_INIT;
                ck_assert_int_eq(classify(text, &exit0, &o, &err), 0);
                ck_assert(!ap_error_is_set(&err));
                ck_assert(o.scheduled);
                ck_assert_uint_eq(o.page, table[i].page);
                ck_assert_int_eq(o.queue_rc, 0);
                ck_assert(!o.has_start_rc);
                ck_assert_str_eq(o.safepoint, "");
                ck_assert_int_eq(o.stage, AP_STAGE_DETACHED);
                /* Queued counts as started while the debugger runs. */
                snprintf(text, sizeof text, "@@ATTACHPY:attached\n%s\n", table[i].line);
                ck_assert_int_eq(ap_transcript_stage(text), AP_STAGE_STARTED);
        }
}
END_TEST

START_TEST(test_scheduled_then_debugger_killed) {
        /* Queued is queued: a debugger killed before "detached" does not
         * undo it (the kernel detaches the target). */
        ap_debugger_end killed = {.exited = false, .term_signal = SIGKILL, .timeout_s = 30};
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(
                classify("@@ATTACHPY:attached\n@@ATTACHPY:scheduled 0x1000 0\n", &killed, &o, &err),
                0);
        ck_assert(o.scheduled);
        ck_assert_uint_eq(o.page, 0x1000);
        ck_assert_int_eq(o.stage, AP_STAGE_STARTED);
}
END_TEST

START_TEST(test_scheduled_armed) {
        /* "armed": the script's last step; its absence (the debugger died
         * between queueing and arming) still classifies as queued, and the
         * outcome says the CLI must arm the call itself. */
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify("@@ATTACHPY:attached\n@@ATTACHPY:scheduled 0x2000 0\n"
                                  "@@ATTACHPY:armed\n@@ATTACHPY:detached\n",
                                  &exit0, &o, &err),
                         0);
        ck_assert(o.scheduled && o.armed);
        ap_debugger_end killed = {.exited = false, .term_signal = SIGKILL, .timeout_s = 30};
        ck_assert_int_eq(
                classify("@@ATTACHPY:attached\n@@ATTACHPY:scheduled 0x2000 0\n", &killed, &o, &err),
                0);
        ck_assert(o.scheduled && !o.armed);
        ck_assert_uint_eq(o.page, 0x2000);
        /* The word alone is the marker. */
        ck_assert_int_eq(
                classify("@@ATTACHPY:scheduled 0x2000 0\n@@ATTACHPY:armedx\n", &exit0, &o, &err),
                0);
        ck_assert(!o.armed);
}
END_TEST

START_TEST(test_scheduled_refused) {
        /* Py_AddPendingCall returned -1 (a full queue, a finalizing
         * interpreter): a failure, and the stage stays short of started. */
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify("@@ATTACHPY:attached\n@@ATTACHPY:scheduled 0x7f0000001000 -1\n"
                                  "@@ATTACHPY:detached\n",
                                  &exit0, &o, &err),
                         -1);
        ck_assert(o.scheduled);
        ck_assert_int_eq(o.queue_rc, -1);
        ck_assert_uint_eq(o.page, 0x7f0000001000ULL);
        ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
        ck_assert_msg(strstr(err.message, "process 4242 did not accept a pending call "
                                          "(Py_AddPendingCall returned -1)"),
                      "%s", err.message);
        ck_assert_ptr_nonnull(err.hint);
        ap_error_clear(&err);
        ck_assert_int_eq(
                ap_transcript_stage("@@ATTACHPY:attached\n@@ATTACHPY:scheduled 0x1000 -1\n"),
                AP_STAGE_ATTACHED);
}
END_TEST

START_TEST(test_scheduled_malformed) {
        /* A "scheduled" marker without a page or without a result is no
         * evidence of a queued call. */
        static const char *const texts[] = {
                "@@ATTACHPY:attached\n@@ATTACHPY:scheduled\n",
                "@@ATTACHPY:attached\n@@ATTACHPY:scheduled 0x1000\n",
                "@@ATTACHPY:attached\n@@ATTACHPY:scheduled zz 0\n",
                "@@ATTACHPY:attached\n@@ATTACHPY:scheduled 0x1000 x\n",
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(texts); i++) {
                ap_transcript_outcome o;
                ap_error err = AP_ERROR_INIT;
                ck_assert_int_eq(classify(texts[i], &exit0, &o, &err), -1);
                ck_assert_msg(!o.scheduled, "case %zu", i);
                ck_assert_int_eq(o.stage, AP_STAGE_ATTACHED);
                ck_assert_int_eq(err.code, AP_ERR_DEBUGGER_FAILED);
                ap_error_clear(&err);
        }
}
END_TEST

START_TEST(test_moved_and_mismatch) {
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify("@@ATTACHPY:attached\n@@ATTACHPY:moved\n", &exit0, &o, &err), -1);
        ck_assert(o.moved);
        ck_assert(!o.mismatch);
        ck_assert_int_eq(o.stage, AP_STAGE_ATTACHED);
        ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
        ck_assert_msg(strstr(err.message, "process 4242 was no longer where attachpy saw it when "
                                          "gdb stopped it; nothing was injected"),
                      "%s", err.message);
        ap_error_clear(&err);

        ck_assert_int_eq(classify("@@ATTACHPY:attached\n@@ATTACHPY:mismatch\n", &exit0, &o, &err),
                         -1);
        ck_assert(o.mismatch);
        ck_assert(!o.moved);
        ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
        ck_assert_msg(strstr(err.message, "process 4242 is not the program attachpy inspected"),
                      "%s", err.message);
        ck_assert_msg(err.hint && strstr(err.hint, "nothing was injected"), "%s",
                      err.hint ? err.hint : "");
        ap_error_clear(&err);

        /* Either one beats a deadline or a killed debugger: the marker says
         * what happened. */
        ap_debugger_end end = {
                .exited = false, .term_signal = SIGKILL, .deadline_hit = true, .timeout_s = 1};
        ck_assert_int_eq(classify("@@ATTACHPY:attached\n@@ATTACHPY:moved\n", &end, &o, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
        ap_error_clear(&err);
        /* Marker words are whole words. */
        ck_assert_int_eq(classify("@@ATTACHPY:attached\n@@ATTACHPY:movedx\n@@ATTACHPY:mismatched\n",
                                  &exit0, &o, &err),
                         -1);
        ck_assert(!o.moved && !o.mismatch);
        ck_assert_int_eq(err.code, AP_ERR_DEBUGGER_FAILED);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_deadline_before_attach) {
        ap_debugger_end end = {
                .exited = false, .term_signal = SIGKILL, .deadline_hit = true, .timeout_s = 0.5};
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify("", &end, &o, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_TIMEOUT);
        ck_assert_msg(strstr(err.message, "gdb did not finish within 0.5 s (before attaching)"),
                      "%s", err.message);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_deadline_while_loading) {
        ap_debugger_end end = {
                .exited = true, .exit_code = 0, .deadline_hit = true, .timeout_s = 5};
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(
                classify("@@ATTACHPY:attached\n@@ATTACHPY:safepoint parked 1\n", &end, &o, &err),
                -1);
        ck_assert_int_eq(err.code, AP_ERR_TIMEOUT);
        ck_assert_msg(strstr(err.message, "while loading the agent"), "%s", err.message);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_killed_by_signal) {
        static const int sigs[] = {SIGKILL, SIGTERM, SIGSEGV, SIGABRT};
        for (size_t i = 0; i < AP_ARRAY_SIZE(sigs); i++) {
                ap_debugger_end end = {.exited = false, .term_signal = sigs[i], .timeout_s = 30};
                ap_transcript_outcome o;
                ap_error err = AP_ERROR_INIT;
                ck_assert_int_eq(
                        classify("@@ATTACHPY:attached\nsome gdb words  \r\n", &end, &o, &err), -1);
                ck_assert_int_eq(err.code, AP_ERR_DEBUGGER_FAILED);
                char want[96];
                snprintf(want, sizeof want, "gdb was killed by signal %d (%s) after attaching",
                         sigs[i], strsignal(sigs[i]));
                ck_assert_msg(strstr(err.message, want), "%s", err.message);
                ck_assert_msg(strstr(err.message, "; it said: some gdb words") &&
                                      !strchr(err.message, '\r'),
                              "%s", err.message);
                ck_assert_msg(err.hint && strstr(err.hint, "--verbose"), "%s", err.hint);
                ap_error_clear(&err);
        }
}
END_TEST

START_TEST(test_failed_exit_status) {
        ap_debugger_end end = {.exited = true, .exit_code = 1, .timeout_s = 30};
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify("/tmp/s/inject.gdb:12: Error in sourced command file:\n"
                                  "No symbol table is loaded.  Use the \"file\" command.\n"
                                  "@@ATTACHPY:attached\n",
                                  &end, &o, &err),
                         -1);
        ck_assert_int_eq(err.code, AP_ERR_DEBUGGER_FAILED);
        ck_assert_msg(strstr(err.message, "gdb failed after attaching (exit status 1); it said: No "
                                          "symbol table is loaded."),
                      "%s", err.message);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_empty_and_null_text) {
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_transcript_classify(NULL, "gdb", 1, NULL, NULL, &o, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_DEBUGGER_FAILED);
        ck_assert_msg(strstr(err.message, "before attaching"), "%s", err.message);
        ck_assert_ptr_null(strstr(err.message, "it said"));
        ap_error_clear(&err);
        ck_assert_int_eq(ap_transcript_stage(NULL), AP_STAGE_NONE);
        ck_assert_int_eq(ap_transcript_stage(""), AP_STAGE_NONE);
        /* ret and err may be NULL. */
        ck_assert_int_eq(
                ap_transcript_classify("@@ATTACHPY:started 0", "gdb", 1, NULL, NULL, NULL, NULL),
                0);
        ck_assert_int_eq(ap_transcript_classify("", "gdb", 1, NULL, NULL, NULL, NULL), -1);
}
END_TEST

START_TEST(test_other_failure_markers) {
        static const struct {
                const char *marker;
                const char *fragment;
        } table[] = {
                {"@@ATTACHPY:mmap-failed", "could not map a scratch page"},
                {"@@ATTACHPY:dlsym-failed", "has no entry point attachpy_agent_start_v1"},
                {"@@ATTACHPY:dlopen-failed", "unknown dlopen error"},
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(table); i++) {
                char text[256];
                snprintf(text, sizeof text,
                         "@@ATTACHPY:attached\n@@ATTACHPY:safepoint parked 1\n%s\r\n",
                         table[i].marker);
                ap_transcript_outcome o;
                ap_error err = AP_ERROR_INIT;
                ck_assert_int_eq(classify(text, &exit0, &o, &err), -1);
                ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
                ck_assert_msg(strstr(err.message, table[i].fragment), "%s", err.message);
                ck_assert_msg(strstr(err.message, "4242"), "%s", err.message);
                ap_error_clear(&err);
        }
}
END_TEST

START_TEST(test_dlopen_error_long_and_crlf) {
        ap_buf t = {0};
        ck_assert_int_eq(ap_buf_printf(&t, "@@ATTACHPY:attached\r\n@@ATTACHPY:dlopen-failed "), 0);
        for (int i = 0; i < 2000; i++)
                ck_assert_int_eq(ap_buf_append(&t, "x", 1), 0);
        ck_assert_int_eq(ap_buf_printf(&t, "\r\n@@ATTACHPY:detached\r\n"), 0);
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify(t.data, &exit0, &o, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
        ck_assert(!strchr(err.message, '\r'));
        ck_assert_msg(strlen(err.message) < 1024, "a dlerror text is kept in full: %zu bytes",
                      strlen(err.message));
        ck_assert_int_eq(o.stage, AP_STAGE_DETACHED);
        ap_error_clear(&err);
        ap_buf_free(&t);
}
END_TEST

START_TEST(test_long_safepoint_word) {
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(classify("@@ATTACHPY:safepoint averyveryverylongsafepointname 1\n"
                                  "@@ATTACHPY:started 0\n",
                                  &exit0, &o, &err),
                         0);
        ck_assert_uint_lt(strlen(o.safepoint), sizeof o.safepoint);
        ck_assert_int_eq(strncmp(o.safepoint, "averyveryverylo", 15), 0);
}
END_TEST

START_TEST(test_pattern_substitutes_pid) {
        static const ap_debugger_pattern patterns[] = {
                {"needle one", AP_ERR_PERMISSION_DENIED, "pid %d is %d%%", "h1"},
                {"needle two", AP_ERR_TARGET_EXITED, "no pid here", NULL},
                {NULL, AP_OK, NULL, NULL},
        };
        ap_transcript_outcome o;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(
                ap_transcript_classify("x needle one y\n", "gdb", 77, &exit0, patterns, &o, &err),
                -1);
        ck_assert_int_eq(err.code, AP_ERR_PERMISSION_DENIED);
        /* Only the first %d is the pid; the rest is copied as is, never
         * interpreted as a format. */
        ck_assert_str_eq(err.message, "pid 77 is %d%%");
        ck_assert_str_eq(err.hint, "h1");
        ap_error_clear(&err);
        ck_assert_int_eq(
                ap_transcript_classify("needle two", "gdb", 77, &exit0, patterns, &o, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_TARGET_EXITED);
        ck_assert_str_eq(err.message, "no pid here");
        ck_assert_ptr_null(err.hint);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_gdb_patterns) {
        /* gdb's messages for the known failures, as gdb 13 prints them. */
        static const struct {
                const char *line;
                ap_code code;
        } table[] = {
                {"ptrace: No such process.", AP_ERR_TARGET_EXITED},
                {"ptrace: Operation not permitted.", AP_ERR_PERMISSION_DENIED},
                {"Could not attach to process.  If your uid matches the uid of the target process, "
                 "check the setting of /proc/sys/kernel/yama/ptrace_scope",
                 AP_ERR_PERMISSION_DENIED},
                {"[Inferior 1 (process 4242) exited normally]", AP_ERR_TARGET_EXITED},
                {"[Inferior 1 (process 4242) exited with code 01]", AP_ERR_TARGET_EXITED},
                {"Program terminated with signal SIGKILL, Killed.", AP_ERR_TARGET_EXITED},
                {"The program being debugged was signaled while in a function called from GDB.",
                 AP_ERR_INJECTION_FAILED},
                {"The program being debugged stopped while in a function called from GDB.",
                 AP_ERR_INJECTION_FAILED},
                {"Cannot access memory at address 0x7f0000001000", AP_ERR_INJECTION_FAILED},
                {"The program has no registers now.", AP_ERR_TARGET_EXITED},
                /* The call abandoned: a stop in another thread. */
                {"The program received a signal in another thread while\n"
                 "making a function call from GDB.",
                 AP_ERR_INJECTION_FAILED},
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(table); i++) {
                char text[512];
                snprintf(text, sizeof text, "@@ATTACHPY:attached\n%s\n", table[i].line);
                ap_transcript_outcome o;
                ap_error err = AP_ERROR_INIT;
                ap_debugger_end end = {.exited = true, .exit_code = 1, .timeout_s = 30};
                ck_assert_int_eq(classify(text, &end, &o, &err), -1);
                ck_assert_msg(err.code == table[i].code, "'%s': %s (%s)", table[i].line,
                              ap_code_name(err.code), err.message);
                ck_assert_msg(!strstr(err.message, "%d"), "%s", err.message);
                ap_error_clear(&err);
        }
}
END_TEST

START_TEST(test_stage_words_order) {
        static const struct {
                const char *text;
                ap_stage stage;
        } table[] = {
                {"", AP_STAGE_NONE},
                {"@@ATTACHPY:attached", AP_STAGE_ATTACHED},
                {"@@ATTACHPY:attached\n@@ATTACHPY:moved\n", AP_STAGE_ATTACHED},
                {"@@ATTACHPY:attached\n@@ATTACHPY:safepoint futex 2\n", AP_STAGE_SAFEPOINT},
                {"@@ATTACHPY:attached\n@@ATTACHPY:scheduled 0x1000 0\n", AP_STAGE_STARTED},
                {"@@ATTACHPY:started 0\n", AP_STAGE_STARTED},
                {"@@ATTACHPY:detached\n@@ATTACHPY:attached\n", AP_STAGE_DETACHED},
                {"@@ATTACHPY:interrupted\n@@ATTACHPY:waiting 1\n", AP_STAGE_NONE},
                {"@@ATTACHPY:attached\r\n", AP_STAGE_ATTACHED},
                {"\n\n\r\n@@ATTACHPY:attached\n\n", AP_STAGE_ATTACHED},
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(table); i++)
                ck_assert_msg(ap_transcript_stage(table[i].text) == table[i].stage, "case %zu", i);
}
END_TEST

static Suite *transcript_suite(void) {
        Suite *s = suite_create("transcript");
        TCase *tc = tcase_create("recorded");
        int n = (int)AP_ARRAY_SIZE(recorded);
        tcase_add_loop_test(tc, test_recorded, 0, n);
        tcase_add_loop_test(tc, test_recorded_crlf, 0, n);
        tcase_add_loop_test(tc, test_recorded_prefixes, 0, n);
        tcase_add_loop_test(tc, test_recorded_are_clean, 0, n);
        tcase_add_test(tc, test_every_fixture_is_tested);
        tcase_add_test(tc, test_drive_markers);
        suite_add_tcase(s, tc);

        tc = tcase_create("synthetic");
        tcase_add_test(tc, test_marker_must_start_line);
        tcase_add_test(tc, test_success_minimal);
        tcase_add_test(tc, test_lldb_echo_does_not_count);
        tcase_add_test(tc, test_lldb_noise_and_markers);
        tcase_add_test(tc, test_lldb_guard_failed);
        tcase_add_test(tc, test_started_even_if_gdb_then_died);
        tcase_add_test(tc, test_start_errors);
        tcase_add_test(tc, test_start_error_texts);
        tcase_add_test(tc, test_start_error_unknown_code);
        tcase_add_test(tc, test_started_without_number);
        tcase_add_test(tc, test_deadline_after_attach);
        tcase_add_test(tc, test_cancelled);
        tcase_add_test(tc, test_scheduled);
        tcase_add_test(tc, test_scheduled_then_debugger_killed);
        tcase_add_test(tc, test_scheduled_armed);
        tcase_add_test(tc, test_scheduled_refused);
        tcase_add_test(tc, test_scheduled_malformed);
        tcase_add_test(tc, test_moved_and_mismatch);
        tcase_add_test(tc, test_deadline_before_attach);
        tcase_add_test(tc, test_deadline_while_loading);
        tcase_add_test(tc, test_killed_by_signal);
        tcase_add_test(tc, test_failed_exit_status);
        tcase_add_test(tc, test_empty_and_null_text);
        tcase_add_test(tc, test_other_failure_markers);
        tcase_add_test(tc, test_dlopen_error_long_and_crlf);
        tcase_add_test(tc, test_long_safepoint_word);
        tcase_add_test(tc, test_pattern_substitutes_pid);
        tcase_add_test(tc, test_gdb_patterns);
        tcase_add_test(tc, test_stage_words_order);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(transcript_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
