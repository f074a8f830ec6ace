# Sourced by tools/demo.sh: the classic asyncio tutorial, with sleeps scaled down.
step "Tutorial 1: a Future set to \"Done!\" after a sleep (future_sleep --scale 0.1)"
"$BIN/future_sleep" --scale 0.1

step "Tutorial 2: three tasks gathered (tasks_gather --scale 0.1)"
"$BIN/tasks_gather" --scale 0.1

step "Tutorial 3: a blocking sleep stalls the loop, run_in_executor fixes it (blocking_sleep --scale 0.1)"
"$BIN/blocking_sleep" --scale 0.1 2>&1
