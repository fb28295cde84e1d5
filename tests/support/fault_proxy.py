"""A TCP proxy between the app and a real Redis that gives the faults a
network gives: answers late, a stall, bytes held one way or both (a
partition; TCP delivers them once it heals, as its retransmissions
would), and a connection reset in the middle of a command.

It listens on 127.0.0.1 and a free port; ``url`` is how the app reaches
Redis through it. Use it as a context manager: every connection and
thread is gone on the way out, whatever happens. No Redis is mocked:
the bytes are Redis's own.
"""
import socket
import struct
import threading
import time

from .processes import free_port

#: The directions bytes go: from the app to Redis, and back.
UP, DOWN = 'up', 'down'


class FaultProxy:

    def __init__(self, redis_port):
        self.target = ('127.0.0.1', redis_port)
        self.port = free_port()
        self.url = 'redis://127.0.0.1:%d/0' % self.port
        self.changed = threading.Condition()
        #: seconds each chunk waits before it goes on, by direction
        self.latency = {UP: 0.0, DOWN: 0.0}
        #: the directions whose bytes are held until they are let go
        self.held = set()
        #: reset the next connection a command comes on, once Redis has
        #: the command and before its answer comes back
        self.reset_next = False
        self.links = []
        self.stopping = False
        self.listener = socket.create_server(('127.0.0.1', self.port))
        self.listener.settimeout(0.2)
        self.acceptor = threading.Thread(target=self.accept, daemon=True)

    # What the tests set.

    def set(self, latency_up=0.0, latency_down=0.0, held=()):
        with self.changed:
            self.latency = {UP: latency_up, DOWN: latency_down}
            self.held = set(held)
            self.changed.notify_all()

    def heal(self):
        self.set()

    def reset_in_a_command(self):
        with self.changed:
            self.reset_next = True

    # The proxy itself.

    def __enter__(self):
        self.acceptor.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        with self.changed:
            self.changed.notify_all()
        self.acceptor.join()
        self.listener.close()
        for link in list(self.links):
            link.close(reset=False)
        for link in list(self.links):
            link.join()

    def accept(self):
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, 5)
            except OSError:
                client.close()
                continue
            link = Link(self, client, server)
            self.links.append(link)
            link.start()


class Link:
    """One connection through the proxy: a reader and a writer a
    direction."""

    def __init__(self, proxy, client, server):
        self.proxy = proxy
        self.client, self.server = client, server
        self.queues = {UP: [], DOWN: []}
        self.closed = False
        #: once a command is sent to be reset in, no answer goes back
        self.silenced = False
        self.threads = [
            threading.Thread(target=self.read, args=(client, UP),
                             daemon=True),
            threading.Thread(target=self.read, args=(server, DOWN),
                             daemon=True),
            threading.Thread(target=self.write, args=(server, UP),
                             daemon=True),
            threading.Thread(target=self.write, args=(client, DOWN),
                             daemon=True)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def join(self):
        for thread in self.threads:
            thread.join(5)

    def read(self, source, direction):
        """Each chunk that comes, queued with the time it arrived; None
        once the other side closes."""
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b''
            with self.proxy.changed:
                self.queues[direction].append((time.monotonic(),
                                               data or None))
                self.proxy.changed.notify_all()
            if not data:
                return

    def due(self, direction):
        """The next chunk that may go now, or how long until it may (the
        condition's lock is held)."""
        proxy = self.proxy
        queue = self.queues[direction]
        if self.closed or proxy.stopping:
            return 'closed', None
        if not queue or direction in proxy.held \
                or (self.silenced and direction == DOWN):
            return None, None
        arrived, data = queue[0]
        wait = arrived + proxy.latency[direction] - time.monotonic()
        if wait > 0:
            return None, wait
        queue.pop(0)
        return 'send', data

    def write(self, target, direction):
        proxy = self.proxy
        while True:
            with proxy.changed:
                while True:
                    what, value = self.due(direction)
                    if what is not None:
                        break
                    proxy.changed.wait(value if value is not None else 0.5)
                reset = what == 'send' and direction == UP \
                    and value is not None and proxy.reset_next
                if reset:
                    proxy.reset_next = False
                    self.silenced = True
            if what == 'closed':
                return
            if value is None:
                # the other side closed: so does this one, for writing
                try:
                    target.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            try:
                target.sendall(value)
            except OSError:
                self.close(reset=True)
                return
            if reset:
                # Redis has the command; its answer never comes back
                time.sleep(0.05)
                self.close(reset=True)
                return

    def close(self, reset):
        with self.proxy.changed:
            if self.closed:
                return
            self.closed = True
            self.proxy.changed.notify_all()
        for s in (self.client, self.server):
            try:
                if reset:
                    # SO_LINGER of 0: the close is a reset, not a FIN
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack('ii', 1, 0))
                # wakes this link's readers, which wait in recv()
                s.shutdown(socket.SHUT_RD if reset else socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
