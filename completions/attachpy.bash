# bash completion for attachpy(1)                      -*- shell-script -*-
#
#   attachpy [OPTIONS] PID SCRIPT [ARG...]
#   attachpy [OPTIONS] PID -c CODE [ARG...]
#   attachpy ps [--json]
#   attachpy [OPTIONS] stacks [--locals] PID
#   attachpy [OPTIONS] objects [--top=N] [--diff=SECONDS] PID
#   attachpy [OPTIONS] memory start [--frames=N] | top [--top=N] | diff [--top=N] | stop  PID
#   attachpy [OPTIONS] attach PID
#   attachpy [OPTIONS] detach PID
#   attachpy [OPTIONS] console PID
#
# Options, debugger names, the commands, and for PID the Python processes
# that 'attachpy ps' lists.  Needs nothing from the bash-completion package.

_attachpy_options='-c --code= --debugger= --timeout= --no-wait --keep --json -v --verbose --config= -h --help --version --'
_attachpy_commands='ps stacks objects memory attach detach console'
# After attach, detach, console: the usual options, not those of a run of
# code (-c, --no-wait, --keep); console refuses --json.
_attachpy_serving_options='--debugger= --timeout= --json -v --verbose --config= -h --help --'
# After a recipe: its own options and the usual ones but -c and --no-wait.
_attachpy_recipe_options='--debugger= --timeout= --keep --json -v --verbose --config= -h --help --'

# The PIDs of the Python processes, from 'attachpy ps' (the same program
# that is being completed), else from /proc by name.
_attachpy_pids() {
        local prog=$1 line pids=
        if [[ -n $prog ]] && type -P -- "$prog" >/dev/null 2>&1 || [[ -x $prog ]]; then
                while read -r line; do
                        line=${line#"${line%%[![:space:]]*}"}
                        [[ $line =~ ^([0-9]+)[[:space:]] ]] && pids+="${BASH_REMATCH[1]} "
                done < <("$prog" ps 2>/dev/null)
        fi
        if [[ -z $pids ]]; then
                local d comm
                for d in /proc/[0-9]*; do
                        read -r comm 2>/dev/null <"$d/comm" || continue
                        case $comm in python*|pypy*) pids+="${d#/proc/} " ;; esac
                done
        fi
        printf '%s' "$pids"
}

