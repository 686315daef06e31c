#!/usr/bin/env python3
"""Latencies between two instances on one Redis log (make bench, BENCH_ONLY=shared).

visibility: a segment POSTed to instance A (keep-alive), then instance B polled until its
  playlist lists it: the time from A's 201 to B's first playlist that lists it.
wake: a Low-Latency HLS blocking reload held on HOLDER for the next part, then that part
  POSTed to A: the time from sending the POST to the held answer; HOLDER is B (across
  instances) or A (the same instance).
Prints one line: RESULT mode=... samples=N p50_us=... p99_us=... max_us=...
"""
import argparse
import http.client
import threading
import time


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def post(connection, path, body):
    connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    return response.status


def get(connection, path):
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


def visibility(a_port, b_port, samples, stream):
    a = http.client.HTTPConnection("127.0.0.1", a_port, timeout=10)
    b = http.client.HTTPConnection("127.0.0.1", b_port, timeout=10)
    segments = f"/streams/{stream}/renditions/r/segments"
    playlist = f"/streams/{stream}/renditions/r/playlist.m3u8"
    latencies = []
    for sequence in range(samples + 1):
        body = f'{{"sequence":{sequence},"duration":2.0,"path":"/{stream}/{sequence}.ts"}}'
        status = post(a, segments, body)
        if status != 201:
            raise SystemExit(f"POST {sequence} to A answered {status}")
        posted = time.perf_counter()
        needle = f"/{stream}/{sequence}.ts\n".encode()
        deadline = posted + 5
        while True:
            status, body = get(b, playlist)
            if status == 200 and needle in body:
                break
            if time.perf_counter() > deadline:
                raise SystemExit(f"B did not list {sequence} within 5 s")
        if sequence > 0:  # the first GET of B pins the window (one more log round trip)
            latencies.append(time.perf_counter() - posted)
    return latencies


def wake(a_port, holder_port, samples, stream):
    a = http.client.HTTPConnection("127.0.0.1", a_port, timeout=10)
    base = f"/streams/{stream}/renditions/ll"
    declared = '{"target_duration":1,"part_target":0.25,"part_uri_template":"/' + stream + '/{sequence}.{part}.m4s"}'
    a.request("PUT", base, body=declared, headers={"Content-Type": "application/json"})
    response = a.getresponse()
    response.read()
    if response.status not in (200, 201):
        raise SystemExit(f"declaring the LL rendition answered {response.status}")

    def part(sequence, index):
        body = (f'{{"sequence":{sequence},"part":{index},"duration":0.25,"path":"/{stream}/{sequence}.{index}.m4s",'
                f'"independent":{"true" if index == 0 else "false"}}}')
        return post(a, base + "/parts", body)

    for index in range(4):
        part(0, index)
    post(a, base + "/segments", f'{{"sequence":0,"duration":1.0,"path":"/{stream}/0.m4s"}}')
    latencies = []
    sequence, index = 1, 0
    while len(latencies) < samples:
        answered = {}

        def hold(msn=sequence, wanted=index):
            holder = http.client.HTTPConnection("127.0.0.1", holder_port, timeout=10)
            status, _ = get(holder, f"{base}/playlist.m3u8?_HLS_msn={msn}&_HLS_part={wanted}")
            answered["at"] = time.perf_counter()
            answered["status"] = status
            holder.close()

        thread = threading.Thread(target=hold)
        thread.start()
        time.sleep(0.02)  # the reload is held before the part exists
        sent = time.perf_counter()
        if part(sequence, index) != 201:
            raise SystemExit(f"part {sequence}.{index} was refused")
        thread.join(10)
        if answered.get("status") != 200:
            raise SystemExit(f"the held reload for {sequence}.{index} answered {answered.get('status')}")
        latencies.append(answered["at"] - sent)
        index += 1
        if index == 4:
            post(a, base + "/segments", f'{{"sequence":{sequence},"duration":1.0,"path":"/{stream}/{sequence}.m4s"}}')
            sequence, index = sequence + 1, 0
    return latencies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["visibility", "wake"])
    parser.add_argument("--a", type=int, required=True)
    parser.add_argument("--b", type=int, required=True, help="the other instance (visibility) or the holder (wake)")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--stream", default="lat")
    args = parser.parse_args()
    if args.mode == "visibility":
        latencies = visibility(args.a, args.b, args.samples, args.stream)
    else:
        latencies = wake(args.a, args.b, args.samples, args.stream)
    us = [value * 1e6 for value in latencies]
    print(f"RESULT mode={args.mode} samples={len(us)} p50_us={percentile(us, 0.5):.0f} "
          f"p99_us={percentile(us, 0.99):.0f} max_us={max(us):.0f}")


if __name__ == "__main__":
    main()
