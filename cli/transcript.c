/* transcript.c: the marker-line classifier. */
#include "transcript.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Call fn for each marker line: word and the rest of the line. */
typedef void (*marker_fn)(const char *word, size_t word_len, const char *rest, size_t rest_len,
                          void *userdata);

static void each_marker(const char *text, marker_fn fn, void *userdata) {
        const size_t plen = strlen(AP_MARKER_PREFIX);
        const char *line = text;
        while (line && *line) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t)(eol - line) : strlen(line);
                if (len > 0 && line[len - 1] == '\r')
                        len--;
                if (len > plen && strncmp(line, AP_MARKER_PREFIX, plen) == 0) {
                        const char *w = line + plen;
                        size_t wl = strcspn(w, " \r\n");
                        if (wl > len - plen)
                                wl = len - plen;
                        const char *rest = w + wl;
                        size_t rl = len - plen - wl;
                        if (rl > 0 && *rest == ' ') {
                                rest++;
                                rl--;
                        }
                        fn(w, wl, rest, rl, userdata);
                }
                line = eol ? eol + 1 : NULL;
        }
}

static bool word_is(const char *w, size_t wl, const char *s) {
        return strlen(s) == wl && strncmp(w, s, wl) == 0;
}

typedef struct scan_state {
        ap_transcript_outcome out;
        bool mmap_failed, dlsym_failed, dlopen_failed;
        char dlopen_error[512];
} scan_state;

static void raise_stage(ap_stage *s, ap_stage to) {
        if (*s < to)
                *s = to;
}

static void on_marker(const char *w, size_t wl, const char *rest, size_t rl, void *userdata) {
        scan_state *st = userdata;
        if (word_is(w, wl, "attached")) {
                raise_stage(&st->out.stage, AP_STAGE_ATTACHED);
        } else if (word_is(w, wl, "safepoint")) {
                raise_stage(&st->out.stage, AP_STAGE_SAFEPOINT);
                size_t k = strcspn(rest, " ");
                if (k > rl)
                        k = rl;
                snprintf(st->out.safepoint, sizeof st->out.safepoint, "%.*s", (int)k, rest);
        } else if (word_is(w, wl, "scheduled")) {
                char buf[64];
                snprintf(buf, sizeof buf, "%.*s", (int)(rl < 63 ? rl : 63), rest);
                char *end;
                unsigned long long page = strtoull(buf, &end, 0);
                if (end == buf)
                        return;
                char *end2;
                long rc = strtol(end, &end2, 10);
                if (end2 == end)
                        return;
                st->out.scheduled = true;
                st->out.page = page;
                st->out.queue_rc = (int)rc;
                if (rc == 0)
                        raise_stage(&st->out.stage, AP_STAGE_STARTED);
        } else if (word_is(w, wl, "mapped")) {
                char buf[64];
                snprintf(buf, sizeof buf, "%.*s", (int)(rl < 63 ? rl : 63), rest);
                st->out.mapped = strtoull(buf, NULL, 0);
        } else if (word_is(w, wl, "armed")) {
                st->out.armed = true;
        } else if (word_is(w, wl, "moved")) {
                st->out.moved = true;
        } else if (word_is(w, wl, "mismatch")) {
                st->out.mismatch = true;
        } else if (word_is(w, wl, "started")) {
                raise_stage(&st->out.stage, AP_STAGE_STARTED);
                char num[32];
                snprintf(num, sizeof num, "%.*s", (int)(rl < 31 ? rl : 31), rest);
                char *end;
                long v = strtol(num, &end, 10);
                if (end != num) {
                        st->out.has_start_rc = true;
                        st->out.start_rc = (int)v;
                }
        } else if (word_is(w, wl, "detached")) {
                raise_stage(&st->out.stage, AP_STAGE_DETACHED);
        } else if (word_is(w, wl, "mmap-failed")) {
                st->mmap_failed = true;
        } else if (word_is(w, wl, "dlsym-failed")) {
                st->dlsym_failed = true;
        } else if (word_is(w, wl, "dlopen-failed")) {
                st->dlopen_failed = true;
                snprintf(st->dlopen_error, sizeof st->dlopen_error, "%.*s", (int)rl, rest);
        }
}

typedef struct has_state {
        const char *word;
        int found;
} has_state;

