"""A small HTTP/2 client over TLS (ALPN "h2") for the tests, with python3-h2.

H2Client speaks HTTP/2 as a well-behaved client does (python3-h2's state
machine): requests on as many streams as wanted, request bodies streamed as
the server's flow-control windows allow, responses read with a deadline.

RawH2 writes frames itself (hyperframe, hpack), for what a well-behaved
client never sends: streams opened and reset at once by the thousand (rapid
reset, CVE-2023-44487), a HEADERS frame followed by endless CONTINUATION
frames (the 2024 CONTINUATION flood), streams past the server's limit. Both
read until a GOAWAY or the close with a deadline, never forever.
"""
import hashlib
import select
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame,
                              RstStreamFrame, SettingsFrame, WindowUpdateFrame)

from process import unverified_tls

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# Error codes (RFC 9113 §7).
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
REFUSED_STREAM = 0x7
CANCEL = 0x8
ENHANCE_YOUR_CALM = 0xB


def tls_connect(host, port, alpn=("h2",), sni=None, timeout=30.0):
    """A TLS socket to host:port offering the ALPN protocols `alpn` (none when
    empty); the certificate is not checked (the proxy's is a throw-away one)."""
    ctx = unverified_tls()
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=sni)
    except BaseException:
        raw.close()
        raise


class Response:
    """One stream's answer as it arrives."""

    def __init__(self, stream_id, keep_body=True):
        self.stream_id = stream_id
        self.status = None
        self.headers = []
        self.keep_body = keep_body
        self.body = bytearray()
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.ended = False
        self.reset = None  # the RST_STREAM error code, when the server reset it

    @property
    def done(self):
        return self.ended or self.reset is not None

    def header(self, name):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    def _data(self, data):
        self.size += len(data)
        self.sha256.update(data)
        if self.keep_body:
            self.body += data


class H2Client:
    """An HTTP/2 client on one TLS connection. `authority` is the default
    :authority of requests; the connection's receive windows are opened wide
    (1 MiB a stream, 16 MiB the connection) so downloads flow."""

    def __init__(self, host, port, authority="mail.example.com", sni=None, timeout=30.0,
                 alpn=("h2",)):
        self.sock = tls_connect(host, port, alpn, sni, timeout)
        self.alpn = self.sock.selected_alpn_protocol()
        self.authority = authority
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.responses = {}
        self.goaway = None  # the GOAWAY's error code, once one arrived
        self.closed = False
        self.protocol_error = None  # what python3-h2 refused in the server's frames
        self._frames = b""  # the server's bytes not yet split into frames (_note_goaway)
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
        self.conn.increment_flow_control_window(16 << 20)
        self._flush()

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _flush(self):
        data = self.conn.data_to_send()
        if data and not self.closed:
            try:
                self.sock.sendall(data)
            except OSError:  # ssl.SSLError too: the server went away
                self.closed = True

    def request(self, path, method="GET", headers=(), body=None, authority=None, keep_body=True,
                timeout=60.0):
        """Opens a stream and sends the request; `body` (bytes or an iterable
        of bytes) is streamed as the windows allow. Returns the stream id."""
        sid = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":scheme", "https"),
                  (":authority", authority or self.authority), (":path", path), *headers]
        self.responses[sid] = Response(sid, keep_body)
        self.conn.send_headers(sid, fields, end_stream=body is None)
        self._flush()
        if body is not None:
            self.send_body(sid, body, timeout)
        return sid

    def send_body(self, sid, body, timeout=60.0):
        """Sends `body` on stream sid as flow control allows, then ends the
        stream; stops early when the server answered or reset the stream."""
        deadline = time.monotonic() + timeout
        pieces = [body] if isinstance(body, (bytes, bytearray)) else body
        r = self.responses[sid]
        for piece in pieces:
            view = memoryview(piece)
            while view:
                if r.done or self.closed or self.goaway is not None:
                    return
                room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
                if room <= 0:
                    self.read_some(deadline)  # a WINDOW_UPDATE
                    continue
                self.conn.send_data(sid, view[:room].tobytes())
                view = view[room:]
                self._flush()
        if not r.done:
            self.conn.end_stream(sid)
            self._flush()

    def read_some(self, deadline):
        """Waits (until deadline, else TimeoutError) for bytes from the
        server and handles them. False once the connection is closed."""
        if self.closed:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer from the server in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            raise TimeoutError("no answer from the server in time") from None
        except OSError:  # reset, or a TLS error: closed all the same
            data = b""
        if not data:
            self.closed = True
            return False
        self._note_goaway(data)
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            self.protocol_error = e
            self.close()
            return False
        for ev in events:
            self._event(ev)
        self._flush()
        return True

    def _note_goaway(self, data):
        """python3-h2 refuses any frame after a GOAWAY that came in the same
        receive_data() call (a stream's HEADERS the server sent after its
        GOAWAY), and the ConnectionTerminated event is lost with the
        exception: the GOAWAY's code is read off the frames here instead."""
        self._frames += data
        while len(self._frames) >= 9:
            length = int.from_bytes(self._frames[:3], "big")
            if len(self._frames) < 9 + length:
                break
            if self._frames[3] == 0x7 and length >= 8 and self.goaway is None:
                self.goaway = int.from_bytes(self._frames[13:17], "big")
            self._frames = self._frames[9 + length:]

    def _event(self, ev):
        r = self.responses.get(getattr(ev, "stream_id", None))
        if isinstance(ev, h2.events.ResponseReceived) and r:
            r.headers = [(k, v) for k, v in ev.headers if not k.startswith(":")]
            r.status = int(dict(ev.headers)[":status"])
        elif isinstance(ev, h2.events.DataReceived):
            if r:
                r._data(ev.data)
            try:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            except h2.exceptions.StreamClosedError:
                pass
        elif isinstance(ev, h2.events.StreamEnded) and r:
            r.ended = True
        elif isinstance(ev, h2.events.StreamReset) and r:
            r.reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev.error_code

    def wait(self, condition, timeout=60.0):
        """Reads until condition() holds (True) or the connection ends (what
        condition() says then); TimeoutError past the deadline."""
        deadline = time.monotonic() + timeout
        while not condition():
            if not self.read_some(deadline):
                return bool(condition())
        return True

    def response(self, sid, timeout=60.0):
        """Stream sid's answer once complete (or reset, or the connection ended)."""
        self.wait(lambda: self.responses[sid].done, timeout)
        return self.responses[sid]

    def get(self, path, timeout=60.0, **kw):
        return self.response(self.request(path, timeout=timeout, **kw), timeout)

    def read_until_closed(self, timeout=30.0):
        """Reads until the server closes; the GOAWAY's error code or None."""
        deadline = time.monotonic() + timeout
        while self.read_some(deadline):
            pass
        return self.goaway


