/* page.h: the scratch page attachpy maps in the target.
 *
 * One page, written by the debugger, read by the trampoline (cli/trampoline.S)
 * and by attachpy through /proc/PID/mem.  Included by C and by the assembler:
 * plain #defines only.
 *
 *   0     the agent's path                     (NUL-terminated)
 *   2048  the agent's entry point's name
 *   2112  the session directory
 *   2816  the trampoline's code: the pending-call entry at +0, the direct
 *         entry at +AP_TRAMPOLINE_DIRECT (see trampoline.S)
 *   3584  addresses of dlopen, dlsym, dlerror, munmap in the target
 *   3616  state (int32): written by the trampoline
 *   3620  cancel (int32): 0 armed; 1 not armed yet (a queued call's page is
 *         written so, and the debugger arms it as its last step: a call
 *         whose debugger died before that runs no code and keeps its page,
 *         state AP_TRAMPOLINE_UNARMED); 2 withdrawn by attachpy (the call
 *         only unmaps its page)
 *   3624  detail (int64): dlerror()'s pointer, or the entry point's result
 *   3632  the calling thread's registers before the direct call (int64 each:
 *         rax rbx rcx rdx rsi rdi rbp rsp r8 ... r15 rip), written by gdb's
 *         direct script; rip 0: none (lldb's scripts, whose relay finishes
 *         a call lldb did not, cli/cure.h)
 */
#pragma once

#define AP_PAGE_SIZE 4096
#define AP_PAGE_OFFSET_AGENT 0
#define AP_PAGE_OFFSET_SYMBOL 2048
#define AP_PAGE_OFFSET_SESSION 2112
#define AP_PAGE_OFFSET_CODE 2816
#define AP_PAGE_CODE_MAX 768
#define AP_PAGE_SLOT_DLOPEN 3584
#define AP_PAGE_SLOT_DLSYM 3592
#define AP_PAGE_SLOT_DLERROR 3600
#define AP_PAGE_SLOT_MUNMAP 3608
#define AP_PAGE_STATE 3616
#define AP_PAGE_CANCEL 3620
#define AP_PAGE_DETAIL 3624
#define AP_PAGE_REGS 3632
#define AP_PAGE_REGS_COUNT 17
#define AP_PAGE_REG_RBX (AP_PAGE_REGS + 8 * 1)
#define AP_PAGE_REG_RSP (AP_PAGE_REGS + 8 * 7)
#define AP_PAGE_REG_RIP (AP_PAGE_REGS + 8 * 16)
/* ATTACHPY_FAULT=hang-call: two bytes of "jmp ." for a call that never
 * returns (lldb's scripts name 4000). */
#define AP_PAGE_OFFSET_HANG 4000

/* Values of the state word. */
#define AP_TRAMPOLINE_QUEUED 0        /* not run yet */
#define AP_TRAMPOLINE_RUNNING 1       /* running; the page is unmapped when it succeeds */
#define AP_TRAMPOLINE_DLOPEN_FAILED 2 /* detail: dlerror()'s message in the target */
#define AP_TRAMPOLINE_DLSYM_FAILED 3
#define AP_TRAMPOLINE_ENTRY_FAILED 4 /* detail: the entry point's result */
#define AP_TRAMPOLINE_UNARMED 5      /* ran before it was armed: did nothing */
/* A direct call that found its debugger gone when it ended (gdb killed
 * during the call): the agent started, and the trampoline put the thread's
 * registers back itself (AP_PAGE_REGS) instead of returning into the
 * debugger's dummy frame; the page stays mapped. */
#define AP_TRAMPOLINE_RESUMED 6

/* Values of the cancel word. */
#define AP_CANCEL_ARMED 0
#define AP_CANCEL_UNARMED 1
#define AP_CANCEL_WITHDRAWN 2

#define AP_AGENT_ENTRY_SYMBOL "attachpy_agent_start_v1"
