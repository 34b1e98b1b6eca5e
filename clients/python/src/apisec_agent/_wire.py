"""Byte-level encoding of the agent protocol (docs/protocol.md): frames, RFC 4251 fields, and
the apisec extension requests and replies. Pure functions, no I/O, so every byte can be tested
against the examples in the protocol document."""

from __future__ import annotations

import struct
from typing import Dict, List, Optional, Sequence, Tuple

# The agent refuses (and closes on) a frame whose length field exceeds this; the client refuses
# to send one, and to read one, for the same reason: a bad length cannot be re-synchronised.
MAX_FRAME = 262144

SSH_AGENT_FAILURE = 5
SSH_AGENTC_EXTENSION = 27
SSH_AGENT_EXTENSION_FAILURE = 28
SSH_AGENT_EXTENSION_RESPONSE = 29

PROGRESS = "progress@apisec"
UNLOCK_FLAG_PROGRESS = 1


class WireError(ValueError):
    """A frame or payload that does not follow the protocol."""


class FrameTooLarge(WireError):
    """A frame longer than MAX_FRAME (the agent would close the connection)."""


# Every sign request and reply goes through these: one precompiled struct, no helper calls.
_U32 = struct.Struct(">I")


def u32(value: int) -> bytes:
    return _U32.pack(value)


def string(value: bytes) -> bytes:
    return _U32.pack(len(value)) + value


def text(value: str) -> bytes:
    b = value.encode("utf-8")
    return _U32.pack(len(b)) + b


def string_list(values: Sequence[str]) -> bytes:
    return u32(len(values)) + b"".join(text(v) for v in values)


def frame(msg_type: int, payload: bytes) -> bytes:
    length = len(payload) + 1
    if length > MAX_FRAME:
        raise FrameTooLarge(
            f"request of {length} bytes exceeds the agent's frame limit of {MAX_FRAME} bytes"
        )
    return u32(length) + bytes([msg_type]) + payload


def extension(name: str, details: bytes = b"") -> bytes:
    return frame(SSH_AGENTC_EXTENSION, text(name) + details)


def check_frame_length(length: int) -> None:
    """Validates a length field read from the socket before anything is allocated for it."""
    if length == 0:
        raise WireError("the agent sent an empty frame")
    if length > MAX_FRAME:
        raise FrameTooLarge(f"the agent announced a frame of {length} bytes (limit {MAX_FRAME})")


# --- requests -------------------------------------------------------------------------------


def encode_query() -> bytes:
    return extension("query")


def encode_unlock(names: Sequence[str], progress: bool) -> bytes:
    flags = UNLOCK_FLAG_PROGRESS if progress else 0
    return extension("unlock@apisec", u32(flags) + string_list(names))


def encode_lock(names: Sequence[str]) -> bytes:
    return extension("lock@apisec", string_list(names))


STATUS_FLAG_NOTES = 1


def encode_status(notes: bool) -> bytes:
    """With `notes`, asks for each entry's notes (what weakens it); without, the request of
    0.1.0, whose reply `decode_status` also reads."""
    return extension("status@apisec", u32(STATUS_FLAG_NOTES) if notes else b"")


_SIGN_HEAD = bytes([SSH_AGENTC_EXTENSION]) + b"\x00\x00\x00\x0bsign@apisec"


def encode_sign(
    name: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    timestamp: str,
    nonce: str,
    host: str = "",
) -> bytes:
    # The hot path of every client: one join of precomputed and packed pieces, no helper calls.
    pack = _U32.pack
    n, m, p, q = name.encode(), method.encode(), path.encode(), query.encode()
    t, c = timestamp.encode(), nonce.encode()
    parts = [b"", _SIGN_HEAD, pack(len(n)), n, pack(len(m)), m, pack(len(p)), p,
             pack(len(q)), q, pack(len(body)), body, pack(len(t)), t, pack(len(c)), c]
    # A trailing field, sent only when set: an agent older than it reads no host.
    if host:
        h = host.encode()
        parts += (pack(len(h)), h)
    length = sum(map(len, parts))
    if length > MAX_FRAME:
        raise FrameTooLarge(
            f"request of {length} bytes exceeds the agent's frame limit of {MAX_FRAME} bytes"
        )
    parts[0] = pack(length)
    return b"".join(parts)


