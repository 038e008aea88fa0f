# attachpy: attach to a running Python process and stop it; the CLI then
# reads the stopped threads' state in /proc/PID/task, chooses where to call
# (docs/architecture.md) and sends one command on gdb's stdin: the direct
# plan's (direct.gdb) or the schedule plan's (schedule.gdb), which this file
# is followed by.
#
# Rendered by attachpy (cli/backend_gdb.c).  Every placeholder is a value
# attachpy generated itself: the PID, addresses it computed from the target's
# ELF files before attaching, and the files holding the scratch page (the
# agent's and the session's paths, the trampoline: cli/page.h), which the CLI
# wrote next to this script.  The command the CLI sends carries only values
# it read from /proc (a stack pointer, a program counter) and a safe point's
# name.  Nothing the user typed reaches gdb.
#
# The CLI reads the lines starting with @@ATTACHPY: (docs/architecture.md).
# No breakpoint is ever inserted: killed at any marker, gdb leaves the target
# as it found it (the kernel detaches it).

set pagination off
set height 0
set width 0
set confirm off
set verbose off
set auto-load off
set auto-solib-add off
# No file of the target's is read: attachpy computed every address before
# attaching, and opening the process's shared libraries (which auto-solib-add
# off still does) costs gdb about 1 ms a library while the target is
# stopped.  /dev/null/... is never a file.
set sysroot /dev/null
set debuginfod enabled off
set breakpoint pending off
set unwindonsignal on
set print thread-events off
set print inferior-events off
handle all nostop noprint pass
# The CLI's interrupt of a call that outlived the deadline: sent to the
# calling thread (cli/debugger_run.c), so that gdb unwinds the call there.
handle SIGCONT stop print nopass
# gdb reads its commands from a pipe: no prompt, so that every marker starts
# a line.
set prompt

# The thread to call in, when none is chosen yet: the current one if it is
# where the CLI saw it while gdb held the process stopped (interrupted in its
# system call, on the same stack, at the same place).  $attachpy_sp 0: no
# thread chosen, gdb's thread 1 (the main thread).
define attachpy_check
  if $attachpy_thread == 0 && ($attachpy_sp == 0 ? $_thread == 1 : ({{restart}} && $rsp == $attachpy_sp && $pc == $attachpy_pc))
    set $attachpy_thread = $_thread
  end
end

# A thread interrupted in its system call holds a restart code (-ERESTARTSYS,
# -ERESTARTNOINTR, -ERESTARTNOHAND; -ERESTART_RESTARTBLOCK for a timed wait)
# and the call's number in orig_rax: when it resumes, the kernel moves it
# back onto its syscall instruction (2 bytes) with rax the number again
# (restart_syscall, 219, for a timed wait).  The direct plan does that itself
# before it calls the trampoline: gdb puts the registers back after a call
# one at a time, in order, orig_rax last, and killed after the program
# counter and before orig_rax it left the thread past its syscall with no
# restart due and the bare code as the call's result (Python: OSError errno
# 514 from time.sleep, tests/faults' random kills).  Restarted, every state
# gdb's restore passes through once the program counter is back is one the
# thread resumes from correctly.  Not before the mmap call: on its syscall
# instruction, a thread that gdb's setup of a call (arguments, rax, stack
# pointer, then the program counter) was killed in the middle of would run
# a system call made of mmap's arguments; past it, once gdb has written rax
# (0), the interrupted call merely returns 0.  Each order of the two writes
# below has a state in between that is wrong (here: the interrupted call
# returns its own number); they are one expression, two ptrace writes apart.
define attachpy_restart_here
  if $orig_rax >= 0 && ((long) $rax == -512 || (long) $rax == -513 || (long) $rax == -514 || (long) $rax == -516)
    set $attachpy_restarted = ($rax = ((long) $rax == -516 ? 219 : $orig_rax), $pc = $pc - 2)
  end
end

# The thread the CLI chose: gdb's thread 1 (the main thread) alone first: it
# is the one chosen most often, and asking every thread for its registers
# costs about 0.3 ms a thread while the target is stopped.  Sets
# $attachpy_thread and prints @@ATTACHPY:fit, or prints @@ATTACHPY:unfit
# (the thread's system call had completed when gdb stopped it): the plan's
# command then does nothing, and the CLI sends another one, the target still
# stopped.
define attachpy_select
  set $attachpy_thread = 0
  thread apply 1 -q -s attachpy_check
  if $attachpy_thread == 0
    thread apply all -ascending -q -s attachpy_check
  end
  if $attachpy_thread == 0
    printf "@@ATTACHPY:unfit\n"
  else
    thread $attachpy_thread
    printf "@@ATTACHPY:fit %d\n", $attachpy_thread
  end
end

# Nothing to do after all (no thread fit): let go.
define attachpy_let_go
  printf "@@ATTACHPY:moved\n"
  detach
  quit 0
end

# Every command that runs while the target is stopped is read here, before
# gdb attaches: gdb reads a command file a byte at a time (two system calls
# per byte), and a defined command's body is already parsed when it runs.
# The command line runs this one (cli/backend_gdb.c), after gdb has attached
# to and detached from an idle child of attachpy's, so that gdb's
# first-attach costs (probing ptrace with forks of itself) are not paid while
# the target is stopped.
define attachpy_attach
attach {{pid}}
printf "@@ATTACHPY:attached\n"
# Other threads run during our calls, so that none of them can keep a lock
# the called function needs.
set scheduler-locking off
{{pause_attached}}

# The process preflight read?  A reused PID is another program.
if *(unsigned long *) {{check_addr}} != {{check_value}}
  printf "@@ATTACHPY:mismatch\n"
  detach
  quit 0
end
# Every thread is stopped: the CLI reads /proc and sends the next command.
printf "@@ATTACHPY:stopped\n"
end
