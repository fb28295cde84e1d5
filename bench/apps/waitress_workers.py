"""production.ini's app on waitress in each of N processes, which share
one listening socket: the design in which each worker is a waitress
(docs/production.rst weighs it). For the benchmark alone:

    python waitress_workers.py PORT N

The app is loaded once, then each process forks and serves it with
waitress's 4 threads, its event loop on poll() (select() stops at 1,024
connections), and up to 4,000 connections. SIGTERM stops them all.
"""
import os
import signal
import socket
import sys

import waitress

from production_app import app


def main():
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    listener = socket.create_server(('127.0.0.1', port), backlog=1024)
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            waitress.serve(app, sockets=[listener], threads=4,
                           connection_limit=4000, asyncore_use_poll=True,
                           _quiet=True)
            os._exit(0)
        children.append(pid)

    def stop(signum, frame):
        for child in children:
            os.kill(child, signal.SIGTERM)
        for child in children:
            os.waitpid(child, 0)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    while True:
        signal.pause()


if __name__ == '__main__':
    main()