def encode_mac(name: str, algorithm: str, data: bytes) -> bytes:
    return extension("mac@apisec", text(name) + text(algorithm) + string(data))


def encode_login(name: str, kind: str, challenge: str, host: str) -> bytes:
    return extension("login@apisec", text(name) + text(kind) + text(challenge) + text(host))


# --- replies --------------------------------------------------------------------------------


class Reader:
    """Reads RFC 4251 fields from a payload; `end()` insists every byte was consumed."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def _take(self, n: int) -> bytes:
        if self._pos + n > len(self._data):
            raise WireError("truncated reply from the agent")
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def byte(self) -> int:
        return self._take(1)[0]

    def boolean(self) -> bool:
        b = self.byte()
        if b not in (0, 1):
            raise WireError(f"boolean field holds {b}, not 0 or 1")
        return b == 1

    def u32(self) -> int:
        pos = self._pos
        if pos + 4 > len(self._data):
            raise WireError("truncated reply from the agent")
        self._pos = pos + 4
        return int(_U32.unpack_from(self._data, pos)[0])

    def u64(self) -> int:
        return int(struct.unpack(">Q", self._take(8))[0])

    def string(self) -> bytes:
        data, pos = self._data, self._pos
        if pos + 4 > len(data):
            raise WireError("truncated reply from the agent")
        end = pos + 4 + _U32.unpack_from(data, pos)[0]
        if end > len(data):
            raise WireError("truncated reply from the agent")
        self._pos = end
        return data[pos + 4 : end]

    def text(self) -> str:
        try:
            return self.string().decode("utf-8")
        except UnicodeDecodeError as e:
            raise WireError("the agent sent a string that is not UTF-8") from e

    def pairs(self) -> List[Tuple[str, str]]:
        text = self.text
        return [(text(), text()) for _ in range(self.u32())]

    def at_end(self) -> bool:
        return self._pos == len(self._data)

    def end(self) -> None:
        if self._pos != len(self._data):
            raise WireError(f"{len(self._data) - self._pos} trailing bytes in the agent's reply")


def reply_prefix(name: str) -> bytes:
    """How an EXTENSION_RESPONSE to `name` begins: the name as a string field."""
    return text(name)


def split_extension_reply(payload: bytes) -> Tuple[str, bytes]:
    """An EXTENSION_RESPONSE payload: the extension name, then its details."""
    r = Reader(payload)
    name = r.text()
    return name, payload[r._pos :]


def decode_failure(payload: bytes) -> Tuple[str, str]:
    """An EXTENSION_FAILURE payload: (code, message); empty means a plain agent's `internal`."""
    if not payload:
        return "internal", "the agent refused the request without saying why"
    r = Reader(payload)
    code, message = r.text(), r.text()
    r.end()
    return code, message


def decode_progress(details: bytes) -> str:
    r = Reader(details)
    message = r.text()
    r.end()
    return message


def decode_unlock(details: bytes) -> List[Tuple[str, int]]:
    r = Reader(details)
    out = [(r.text(), r.u64()) for _ in range(r.u32())]
    r.end()
    return out


def encode_approvals() -> bytes:
    return extension("approvals@apisec")


def encode_answer(approval_id: int, approve: bool) -> bytes:
    return extension("answer@apisec", u32(approval_id) + (b"\x01" if approve else b"\x00"))


