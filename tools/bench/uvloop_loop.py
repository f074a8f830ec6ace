"""uvloop side of tools/bench/60_loop.sh: the cost of one call_soon callback and of
one create_task + await, measured the same way as tools/src/bin/loop_bench.rs.

    python uvloop_loop.py N            prints "call_soon NS" and "tasks NS" (ns/op,
                                       best of 5 rounds of N operations)
    python uvloop_loop.py N MODE       one run of MODE (call_soon | tasks | none),
                                       for counting instructions under cachegrind
"""

import asyncio
import sys
import time

import uvloop

ROUNDS = 5


async def call_soon(n):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    count = 0

    def callback():
        nonlocal count
        count += 1
        if count == n:
            done.set_result(None)

    for _ in range(n):
        loop.call_soon(callback)
    await done


async def tasks(n):
    async def job(i):
        return i

    spawned = [asyncio.create_task(job(i)) for i in range(n)]
    total = 0
    for task in spawned:
        total += await task
    return total


async def nothing(_n):
    return None


MODES = {"call_soon": call_soon, "tasks": tasks, "none": nothing}


def timed(loop, mode, n):
    start = time.perf_counter()
    loop.run_until_complete(mode(n))
    return time.perf_counter() - start


def main():
    n = int(sys.argv[1])
    loop = uvloop.new_event_loop()
    if len(sys.argv) > 2:
        loop.run_until_complete(MODES[sys.argv[2]](n))
        return
    for name in ("call_soon", "tasks"):
        best = min(timed(loop, MODES[name], n) for _ in range(ROUNDS))
        print(f"{name} {best * 1e9 / n:.0f}")


if __name__ == "__main__":
    main()
