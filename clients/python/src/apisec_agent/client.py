"""`Agent`: one persistent connection to apisec-agent, shared safely between threads."""

from __future__ import annotations

import base64
import os
import socket
import struct
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple, Union

from . import _wire as wire
from .errors import AgentError, AgentNotRunning, BadRequest, UnsupportedRequest, from_code
from .results import AgentStatus, LoginResult, SecretStatus, SignResult, WaitingApproval

ProgressCallback = Callable[[str], None]

# struct timeval for SO_RCVTIMEO/SO_SNDTIMEO: two C longs (Linux and the BSDs, 64-bit).
_TIMEVAL = struct.Struct("@ll")
_U32 = struct.Struct(">I")
_PREFIXES: Dict[str, bytes] = {}
# How far past its deadline a read may end (seconds), to keep a system call off every request.
DEADLINE_SLACK = 0.05


def _reply_prefix(name: str) -> bytes:
    prefix = _PREFIXES.get(name)
    if prefix is None:
        prefix = _PREFIXES[name] = wire.reply_prefix(name)
    return prefix
Bytesish = Union[bytes, bytearray, str]


class ClientTimeout(AgentError):
    """The agent did not answer within the client's timeout (the connection is then dropped,
    because a late reply would be taken for the answer to the next request)."""

    code = "client-timeout"


