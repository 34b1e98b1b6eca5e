'use strict';
// MEXC on ccxt.pro: spot's private streams take a listenKey from REST `POST
// /api/v3/userDataStream` (kept alive by PUT), which the adapter's sign() signs: ccxt.pro's flow
// as is. The futures' login (`watchSwapPrivate`) signs the key and a time with the secret, which
// the agent refuses to sign (it is also the signature of every parameterless futures REST read),
// and the adapter signs MEXC spot only: ccxt.NotSupported.

function install(ex, signer) {
  const { ccxt } = signer;
  ex.watchSwapPrivate = async function watchSwapPrivate() {
    throw new ccxt.NotSupported('mexc futures WebSocket: its login is the signature of the key and a time, which the apisec agent does not sign (it would also sign every parameterless futures REST read); the adapter signs MEXC spot, whose streams work (watchBalance() with type "spot")');
  };
}

module.exports = { install };
