#!/usr/bin/env python3
"""Hold N idle keep-alive connections to a server (for bench/scale.sh).

Usage: idle_conns.py HOST PORT PATH N

Opens N connections, sends one GET on each and reads its whole answer (Content-Length bodies;
anything but 200 is an error), then prints "open N" and waits for a line on stdin; then checks
that the connections are still open (a closed one reads EOF), closes them all and prints
"closed N, M had been closed by the server".
"""

import socket
import sys


def read_answer(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next((int(v) for k, _, v in (l.partition(":") for l in lines[1:]) if k.lower() == "content-length"), None)
    if length is None:
        raise ValueError("answer without Content-Length")
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the body")
        body += chunk
    return status


def main():
    host, port, path, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    conns = []
    for i in range(n):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(request)
        status = read_answer(s)
        if status != 200:
            sys.exit(f"connection {i}: status {status}")
        conns.append(s)
    print(f"open {len(conns)}", flush=True)
    sys.stdin.readline()
    closed_by_server = 0
    for s in conns:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed_by_server += 1
        except BlockingIOError:
            pass
        except OSError:
            closed_by_server += 1
        s.close()
    print(f"closed {len(conns)}, {closed_by_server} had been closed by the server", flush=True)


if __name__ == "__main__":
    main()
