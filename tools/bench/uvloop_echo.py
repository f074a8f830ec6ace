"""uvloop Protocol echo server for make bench (tools/bench/20_tcp.sh).

The Python side of the comparison: an asyncio Protocol that writes back what it
receives, on uvloop. Prints `listening on HOST:PORT` when ready, like the example
servers, and exits 0 on SIGTERM or Ctrl-C.

    python uvloop_echo.py [--host 127.0.0.1] [--port 0]
"""

import argparse
import asyncio
import signal

import uvloop


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def serve(host, port):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    server = await loop.create_server(Echo, host, port, backlog=4096)
    addr = server.sockets[0].getsockname()
    print(f"listening on {addr[0]}:{addr[1]}", flush=True)
    await stop
    server.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