static void on_has(const char *w, size_t wl, const char *rest, size_t rl, void *userdata) {
        (void)rest;
        (void)rl;
        has_state *h = userdata;
        if (word_is(w, wl, h->word))
                h->found++;
}

int ap_transcript_count_marker(const char *text, const char *word) {
        has_state h = {.word = word, .found = 0};
        each_marker(text ? text : "", on_has, &h);
        return h.found;
}

bool ap_transcript_has_marker(const char *text, const char *word) {
        return ap_transcript_count_marker(text, word) > 0;
}

ap_stage ap_transcript_stage(const char *text) {
        scan_state st;
        memset(&st, 0, sizeof st);
        each_marker(text ? text : "", on_marker, &st);
        return st.out.stage;
}

void ap_agent_no_entry_point(ap_error *err, pid_t pid) {
        ap_error_set(err, AP_ERR_INJECTION_FAILED,
                     "the agent loaded into process %d has no entry point "
                     "attachpy_agent_start_v1",
                     (int)pid);
        ap_error_hint(err, "an older agent of another attachpy version is loaded in the "
                           "target; restart the target or use the matching attachpy");
}

const char *ap_agent_start_error(int rc) {
        switch (rc) {
        case -1:
                return "the agent was given a bad session path";
        case -2:
                return "the agent found no Python C API in the process";
        case -3:
                return "the Python interpreter is not initialised yet or is shutting down";
        case -4:
                return "the agent could not read its request from the session directory";
        case -5:
                return "the agent could not connect back to attachpy";
        case -6:
                return "the agent could not start its thread";
        case -7:
                return "the agent ran out of memory";
        default:
                return "the agent failed to start";
        }
}

static const char *stage_words(ap_stage s) {
        switch (s) {
        case AP_STAGE_NONE:
                return "before attaching";
        case AP_STAGE_ATTACHED:
                return "after attaching";
        case AP_STAGE_SAFEPOINT:
                return "while loading the agent";
        case AP_STAGE_STARTED:
                return "after starting the agent";
        case AP_STAGE_DETACHED:
                return "after detaching";
        }
        return "";
}

/* The debugger's last line that is not a marker, for messages. */
static void last_words(const char *text, char *buf, size_t size) {
        buf[0] = '\0';
        const char *line = text;
        while (line && *line) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t)(eol - line) : strlen(line);
                while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
                        len--;
                if (len > 0 && strncmp(line, AP_MARKER_PREFIX, strlen(AP_MARKER_PREFIX)) != 0)
                        snprintf(buf, size, "%.*s", (int)len, line);
                line = eol ? eol + 1 : NULL;
        }
}

static const ap_debugger_pattern *match_pattern(const char *text,
                                                const ap_debugger_pattern *patterns) {
        for (const ap_debugger_pattern *p = patterns; p && p->needle; p++)
                if (strstr(text, p->needle))
                        return p;
        return NULL;
}

/* What the agent, the trampoline or the scratch page said: 1 when nothing,
 * else the verdict (0: the agent started, -1 with err set). */
static int agent_verdict(const scan_state *st, pid_t pid, ap_error *err) {
        if (st->out.has_start_rc) {
                if (st->out.start_rc == 0)
                        return 0;
                ap_error_set(err, AP_ERR_INJECTION_FAILED, "%s (code %d)",
                             ap_agent_start_error(st->out.start_rc), st->out.start_rc);
                if (st->out.start_rc == -3)
                        ap_error_hint(err, "run attachpy again once the program is up, or not "
                                           "while it is exiting");
                else if (st->out.start_rc == -4 || st->out.start_rc == -5)
                        ap_error_hint(err, "the target must be able to reach attachpy's session "
                                           "directory; run with --verbose for details");
                else
                        ap_error_hint(err, "run with --verbose and report the transcript");
                return -1;
        }
        if (st->dlopen_failed) {
                ap_error_set(err, AP_ERR_INJECTION_FAILED,
                             "process %d could not load the attachpy agent: %s", (int)pid,
                             st->dlopen_error[0] ? st->dlopen_error : "unknown dlopen error");
                ap_error_hint(err, "check that the agent library is installed and readable by the "
                                   "target's user");
                return -1;
        }
        if (st->dlsym_failed) {
                ap_agent_no_entry_point(err, pid);
                return -1;
        }
        if (st->mmap_failed) {
                ap_error_set(err, AP_ERR_INJECTION_FAILED,
                             "process %d could not map a scratch page (out of memory?)", (int)pid);
                ap_error_hint(err, "check the target's memory limits");
                return -1;
        }
        return 1;
}

