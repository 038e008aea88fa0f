/* trampoline.S: the code attachpy copies into the scratch page (page.h).
 *
 * It loads the agent and calls its entry point with the session path:
 * dlopen, dlsym, entry, then it unmaps its own page (a tail call of munmap,
 * which returns to the trampoline's caller).  Everything is addressed from the
 * page's base, which is the one argument, so the code runs wherever the page
 * is mapped.  Two entries, both "int f(void *page)" (System V x86-64):
 *
 *   +0 (pending)  queued by Py_AddPendingCall: runs in the main thread with
 *                 the GIL held, between two bytecodes.  Always returns 0
 *                 (a non-zero result would make the interpreter raise).
 *   +direct       called by the debugger in a thread parked in a system
 *                 call.  Returns 0 when the agent started (and the page is
 *                 gone), else the failure's state value.
 *
 * Before anything else it marks the page as running (xchg: a full barrier)
 * and then reads the cancel word: attachpy withdraws a queued call by setting
 * cancel and then reading state, so exactly one side sees the other.  A
 * withdrawn call only unmaps its page; a call that was never armed (its
 * debugger died before its last step) does nothing and says so in state.
 * On failure the page stays mapped, state and detail say what failed, and
 * attachpy reads them through /proc/PID/mem.
 *
 * attachpy never executes this code itself: it is data (.rodata) here. */
#include "page.h"

        .section .rodata
        .globl ap_trampoline_code
        .globl ap_trampoline_code_end
        .globl ap_trampoline_direct
        .type ap_trampoline_code, @object
ap_trampoline_code:
        xorl %eax, %eax                 /* pending: report nothing */
        jmp 1f
ap_trampoline_direct:
        movl $1, %eax                   /* direct: report the state */
1:      pushq %rbx
        pushq %r12
        subq $8, %rsp                   /* 16-byte aligned for the calls */
        movq %rdi, %rbx
        movl %eax, %r12d
        movl $AP_TRAMPOLINE_RUNNING, %eax
        xchgl %eax, AP_PAGE_STATE(%rbx)
        movl AP_PAGE_CANCEL(%rbx), %eax
        cmpl $AP_CANCEL_WITHDRAWN, %eax
        je 2f
        testl %eax, %eax
        jnz 7f
        leaq AP_PAGE_OFFSET_AGENT(%rbx), %rdi
        movl $2, %esi                   /* RTLD_NOW */
        call *AP_PAGE_SLOT_DLOPEN(%rbx)
        testq %rax, %rax
        jz 3f
        movq %rax, %rdi
        leaq AP_PAGE_OFFSET_SYMBOL(%rbx), %rsi
        call *AP_PAGE_SLOT_DLSYM(%rbx)
        testq %rax, %rax
        jz 4f
        leaq AP_PAGE_OFFSET_SESSION(%rbx), %rdi
        call *%rax
        testl %eax, %eax
        jnz 5f
2:      movq %rbx, %rdi                 /* done or cancelled: unmap the page */
        movl $AP_PAGE_SIZE, %esi
        movq AP_PAGE_SLOT_MUNMAP(%rbx), %rax
        addq $8, %rsp
        popq %r12
        popq %rbx
        jmp *%rax                       /* munmap returns 0 to our caller */
3:      call *AP_PAGE_SLOT_DLERROR(%rbx)
        movq %rax, AP_PAGE_DETAIL(%rbx)
        movl $AP_TRAMPOLINE_DLOPEN_FAILED, %eax
        jmp 6f
4:      movl $AP_TRAMPOLINE_DLSYM_FAILED, %eax
        jmp 6f
5:      movslq %eax, %rax
        movq %rax, AP_PAGE_DETAIL(%rbx)
        movl $AP_TRAMPOLINE_ENTRY_FAILED, %eax
        jmp 6f
7:      movl $AP_TRAMPOLINE_UNARMED, %eax
6:      movl %eax, AP_PAGE_STATE(%rbx)
        testl %r12d, %r12d
        cmovzl %r12d, %eax
        addq $8, %rsp
        popq %r12
        popq %rbx
        ret
ap_trampoline_code_end:
        .size ap_trampoline_code, ap_trampoline_code_end - ap_trampoline_code

        .section .note.GNU-stack, "", @progbits
