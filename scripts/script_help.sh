# --help and option-looking arguments for the shell scripts in scripts/ and
# scripts/launch, sourced (not run; no #! line, and the '_' in the name keeps it
# out of tests/python/test_scripts_help.py's list of commands) before anything
# else happens, so that neither can start a build, an install or a download:
#
#   . "$(dirname "$0")/script_help.sh"      # launch/: "$(dirname "$0")/../script_help.sh"
#   script_args N "$@"
#
# POSIX sh (bench-attention.sh is /bin/sh); every name it sets starts with script_.

# script_help: the calling script's header comment on stdout: its lines from the
# second up to the first that is not a '#' comment line ('#!...', '#SBATCH' end it
# too), without the '# '.
script_help() {
    awk 'NR == 1 { next } /^#( |$)/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}

# script_args N ARGS...: looks at the first N of ARGS (the positional BUILD_DIR,
# OUT_DIR, ... of a script that takes no options): -h or --help prints the header
# and exits 0; anything else starting with '-' is refused (exit 2), naming it: a
# directory whose name starts with '-' goes as ./NAME.
script_args() {
    script_n=$1
    shift
    for script_a in "$@"; do
        [ "$script_n" -gt 0 ] || break
        case $script_a in
        -h | --help) script_help; exit 0 ;;
        -*) script_usage_error "unknown option '$script_a' (a directory so named: ./$script_a)" ;;
        esac
        script_n=$((script_n - 1))
    done
}

# script_count WHAT ARGS...: the first of ARGS is the number of WHAT (ranks,
# GPUs), a whole number from 1 to 1048576 (ingot-train's largest world) without
# leading zeros, else a usage error; -h/--help there prints the header
# (script_args 1).
script_count() {
    script_what=$1
    shift
    script_args 1 "$@"
    case ${1:-} in
    '') script_usage_error "give the number of $script_what first" ;;
    0* | *[!0-9]*) script_usage_error "'$1': the number of $script_what, a whole number from 1" ;;
    esac
    # the length first: bash's arithmetic wraps past 2^63
    if [ ${#1} -gt 7 ] || [ "$1" -gt 1048576 ]; then
        script_usage_error "'$1': the number of $script_what, at most 1048576 (ingot-train's" \
            "largest world)"
    fi
}

# script_env_count NAME LO HI: the variable NAME, if set, is a whole number in
# [LO, HI] (decimal digits, no sign or leading zeros), else a usage error naming it.
script_env_count() {
    local v=${!1-}
    [ -z "${!1+x}" ] && return 0
    case $v in
    0) ;;
    '' | 0* | *[!0-9]*) script_usage_error "$1='$v': a whole number from $2 to $3" ;;
    esac
    if [ ${#v} -gt 9 ] || [ "$v" -lt "$2" ] || [ "$v" -gt "$3" ]; then
        script_usage_error "$1='$v': a whole number from $2 to $3"
    fi
}

# script_bin VAR DEFAULT: the ingot-train to launch (VAR's value, else DEFAULT),
# refused at once with what to set when it is not an executable file (each rank
# failed with status 127 instead).
script_bin() {
    local b=${!1:-$2}
    if [ ! -f "$b" ] || [ ! -x "$b" ]; then
        script_usage_error "$b: no ingot-train there (build it, or set $1 to its path)"
    fi
    printf '%s\n' "$b"
}

# script_usage_error TEXT: "NAME: TEXT; --help for the usage" on stderr, exit 2.
script_usage_error() {
    echo "$(basename "$0"): $1; --help for the usage" >&2
    exit 2
}
