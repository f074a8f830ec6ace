# Sourced by tools/demo.sh.
step "Subprocess pipes: subprocess_demo feeds its stdin to a child and labels its output"
printf 'hello from the parent\nsecond line\n' \
    | "$BIN/subprocess_demo" -- sh -c 'tr a-z A-Z; echo "a warning" >&2; exit 3'
step "Subprocess pipes: a child's output streamed through the protocol"
"$BIN/subprocess_demo" -- sh -c 'for i in 1 2 3; do echo "line $i"; done' </dev/null