_attachpy() {
        COMPREPLY=()
        # Rejoin what COMP_WORDBREAKS split at '=' ("--timeout" "=" "5").
        local -a words=()
        # split: readline completes only the part after '=', so the
        # replies for "--debugger=l" are bare values ("lldb").
        local i cword=0 w joined= split=
        for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
                w=${COMP_WORDS[i]}
                if ((i > 0)) && [[ $w == = && ${words[-1]} == --* && ${words[-1]} != *=* ]]; then
                        words[-1]+="="
                        joined=1
                        ((i == COMP_CWORD)) && split=1
                elif [[ -n $joined ]]; then
                        words[-1]+="$w"
                        joined=
                        ((i == COMP_CWORD)) && split=1
                else
                        words+=("$w")
                fi
                ((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
        done
        local cur=${words[cword]} prev=
        ((cword > 0)) && prev=${words[cword - 1]}

        # Walk the words before the cursor: options, then PID (or a command).
        local code_given= first= first_i=0 second_done= n_pos=0
        for ((i = 1; i < cword; i++)); do
                w=${words[i]}
                if [[ -z $first ]]; then
                        case $w in
                        --) first=--; continue ;;
                        -c | --code) code_given=1; ((i++)); continue ;;
                        --code=* | -c?*) code_given=1; continue ;;
                        --debugger | --timeout | --config) ((i++)); continue ;;
                        -*) continue ;;
                        *) first=$w; first_i=$i; n_pos=1; continue ;;
                        esac
                fi
                [[ $first == -- ]] && { first=$w; n_pos=1; continue; }
                ((n_pos++))
                [[ $w == -c || $w == --code ]] && code_given=1
        done

        if [[ -z $first || $first == -- ]]; then
                case $prev in
                --debugger) COMPREPLY=($(compgen -W 'gdb lldb auto' -- "$cur")); return ;;
                --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
                --timeout | -c | --code) return ;;
                esac
                case $cur in
                --debugger=*)
                        COMPREPLY=($(compgen -W 'gdb lldb auto' -- "${cur#--debugger=}"))
                        [[ -z $split ]] && COMPREPLY=("${COMPREPLY[@]/#/--debugger=}")
                        return ;;
                --config=*)
                        compopt -o filenames 2>/dev/null
                        COMPREPLY=($(compgen -f -- "${cur#--config=}"))
                        [[ -z $split ]] && COMPREPLY=("${COMPREPLY[@]/#/--config=}")
                        return ;;
                --timeout=* | --code=*) return ;;
                -*)
                        if [[ $first != -- ]]; then
                                COMPREPLY=($(compgen -W "$_attachpy_options" -- "$cur"))
                                [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] &&
                                        compopt -o nospace 2>/dev/null
                                return
                        fi ;;
                esac
                local pids
                pids=$(_attachpy_pids "${words[0]}")
                if [[ $first == -- || -n $code_given ]]; then
                        COMPREPLY=($(compgen -W "$pids" -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$pids $_attachpy_commands" -- "$cur"))
                fi
                return
        fi

        if [[ $first == ps ]]; then
                COMPREPLY=($(compgen -W '--json --help' -- "$cur"))
                return
        fi
        # The recipes (not after "--"): memory's action first, then the
        # recipe's options (those of that action) and the usual ones, then
        # PID, then nothing.
        ((first_i > 0)) && case $first in
        stacks | objects | memory)
                local j=$((first_i + 1)) action= own=
                if [[ $first == memory ]]; then
                        if ((cword == j)); then
                                COMPREPLY=($(compgen -W 'start top diff stop' -- "$cur"))
                                return
                        fi
                        action=${words[j]}
                        ((j++))
                fi
                case "$first $action" in
                'stacks ') own='--locals' ;;
                'objects ') own='--top= --diff=' ;;
                'memory start') own='--frames=' ;;
                'memory top' | 'memory diff') own='--top=' ;;
                'memory stop') ;;
                *) return ;;
                esac
                local dashdash=
                for ((i = j; i < cword; i++)); do
                        w=${words[i]}
                        [[ -n $dashdash ]] && return
                        case $w in
                        --) dashdash=1 ;;
                        --debugger | --timeout | --config | --top | --diff | --frames) ((i++)) ;;
                        -*) ;;
                        *) return ;; # PID given: nothing may follow
                        esac
                done
                if [[ -z $dashdash ]]; then
                        case $prev in
                        --debugger) COMPREPLY=($(compgen -W 'gdb lldb auto' -- "$cur")); return ;;
                        --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
                        --timeout | --top | --diff | --frames) return ;;
                        esac
                        case $cur in
                        --debugger=*)
                                COMPREPLY=($(compgen -W 'gdb lldb auto' -- "${cur#--debugger=}"))
                                [[ -z $split ]] && COMPREPLY=("${COMPREPLY[@]/#/--debugger=}")
                                return ;;
                        --config=*)
                                compopt -o filenames 2>/dev/null
                                COMPREPLY=($(compgen -f -- "${cur#--config=}"))
                                [[ -z $split ]] && COMPREPLY=("${COMPREPLY[@]/#/--config=}")
                                return ;;
                        --*=*) return ;;
                        -*)
                                COMPREPLY=($(compgen -W "$own $_attachpy_recipe_options" -- "$cur"))
                                [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] &&
                                        compopt -o nospace 2>/dev/null
                                return ;;
                        esac
                fi
                COMPREPLY=($(compgen -W "$(_attachpy_pids "${words[0]}")" -- "$cur"))
                return ;;
        esac
        # attach, detach, console (not after "--": that is PID): options,
        # then PID, then nothing.
        ((first_i > 0)) && case $first in
        attach | detach | console)
                local dashdash=
                for ((i = first_i + 1; i < cword; i++)); do
                        w=${words[i]}
                        [[ -n $dashdash ]] && return
                        case $w in
                        --) dashdash=1 ;;
                        --debugger | --timeout | --config) ((i++)) ;;
                        -*) ;;
                        *) return ;; # PID given: nothing may follow
                        esac
                done
                if [[ -z $dashdash ]]; then
                        case $prev in
                        --debugger) COMPREPLY=($(compgen -W 'gdb lldb auto' -- "$cur")); return ;;
                        --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
                        --timeout) return ;;
                        esac
                        case $cur in
                        --debugger=*)
                                COMPREPLY=($(compgen -W 'gdb lldb auto' -- "${cur#--debugger=}"))
                                [[ -z $split ]] && COMPREPLY=("${COMPREPLY[@]/#/--debugger=}")
                                return ;;
                        --config=*)
                                compopt -o filenames 2>/dev/null
                                COMPREPLY=($(compgen -f -- "${cur#--config=}"))
                                [[ -z $split ]] && COMPREPLY=("${COMPREPLY[@]/#/--config=}")
                                return ;;
                        --timeout=*) return ;;
                        -*)
                                local opts=$_attachpy_serving_options
                                [[ $first == console ]] && opts=${opts/--json /}
                                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
                                [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] &&
                                        compopt -o nospace 2>/dev/null
                                return ;;
                        esac
                fi
                COMPREPLY=($(compgen -W "$(_attachpy_pids "${words[0]}")" -- "$cur"))
                return ;;
        esac
        # After PID: SCRIPT or -c CODE; after those, the code's own arguments.
        if ((n_pos == 1)) && [[ -z $code_given ]]; then
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W '-c --code=' -- "$cur"))
                        return
                fi
                compopt -o filenames 2>/dev/null
                COMPREPLY=($(compgen -f -X '!*.py' -- "$cur") $(compgen -d -- "$cur"))
                return
        fi
        ((n_pos == 2)) && [[ $prev == -c || $prev == --code ]] && return
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
}
complete -F _attachpy attachpy
