# attachpy: load the agent into a running Python process from a thread that
# sits in a blocking system call, and start it.  Follows attach.gdb: the CLI
# runs "attachpy_direct SP PC SAFEPOINT" once it has read, while gdb holds
# the process stopped, that a thread sits in such a call with that stack
# pointer and program counter (rendered by cli/backend_gdb.c; only values
# attachpy generated).

define attachpy_direct
set $attachpy_sp = $arg0
set $attachpy_pc = $arg1
attachpy_select
if $attachpy_thread != 0
printf "@@ATTACHPY:safepoint $arg2 %d\n", $attachpy_thread
{{pause_thread}}

# The scratch page: strings, the trampoline, the addresses it calls.
# mmap takes no lock: only this thread runs during the call (resuming and
# stopping every other thread costs milliseconds per hundred threads).
set scheduler-locking on
set $attachpy_page = ((void *(*)(void *, unsigned long, int, int, int, long)) {{addr_mmap}})((void *) 0, {{page_size}}, 7, 0x22, -1, 0)
set scheduler-locking off
if $attachpy_page == (void *) -1
  printf "@@ATTACHPY:mmap-failed\n"
  detach
  quit 0
end
printf "@@ATTACHPY:mapped 0x%lx\n", (unsigned long) $attachpy_page
{{pause_mapped}}
# The page's contents, in one write.
restore {{page_file}} binary $attachpy_page
# The system call restarted in place before the long call (attach.gdb),
# and the registers the trampoline puts back itself should gdb be gone
# when the call ends (cli/trampoline.S), in one write; none for a target
# in a PID namespace of its own, where TracerPid cannot tell (backend_gdb.c).
attachpy_restart_here
{{save_regs}}
{{pause_written}}
# dlopen, dlsym, the entry point; on success the trampoline unmaps the page.
set $attachpy_state = ((int (*)(void *)) ((char *) $attachpy_page + {{offset_direct}}))($attachpy_page)
if $attachpy_state == 0
  printf "@@ATTACHPY:started 0\n"
else
  if $attachpy_state == {{state_dlopen_failed}}
    if *(char **) ((char *) $attachpy_page + {{offset_detail}}) != 0
      printf "@@ATTACHPY:dlopen-failed %s\n", *(char **) ((char *) $attachpy_page + {{offset_detail}})
    else
      printf "@@ATTACHPY:dlopen-failed\n"
    end
  end
  if $attachpy_state == {{state_dlsym_failed}}
    printf "@@ATTACHPY:dlsym-failed\n"
  end
  if $attachpy_state == {{state_entry_failed}}
    printf "@@ATTACHPY:started %d\n", (int) *(long *) ((char *) $attachpy_page + {{offset_detail}})
  end
  set $attachpy_unmap = ((int (*)(void *, unsigned long)) {{addr_munmap}})($attachpy_page, {{page_size}})
end
{{pause_called}}
detach
printf "@@ATTACHPY:detached\n"
quit 0
end
end