class RawH2:
    """HTTP/2 frames written by hand on a TLS connection. The preface and an
    empty SETTINGS go out at once; the server's SETTINGS are acknowledged
    only when `ack_settings()` is called. Incoming frames are read by
    `poll()` / `read_until_closed()`: GOAWAY, RST_STREAM, response heads
    (:status) and ends are recorded; DATA is given back to the connection
    window at once."""

    def __init__(self, host, port, authority="mail.example.com", sni=None, timeout=30.0):
        self.sock = tls_connect(host, port, ("h2",), sni, timeout)
        self.alpn = self.sock.selected_alpn_protocol()
        self.authority = authority
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.next_stream = 1
        self.goaway = None
        self.closed = False
        self.settings_seen = False
        self.status = {}  # stream -> :status
        self.ended = set()  # streams the server ended (END_STREAM)
        self.resets = {}  # stream -> RST_STREAM error code
        self.frames_in = 0
        self._in = bytearray()
        self._block = {}  # stream -> header block pieces until END_HEADERS
        self.send(PREFACE + SettingsFrame(0).serialize())

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        """Writes data; False (and closed) when the server is gone."""
        if self.closed:
            return False
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            self.closed = True
            return False

    def new_stream(self):
        sid = self.next_stream
        self.next_stream += 2
        return sid

    def header_block(self, path, method="GET", extra=()):
        return self.encoder.encode([(":method", method), (":scheme", "https"),
                                    (":authority", self.authority), (":path", path), *extra])

    @staticmethod
    def headers_frame(sid, block, end_stream=True, end_headers=True):
        f = HeadersFrame(sid, block)
        if end_stream:
            f.flags.add("END_STREAM")
        if end_headers:
            f.flags.add("END_HEADERS")
        return f.serialize()

    def ack_settings(self, timeout=30.0):
        """Waits for the server's SETTINGS and acknowledges them."""
        deadline = time.monotonic() + timeout
        while not self.settings_seen and not self.closed:
            self.poll(deadline - time.monotonic())
            if time.monotonic() >= deadline:
                raise TimeoutError("no SETTINGS from the server")
        self.send(SettingsFrame(0, flags=["ACK"]).serialize())

    def open_streams(self, n, path):
        """n GET requests in one write; their stream ids."""
        ids = [self.new_stream() for _ in range(n)]
        self.send(b"".join(self.headers_frame(sid, self.header_block(path)) for sid in ids))
        return ids

    def rapid_resets(self, n, path, batch=100):
        """Opens and at once resets (CANCEL) n streams, `batch` pairs a
        write, until n are sent or the connection ends (GOAWAY or close).
        Returns how many were sent."""
        sent = 0
        while sent < n and not self.closed and self.goaway is None:
            k = min(batch, n - sent)
            out = bytearray()
            for _ in range(k):
                sid = self.new_stream()
                out += self.headers_frame(sid, self.header_block(path))
                out += RstStreamFrame(sid, error_code=CANCEL).serialize()
            if not self.send(bytes(out)):
                break
            sent += k
            self.poll(0)
        return sent

    def continuation_flood(self, frames=1_000_000, payload=0, batch=1000, timeout=60.0):
        """A HEADERS frame without END_HEADERS, then CONTINUATION frames of
        `payload` bytes each, `batch` frames a write, until `frames` are sent,
        the connection ends or `timeout` passes. Returns how many were sent.
        The block is valid HPACK all along (:method GET, then with a payload
        endless literal fields of 4,000 bytes), so only a bound on
        CONTINUATION frames or header block bytes stops it, never a decoding
        error."""
        sid = self.new_stream()
        if not self.send(self.headers_frame(sid, b"\x82", end_stream=True, end_headers=False)):
            return 0
        # x-flood: v * 4000, a literal field without indexing (new name).
        field = b"\x00\x07x-flood\x7f" + bytes([(4000 - 127) & 0x7F | 0x80, (4000 - 127) >> 7]) + b"v" * 4000
        fields = bytearray()
        sent = 0
        deadline = time.monotonic() + timeout
        while sent < frames and time.monotonic() < deadline:
            k = min(batch, frames - sent)
            out = bytearray(ContinuationFrame(sid).serialize() * k if not payload else b"")
            for _ in range(k if payload else 0):
                while len(fields) < payload:
                    fields += field
                out += ContinuationFrame(sid, bytes(fields[:payload])).serialize()
                del fields[:payload]
            if not self.send(bytes(out)):
                break
            sent += k
            self.poll(0)
            if self.closed or self.goaway is not None:
                break
        return sent

    def poll(self, timeout):
        """Reads and handles what the server sent, waiting at most timeout
        seconds for the first bytes. False once the connection is closed."""
        if self.closed:
            return False
        if not self.sock.pending():
            ready, _, _ = select.select([self.sock], [], [], max(timeout, 0))
            if not ready:
                return True
        try:
            self.sock.settimeout(max(timeout, 0.001))
            data = self.sock.recv(1 << 16)
        except (socket.timeout, ssl.SSLWantReadError):
            return True
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self._in += data
        self._frames()
        return True

    def _frames(self):
        while len(self._in) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self._in[:9]))
            if len(self._in) < 9 + length:
                return
            frame.parse_body(memoryview(bytes(self._in[9:9 + length])))
            del self._in[:9 + length]
            self.frames_in += 1
            self._frame(frame)

    def _frame(self, frame):
        if isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
            self.settings_seen = True
        elif isinstance(frame, GoAwayFrame):
            self.goaway = frame.error_code
        elif isinstance(frame, RstStreamFrame):
            self.resets[frame.stream_id] = frame.error_code
        elif isinstance(frame, (HeadersFrame, ContinuationFrame)):
            self._block[frame.stream_id] = self._block.get(frame.stream_id, b"") + frame.data
            if "END_HEADERS" in frame.flags:
                fields = self.decoder.decode(self._block.pop(frame.stream_id), raw=False)
                for k, v in fields:
                    if k == ":status":
                        self.status.setdefault(frame.stream_id, int(v))
        elif isinstance(frame, DataFrame) and frame.flow_controlled_length:
            self.send(WindowUpdateFrame(0, window_increment=frame.flow_controlled_length).serialize())
        if isinstance(frame, (HeadersFrame, DataFrame)) and "END_STREAM" in frame.flags:
            self.ended.add(frame.stream_id)

    def wait(self, condition, timeout=30.0):
        """Reads until condition() holds or the connection closes; what
        condition() says then. TimeoutError past the deadline."""
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the server did not do what was awaited in time")
            if not self.poll(left):
                return bool(condition())
        return True

    def read_until_closed(self, timeout=30.0):
        """Reads until the server closes (TimeoutError past the deadline);
        the GOAWAY's error code or None."""
        self.wait(lambda: self.closed, timeout)
        return self.goaway
