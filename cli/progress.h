/* progress.h: one status line on a terminal while a step takes a while.
 *
 *     attachpy: waiting for a safe point in 4242… 2.0 s
 *
 * The orchestration names each step as it begins (ap_progress_stage); a
 * line appears only once a step has lasted AP_PROGRESS_DELAY_MS, is redrawn
 * in place every AP_PROGRESS_PERIOD_MS by a ticker thread, and is erased
 * when the next step begins and when the run is done, so nothing of it is
 * left on the screen.  main() creates it only when stderr is a terminal and
 * neither --json nor --verbose is given; every function accepts NULL and
 * then does nothing, so the orchestration calls it unconditionally.
 *
 * The ticker writes with write(2) from a fixed buffer, and takes no lock
 * that fork()ed children need (it never allocates).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define AP_PROGRESS_DELAY_MS 1000.0
#define AP_PROGRESS_PERIOD_MS 100.0

typedef struct ap_progress ap_progress;

/* A status line on fd.  ticker: start the thread that redraws it (false in
 * tests that call ap_progress_tick with their own clock).  NULL on failure. */
ap_progress *ap_progress_new(int fd, bool ticker);

/* A new step begins (its clock starts now); erases the old line. */
void ap_progress_stage(ap_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Draw the line for now_ms (CLOCK_MONOTONIC, ap_now_ms()) if the step has
 * lasted long enough. */
void ap_progress_tick(ap_progress *p, double now_ms);

/* Erase the line, stop the ticker and free p. */
void ap_progress_free(ap_progress *p);

/* The text of the line, cut to width columns (0: no limit): "attachpy:
 * STAGE… 2.0 s".  ellipsis is "…" or "..." (no UTF-8 terminal).  Returns
 * the length written. */
size_t ap_progress_format(char *buf, size_t size, const char *stage, double elapsed_ms,
                          const char *ellipsis, int width);
