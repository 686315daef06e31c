#!/usr/bin/env python3
"""Holds N idle keep-alive connections open to a server, like players between two reloads.

Opens --connections connections, sends one GET of --path on each and reads its answer (so each
connection is a keep-alive connection that has served a request), prints
"HOLDER ready open=N answered=N seconds=S", then stays idle until SIGTERM/SIGINT or --hold
seconds, and prints "HOLDER end still_open=N" (connections the server had not closed).
"""
import argparse
import selectors
import signal
import socket
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--connections", type=int, default=5000)
    p.add_argument("--path", required=True)
    p.add_argument("--hold", type=float, default=60.0)
    args = p.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    started = time.monotonic()
    request = (f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n\r\n").encode()
    socks = []
    for _ in range(args.connections):
        s = socket.create_connection((args.host, args.port), timeout=10)
        s.sendall(request)
        socks.append(s)
    # Read one complete answer per connection (headers + Content-Length bytes).
    sel = selectors.DefaultSelector()
    pending = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        pending[s] = b""
    answered = 0
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            chunk = s.recv(65536)
            if not chunk:
                sel.unregister(s)
                del pending[s]
                continue
            buf = pending[s] + chunk
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                head = buf[:end].lower()
                i = head.find(b"content-length:")
                length = int(head[i + 15:].split(b"\r\n")[0]) if i >= 0 else 0
                if len(buf) >= end + 4 + length:
                    answered += buf.startswith(b"HTTP/1.1 200")
                    sel.unregister(s)
                    del pending[s]
                    continue
            pending[s] = buf
    print(f"HOLDER ready open={len(socks)} answered={answered} "
          f"seconds={time.monotonic() - started:.2f}", flush=True)

    # Idle: watch for the server closing any of them.
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    closed = 0
    until = time.monotonic() + args.hold
    while not stop and time.monotonic() < until:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                closed += 1
                sel.unregister(s)
    print(f"HOLDER end still_open={len(socks) - closed}", flush=True)
    for s in socks:
        s.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
