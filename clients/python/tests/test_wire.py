"""The client's encoder and decoder against the hex examples of docs/protocol.md, byte for byte.
The hex strings are copied from that document; if either side changes, this fails."""

from __future__ import annotations

import pytest

from apisec_agent import _wire as wire
from apisec_agent import errors


def h(s: str) -> bytes:
    return bytes.fromhex("".join(s.split()))


def test_query_request() -> None:
    assert wire.encode_query() == h("00 00 00 0a 1b 00 00 00 05 71 75 65 72 79")


def test_unlock_request_with_progress() -> None:
    expected = h(
        """00 00 00 20  1b  00 00 00 0d 75 6e 6c 6f 63 6b 40 61 70 69 73 65 63
        00 00 00 01
        00 00 00 01  00 00 00 02 62 67"""
    )
    assert wire.encode_unlock(["bg"], progress=True) == expected
    # Without progress only the flags word differs.
    assert wire.encode_unlock(["bg"], progress=False) == expected[:25] + h("00") + expected[26:]


def test_progress_frame_decodes() -> None:
    frame = h(
        "00 00 00 1f 1d 00 00 00 0f 70 72 6f 67 72 65 73 73 40 61 70 69 73 65 63 "
        "00 00 00 07 77 61 69 74 69 6e 67"
    )
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    assert frame[4] == wire.SSH_AGENT_EXTENSION_RESPONSE
    name, details = wire.split_extension_reply(frame[5:])
    assert name == wire.PROGRESS
    assert wire.decode_progress(details) == "waiting"


def test_unlock_reply_decodes() -> None:
    frame = h(
        "00 00 00 24 1d 00 00 00 0d 75 6e 6c 6f 63 6b 40 61 70 69 73 65 63 00 00 00 01 "
        "00 00 00 02 62 67 00 00 00 00 00 00 00 00"
    )
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    name, details = wire.split_extension_reply(frame[5:])
    assert name == "unlock@apisec"
    assert wire.decode_unlock(details) == [("bg", 0)]


def test_lock_request_and_reply() -> None:
    assert wire.encode_lock([]) == h(
        "00 00 00 14 1b 00 00 00 0b 6c 6f 63 6b 40 61 70 69 73 65 63 00 00 00 00"
    )
    reply = h("00 00 00 14 1d 00 00 00 0b 6c 6f 63 6b 40 61 70 69 73 65 63 00 00 00 01")
    name, details = wire.split_extension_reply(reply[5:])
    assert (name, wire.decode_lock(details)) == ("lock@apisec", 1)


def test_status_request() -> None:
    # Without notes: the request of 0.1.0 (no details).
    assert wire.encode_status(False) == h(
        "00 00 00 12 1b 00 00 00 0d 73 74 61 74 75 73 40 61 70 69 73 65 63"
    )
    assert wire.encode_status(True) == h(
        "00 00 00 16 1b 00 00 00 0d 73 74 61 74 75 73 40 61 70 69 73 65 63 00 00 00 01"
    )


