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
# GPUs), a whole number from 1 without leading zeros, else a usage error;
# -h/--help there prints the header (script_args 1).
script_count() {
    script_what=$1
    shift
    script_args 1 "$@"
    case ${1:-} in
    '') script_usage_error "give the number of $script_what first" ;;
    0* | *[!0-9]*) script_usage_error "'$1': the number of $script_what, a whole number from 1" ;;
    esac
}

# script_usage_error TEXT: "NAME: TEXT; --help for the usage" on stderr, exit 2.
script_usage_error() {
    echo "$(basename "$0"): $1; --help for the usage" >&2
    exit 2
}
