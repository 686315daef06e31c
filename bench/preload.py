#!/usr/bin/env python3
"""Preloads PREFIX<0..streams-1> x renditions with sequences start..start+segments-1.

Fast path (default, --mode pipelined): a few processes, each with one keep-alive connection,
each sending batches of POSTs back to back (HTTP/1.1 pipelining) and then reading the batch's
responses. A connection carries all segments of its renditions in order, and libmicrohttpd
answers pipelined requests of a connection one after the other, so every rendition is
registered in order. --mode keepalive sends one request at a time (http.client), for comparison.

Prints one line "PRELOAD posts=N seconds=S rate=R statuses=201:N,..." and exits 1 unless every
answer was 201.
"""
import argparse
import http.client
import multiprocessing
import socket
import sys
import time

RENDITIONS = ("r360", "r720", "r1080")


def requests_for(args, streams):
    """The POSTs for the given stream indexes, each rendition's sequences in order."""
    host = f"{args.host}:{args.port}".encode()
    out = []
    for s in streams:
        for r in RENDITIONS:
            url = f"/streams/{args.prefix}{s}/renditions/{r}/segments".encode()
            for seq in range(args.start, args.start + args.segments):
                body = b'{"sequence":%d,"duration":2.0,"path":"/seg/%s%d/%s/%d.ts"}' % (
                    seq, args.prefix.encode(), s, r.encode(), seq)
                out.append(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (url, host, len(body), body))
    return out


def read_responses(sock, buf, count, statuses):
    """Reads `count` responses from sock (buf holds bytes already read); returns the rest."""
    pos = 0
    while count > 0:
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            buf = buf[pos:]
            pos = 0
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
            continue
        head = buf[pos:end].lower()
        status = int(head[9:12])
        i = head.find(b"content-length:")
        length = 0
        if i >= 0:
            length = int(head[i + 15:head.find(b"\r\n", i) if head.find(b"\r\n", i) >= 0 else None])
        body_end = end + 4 + length
        while len(buf) < body_end:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        statuses[status] = statuses.get(status, 0) + 1
        pos = body_end
        count -= 1
    return buf[pos:]


def worker_pipelined(args, streams, queue):
    statuses = {}
    reqs = requests_for(args, streams)
    sock = socket.create_connection((args.host, args.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    for i in range(0, len(reqs), args.batch):
        batch = reqs[i:i + args.batch]
        sock.sendall(b"".join(batch))
        buf = read_responses(sock, buf, len(batch), statuses)
    sock.close()
    queue.put(statuses)


def worker_keepalive(args, streams, queue):
    statuses = {}
    conn = http.client.HTTPConnection(args.host, args.port)
    headers = {"Content-Type": "application/json"}
    for s in streams:
        for r in RENDITIONS:
            url = f"/streams/{args.prefix}{s}/renditions/{r}/segments"
            for seq in range(args.start, args.start + args.segments):
                body = f'{{"sequence":{seq},"duration":2.0,"path":"/seg/{args.prefix}{s}/{r}/{seq}.ts"}}'
                conn.request("POST", url, body, headers)
                resp = conn.getresponse()
                resp.read()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
    conn.close()
    queue.put(statuses)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--prefix", default="g")
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--segments", type=int, default=6)
    p.add_argument("--start", type=int, default=1)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--mode", choices=("pipelined", "keepalive"), default="pipelined")
    args = p.parse_args()

    worker = worker_pipelined if args.mode == "pipelined" else worker_keepalive
    queue = multiprocessing.Queue()
    started = time.monotonic()
    procs = [multiprocessing.Process(target=worker, args=(args, range(k, args.streams, args.procs), queue))
             for k in range(args.procs)]
    for proc in procs:
        proc.start()
    statuses = {}
    for _ in procs:
        for status, n in queue.get(timeout=600).items():
            statuses[status] = statuses.get(status, 0) + n
    for proc in procs:
        proc.join()
    seconds = time.monotonic() - started
    posts = sum(statuses.values())
    expected = args.streams * len(RENDITIONS) * args.segments
    summary = ",".join(f"{k}:{v}" for k, v in sorted(statuses.items()))
    print(f"PRELOAD mode={args.mode} posts={posts} expected={expected} seconds={seconds:.2f} "
          f"rate={posts / seconds:.0f} statuses={summary}", flush=True)
    ok = posts == expected and statuses.get(201, 0) == expected and all(p.exitcode == 0 for p in procs)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
