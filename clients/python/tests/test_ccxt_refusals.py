"""An oracle that is not the agent's table: ccxt's own money-moving and account-administering
calls (its unified withdraw() and transfer(), and each exchange's sub-account creation), built by
ccxt's own code through the adapter, are refused by the agent's default policy for every exchange
the adapter has; ccxt raises PermissionDenied and nothing reaches the network."""

from __future__ import annotations

from typing import Any, Dict, List

import ccxt
import pytest
from ccxt_compare import adapted, capture

MARKET = {"symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "baseId": "BTC", "quoteId": "USDT",
          "type": "spot", "spot": True, "active": True, "precision": {"amount": 0.0001, "price": 0.01},
          "limits": {}, "info": {}}
MARKET_IDS = {"bitget": "BTCUSDT", "binance": "BTCUSDT", "okx": "BTC-USDT", "bybit": "BTCUSDT",
              "kraken": "XXBTZUSD", "kucoin": "BTC-USDT", "gate": "BTC_USDT",
              "mexc": "BTCUSDT"}
CURRENCIES = {"USDT": {"id": "USDT", "code": "USDT", "precision": 0.000001, "info": {},
                       "networks": {"TRC20": {"id": "TRC20", "network": "TRC20", "info": {}}}}}

SUB_ACCOUNT = {
    "bitget": ("private_user_post_v2_user_create_virtual_subaccount", {"subAccountList": ["bot1"]}),
    "binance": ("sapi_post_sub_account_virtualsubaccount", {"subAccountString": "bot1"}),
    "okx": ("private_post_users_subaccount_apikey", {"subAcct": "bot1", "label": "l", "passphrase": "x"}),
    "bybit": ("private_post_v5_user_create_sub_member", {"username": "bot1", "memberType": 1}),
    "kraken": ("private_post_createsubaccount", {"username": "bot1", "email": "b@example.com"}),
    "kucoin": ("private_post_sub_user_created", {"subName": "bot1", "password": "x", "access": "Spot"}),
    "gate": ("private_subaccounts_post_sub_accounts", {"login_name": "bot1"}),
    "mexc": ("spot_private_post_sub_account_virtualsubaccount", {"subAccount": "bot1", "note": "n"}),
}

CALLS = [
    ("withdraw", lambda ex: ex.withdraw("USDT", 100, "TXYZaddress", params={"network": "TRC20", "key": "k"})),
    ("transfer", lambda ex: ex.transfer("USDT", 100, "spot", "funding")),
    ("sub-account", lambda ex: getattr(ex, SUB_ACCOUNT[ex.id][0])(SUB_ACCOUNT[ex.id][1])),
]


def ready(cred: Any, agent: Any) -> Any:
    ex = adapted(cred, agent, None, clock="agent")
    ex.set_markets([dict(MARKET, id=MARKET_IDS[cred.exchange])], CURRENCIES)
    return ex


@pytest.mark.parametrize("call", CALLS, ids=[c[0] for c in CALLS])
@pytest.mark.parametrize("exchange", list(SUB_ACCOUNT))
def test_ccxt_moving_funds_or_administering_is_refused(
    exchange: str, call: Any, creds: Dict[str, Any], agent: Any
) -> None:
    ex = ready(creds[exchange], agent)
    sent: List[Dict[str, Any]] = capture(ex)
    with pytest.raises(ccxt.PermissionDenied) as refused:
        call[1](ex)
    message = str(refused.value)
    assert ("transfer endpoint" in message or "admin endpoint" in message
            or "does not sign the endpoint" in message), message
    # ccxt may read first (Bitget checks the account mode, Bybit the key): only reads went out.
    for r in sent:
        assert r["method"] == "GET", f"{exchange} {call[0]}: {r['method']} {r['url']} was sent"
