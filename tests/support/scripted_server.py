"""A scripted TCP peer for adversarial tests: listens on a loopback address
(ephemeral port), serves each connection on its own thread with the
subclass's converse(conn), and counts the connections it took."""
import socket
import threading


class ScriptedServer(threading.Thread):
    def __init__(self, address):
        super().__init__(daemon=True)
        self.listener = socket.create_server((address, 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0

    def run(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.connections += 1
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            with conn:
                self.converse(conn)
        except OSError:
            pass  # the proxy hung up: nothing more to answer

    def converse(self, conn):
        raise NotImplementedError

    def close(self):
        self.listener.close()
