"""A signature is good only for the request the policy judged (docs/threat-model.md).

For every preset that signs the endpoint, and every money-movement endpoint of the deny lists the
agent had before it classified endpoints, this asks the real agent for every request a client
could send whose signed string equals the forbidden one's, or nearly: every split of its signed
string across path, query, body and the agent's nonce or expiry, every other spelling of its
path, and the same request with each other method. Each is refused, or the signature returned is shown, by this file's own computation of the
exchange's signature (written from each exchange's authentication documentation, cited beside
it), not to be valid for the forbidden request with the stamp the agent chose. A control request
per preset is signed and checked the same way, so the computations are known to be right.

Two policies: the standard one (unknown endpoints refused too), and one that allows unknown
endpoints but refuses transfers and administration by class, so that only the agent's reading of
the signed string, not the table, stands between a split and a withdrawal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from apisec_agent import Agent
from apisec_agent.errors import AgentError
from apisec_agent.results import SignResult
from apisec_agent.testing import AgentEnv

sys.path.insert(0, os.path.dirname(__file__))

JSON_BODY = '{"coin":"USDT","address":"TXYZ","amount":"100"}'
FORM_BODY = "asset=XBT&key=mine&amount=100"


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def hm(key: bytes, data: bytes, algo=hashlib.sha256) -> bytes:
    return hmac.new(key, data, algo).digest()


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    query: str = ""
    body: str = ""


# --- Each exchange's signature, from its documentation -------------------------------------
# Each takes the secret, the request and the agent's reply (for the stamp it chose) and returns
# (the header that carries the signature, the signature this request would need). `lent`: digits
# in front of the agent's nonce or expiry (the exchange reads one number where the client's part
# ended in digits).

def concat_prehash(ts: str, r: Req) -> bytes:
    return (ts + r.method + r.path + ("?" + r.query if r.query else "") + r.body).encode()


def sig_bitget(secret: str, r: Req, got: SignResult, lent: str = "") -> Tuple[str, str]:
    # https://www.bitget.com/api-doc/common/signature
    ts = got.headers["ACCESS-TIMESTAMP"]
    return "ACCESS-SIGN", b64(hm(secret.encode(), concat_prehash(ts, r)))


def sig_okx(secret: str, r: Req, got: SignResult, lent: str = "") -> Tuple[str, str]:
    # https://www.okx.com/docs-v5/en/#overview-rest-authentication-signature
    ts = got.headers["OK-ACCESS-TIMESTAMP"]
    return "OK-ACCESS-SIGN", b64(hm(secret.encode(), concat_prehash(ts, r)))


def sig_kucoin(secret: str, r: Req, got: SignResult, lent: str = "") -> Tuple[str, str]:
    # https://www.kucoin.com/docs/basic-info/connection-method/authentication/signing-a-message
    ts = got.headers["KC-API-TIMESTAMP"]
    return "KC-API-SIGN", b64(hm(secret.encode(), concat_prehash(ts, r)))


def sig_coinbase_exchange(secret: str, r: Req, got: SignResult, lent: str = "") -> Tuple[str, str]:
    # https://docs.cdp.coinbase.com/exchange/docs/rest-auth (secret base64-decoded)
    ts = got.headers["CB-ACCESS-TIMESTAMP"]
    return "CB-ACCESS-SIGN", b64(hm(base64.b64decode(secret), concat_prehash(ts, r)))


def sig_bitmex(secret: str, r: Req, got: SignResult, lent: str = "") -> Tuple[str, str]:
    # https://www.bitmex.com/app/apiKeysUsage: verb + path (with query) + expires + data
    exp = lent + got.headers["api-expires"]
    path = r.path + ("?" + r.query if r.query else "")
    return "api-signature", hm(secret.encode(), (r.method + path + exp + r.body).encode()).hex()


def sig_bitfinex(secret: str, r: Req, got: SignResult, lent: str = "") -> Tuple[str, str]:
    # https://docs.bitfinex.com/docs/rest-auth: "/api/" + path + nonce + body, HMAC-SHA384
    nonce = lent + got.headers["bfx-nonce"]
    data = ("/api" + r.path + nonce + r.body).encode()
    return "bfx-signature", hm(secret.encode(), data, hashlib.sha384).hex()


def sig_kraken_futures(secret: str, r: Req, got: SignResult, lent: str = "") -> Tuple[str, str]:
    # https://docs.kraken.com/api/docs/guides/futures-rest: postData + Nonce + endpointPath
    # (the path without /derivatives), SHA-256, then HMAC-SHA512 with the decoded secret.
    nonce = lent + got.headers["Nonce"]
    post = r.body or r.query
    endpoint = r.path[len("/derivatives"):] if r.path.startswith("/derivatives") else r.path
    inner = hashlib.sha256((post + nonce + endpoint).encode()).digest()
    return "Authent", b64(hm(base64.b64decode(secret), inner, hashlib.sha512))


def sig_kraken(secret: str, r: Req, got: SignResult, lent: str = "") -> Tuple[str, str]:
    # https://docs.kraken.com/api/docs/guides/spot-rest-auth: path + SHA256(nonce + POST data)
    body = (got.body or b"").decode()
    nonce = body.split("&")[0].removeprefix("nonce=")
    post = "nonce=" + nonce + ("&" + r.body if r.body else "")
    inner = hashlib.sha256((nonce + post).encode()).digest()
    return "API-Sign", b64(hm(base64.b64decode(secret), r.path.encode() + inner, hashlib.sha512))


def sig_gate(secret: str, r: Req, got: SignResult, lent: str = "") -> Tuple[str, str]:
    # https://www.gate.io/docs/developers/apiv4/#authentication: METHOD\npath\nquery\n
    # hex(SHA512(body))\ntimestamp, HMAC-SHA512 hex
    ts = got.headers["Timestamp"]
    pre = "\n".join([r.method, r.path, r.query, hashlib.sha512(r.body.encode()).hexdigest(), ts])
    return "SIGN", hm(secret.encode(), pre.encode(), hashlib.sha512).hex()


def sig_deribit(secret: str, r: Req, got: SignResult, lent: str = "") -> Tuple[str, str]:
    # https://docs.deribit.com/#authentication (deri-hmac-sha256): ts\nnonce\nMETHOD\nURI\nbody\n
    auth = dict(kv.split("=", 1) for kv in got.headers["Authorization"].split(" ", 1)[1].split(","))
    uri = r.path + ("?" + r.query if r.query else "")
    pre = f"{auth['ts']}\n{auth['nonce']}\n{r.method}\n{uri}\n{r.body}\n"
    sig = hm(secret.encode(), pre.encode()).hex()
    return "Authorization", got.headers["Authorization"].replace(auth["sig"], sig)


def sig_htx(secret: str, r: Req, got: SignResult, lent: str = "") -> Tuple[str, str]:
    # https://www.htx.com/en-us/opend/newApiPages/?id=419: METHOD\nhost\npath\nthe query
    # parameters (the request's own and the auth ones, encoded as sent) sorted by name
    sent = [p for p in got.query.split("&") if p]
    auth = [p for p in sent if p.split("=")[0] in
            ("AccessKeyId", "SignatureMethod", "SignatureVersion", "Timestamp")]
    own = [p for p in r.query.split("&") if p]
    canonical = "&".join(sorted(own + auth, key=lambda p: p.split("=")[0]))
    pre = f"{r.method}\napi.huobi.pro\n{r.path}\n{canonical}"
    return "Signature", b64(hm(secret.encode(), pre.encode()))


def sig_coinbase_advanced(_secret: str, r: Req, got: SignResult, lent: str = "") -> Tuple[str, str]:
    # https://docs.cdp.coinbase.com/advanced-trade/docs/rest-api-auth: a JWT whose `uri` claim
    # is "METHOD host path" is good for exactly that method and path (its ES256 signature is
    # randomized, so the claim is what tells): what is compared here is the claim.
    return "uri", f"{r.method} api.coinbase.com{r.path}"


def htx_have(got: SignResult) -> str:
    from urllib.parse import unquote
    return unquote(dict(p.split("=", 1) for p in got.query.split("&")).get("Signature", ""))


def cb_adv_have(got: SignResult) -> str:
    token = got.headers["Authorization"].removeprefix("Bearer ")
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["uri"]


@dataclass(frozen=True)
class Exchange:
    preset: str
    body: str  # the body of a forbidden request
    sig: Callable[..., Tuple[str, str]]
    forbidden: Tuple[Req, ...]
    control: Req
    # Where the signature is read from the reply (default: the header `sig` names).
    have: Optional[Callable[[SignResult], str]] = None
    # The agent stamps a number right after the query/path (nonce, expiry), or after the params.
    number_after: Optional[str] = None


def j(method: str, path: str) -> Req:
    return Req(method, path, "", JSON_BODY if method in ("POST", "PUT") else "")


EXCHANGES = [
    Exchange("bitget", JSON_BODY, sig_bitget, (
        j("POST", "/api/v2/spot/wallet/withdrawal"), j("POST", "/api/v2/spot/wallet/cancel-withdrawal"),
        j("POST", "/api/v2/spot/wallet/transfer"), j("POST", "/api/v2/spot/wallet/subaccount-transfer"),
        j("POST", "/api/v2/user/create-virtual-subaccount"), j("POST", "/api/v2/user/modify-virtual-subaccount"),
        j("POST", "/api/v2/user/create-virtual-subaccount-apikey"),
        j("POST", "/api/v2/user/modify-virtual-subaccount-apikey"),
    ), Req("GET", "/api/v2/spot/account/assets", "coin=USDT")),
    Exchange("okx", JSON_BODY, sig_okx, (
        j("POST", "/api/v5/asset/withdrawal"), j("POST", "/api/v5/asset/withdrawal-lightning"),
        j("POST", "/api/v5/asset/cancel-withdrawal"), j("POST", "/api/v5/fiat/create-withdrawal"),
        j("POST", "/api/v5/fiat/cancel-withdrawal"), j("POST", "/api/v5/asset/transfer"),
        j("POST", "/api/v5/asset/subaccount/transfer"), j("POST", "/api/v5/users/subaccount/create-subaccount"),
        j("POST", "/api/v5/users/subaccount/set-transfer-out"), j("POST", "/api/v5/users/subaccount/apikey"),
        j("POST", "/api/v5/users/subaccount/modify-apikey"), j("POST", "/api/v5/users/subaccount/delete-apikey"),
        j("POST", "/api/v5/broker/nd/create-subaccount"),
    ), Req("GET", "/api/v5/account/balance", "ccy=BTC")),
    Exchange("kucoin", JSON_BODY, sig_kucoin, (
        j("POST", "/api/v1/withdrawals"), j("POST", "/api/v3/withdrawals"),
        Req("DELETE", "/api/v1/withdrawals/5bffb63303aa675e8bbe18f9"),
        j("POST", "/api/v2/accounts/inner-transfer"), j("POST", "/api/v2/accounts/sub-transfer"),
        j("POST", "/api/v3/accounts/universal-transfer"), j("POST", "/api/v3/transfer-out"),
        j("POST", "/api/v1/transfer-in"), j("POST", "/api/v1/transfer-out"), j("POST", "/api/v2/sub/user/created"),
        j("POST", "/api/v1/sub/api-key"), j("POST", "/api/v1/sub/api-key/update"),
        Req("DELETE", "/api/v1/sub/api-key", "subName=bot1&apiKey=k&passphrase=p"),
    ), Req("GET", "/api/v1/accounts", "currency=USDT")),
    Exchange("coinbase-exchange", JSON_BODY, sig_coinbase_exchange, (
        j("POST", "/withdrawals/crypto"), j("POST", "/withdrawals/coinbase-account"),
        j("POST", "/profiles/transfer"), j("POST", "/profiles"),
        j("PUT", "/profiles/8058d771-2d88-4f0f-ab6e-299c153d4308/deactivate"),
        j("POST", "/address-book"), j("POST", "/coinbase-accounts/8058d771-2d88-4f0f-ab6e-299c153d4308/addresses"),
    ), Req("GET", "/accounts")),
    Exchange("bitmex", JSON_BODY, sig_bitmex, (
        j("POST", "/api/v1/user/requestWithdrawal"), j("POST", "/api/v1/user/cancelWithdrawal"),
        j("POST", "/api/v1/user/confirmWithdrawal"), j("POST", "/api/v1/user/walletTransfer"),
        j("POST", "/api/v1/user/addSubaccount"), j("POST", "/api/v1/user/updateSubaccount"),
        j("POST", "/api/v1/address"),
        # BitMEX takes a DELETE's parameters as a JSON body (the agent signs one: cancel order).
        Req("DELETE", "/api/v1/user/withdrawal", "", '{"transactID":"00000000-0000-0000-0000-000000000002"}'),
        Req("DELETE", "/api/v1/user/unstakingRequests", "", '{"redemptionID":"r1"}'),
    ), Req("GET", "/api/v1/user/wallet", "currency=XBt"), number_after="query"),
    Exchange("bitfinex", JSON_BODY, sig_bitfinex, (
        j("POST", "/v2/auth/w/withdraw"), j("POST", "/v2/auth/w/transfer"), j("POST", "/v2/auth/w/token"),
    ), Req("POST", "/v2/auth/r/wallets", "", "{}"), number_after="path"),
    Exchange("kraken-futures", FORM_BODY, sig_kraken_futures, (
        Req("POST", "/derivatives/api/v3/withdrawal", "", FORM_BODY),
        Req("POST", "/derivatives/api/v3/transfer", "", FORM_BODY),
        Req("POST", "/derivatives/api/v3/transfer/subaccount", "", FORM_BODY),
    ), Req("GET", "/derivatives/api/v3/accounts"), number_after="params"),
    Exchange("kraken", FORM_BODY, sig_kraken, (
        Req("POST", "/0/private/Withdraw", "", FORM_BODY), Req("POST", "/0/private/WithdrawCancel", "", FORM_BODY),
        Req("POST", "/0/private/WalletTransfer", "", FORM_BODY), Req("POST", "/0/private/CreateSubaccount", "", FORM_BODY),
        Req("POST", "/0/private/AccountTransfer", "", FORM_BODY),
    ), Req("POST", "/0/private/Balance")),
    Exchange("gate", JSON_BODY, sig_gate, (
        j("POST", "/api/v4/withdrawals"), Req("DELETE", "/api/v4/withdrawals/w1234"),
        j("POST", "/api/v4/withdrawals/push"), j("POST", "/api/v4/wallet/transfers"),
        j("POST", "/api/v4/wallet/sub_account_transfers"), j("POST", "/api/v4/wallet/sub_account_to_sub_account"),
        j("POST", "/api/v4/sub_accounts"), j("POST", "/api/v4/sub_accounts/10001/lock"),
        j("POST", "/api/v4/sub_accounts/10001/keys"),
    ), Req("GET", "/api/v4/spot/accounts", "currency=USDT")),
    Exchange("htx", JSON_BODY, sig_htx, (
        j("POST", "/v1/dw/withdraw/api/create"), j("POST", "/v1/account/transfer"), j("POST", "/v2/account/transfer"),
        j("POST", "/v1/futures/transfer"), j("POST", "/v2/point/transfer"), j("POST", "/v1/subuser/transfer"),
        j("POST", "/v2/sub-user/creation"), j("POST", "/v2/sub-user/api-key-generation"),
    ), Req("GET", "/v1/account/accounts"), have=htx_have),
    Exchange("deribit", "", sig_deribit, (
        Req("GET", "/api/v2/private/withdraw", "currency=BTC&address=x&amount=1"),
        Req("GET", "/api/v2/private/submit_transfer_to_user", "currency=BTC&amount=1&destination=x"),
        Req("GET", "/api/v2/private/create_subaccount"),
        Req("GET", "/api/v2/private/create_api_key", "max_scope=account:read"),
    ), Req("GET", "/api/v2/private/get_account_summary", "currency=BTC")),
    Exchange("coinbase-advanced", JSON_BODY, sig_coinbase_advanced, (
        j("POST", "/v2/accounts/8058d771-2d88-4f0f-ab6e-299c153d4308/transactions"),
        j("POST", "/api/v3/brokerage/portfolios/move_funds"),
    ), Req("GET", "/api/v3/brokerage/accounts"), have=cb_adv_have),
]


def region(ex: Exchange, r: Req) -> Tuple[str, str]:
    """(the client's bytes that meet in the signed string, what is fixed after them)."""
    if ex.preset == "kraken-futures":
        return (r.body or r.query), r.path
    return r.path + ("?" + r.query if r.query else "") + r.body, ""


def splits(ex: Exchange, f: Req) -> Iterator[Req]:
    """Every request a client could send whose parts, joined as the exchange joins them, give
    the forbidden request's bytes: the boundaries between path, query and body moved."""
    if ex.preset == "kraken-futures":
        post = f.body or f.query
        for i in range(len(post) + 1):
            yield Req(f.method, f.path, post[:i], post[i:])
        return
    joined, _ = region(ex, f)
    for i in range(len(joined) + 1):
        head, tail = joined[:i], joined[i:]
        yield Req(f.method, head, "", tail)
        # With a query: a '?' in what follows the path starts it.
        for k in range(len(tail) + 1):
            mid = tail[:k]
            if mid.startswith("?") and len(mid) > 1:
                yield Req(f.method, head, mid[1:], tail[k:])


def digit_variants(ex: Exchange, f: Req) -> Iterator[Req]:
    """Digits lent to the agent's number: the signed string of the forbidden request with a
    longer nonce or expiry."""
    for d in ("0", "1", "12"):
        if ex.number_after == "path":
            yield Req(f.method, f.path + d, f.query, f.body)
        elif ex.number_after == "query":
            yield Req(f.method, f.path, (f.query + d) if f.query else "", f.body)
            if not f.query:
                yield Req(f.method, f.path + d, "", f.body)
        elif ex.number_after == "params":
            yield Req(f.method, f.path, "", (f.body or f.query) + d)


def spellings(f: Req) -> Iterator[Req]:
    """The other spellings of the forbidden path a server might normalise to it."""
    segs = f.path.split("/")
    last = segs[-1]
    variants = [
        f.path + "/",
        f.path.replace("/", "//", 1),
        "/".join(segs[:-1] + [".", last]),
        "/".join(segs[:-1] + ["x", "..", last]),
        "/".join(segs[:-1] + ["%%%02X%s" % (ord(last[0]), last[1:])]),
        "/".join(segs[:-1] + [last.upper()]),
        "/".join(segs[:-1] + [last[:1].swapcase() + last[1:]]),
        f.path + ";x=1",
        f.path.upper(),
    ]
    for v in variants:
        if v != f.path:
            yield Req(f.method, v, f.query, f.body)


def other_methods(f: Req) -> Iterator[Req]:
    """The forbidden request with each other method, its parameters where that method carries
    them: the same request to an exchange that does not sign the method (Kraken Futures)."""
    for m in ("GET", "POST", "PUT", "DELETE"):
        if m == f.method:
            continue
        if m in ("GET", "DELETE"):
            yield Req(m, f.path, f.query or f.body, "")
            if m == "DELETE" and f.body:
                # BitMEX's DELETE carries a body too.
                yield Req(m, f.path, f.query, f.body)
        else:
            yield Req(m, f.path, f.query, f.body)


SECRETS: Dict[str, Tuple[str, Optional[str], List[str]]] = {
    "bitget": (os.urandom(24).hex(), "pp", []),
    "okx": (os.urandom(24).hex(), "pp", []),
    "kucoin": (os.urandom(24).hex(), "pp", []),
    "coinbase-exchange": (b64(os.urandom(64)), "pp", []),
    "bitmex": (os.urandom(24).hex(), None, []),
    "bitfinex": (os.urandom(24).hex(), None, []),
    "kraken-futures": (b64(os.urandom(64)), None, []),
    "kraken": (b64(os.urandom(64)), None, []),
    "gate": (os.urandom(24).hex(), None, []),
    "htx": (os.urandom(24).hex(), None, []),
    "deribit": (os.urandom(24).hex(), None, []),
}

PERMISSIVE = ('default_deny = false\n[[rule]]\naction = "deny"\nclass = "transfer"\n'
              '[[rule]]\naction = "deny"\nclass = "admin"\n')


@pytest.fixture(scope="module")
def bound_env() -> Iterator[AgentEnv]:
    env = AgentEnv("apisec-bound-")
    try:
        env.init()
        permissive = env.root / "permissive.toml"
        permissive.write_text(PERMISSIVE)
        # Every Deribit signature is also a login: its secrets sign only with allow_login.
        logins = env.root / "logins.toml"
        logins.write_text("allow_login = true\n")
        permissive_logins = env.root / "permissive-logins.toml"
        permissive_logins.write_text("allow_login = true\n" + PERMISSIVE)
        names = []
        for preset, (secret, passphrase, _) in SECRETS.items():
            for policy in ("std", "open"):
                name = f"{preset}-{policy}"
                if preset == "deribit":
                    chosen = permissive_logins if policy == "open" else logins
                    extra = ["--policy", str(chosen)]
                else:
                    extra = ["--policy", str(permissive)] if policy == "open" else []
                env.add(name, preset, "k" + os.urandom(4).hex(), secret.encode(),
                        None if passphrase is None else passphrase.encode(), extra)
                names.append(name)
        for policy in ("std", "open"):
            name = f"coinbase-advanced-{policy}"
            extra = ["--policy", str(permissive)] if policy == "open" else []
            env.check(env.agent_cmd("keygen", name, "--exchange", "coinbase-advanced", "--type", "p256",
                                    "--in-memory", "--api-key", "organizations/o/apiKeys/k", *extra),
                      "keygen")
            names.append(name)
        env.start()
        env.unlock(*names)
        yield env
    finally:
        env.close()


def attempt(agent: Agent, ex: Exchange, name: str, r: Req) -> Optional[SignResult]:
    try:
        return agent.sign(name, r.method, r.path, r.query, r.body.encode() or None)
    except AgentError:
        return None


def signature_of(ex: Exchange, got: SignResult, header: str) -> str:
    return ex.have(got) if ex.have else got.headers[header]


@pytest.mark.parametrize("ex", EXCHANGES, ids=[e.preset for e in EXCHANGES])
def test_no_other_request_signs_a_forbidden_one(bound_env: AgentEnv, ex: Exchange) -> None:
    secret = SECRETS.get(ex.preset, ("", None, []))[0]
    with Agent(str(bound_env.socket)) as agent:
        # The control: an ordinary request is signed, and this file's computation agrees.
        got = attempt(agent, ex, f"{ex.preset}-std", ex.control)
        assert got is not None, f"{ex.preset}: the control request {ex.control} was refused"
        header, want = ex.sig(secret, ex.control, got)
        assert signature_of(ex, got, header) == want, f"{ex.preset}: the computation disagrees"
        tried = 0
        for policy in ("std", "open"):
            name = f"{ex.preset}-{policy}"
            for f in ex.forbidden:
                assert attempt(agent, ex, name, f) is None, f"{name}: {f} itself was signed"
                for r in [*splits(ex, f), *digit_variants(ex, f), *spellings(f),
                          *other_methods(f)]:
                    if r == f:
                        continue
                    tried += 1
                    got = attempt(agent, ex, name, r)
                    if got is None:
                        continue
                    # The forbidden request with the agent's stamp, or with digits lent to it.
                    for lent in ("", "0", "1", "12", "2") if ex.number_after else ("",):
                        header, valid_for_f = ex.sig(secret, f, got, lent)
                        assert signature_of(ex, got, header) != valid_for_f, (
                            f"{name}: the signature of {r} is also good for the forbidden {f}"
                            + (f" with {lent!r} before the agent's number" if lent else "")
                        )
        assert tried > 50 * len(ex.forbidden), tried


def test_a_bitmex_delete_signs_its_json_body_as_bitmex_documents(bound_env: AgentEnv) -> None:
    """ccxt's cancel_order is `DELETE /api/v1/order` with `{"orderID": ...}` as the body: signed
    over the body (this file's computation from BitMEX's documentation agrees), while the same
    body on a DELETE of a transfer endpoint is refused (the splits above try the rest)."""
    secret = SECRETS["bitmex"][0]
    ex = next(e for e in EXCHANGES if e.preset == "bitmex")
    cancel = Req("DELETE", "/api/v1/order", "", '{"orderID":"00000000-0000-0000-0000-000000000001"}')
    with Agent(str(bound_env.socket)) as agent:
        got = attempt(agent, ex, "bitmex-std", cancel)
        assert got is not None, "the cancel was refused"
        header, want = ex.sig(secret, cancel, got)
        assert got.headers[header] == want
        # Without its body the signature is another one: the body is in the signed string.
        assert got.headers[header] != ex.sig(secret, Req("DELETE", "/api/v1/order"), got)[1]
        withdrawal = Req("DELETE", "/api/v1/user/withdrawal", "", cancel.body)
        assert attempt(agent, ex, "bitmex-std", withdrawal) is None
        assert attempt(agent, ex, "bitmex-open", withdrawal) is None


def test_a_bitmex_json_body_that_reads_as_another_form_is_refused(bound_env: AgentEnv) -> None:
    """BitMEX takes form bodies too, by the Content-Type the bot chooses: a JSON body holding '&'
    is, to a form parser (Python's own), parameters the policy never saw; the agent refuses it,
    and signs the same value written with the JSON escape."""
    from urllib.parse import parse_qsl

    ex = next(e for e in EXCHANGES if e.preset == "bitmex")
    body = '{"symbol":"XBTUSD","text":"&symbol=ETHUSD&"}'
    assert ("symbol", "ETHUSD") in parse_qsl(body, keep_blank_values=True)
    escaped = '{"symbol":"XBTUSD","text":"\\u0026symbol=ETHUSD\\u0026"}'
    assert ("symbol", "ETHUSD") not in parse_qsl(escaped, keep_blank_values=True)
    with Agent(str(bound_env.socket)) as agent:
        for name in ("bitmex-std", "bitmex-open"):
            with pytest.raises(AgentError, match="u0026"):
                agent.sign(name, "DELETE", "/api/v1/order/all", "", body.encode())
            got = attempt(agent, ex, name, Req("DELETE", "/api/v1/order/all", "", escaped))
            assert got is not None, f"{name}: the escaped body was refused"


DOCS_STEP_UP = ('[[rule]]\naction = "step-up"\nmethods = ["POST"]\npath = "/api/v2/spot/wallet/withdrawal"\n'
                'fields = { coin = "USDT" }\n\n[[rule]]\naction = "deny"\npath = "/api/v2/spot/wallet/*"\n')


def test_the_docs_step_up_example_cannot_be_walked_around(tmp_path) -> None:
    """docs/policy.md's example: a USDT withdrawal needs a fresh approval. With the approver
    saying no, no request whose signature is good for that withdrawal gets signed; with it saying
    yes, the withdrawal is signed only after it was asked."""
    secret = os.urandom(24).hex()
    env = AgentEnv("apisec-stepup-")
    try:
        env.init()
        policy = env.root / "step-up.toml"
        policy.write_text(DOCS_STEP_UP)
        env.add("bg", "bitget", "k", secret.encode(), b"pp", ["--policy", str(policy)])
        env.start()
        env.unlock("bg")
        ex = EXCHANGES[0]
        f = Req("POST", "/api/v2/spot/wallet/withdrawal", "", '{"coin":"USDT","address":"T","size":"1"}')
        env.set_approver("deny")
        with Agent(str(env.socket)) as agent:
            asked = len(env.approver_log().splitlines())
            assert attempt(agent, ex, "bg", f) is None
            assert len(env.approver_log().splitlines()) == asked + 1, "the approver was asked"
            for r in [*splits(ex, f), *spellings(f)]:
                if r == f:
                    continue
                got = attempt(agent, ex, "bg", r)
                if got is not None:
                    header, valid_for_f = ex.sig(secret, f, got)
                    assert got.headers[header] != valid_for_f, f"{r} walked around the step-up"
            env.set_approver("approve")
            asked = len(env.approver_log().splitlines())
            got = attempt(agent, ex, "bg", f)
            assert got is not None and len(env.approver_log().splitlines()) == asked + 1
            header, valid_for_f = ex.sig(secret, f, got)
            assert got.headers[header] == valid_for_f
    finally:
        env.close()
