/* fuzz_transcript.c: the transcript classifier on arbitrary debugger output.
 *
 * The input is the transcript (up to its first NUL byte, as the CLI hands it
 * over); its last 8 bytes, when there are that many, also choose how the
 * debugger ended, the pid and whether the optional arguments are given.  The
 * seeds are the recorded transcripts in tests/fixtures/transcripts and a few
 * made by hand in tests/fuzz/corpus/transcript.
 *
 * Properties, for gdb's and lldb's pattern tables alike:
 * - ap_transcript_classify returns 0 with no error set, or -1 with an error
 *   that has a known code and a message, and the JSON report of that error
 *   holds the message as a string (valid UTF-8 whatever the debugger said);
 * - the stage it reports is ap_transcript_stage's, and the safepoint word is a
 *   terminated string;
 * - the result does not depend on whether the outcome is asked for;
 * - markers only raise the stage: whole lines added to a transcript never
 *   lower what ap_transcript_stage says (the CLI polls it while the debugger
 *   runs).
 * Only the fields that every version of the outcome struct has are read.
 */
#include <jansson.h>
#include <stdbool.h>

#include "backend.h"
#include "fuzz_common.h"
#include "report.h"
#include "transcript.h"

typedef struct fuzz_end {
        ap_debugger_end end;
        pid_t pid;
        bool no_end; /* pass end as NULL */
} fuzz_end;

static fuzz_end end_from_tail(const uint8_t *data, size_t size) {
        fuzz_end f = {.end = {.exited = true, .timeout_s = 30.0}, .pid = 4242};
        if (size < 8)
                return f;
        const uint8_t *t = data + size - 8;
        f.end.exited = !(t[0] & 1);
        f.end.deadline_hit = t[0] & 2;
        f.end.cancelled = t[0] & 4;
        f.no_end = (t[0] & 0x18) == 0x18;
        f.end.exit_code = (int8_t)t[1];
        f.end.term_signal = t[2];
        f.end.timeout_s = (double)(t[4] | t[5] << 8) / 10.0;
        f.pid = (pid_t)(int16_t)(t[6] | t[7] << 8);
        return f;
}

static void check_json(const ap_error *err, pid_t pid, const char *name) {
        ap_report report = {.pid = pid, .debugger = name, .error = *err};
        json_t *j = ap_report_to_json(&report);
        FUZZ_ASSERT(j, "no JSON report");
        json_t *e = json_object_get(j, "error");
        FUZZ_ASSERT(json_is_object(e), "the report has no error object");
        FUZZ_ASSERT(json_is_string(json_object_get(e, "code")), "error.code is not a string");
        FUZZ_ASSERT(json_is_string(json_object_get(e, "message")),
                    "error.message is not a string (message '%s')", err->message);
        FUZZ_ASSERT(json_is_string(json_object_get(e, "hint")), "error.hint is not a string");
        char *dump = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
        FUZZ_ASSERT(dump, "the report does not serialise");
        free(dump);
        json_decref(j);
}

static void classify_with(const char *text, const ap_backend *backend, const fuzz_end *f) {
        const ap_debugger_end *end = f->no_end ? NULL : &f->end;
        ap_transcript_outcome out;
        memset(&out, 0xA5, sizeof out); /* no field left as it was */
        ap_error err = AP_ERROR_INIT;
        int r = ap_transcript_classify(text, backend->name, f->pid, end, backend->patterns, &out,
                                       &err);
        FUZZ_ASSERT(r == 0 || r == -1, "%s: returned %d", backend->name, r);
        if (r == 0)
                FUZZ_ASSERT(!ap_error_is_set(&err), "%s: 0 with an error set: %s", backend->name,
                            err.message);
        else {
                fuzz_check_error(&err, backend->name);
                check_json(&err, f->pid, backend->name);
        }
        FUZZ_ASSERT(out.stage == ap_transcript_stage(text), "%s: stage %d, but %d alone",
                    backend->name, (int)out.stage, (int)ap_transcript_stage(text));
        FUZZ_ASSERT(memchr(out.safepoint, '\0', sizeof out.safepoint), "%s: safepoint unterminated",
                    backend->name);

        /* The same without asking for the outcome. */
        ap_error err2 = AP_ERROR_INIT;
        int r2 = ap_transcript_classify(text, backend->name, f->pid, end, backend->patterns, NULL,
                                        &err2);
        FUZZ_ASSERT(r2 == r, "%s: %d with the outcome, %d without", backend->name, r, r2);
        FUZZ_ASSERT(err2.code == err.code, "%s: code %d, then %d", backend->name, (int)err.code,
                    (int)err2.code);
        FUZZ_ASSERT((!err.message && !err2.message) ||
                            (err.message && err2.message && strcmp(err.message, err2.message) == 0),
                    "%s: message differs without the outcome", backend->name);
        ap_error_clear(&err2);
        ap_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_string(data, size);
        fuzz_end f = end_from_tail(data, size);

        classify_with(text, &ap_backend_gdb, &f);
        classify_with(text, &ap_backend_lldb, &f);

        /* Whole lines only raise the stage: cut after the last newline of the
         * first half. */
        size_t len = strlen(text);
        char *cut = memrchr(text, '\n', len / 2);
        if (cut) {
                ap_stage whole = ap_transcript_stage(text);
                char saved = cut[1];
                cut[1] = '\0';
                ap_stage part = ap_transcript_stage(text);
                cut[1] = saved;
                FUZZ_ASSERT(part <= whole, "stage %d for the first lines, %d for all", (int)part,
                            (int)whole);
        }
        free(text);
        return 0;
}