/* What the script said about the target it stopped: 1 when nothing. */
static int script_verdict(const scan_state *st, const char *name, pid_t pid, ap_error *err) {
        if (st->out.scheduled) {
                if (st->out.queue_rc == 0)
                        return 0;
                ap_error_set(err, AP_ERR_INJECTION_FAILED,
                             "process %d did not accept a pending call (Py_AddPendingCall "
                             "returned %d): its interpreter may be shutting down, or its queue "
                             "of pending calls is full",
                             (int)pid, st->out.queue_rc);
                ap_error_hint(err, "run attachpy again; nothing was left in the process");
                return -1;
        }
        if (st->out.mismatch) {
                ap_error_set(err, AP_ERR_INJECTION_FAILED,
                             "process %d is not the program attachpy inspected (its code differs "
                             "from its files): was the PID reused?",
                             (int)pid);
                ap_error_hint(err, "nothing was injected; check the PID and run attachpy again");
                return -1;
        }
        if (st->out.moved) {
                ap_error_set(err, AP_ERR_INJECTION_FAILED,
                             "process %d was no longer where attachpy saw it when %s stopped it; "
                             "nothing was injected and it runs on",
                             (int)pid, name);
                ap_error_hint(err, "run attachpy again");
                return -1;
        }
        return 1;
}

/* How the debugger's session ended, when no marker told: an interrupt, the
 * deadline, one of its own messages, or its exit. */
static int end_verdict(const scan_state *st, const char *text, const char *name, pid_t pid,
                       const ap_debugger_end *end, const ap_debugger_pattern *patterns,
                       ap_error *err) {
        if (end && end->cancelled) {
                ap_error_set(err, AP_ERR_INTERRUPTED,
                             "attachpy was interrupted %s; the code did not run",
                             stage_words(st->out.stage));
                ap_error_hint(err, "process %d runs on as before", (int)pid);
                return -1;
        }
        if (end && end->deadline_hit) {
                ap_error_set(err, AP_ERR_TIMEOUT,
                             "%s did not finish within %g s (%s); the code did not run", name,
                             end->timeout_s, stage_words(st->out.stage));
                ap_error_hint(err,
                              "try again with a longer --timeout; --verbose shows where %s "
                              "stopped",
                              name);
                return -1;
        }
        const ap_debugger_pattern *p = match_pattern(text, patterns);
        if (p) {
                /* Messages hold at most one %d, the pid. */
                const char *d = strstr(p->message, "%d");
                if (d)
                        ap_error_set(err, p->code, "%.*s%d%s", (int)(d - p->message), p->message,
                                     (int)pid, d + 2);
                else
                        ap_error_set(err, p->code, "%s", p->message);
                if (p->hint)
                        ap_error_hint(err, "%s", p->hint);
                return -1;
        }
        char said[256];
        last_words(text, said, sizeof said);
        if (end && !end->exited)
                ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "%s was killed by signal %d (%s) %s%s%s",
                             name, end->term_signal, strsignal(end->term_signal),
                             stage_words(st->out.stage), said[0] ? "; it said: " : "", said);
        else
                ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "%s failed %s (exit status %d)%s%s", name,
                             stage_words(st->out.stage), end ? end->exit_code : -1,
                             said[0] ? "; it said: " : "", said);
        ap_error_hint(err, "run again with --verbose to see the %s transcript", name);
        return -1;
}

int ap_transcript_classify(const char *text, const char *name, pid_t pid,
                           const ap_debugger_end *end, const ap_debugger_pattern *patterns,
                           ap_transcript_outcome *ret, ap_error *err) {
        scan_state st;
        memset(&st, 0, sizeof st);
        text = text ? text : "";
        each_marker(text, on_marker, &st);
        if (ret)
                *ret = st.out;

        int v = agent_verdict(&st, pid, err);
        if (v == 1)
                v = script_verdict(&st, name, pid, err);
        if (v == 1)
                v = end_verdict(&st, text, name, pid, end, patterns, err);
        return v;
}
