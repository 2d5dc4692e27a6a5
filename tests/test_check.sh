# The shell tests' common part (sourced): a temporary directory $tmp removed on
# exit, check WHAT COMMAND... (prints "ok   WHAT" or "FAIL WHAT", counting
# failures), and check_done (the summary line; its status is the test's).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

check() { # check WHAT COMMAND...
    local what=$1
    shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}

check_done() {
    echo "$([ "$fails" = 0 ] && echo PASS || echo FAIL): $fails failure(s)"
    [ "$fails" = 0 ]
}
