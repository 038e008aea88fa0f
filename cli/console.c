/* console.c: attachpy console (console.h). */
#include "console.h"

#include <editline/readline.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_channel.h"
#include "collect.h"
#include "inject.h"
#include "proc.h"
#include "record.h"
#include "request.h"
#include "result.h"
#include "util.h"

/* One console session. */
typedef struct console {
        pid_t pid;
        int fd;        /* the connection to the agent */
        int cancel_fd; /* the signalfd: SIGINT, SIGTERM, SIGHUP, SIGQUIT */
        bool tty;      /* stdin is a terminal: prompts, line editing, history */
        char prompt[16];
        /* The line readline's callback delivered (NULL: end of input). */
        bool have_line;
        char *line;
        /* The last completion's words, one string, NUL-separated. */
        ap_buf words;
        /* Without a terminal: what was read from stdin and not yet sent. */
        ap_buf input;
        bool input_ended;
} console;

/* readline's callbacks take no argument: the session they read for. */
static console *reading;

/* What waiting for the agent gave. */
typedef enum wait_result { GOT_RECORD, GOT_EOF, GOT_SIGNAL, GOT_TIMEOUT } wait_result;

static int send_record(console *c, const char tag[static 4], const void *data, size_t len) {
        return ap_record_send(c->fd, tag, data, len);
}

/* The agent's next record (tag and payload), a signal (*ret_signo), or
 * nothing within timeout_ms (-1: no limit).  The end of the connection, a
 * record cut short or too large: GOT_EOF. */
static wait_result next_record_within(console *c, char tag[static 5], ap_buf *payload,
                                      int *ret_signo, int timeout_ms) {
        for (;;) {
                switch (ap_record_next(c->fd, c->cancel_fd, timeout_ms, AP_MAX_RECORD_BYTES, tag,
                                       payload)) {
                case AP_RECORD_GOT:
                        return GOT_RECORD;
                case AP_RECORD_TIMEOUT:
                        return GOT_TIMEOUT;
                case AP_RECORD_CANCELLED: {
                        struct signalfd_siginfo si;
                        if (read(c->cancel_fd, &si, sizeof si) == (ssize_t)sizeof si) {
                                *ret_signo = (int)si.ssi_signo;
                                return GOT_SIGNAL;
                        }
                        continue;
                }
                case AP_RECORD_EOF:
                case AP_RECORD_SHORT:
                case AP_RECORD_OVERSIZE:
                case AP_RECORD_FAILED:
                        return GOT_EOF;
                }
                return GOT_EOF;
        }
}

static wait_result next_record(console *c, char tag[static 5], ap_buf *payload, int *ret_signo) {
        return next_record_within(c, tag, payload, ret_signo, -1);
}

/* Output the code wrote: on our stdout and stderr as it comes.  Returns
 * true when the record was one. */
static bool show_output(const char *tag, const ap_buf *payload) {
        FILE *f = strcmp(tag, "OUT ") == 0 ? stdout : strcmp(tag, "ERR ") == 0 ? stderr : NULL;
        if (!f)
                return false;
        fwrite(payload->data, 1, payload->len, f);
        fflush(f);
        return true;
}

static void set_prompt(console *c, const ap_buf *payload) {
        snprintf(c->prompt, sizeof c->prompt, "%.*s", (int)payload->len, payload->data);
}

/* ---- the session ---------------------------------------------------------- */

/* The agent gone: did the target end with it? */
static int connection_lost(const console *c) {
        ap_proc_state st;
        bool gone = ap_proc_state_read(c->pid, &st) < 0 || st.state == 'Z' || st.state == 'X';
        if (gone) {
                fprintf(stderr, "attachpy: error: process %d ended while the console was open\n",
                        (int)c->pid);
                return ap_code_exit_status(AP_ERR_TARGET_EXITED);
        }
        fprintf(stderr, "attachpy: error: the agent in process %d ended the console\n",
                (int)c->pid);
        fprintf(stderr,
                "attachpy: hint: 'attachpy detach %d' and a new 'attachpy console %d' "
                "start afresh\n",
                (int)c->pid, (int)c->pid);
        return ap_code_exit_status(AP_ERR_INJECTION_FAILED);
}

/* The request, the go-ahead, the agent's last-word question answered, up to
 * the first prompt.  0, or an exit status. */
