/* agent_channel.h: the serving agent, from the CLI's side (docs/protocol.md,
 * "The serving agent").
 *
 * An agent that stays listens on <target's /tmp>/attachpy-agent-<pid>-
 * <starttime>-<random>/agent.sock, a directory the agent makes (0700, the
 * target's user).  The CLI finds it through /proc/PID/root/tmp, so a target
 * in a container is reached as one on the host; the name ties it to the
 * process (pid and start time, as the host sees them) and the connection's
 * SO_PEERCRED pid must be the target's.  Directories whose process is gone,
 * or whose socket no longer listens (the process exec'd, or was killed),
 * are removed by the next run that finds them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "util.h"

/* The longest name (agent/serve.h, AP_SERVE_NAME_MAX). */
#define AP_AGENT_NAME_MAX 64

/* A fresh name for pid's serving directory. */
int ap_agent_name(pid_t pid, char name[static AP_AGENT_NAME_MAX + 1])
        __attribute__((warn_unused_result));

/* Connect to the agent that serves pid: 1 with *ret_fd (and the
 * directory's name in ret_name, if not NULL), 0 when none serves (stale
 * directories of pid's removed), -1 with err when one serves but this user
 * may not reach it (permission_denied). */
int ap_agent_connect(pid_t pid, int *ret_fd, char ret_name[AP_AGENT_NAME_MAX + 1], ap_error *err)
        __attribute__((warn_unused_result));

/* Send the run's request (REQ), then see whether the agent refused the
 * peer (DENY: permission_denied).  0 or -1 with err. */
int ap_agent_send_request(int fd, pid_t pid, const ap_buf *request, ap_error *err)
        __attribute__((warn_unused_result));

/* The agent's own account (INFO): runs taken and under way. */
typedef struct ap_agent_info {
        unsigned long runs, active;
        char impl[8];     /* "cpython" or "pypy" */
        char version[32]; /* "3.12.1" */
} ap_agent_info;

int ap_agent_info_get(int fd, ap_agent_info *ret, ap_error *err)
        __attribute__((warn_unused_result));

/* Stop serving (DTCH): the agent removes its files; runs under way finish.
 * Returns how many were under way in *ret_active. */
int ap_agent_detach(int fd, pid_t pid, unsigned long *ret_active, ap_error *err)
        __attribute__((warn_unused_result));

/* Remove the serving directories in dir (a /tmp) whose process is gone or
 * has another start time.  Returns how many. */
int ap_agent_reap_stale(const char *dir);

/* Does an agent serve pid (for ps)?  Connects and hangs up. */
bool ap_agent_serves(pid_t pid);
