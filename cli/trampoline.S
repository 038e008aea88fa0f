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
 * A direct call whose debugger died while it ran (gdb SIGKILLed: the kernel
 * detaches the thread, which goes on running the call) would return into
 * the debugger's dummy frame, on the stack, and die of SIGSEGV.  So before
 * it returns, the direct entry reads TracerPid in /proc/self/status; when
 * it is 0 and the debugger saved the thread's registers in the page
 * (AP_PAGE_REGS, gdb's direct script), it says so in state
 * (AP_TRAMPOLINE_RESUMED when the agent started) and puts the registers
 * back itself, jumping to the saved program counter: the thread goes on
 * where it was stopped (its system call restarted, attach.gdb), the page
 * stays mapped.  Floating-point registers are not restored: the thread
 * sits at a system call, where the ABI lets a called function clobber
 * them.  A debugger killed after the check, while it takes the thread out
 * of its dummy frame, still leaves it there (docs/architecture.md).
 *
 * attachpy never executes this code itself: it is data (.rodata) here. */
#include "page.h"

        .section .rodata
        .globl ap_trampoline_code
        .globl ap_trampoline_code_end
        .globl ap_trampoline_direct
        .type ap_trampoline_code, @object
ap_trampoline_code:
.Lbase:                                 /* the page's AP_PAGE_OFFSET_CODE */
        xorl %eax, %eax                 /* pending: report nothing */
        jmp 1f
ap_trampoline_direct:
.Ldirect:
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
2:      testl %r12d, %r12d              /* direct: is the debugger still here? */
        jz 8f
        call .Ltraced
        testl %eax, %eax
        jnz 8f
        movl $AP_TRAMPOLINE_RESUMED, AP_PAGE_STATE(%rbx)
        jmp .Lresume
8:      movq %rbx, %rdi                 /* done or cancelled: unmap the page */
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
        jz 9f
        pushq %rax
        subq $8, %rsp
        call .Ltraced
        movl %eax, %ecx
        addq $8, %rsp
        popq %rax
        testl %ecx, %ecx
        jz .Lresume
9:      testl %r12d, %r12d
        cmovzl %r12d, %eax
        addq $8, %rsp
        popq %r12
        popq %rbx
        ret

/* ATTACHPY_FAULT=slow-call (tests): the direct entry after 2 s asleep, so
 * that a test can kill the debugger while the call runs. */
        .globl ap_trampoline_slow
ap_trampoline_slow:
        movl $AP_TRAMPOLINE_RUNNING, AP_PAGE_STATE(%rdi)
        pushq %rdi
        subq $16, %rsp
        movq $2, (%rsp)
        movq $0, 8(%rsp)
        movq %rsp, %rdi
        xorl %esi, %esi
        movl $35, %eax                  /* nanosleep */
        syscall
        addq $16, %rsp
        popq %rdi
        jmp .Ldirect

/* The debugger is gone: the thread's registers as the debugger found them
 * (rbx: the page), then its program counter.  rbx and the program counter
 * last, addressed from this code's own place in the page. */
.Lresume:
        movq AP_PAGE_REGS + 8 * 0(%rbx), %rax
        movq AP_PAGE_REGS + 8 * 2(%rbx), %rcx
        movq AP_PAGE_REGS + 8 * 3(%rbx), %rdx
        movq AP_PAGE_REGS + 8 * 4(%rbx), %rsi
        movq AP_PAGE_REGS + 8 * 5(%rbx), %rdi
        movq AP_PAGE_REGS + 8 * 6(%rbx), %rbp
        movq AP_PAGE_REGS + 8 * 8(%rbx), %r8
        movq AP_PAGE_REGS + 8 * 9(%rbx), %r9
        movq AP_PAGE_REGS + 8 * 10(%rbx), %r10
        movq AP_PAGE_REGS + 8 * 11(%rbx), %r11
        movq AP_PAGE_REGS + 8 * 12(%rbx), %r12
        movq AP_PAGE_REGS + 8 * 13(%rbx), %r13
        movq AP_PAGE_REGS + 8 * 14(%rbx), %r14
        movq AP_PAGE_REGS + 8 * 15(%rbx), %r15
        movq AP_PAGE_REG_RSP(%rbx), %rsp
        movq .Lbase + (AP_PAGE_REG_RBX - AP_PAGE_OFFSET_CODE)(%rip), %rbx
        jmp *.Lbase + (AP_PAGE_REG_RIP - AP_PAGE_OFFSET_CODE)(%rip)

.Lstatus:
        .asciz "/proc/self/status"


/* eax 0 when the thread can resume by itself: its registers were saved
 * (rip non-zero) and /proc/self/status says "TracerPid:\t0"; 1 otherwise
 * (traced, or not known: no /proc).  rbx: the page.  Raw system calls. */
.Ltraced:
        cmpq $0, AP_PAGE_REG_RIP(%rbx)
        je .Lyes
        subq $1032, %rsp
        leaq .Lstatus(%rip), %rdi
        xorl %esi, %esi                 /* O_RDONLY */
        movl $2, %eax                   /* open */
        syscall
        testl %eax, %eax
        js .Lyes_frame
        movl %eax, %r8d
        movl %eax, %edi
        movq %rsp, %rsi
        movl $1024, %edx
        xorl %eax, %eax                 /* read */
        syscall
        movq %rax, %r9
        movl %r8d, %edi
        movl $3, %eax                   /* close */
        syscall
        subq $13, %r9                   /* "TracerPid:\t0\n" is 13 bytes */
        jl .Lyes_frame
        movabsq $0x6950726563617254, %r10   /* "TracerPi" */
        xorl %ecx, %ecx
.Lscan: cmpq %r10, (%rsp,%rcx)
        jne .Lnext
        cmpl $0x30093a64, 8(%rsp,%rcx)      /* "d:\t0" */
        jne .Lyes_frame
        cmpb $0x0a, 12(%rsp,%rcx)           /* "\n" */
        jne .Lyes_frame
        addq $1032, %rsp
        xorl %eax, %eax
        ret
.Lnext: incq %rcx
        cmpq %r9, %rcx
        jle .Lscan
.Lyes_frame:
        addq $1032, %rsp
.Lyes:  movl $1, %eax
        ret
ap_trampoline_code_end:
        .size ap_trampoline_code, ap_trampoline_code_end - ap_trampoline_code

        .section .note.GNU-stack, "", @progbits