def decode_approvals(details: bytes) -> List[Tuple[int, str, str, int]]:
    """(id, short line, whole prompt, seconds waited) per waiting approval, oldest first."""
    r = Reader(details)
    out = [(r.u32(), r.text(), r.text(), r.u32()) for _ in range(r.u32())]
    r.end()
    return out


def decode_lock(details: bytes) -> int:
    r = Reader(details)
    n = r.u32()
    r.end()
    return n


def decode_query(details: bytes) -> List[str]:
    r = Reader(details)
    out = [r.text() for _ in range(r.u32())]
    r.end()
    return out


SignFields = Tuple[Dict[str, str], Dict[str, str], str, Optional[bytes]]


def decode_sign(details: bytes) -> SignFields:
    """(headers, query_additions, query, body or None when the body is unchanged). Written out
    with local names, as every signature's reply goes through it; every length is checked
    against the end before its bytes are taken."""
    unpack, end = _U32.unpack_from, len(details)
    # Replies are ASCII but for what the exchange's own values bring: then one decoding for
    # all, and each field a slice of it (the offsets of bytes and characters agree).
    ascii_text = details.decode("ascii") if details.isascii() else None
    pos = 0
    maps: List[Dict[str, str]] = []
    try:
        for _ in range(2):
            count = unpack(details, pos)[0]
            pos += 4
            out: Dict[str, str] = {}
            for _ in range(count):
                k = unpack(details, pos)[0]
                key_end = pos + 4 + k
                v = unpack(details, key_end)[0]
                value_end = key_end + 4 + v
                if value_end > end:
                    raise WireError("truncated reply from the agent")
                if ascii_text is not None:
                    out[ascii_text[pos + 4 : key_end]] = ascii_text[key_end + 4 : value_end]
                else:
                    out[details[pos + 4 : key_end].decode()] = details[key_end + 4 : value_end].decode()
                pos = value_end
            maps.append(out)
        q = unpack(details, pos)[0]
        query_end = pos + 4 + q
        if query_end + 1 > end:
            raise WireError("truncated reply from the agent")
        query = (ascii_text[pos + 4 : query_end] if ascii_text is not None
                 else details[pos + 4 : query_end].decode())
        replaced = details[query_end]
        b = unpack(details, query_end + 1)[0]
        body_start = query_end + 5
        body_end = body_start + b
    except struct.error:
        raise WireError("truncated reply from the agent") from None
    except UnicodeDecodeError as e:
        raise WireError("the agent sent a string that is not UTF-8") from e
    if replaced not in (0, 1):
        raise WireError(f"boolean field holds {replaced}, not 0 or 1")
    if body_end > end:
        raise WireError("truncated reply from the agent")
    if body_end != end:
        raise WireError(f"{end - body_end} trailing bytes in the agent's reply")
    return maps[0], maps[1], query, (details[body_start:body_end] if replaced else None)


StatusEntry = Tuple[str, str, str, bool, str, int, str, Tuple[str, ...]]


def decode_status(details: bytes) -> Tuple[str, int, bool, List[StatusEntry]]:
    r = Reader(details)
    version, pid, locked = r.text(), r.u32(), r.boolean()
    fields = [
        (r.text(), r.text(), r.text(), r.boolean(), r.text(), r.u64(), r.text())
        for _ in range(r.u32())
    ]
    notes = [""] * len(fields)
    if not r.at_end():
        notes = [r.text() for _ in range(r.u32())]
        if len(notes) != len(fields):
            raise WireError("status reply: not one notes field per entry")
    r.end()
    entries = [f + (tuple(n.splitlines()),) for f, n in zip(fields, notes)]
    return version, pid, locked, entries


def decode_login(details: bytes) -> Tuple[List[Tuple[str, str]], str]:
    """(fields in the exchange's order, the message to send or "")."""
    r = Reader(details)
    fields = r.pairs()
    message = r.text()
    r.end()
    return fields, message


def decode_mac(details: bytes) -> bytes:
    r = Reader(details)
    mac = r.string()
    r.end()
    return mac
