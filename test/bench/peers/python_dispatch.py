#!/usr/bin/env python3
"""The dispatch peer of ../shared/PEERS.md ("socket + pickle master/slaves, all tasks
pipelined": 90,951 no-op tasks/s there), re-run by `npm run bench` in the same round as our
dispatch bench, so the two are compared on the same machine minutes apart.

A master and one slave process over loopback TCP, one length-prefixed pickled message per
task and per result, every task sent without waiting for answers (a sender thread writes
while the main thread reads), TCP_NODELAY both ways, 16-byte payloads. The slave answers
each task with its payload's length. Timed from the first task sent to the last result
read; process start-up is left out, as our bench times from the first READY.

With PEERS.md's shape it reproduces PEERS.md's figure on this machine (~92,000 tasks/s on
2026-11-23). Batching the messages (many tasks per send) runs several times faster; that is
our protocol's design, not what PEERS.md measured, so it is not the peer here.

Usage: python_dispatch.py TASKS
Prints one JSON object: {"tasks", "seconds", "tasks_per_second"}.
"""
import json
import multiprocessing
import pickle
import socket
import struct
import sys
import threading
import time

PAYLOAD = b"\x01" * 16
HEADER = struct.Struct("<I")


def _frame(obj):
    """One message: 4-byte little-endian length, then the pickle."""
    data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def _read(rfile):
    """The next message's object, or None at the end of the stream."""
    head = rfile.read(4)
    if len(head) < 4:
        return None
    (length,) = HEADER.unpack(head)
    return pickle.loads(rfile.read(length))


def _slave(port):
    """Answers every (id, payload) with (id, len(payload)) until it reads None."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rfile = sock.makefile("rb")
    while True:
        task = _read(rfile)
        if task is None:
            break
        sock.sendall(_frame((task[0], len(task[1]))))
    sock.close()


def pipelined(tasks):
    """Runs `tasks` no-op tasks through one slave process; returns the run's figures."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    proc = multiprocessing.get_context("fork").Process(target=_slave, args=(server.getsockname()[1],))
    proc.start()
    conn, _ = server.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send():
        for i in range(tasks):
            conn.sendall(_frame((i, PAYLOAD)))
        conn.sendall(_frame(None))

    start = time.perf_counter()
    sender = threading.Thread(target=send)
    sender.start()
    rfile = conn.makefile("rb")
    total = 0
    for _ in range(tasks):
        total += _read(rfile)[1]
    seconds = time.perf_counter() - start
    sender.join()
    proc.join(10)
    conn.close()
    server.close()
    assert total == tasks * len(PAYLOAD), "a result was lost"
    return {"tasks": tasks, "seconds": seconds, "tasks_per_second": tasks / seconds}


if __name__ == "__main__":
    print(json.dumps(pipelined(int(sys.argv[1]))))