static int start_session(console *c) {
        ap_request req = {.filename = "<console>", .code = "", .wait = true, .mode = "console"};
        ap_buf encoded = {0}, payload = {0};
        ap_error err = AP_ERROR_INIT;
        int status = 0;
        if (ap_request_encode(&req, &encoded) < 0 ||
            ap_agent_send_request(c->fd, c->pid, &encoded, &err) < 0 ||
            ap_send_go(c->fd, NULL, 0) < 0) {
                if (!ap_error_is_set(&err))
                        ap_error_set(&err, AP_ERR_INJECTION_FAILED,
                                     "the agent in process %d hung up", (int)c->pid);
                fprintf(stderr, "attachpy: error: %s\n", err.message);
                status = ap_code_exit_status(err.code);
                goto out;
        }
        for (;;) {
                char tag[5];
                int signo = 0;
                wait_result g = next_record(c, tag, &payload, &signo);
                if (g == GOT_SIGNAL) {
                        status = ap_code_exit_status(AP_ERR_INTERRUPTED);
                        break;
                }
                if (g == GOT_EOF) {
                        status = connection_lost(c);
                        break;
                }
                if (strcmp(tag, "GIL ") == 0 && send_record(c, "RUN ", NULL, 0) < 0) {
                        status = connection_lost(c);
                        break;
                }
                if (strcmp(tag, "PRMT") == 0) {
                        set_prompt(c, &payload);
                        break;
                }
                if (strcmp(tag, "FAIL") == 0 || strcmp(tag, "END ") == 0) {
                        fprintf(stderr,
                                "attachpy: error: the console did not start in process %d: %s\n",
                                (int)c->pid,
                                strcmp(tag, "FAIL") == 0 ? payload.data : "the agent ended it");
                        status = ap_code_exit_status(AP_ERR_INJECTION_FAILED);
                        break;
                }
        }
out:
        ap_buf_free(&encoded);
        ap_buf_free(&payload);
        ap_error_clear(&err);
        return status;
}

static void on_line(char *line) {
        reading->have_line = true;
        reading->line = line;
        rl_callback_handler_remove();
}

/* Ctrl-C at a prompt: the partial statement is dropped, here and in the
 * agent (RSET), as the interpreter's own prompt does. */
static int reset_statement(console *c) {
        ap_buf payload = {0};
        fputs("\nKeyboardInterrupt\n", stdout);
        fflush(stdout);
        int r = send_record(c, "RSET", NULL, 0);
        while (r == 0) {
                char tag[5];
                int signo;
                wait_result g = next_record(c, tag, &payload, &signo);
                if (g == GOT_EOF)
                        r = -1;
                else if (g == GOT_RECORD && strcmp(tag, "PRMT") == 0) {
                        set_prompt(c, &payload);
                        break;
                }
        }
        ap_buf_free(&payload);
        return r;
}

/* Without a terminal: the next line of stdin, watching the agent (its end)
 * and the signals (which end the session) meanwhile. */
static int read_plain_line(console *c, char **ret) {
        for (;;) {
                char *nl = c->input.len ? memchr(c->input.data, '\n', c->input.len) : NULL;
                if (nl || (c->input_ended && c->input.len)) {
                        size_t n = nl ? (size_t)(nl - c->input.data) : c->input.len;
                        *ret = strndup(c->input.data, n);
                        size_t used = nl ? n + 1 : n;
                        memmove(c->input.data, c->input.data + used, c->input.len - used);
                        c->input.len -= used;
                        return *ret ? 1 : 0;
                }
                if (c->input_ended)
                        return 0;
                struct pollfd p[3] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                      {.fd = c->fd, .events = POLLIN},
                                      {.fd = c->cancel_fd, .events = POLLIN}};
                int r = poll(p, c->cancel_fd >= 0 ? 3 : 2, -1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0 || p[1].revents)
                        return -1;
                if (c->cancel_fd >= 0 && p[2].revents)
                        return 0;
                char chunk[4096];
                ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        c->input_ended = true;
                else if (ap_buf_append(&c->input, chunk, (size_t)n) < 0)
                        return 0;
        }
}

/* One line from the user: 1 (in *ret, malloc'd), 0 at the end of input or
 * a signal that ends attachpy, -1 when the agent went away meanwhile. */