def _status_entry(name: bytes) -> bytes:
    def s(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    return (
        s(name) + s(b"bitget") + s(b"k") + b"\x01" + s(b"") + (0).to_bytes(8, "big") + s(b"")
    )


def test_status_reply_with_and_without_notes() -> None:
    head = b"\x00\x00\x00\x05" + b"0.1.0" + (7).to_bytes(4, "big") + b"\x00"
    entries = (2).to_bytes(4, "big") + _status_entry(b"a") + _status_entry(b"b")
    version, pid, locked, got = wire.decode_status(head + entries)
    assert (version, pid, locked) == ("0.1.0", 7, False)
    assert [e[0] for e in got] == ["a", "b"] and all(e[7] == () for e in got)
    notes = (2).to_bytes(4, "big") + (0).to_bytes(4, "big") + (7).to_bytes(4, "big") + b"one\ntwo"
    _, _, _, got = wire.decode_status(head + entries + notes)
    assert got[0][7] == () and got[1][7] == ("one", "two")
    one_note = (1).to_bytes(4, "big") + (0).to_bytes(4, "big")
    with pytest.raises(wire.WireError, match="not one notes field per entry"):
        wire.decode_status(head + entries + one_note)


def test_sign_request() -> None:
    expected = h(
        """00 00 00 36 1b 00 00 00 0b 73 69 67 6e 40 61 70 69 73 65 63
        00 00 00 02 62 67  00 00 00 03 47 45 54  00 00 00 02 2f 70  00 00 00 03 61 3d 31
        00 00 00 00  00 00 00 00  00 00 00 00"""
    )
    assert wire.encode_sign("bg", "GET", "/p", "a=1", b"", "", "") == expected


def test_sign_reply_decodes() -> None:
    frame = h(
        """00 00 00 2e 1d 00 00 00 0b 73 69 67 6e 40 61 70 69 73 65 63
        00 00 00 01 00 00 00 01 4b 00 00 00 01 76
        00 00 00 00
        00 00 00 03 61 3d 31
        00 00 00 00 00"""
    )
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    name, details = wire.split_extension_reply(frame[5:])
    assert name == "sign@apisec"
    assert wire.decode_sign(details) == ({"K": "v"}, {}, "a=1", None)


def test_every_cut_or_overlong_sign_reply_is_a_wire_error() -> None:
    """The sign reply's decoder is written out for speed: each truncation, each byte more, and
    each length field made too long is a WireError, never an IndexError or a short value."""
    details = (wire.u32(2) + wire.text("K") + wire.text("v\u20ac") + wire.text("L") + wire.text("")
               + wire.u32(1) + wire.text("timestamp") + wire.text("1")
               + wire.text("a=1") + b"\x01" + wire.string(b"nonce=1&x=2"))
    assert wire.decode_sign(details) == ({"K": "v\u20ac", "L": ""}, {"timestamp": "1"}, "a=1",
                                         b"nonce=1&x=2")
    # The same in ASCII, which the decoder takes another way.
    plain = details.replace("\u20ac".encode(), b"EUR")
    assert wire.decode_sign(plain)[0] == {"K": "vEUR", "L": ""}
    for reply in (details, plain):
        for cut in range(len(reply)):
            with pytest.raises(wire.WireError):
                wire.decode_sign(reply[:cut])
        with pytest.raises(wire.WireError, match="trailing"):
            wire.decode_sign(reply + b"\x00")
        for at in range(0, len(reply) - 3):
            for byte in (b"\xff", b"\x7f"):
                changed = reply[:at] + byte + reply[at + 1:]
                try:
                    wire.decode_sign(changed)
                except wire.WireError:
                    pass  # a length or flag made wrong, named as such; anything else escapes
    with pytest.raises(wire.WireError, match="UTF-8"):
        wire.decode_sign(wire.u32(1) + wire.text("K") + wire.string(b"\xff") + details[26:])


def test_mac_request_and_reply() -> None:
    assert wire.encode_mac("raw", "hmac-sha256", b"hi") == h(
        "00 00 00 2b 1b 00 00 00 0a 6d 61 63 40 61 70 69 73 65 63 00 00 00 03 72 61 77 "
        "00 00 00 0b 68 6d 61 63 2d 73 68 61 32 35 36 00 00 00 02 68 69"
    )
    reply = h("00 00 00 15 1d 00 00 00 0a 6d 61 63 40 61 70 69 73 65 63 00 00 00 02 ab cd")
    name, details = wire.split_extension_reply(reply[5:])
    assert (name, wire.decode_mac(details)) == ("mac@apisec", b"\xab\xcd")


def test_login_request_and_reply() -> None:
    # The example of docs/protocol.md, "login@apisec".
    assert wire.encode_login("bg", "", "", "") == h(
        "00 00 00 23 1b 00 00 00 0c 6c 6f 67 69 6e 40 61 70 69 73 65 63 "
        "00 00 00 02 62 67 00 00 00 00 00 00 00 00 00 00 00 00"
    )
    details = h("00 00 00 01 00 00 00 04 73 69 67 6e 00 00 00 01 78 00 00 00 02 7b 7d")
    assert wire.decode_login(details) == ([("sign", "x")], "{}")
    with pytest.raises(Exception):
        wire.decode_login(details + b"\x00")


def test_sign_sends_the_host_only_when_named() -> None:
    without = wire.encode_sign("n", "GET", "/p", "", b"", "", "")
    with_host = wire.encode_sign("n", "GET", "/p", "", b"", "", "", "api.hbdm.com")
    # The frame's length differs; the details of the one are the other's, then the host.
    assert with_host[4:].startswith(without[4:])
    assert with_host[4 + len(without) - 4:] == b"\x00\x00\x00\x0capi.hbdm.com"


def test_refusal_maps_to_secret_sealed() -> None:
    frame = h(
        """00 00 00 24 1c  00 00 00 06 73 65 61 6c 65 64  00 00 00 15 73 65 63 72 65 74 20 22
        62 67 22 20 69 73 20 73 65 61 6c 65 64"""
    )
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    assert frame[4] == wire.SSH_AGENT_EXTENSION_FAILURE
    code, message = wire.decode_failure(frame[5:])
    assert (code, message) == ("sealed", 'secret "bg" is sealed')
    err = errors.from_code(code, message)
    assert isinstance(err, errors.SecretSealed) and err.code == "sealed"


@pytest.mark.parametrize(
    "code, cls",
    [
        ("bad-request", errors.BadRequest),
        ("not-found", errors.SecretNotFound),
        ("denied", errors.ApprovalDenied),
        ("timeout", errors.ApprovalTimeout),
        ("refused", errors.PolicyRefused),
        ("bad-entry", errors.BadEntry),
        ("token", errors.TokenError),
        ("agent-locked", errors.AgentLocked),
        ("sign", errors.SignError),
        ("internal", errors.AgentError),
        ("from-a-newer-agent", errors.AgentError),
    ],
)
def test_every_code_has_its_exception(code: str, cls: type) -> None:
    err = errors.from_code(code, "m")
    assert type(err) is cls and err.code == code and err.message == "m"


def test_plain_agent_failure_without_payload_is_internal() -> None:
    assert wire.decode_failure(b"")[0] == "internal"


def test_frame_limit_is_enforced_on_send_and_receive() -> None:
    # 262144 is the largest length field the agent accepts (type byte + payload).
    assert len(wire.frame(27, b"x" * (wire.MAX_FRAME - 1))) == wire.MAX_FRAME + 4
    with pytest.raises(wire.FrameTooLarge):
        wire.frame(27, b"x" * wire.MAX_FRAME)
    with pytest.raises(wire.FrameTooLarge):
        wire.check_frame_length(wire.MAX_FRAME + 1)
    with pytest.raises(wire.WireError):
        wire.check_frame_length(0)


def test_trailing_bytes_and_bad_booleans_are_rejected() -> None:
    with pytest.raises(wire.WireError):
        wire.decode_lock(b"\x00\x00\x00\x01\x00")
    bad_bool = b"\x00\x00\x00\x00" * 2 + b"\x00\x00\x00\x00" + b"\x02" + b"\x00\x00\x00\x00"
    with pytest.raises(wire.WireError):
        wire.decode_sign(bad_bool)
