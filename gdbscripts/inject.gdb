# attachpy: load the agent into a running Python process and start it.
#
# Rendered by attachpy (cli/backend_gdb.c).  Every placeholder is a value
# attachpy generated itself: the PID, addresses it computed from the target's
# ELF files before attaching, and the words of a session path it created.
# Nothing the user typed reaches this script.
#
# The CLI reads the lines starting with @@ATTACHPY: (docs/architecture.md).
# Between "waiting" and "safepoint" breakpoints are inserted.  The CLI
# interrupts gdb there with SIGINT (never SIGKILL): the first time when its
# patience runs out, to look for threads parked in a futex wait; again at
# the deadline, to give up.

set pagination off
set height 0
set width 0
set confirm off
set verbose off
set auto-load off
set auto-solib-add off
set debuginfod enabled off
set breakpoint pending off
set unwindonsignal on
set print thread-events off
set print inferior-events off
handle all nostop noprint pass

attach {{pid}}
printf "@@ATTACHPY:attached\n"
# Other threads run during our calls, so that none of them can keep a lock
# the called function needs.
set scheduler-locking off

# 1. A thread parked in a blocking system call holds no lock of the C library
#    or of the loader: call into the target from there, with no breakpoint.
set $attachpy_parked = 0
thread apply all -ascending -q -s set $attachpy_parked = ($attachpy_parked == 0 && ({{parked_condition}})) ? $_thread : $attachpy_parked
if $attachpy_parked != 0
  thread $attachpy_parked
  printf "@@ATTACHPY:safepoint parked %d\n", $attachpy_parked
else
  # 2. Every thread is running.  Queue a pending call so that the thread
  #    running bytecode soon enters the C API at a clean point, then wait at
  #    entry points of the C API, where no lock of the C library is held.
  set $attachpy_nudge = ((int (*)(void *, void *)) {{addr_add_pending_call}})((void *) {{addr_nudge}}, (void *) 0)
{{break_commands}}
  printf "@@ATTACHPY:waiting %d\n", $attachpy_nudge
  set $attachpy_hit = 0
  set $attachpy_round = 0
  while $attachpy_hit == 0
    continue
    if $_siginfo.si_signo == 2
      printf "@@ATTACHPY:sigint\n"
      if $attachpy_round == 0
        # The CLI's patience ran out: no thread runs into the C API.  A
        # thread that waits in a futex (a lock, a condition, a join) holds
        # no lock of the C library: use one, the main thread first.
        set $attachpy_round = 1
        set $attachpy_parked = 0
        thread apply all -ascending -q -s set $attachpy_parked = ($attachpy_parked == 0 && ({{futex_condition}})) ? $_thread : $attachpy_parked
        if $attachpy_parked != 0
          set $attachpy_hit = 3
        end
      else
        set $attachpy_hit = 2
      end
    else
      if {{safepoint_condition}}
        set $attachpy_hit = 1
      end
    end
  end
  delete
  if $attachpy_hit == 2
    printf "@@ATTACHPY:interrupted\n"
    detach
    quit 0
  end
  if $attachpy_hit == 3
    thread $attachpy_parked
    printf "@@ATTACHPY:safepoint futex %d\n", $attachpy_parked
  else
    printf "@@ATTACHPY:safepoint breakpoint %d\n", $_thread
  end
end

# 3. A private scratch page for the strings, the agent, its entry point.
set $attachpy_page = ((void *(*)(void *, unsigned long, int, int, int, long)) {{addr_mmap}})((void *) 0, {{page_size}}, 3, 0x22, -1, 0)
if $attachpy_page == (void *) -1
  printf "@@ATTACHPY:mmap-failed\n"
  detach
  quit 0
end
{{page_writes}}
set $attachpy_handle = ((void *(*)(const char *, int)) {{addr_dlopen}})((const char *) $attachpy_page + {{offset_agent}}, 2)
if $attachpy_handle == 0
  set $attachpy_dlerror = ((char *(*)(void)) {{addr_dlerror}})()
  printf "@@ATTACHPY:dlopen-failed %s\n", $attachpy_dlerror
else
  set $attachpy_entry = ((void *(*)(void *, const char *)) {{addr_dlsym}})($attachpy_handle, (const char *) $attachpy_page + {{offset_symbol}})
  if $attachpy_entry == 0
    printf "@@ATTACHPY:dlsym-failed\n"
  else
    set $attachpy_rc = ((int (*)(const char *)) $attachpy_entry)((const char *) $attachpy_page + {{offset_session}})
    printf "@@ATTACHPY:started %d\n", $attachpy_rc
  end
end
set $attachpy_unmap = ((int (*)(void *, unsigned long)) {{addr_munmap}})($attachpy_page, {{page_size}})
detach
printf "@@ATTACHPY:detached\n"
quit 0