static int read_line(console *c, char **ret) {
        *ret = NULL;
        if (!c->tty)
                return read_plain_line(c, ret);
        reading = c;
        c->have_line = false;
        rl_callback_handler_install(c->prompt, on_line);
        while (!c->have_line) {
                struct pollfd p[3] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                      {.fd = c->cancel_fd, .events = POLLIN},
                                      {.fd = c->fd, .events = POLLIN}};
                int r = poll(p, 3, -1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0 || p[2].revents) {
                        rl_callback_handler_remove();
                        return -1; /* nothing comes from the agent at a prompt but its end */
                }
                if (p[1].revents) {
                        struct signalfd_siginfo si;
                        if (read(c->cancel_fd, &si, sizeof si) != (ssize_t)sizeof si)
                                continue;
                        rl_callback_handler_remove();
                        if (si.ssi_signo != SIGINT) {
                                fputc('\n', stdout);
                                return 0;
                        }
                        if (reset_statement(c) < 0)
                                return -1;
                        rl_callback_handler_install(c->prompt, on_line);
                        continue;
                }
                if (p[0].revents)
                        rl_callback_read_char();
        }
        if (!c->line)
                fputc('\n', stdout); /* Ctrl-D: the next shell prompt on a line of its own */
        *ret = c->line;
        return c->line ? 1 : 0;
}

/* Tab: the agent completes from the session's namespace. */
static char *next_word(const char *text, int state) {
        static size_t at;
        (void)text;
        if (state == 0)
                at = 0;
        ap_buf *w = &reading->words;
        if (at >= w->len)
                return NULL;
        char *word = strdup(w->data + at);
        at += strlen(w->data + at) + 1;
        return word;
}

static char **complete(const char *text, int start, int end) {
        (void)start;
        (void)end;
        console *c = reading;
        rl_attempted_completion_over = 1;
        c->words.len = 0;
        ap_buf payload = {0};
        if (send_record(c, "COMP", text, strlen(text)) == 0) {
                for (;;) {
                        char tag[5];
                        int signo;
                        wait_result g = next_record(c, tag, &payload, &signo);
                        if (g == GOT_EOF)
                                break;
                        if (g == GOT_RECORD && strcmp(tag, "CMPL") == 0) {
                                for (size_t i = 0; i < payload.len; i++)
                                        if (payload.data[i] == '\n')
                                                payload.data[i] = '\0';
                                if (payload.len &&
                                    ap_buf_append(&c->words, payload.data, payload.len + 1) < 0)
                                        c->words.len = 0;
                                break;
                        }
                }
        }
        ap_buf_free(&payload);
        return c->words.len ? rl_completion_matches(text, next_word) : NULL;
}

/* A statement sent: its output until the next prompt; Ctrl-C interrupts
 * it (INTR).  0 (a prompt), 1 (the session ended: exit()), or an exit
 * status (> 1). */
static int follow_statement(console *c) {
        ap_buf payload = {0};
        int status = 0;
        /* After Ctrl-C: a statement still running half a second later is
         * in a C call (a sleep, a read), which no exception interrupts. */
        double interrupted_at = 0;
        bool told = false;
        for (;;) {
                char tag[5];
                int signo = 0;
                wait_result g = next_record_within(c, tag, &payload, &signo,
                                                   interrupted_at > 0 && !told ? 500 : -1);
                if (g == GOT_TIMEOUT) {
                        fprintf(stderr, "attachpy: the statement is in a C call (a sleep, a read): "
                                        "KeyboardInterrupt is raised when the call returns; "
                                        "Ctrl-\\ leaves the console meanwhile\n");
                        told = true;
                        continue;
                }
                if (g == GOT_SIGNAL) {
                        if (signo == SIGINT) {
                                if (interrupted_at == 0)
                                        (void)send_record(c, "INTR", NULL, 0);
                                interrupted_at = interrupted_at > 0 ? interrupted_at : ap_now_ms();
                                continue;
                        }
                        status = ap_code_exit_status(AP_ERR_INTERRUPTED);
                        break;
                }
                if (g == GOT_EOF) {
                        status = connection_lost(c);
                        break;
                }
                if (show_output(tag, &payload))
                        continue;
                if (strcmp(tag, "PRMT") == 0) {
                        set_prompt(c, &payload);
                        break;
                }
                if (strcmp(tag, "END ") == 0) {
                        status = 1;
                        break;
                }
                if (strcmp(tag, "FAIL") == 0) {
                        fprintf(stderr, "attachpy: error: the console failed: %s\n", payload.data);
                        status = ap_code_exit_status(AP_ERR_INJECTION_FAILED);
                        break;
                }
        }
        ap_buf_free(&payload);
        return status;
}