class Agent:
    """A client of apisec-agent.

    `sock` defaults to `$APISEC_AUTH_SOCK`. `timeout` bounds every request except `unlock`,
    which waits for a human and is bounded by `unlock_timeout` (the agent has its own approval
    timeout too). Requests from several threads are serialised on the one connection; a thread
    that waits in `unlock` holds it, so give unlocking its own `Agent` if others must sign
    meanwhile.
    """

    def __init__(
        self,
        sock: Optional[str] = None,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        unlock_timeout: float = 600.0,
    ) -> None:
        path = sock if sock is not None else os.environ.get("APISEC_AUTH_SOCK", "")
        self.sock_path = path
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.unlock_timeout = unlock_timeout
        self._conn: Optional[socket.socket] = None
        # Bytes read past the last frame, and the socket's current timeout (-1: unknown).
        self._rbuf = bytearray()
        self._conn_timeout = -1.0
        self._kernel_timeouts = True
        self._lock = threading.Lock()

    # --- connection -------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> "Agent":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _drop(self) -> None:
        self._rbuf.clear()
        self._conn_timeout = -1.0
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _connect(self) -> socket.socket:
        if not self.sock_path:
            raise AgentNotRunning(
                "APISEC_AUTH_SOCK is not set: start the agent (eval \"$(apisec-agent start)\") "
                "or pass the socket path"
            )
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.connect_timeout)
        try:
            s.connect(self.sock_path)
        except (FileNotFoundError, ConnectionRefusedError, socket.timeout) as e:
            s.close()
            raise AgentNotRunning(
                f"cannot reach the agent at {self.sock_path}: {e.strerror or e}; is it running?"
            ) from e
        except OSError as e:
            s.close()
            raise AgentNotRunning(f"cannot connect to {self.sock_path}: {e}") from e
        self._rbuf.clear()
        # Blocking, with the timeouts kept by the kernel (SO_RCVTIMEO/SO_SNDTIMEO): a Python
        # socket with a timeout polls before every send and receive, two system calls more per
        # request. Where the kernel refuses them, Python's own timeouts.
        s.settimeout(None)
        self._kernel_timeouts = True
        self._conn_timeout = -1.0
        return s

    def _set_timeout(self, seconds: float) -> None:
        # One system call saved per request when the timeout is the same as the last one's.
        conn = self._conn
        assert conn is not None
        if seconds == self._conn_timeout:
            return
        if self._kernel_timeouts:
            whole = int(seconds)
            micros = int((seconds - whole) * 1e6)
            # A zero timeval means "never": at least a microsecond.
            tv = _TIMEVAL.pack(whole, micros if whole or micros else 1)
            try:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
            except OSError:
                self._kernel_timeouts = False
        if not self._kernel_timeouts:
            conn.settimeout(seconds)
        self._conn_timeout = seconds

    def _recv(self, n: int, deadline: float) -> bytes:
        """One read of up to `n` bytes (at least 64 KiB: a whole reply is one read) before
        `deadline`; raises socket.timeout when it passes, EOFError(0) when the agent closed."""
        assert self._conn is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        # Shortened only when the deadline is noticeably nearer than the socket's timeout (a
        # frame after progress frames): the first read of every reply keeps the request's own
        # timeout, overshooting its deadline by the microseconds since it was sent, and costs
        # no system call.
        if remaining < self._conn_timeout - DEADLINE_SLACK:
            self._set_timeout(remaining)
        try:
            chunk = self._conn.recv(max(65536, n))
        except BlockingIOError:  # the kernel's receive timeout
            raise socket.timeout() from None
        if not chunk:
            raise EOFError(0)
        return chunk

    def _recv_exact(self, n: int, deadline: float) -> bytes:
        """`n` bytes, from what was already read and then from the socket, in as few reads as
        the bytes arrive in (a whole reply is one `recv`)."""
        buf = self._rbuf
        while len(buf) < n:
            try:
                buf += self._recv(n - len(buf), deadline)
            except EOFError:
                raise EOFError(len(buf)) from None
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def _read_frame(self, deadline: float) -> Tuple[int, bytes]:
        if not self._rbuf:
            # The common case, and every signature's: the whole frame in one read, nothing
            # after it; taken as it came, without copying through the buffer.
            chunk = self._recv(0, deadline)
            if len(chunk) > 4 and len(chunk) == _U32.unpack_from(chunk)[0] + 4:
                return chunk[4], chunk[5:]
            self._rbuf += chunk
        header = self._recv_exact(4, deadline)
        length = int.from_bytes(header, "big")
        wire.check_frame_length(length)
        msg = self._recv_exact(length, deadline)
        return msg[0], msg[1:]

    def _request(
        self,
        request: bytes,
        name: str,
        timeout: float,
        on_progress: Optional[ProgressCallback] = None,
        retry_on_eof: bool = True,
    ) -> bytes:
        """Sends one extension request and returns the reply's details. A connection the agent
        closed since the last request (agent restarted) is replaced once, transparently."""
        with self._lock:
            for attempt in (0, 1):
                if self._conn is None:
                    self._conn = self._connect()
                try:
                    self._set_timeout(timeout)
                    self._conn.sendall(request)
                except BlockingIOError as e:  # the kernel's send timeout
                    self._drop()
                    raise ClientTimeout(f"the agent took no request within {timeout:g} s") from e
                except (BrokenPipeError, ConnectionResetError) as e:
                    self._drop()
                    if attempt == 0:
                        continue
                    raise AgentNotRunning(f"the agent closed the connection: {e}") from e
                try:
                    return self._await_reply(name, timeout, on_progress)
                except EOFError as e:
                    self._drop()
                    # EOF before a single byte: the agent went away before reading the request.
                    if attempt == 0 and retry_on_eof and e.args[0] == 0:
                        continue
                    raise AgentNotRunning("the agent closed the connection mid-reply") from e
                except socket.timeout as e:
                    self._drop()
                    raise ClientTimeout(f"no answer from the agent within {timeout:g} s") from e
                except ConnectionResetError as e:
                    self._drop()
                    raise AgentNotRunning(f"the agent reset the connection: {e}") from e
                except wire.WireError as e:
                    # The stream cannot be trusted after a malformed frame: start afresh.
                    self._drop()
                    raise AgentError(f"malformed reply from the agent: {e}", "internal") from e
            raise AssertionError("unreachable")

    def _await_reply(
        self, name: str, timeout: float, on_progress: Optional[ProgressCallback]
    ) -> bytes:
        deadline = time.monotonic() + timeout
        prefix = _reply_prefix(name)
        while True:
            msg_type, payload = self._read_frame(deadline)
            if msg_type == wire.SSH_AGENT_EXTENSION_RESPONSE:
                if payload.startswith(prefix):
                    return payload[len(prefix) :]
                got, details = wire.split_extension_reply(payload)
                if got == wire.PROGRESS:
                    if on_progress is not None:
                        on_progress(wire.decode_progress(details))
                    continue
                if got != name:
                    raise wire.WireError(f"the agent answered {got!r} to {name!r}")
                return details
            if msg_type == wire.SSH_AGENT_EXTENSION_FAILURE:
                code, message = wire.decode_failure(payload)
                raise from_code(code, message)
            if msg_type == wire.SSH_AGENT_FAILURE:
                raise UnsupportedRequest(
                    f"the agent does not support {name} (is this an apisec-agent socket?)"
                )
            raise wire.WireError(f"unexpected message type {msg_type} in reply to {name}")

    def _encode(self, build: Callable[[], bytes]) -> bytes:
        try:
            return build()
        except wire.FrameTooLarge as e:
            raise BadRequest(str(e)) from e

    # --- operations -------------------------------------------------------------------------

    def sign(
        self,
        name: str,
        method: str,
        path: str,
        query: Optional[str] = None,
        body: Optional[Bytesish] = None,
        timestamp: Union[str, int, None] = None,
        nonce: Union[str, int, None] = None,
        host: Optional[str] = None,
    ) -> SignResult:
        """Signs one request with secret `name`. `query` is sent as given (already encoded,
        without '?'); `body` is the exact body. Leave `timestamp`/`nonce` None so the agent
        stamps its own clock; a client value is accepted only within the secret's freshness
        window (a nonce only with freshness off, on an exchange that signs one). `host`: the
        host the request goes to, for an exchange that signs it (HTX: "api.hbdm.com" for its
        contract APIs); None for the preset's default. Send `result.query` (and `result.body`
        when set): the agent may re-encode what it signs."""
        # Every signature goes through here: the encoding, the reply and the result are each
        # one call (clients/python/README.md, "Cost"; measured by apisec-bench).
        raw_body = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        try:
            frame = wire.encode_sign(
                name,
                method,
                path,
                query or "",
                raw_body,
                "" if timestamp is None else str(timestamp),
                "" if nonce is None else str(nonce),
                host or "",
            )
        except wire.FrameTooLarge as e:
            raise BadRequest(str(e)) from e
        details = self._request(frame, "sign@apisec", self.timeout)
        try:
            headers, additions, full_query, new_body = wire.decode_sign(details)
        except wire.WireError as e:
            with self._lock:
                self._drop()
            raise AgentError(f"malformed reply from the agent: {e}", "internal") from e
        return SignResult.of(method, path, headers, additions, full_query, new_body)

    def login(
        self,
        name: str,
        kind: Optional[str] = None,
        challenge: Optional[str] = None,
        host: Optional[str] = None,
    ) -> LoginResult:
        """A WebSocket login for secret `name` (its policy must say `allow_login = true`):
        `kind` for an exchange with several (None: its default), `challenge` for one whose login
        signs the server's challenge (Kraken Futures), `host` for one that signs its host (HTX)."""
        frame = self._encode(
            lambda: wire.encode_login(name, kind or "", challenge or "", host or "")
        )
        fields, message = wire.decode_login(self._request(frame, "login@apisec", self.timeout))
        return LoginResult(fields=dict(fields), message=message)

    def unlock(self, *names: str, on_progress: Optional[ProgressCallback] = None) -> Dict[str, int]:
        """Unseals `names` (one approval for all); blocks until approved, denied or timed out.
        Returns {name: forget_at} (Unix seconds, 0 = kept until lock). `on_progress` receives
        the agent's interim lines ("waiting for approval: ...")."""
        frame = self._encode(lambda: wire.encode_unlock(list(names), on_progress is not None))
        # Never resent on EOF: a second request would show the owner a second approval prompt.
        details = self._request(
            frame, "unlock@apisec", self.unlock_timeout, on_progress, retry_on_eof=False
        )
        return dict(wire.decode_unlock(details))

    def lock(self, *names: str) -> int:
        """Forgets (zeroizes) the named unsealed secrets, or all when none is named."""
        details = self._request(wire.encode_lock(list(names)), "lock@apisec", self.timeout)
        return wire.decode_lock(details)

    def status(self) -> AgentStatus:
        try:
            details = self._request(wire.encode_status(True), "status@apisec", self.timeout)
        except BadRequest:
            # An agent that predates the notes reads no details and calls the flag malformed.
            details = self._request(wire.encode_status(False), "status@apisec", self.timeout)
        version, pid, locked, entries = wire.decode_status(details)
        return AgentStatus(version, pid, locked, [SecretStatus(*e) for e in entries])

    def approvals(self) -> List[WaitingApproval]:
        """The approvals waiting for an admin (only the agent's uid and admin_uids may ask)."""
        details = self._request(wire.encode_approvals(), "approvals@apisec", self.timeout)
        return [WaitingApproval(*a) for a in wire.decode_approvals(details)]

    def approve(self, approval_id: int) -> None:
        """Approves a waiting approval (see `approvals`)."""
        self._request(wire.encode_answer(approval_id, True), "answer@apisec", self.timeout)

    def deny(self, approval_id: int) -> None:
        """Denies a waiting approval (see `approvals`)."""
        self._request(wire.encode_answer(approval_id, False), "answer@apisec", self.timeout)

    def query(self) -> list:
        """The extension names the agent answers."""
        return wire.decode_query(self._request(wire.encode_query(), "query", self.timeout))

    def mac(
        self, name: str, alg: str, data: Bytesish, encoding: str = "hex"
    ) -> Union[str, bytes]:
        """Raw MAC (only for secrets added with --allow-raw). `encoding`: hex, base64 or raw."""
        if encoding not in ("hex", "base64", "raw"):
            raise ValueError("encoding must be 'hex', 'base64' or 'raw'")
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        frame = self._encode(lambda: wire.encode_mac(name, alg, raw))
        mac = wire.decode_mac(self._request(frame, "mac@apisec", self.timeout))
        if encoding == "hex":
            return mac.hex()
        if encoding == "base64":
            return base64.b64encode(mac).decode("ascii")
        return mac