static int session(console *c) {
        for (;;) {
                char *line = NULL;
                int r = read_line(c, &line);
                if (r == 0)
                        return 0;
                if (r < 0)
                        return connection_lost(c);
                if (c->tty && *line)
                        add_history(line);
                r = send_record(c, "LINE", line, strlen(line));
                free(line);
                if (r < 0)
                        return connection_lost(c);
                r = follow_statement(c);
                if (r == 1)
                        return 0;
                if (r != 0)
                        return r;
        }
}

/* ---- around it ------------------------------------------------------------ */

/* $XDG_STATE_HOME/attachpy/history, or ~/.local/state/attachpy/history;
 * its directories made (0700).  NULL when there is no home. */
static char *history_path(void) {
        const char *state = getenv("XDG_STATE_HOME");
        const char *home = getenv("HOME");
        char *dir = NULL;
        if (state && state[0] == '/' && asprintf(&dir, "%s/attachpy", state) < 0)
                dir = NULL;
        else if (!dir && home && home[0] == '/' &&
                 asprintf(&dir, "%s/.local/state/attachpy", home) < 0)
                dir = NULL;
        if (!dir)
                return NULL;
        for (char *p = dir + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        (void)mkdir(dir, 0700);
                        *p = '/';
                }
        (void)mkdir(dir, 0700);
        char *path = NULL;
        if (asprintf(&path, "%s/history", dir) < 0)
                path = NULL;
        free(dir);
        return path;
}

/* An agent that serves pid: loaded now if none does (*ret_loaded).  0, or
 * an exit status. */
static int ensure_agent(const ap_options *o, int cancel_fd, const sigset_t *child_mask,
                        bool *ret_loaded) {
        ap_options a = *o;
        a.command = AP_CMD_ATTACH;
        a.keep = true;
        ap_run_config run = {.opts = &a,
                             .code = "",
                             .code_len = 0,
                             .filename = "<string>",
                             .log = o->verbose ? ap_log_file(stderr) : (ap_log){0},
                             .cancel_fd = cancel_fd,
                             .child_mask = child_mask};
        ap_report report;
        ap_run(&run, &report);
        int status = 0;
        if (!report.ok)
                status = ap_report_print_text(&report, stdout, stderr);
        *ret_loaded = report.ok && report.mechanism && strcmp(report.mechanism, "agent") != 0;
        ap_report_free(&report);
        return status;
}

int ap_console_run(const ap_options *o, int cancel_fd, const sigset_t *child_mask) {
        bool loaded = false;
        int status = ensure_agent(o, cancel_fd, child_mask, &loaded);
        if (status != 0)
                return status;
        console c = {.pid = o->pid, .fd = -1, .cancel_fd = cancel_fd, .tty = isatty(STDIN_FILENO)};
        ap_error err = AP_ERROR_INIT;
        if (ap_agent_connect(o->pid, &c.fd, NULL, &err) != 1) {
                fprintf(stderr, "attachpy: error: %s\n",
                        err.message ? err.message : "the agent stopped serving");
                ap_error_clear(&err);
                return ap_code_exit_status(AP_ERR_INJECTION_FAILED);
        }
        char *history = NULL;
        if (c.tty) {
                rl_readline_name = "attachpy";
                rl_completion_append_character = '\0';
                rl_attempted_completion_function = complete;
                reading = &c;
                history = history_path();
                stifle_history(1000);
                if (history)
                        (void)read_history(history);
                printf("attachpy console: process %d; Ctrl-D ends it, Ctrl-C interrupts the "
                       "statement that runs\n",
                       (int)o->pid);
                fflush(stdout);
        }
        status = start_session(&c);
        if (status == 0)
                status = session(&c);
        close(c.fd);
        if (history)
                (void)write_history(history);
        free(history);
        ap_buf_free(&c.words);
        ap_buf_free(&c.input);
        if (loaded) {
                /* The target as before: the agent this console loaded goes. */
                int fd;
                unsigned long active = 0;
                if (ap_agent_connect(o->pid, &fd, NULL, &err) == 1) {
                        if (ap_agent_detach(fd, o->pid, &active, &err) < 0)
                                ap_error_clear(&err);
                        close(fd);
                }
                ap_error_clear(&err);
        }
        return status;
}
