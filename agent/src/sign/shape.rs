//! What each preset says about the requests it signs: which methods, where parameters may go,
//! what the signature covers, and how the client's parts lie next to each other in the signed
//! string. Data, one constant per preset; [`super::check`] and [`super::alternatives`] read it.

/// Where a request's parameters may travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    /// In the query, with any method.
    Any,
    /// In the query of a GET (or DELETE) only: the exchange signs a POST's body alone.
    ReadOnly,
    /// In the query or the body, not both: the exchange signs one parameter string.
    NotWithBody,
    /// Never: the exchange does not sign the query.
    Never,
}

/// What a body must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// A JSON object or array (never on GET or DELETE).
    Json,
    /// `application/x-www-form-urlencoded` pairs (never on GET or DELETE).
    Form,
    /// Either: form pairs, or a JSON object (the exchange tells them apart by Content-Type;
    /// Kraken spot).
    FormOrJson,
}

/// What an exchange's signature covers, and so what the policy can judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Covers {
    /// The path, and the parts marked true (Kraken Futures does not sign the method: a
    /// signature is good for the same path with every method the exchange takes).
    Endpoint {
        method: bool,
        query: bool,
        body: bool,
        host: bool,
    },
    /// The parameters only (`totalParams`): the signature is good for every endpoint of the
    /// exchange that accepts them (Binance, MEXC).
    Parameters,
    /// The payload only (a GET's query, a POST's JSON body): good for every endpoint of the
    /// exchange that accepts it (Bybit).
    Payload,
}

impl Covers {
    pub fn endpoint(self) -> bool {
        matches!(self, Self::Endpoint { .. })
    }

    /// Whether the method is in the signed string (false for the exchanges that sign the
    /// parameters only, too).
    pub fn method(self) -> bool {
        matches!(self, Self::Endpoint { method: true, .. })
    }

    /// Whether the signature covers the request's fields where they are: the query's (GET)
    /// and the body's (POST). `in_body`: whether the request may carry a body
    /// ([`Shape::carries_body`]); without one its fields are all in the query.
    pub fn fields(self, in_body: bool) -> bool {
        match self {
            Self::Endpoint { query, body, .. } => {
                if in_body {
                    body && query
                } else {
                    query
                }
            }
            Self::Parameters | Self::Payload => true,
        }
    }
}

/// One client-chosen part of the signed string, in the order the exchange concatenates them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The path.
    Path,
    /// `?` and the query, or nothing when there is no query.
    QueryWithMark,
    /// The parameter string (the query, or the body when the parameters travel there).
    Params,
    /// The body.
    Body,
    /// A number the agent stamps (a nonce, an expiry): digits the exchange reads as one number.
    Number,
}

/// How the query stands in the signed string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedQuery {
    /// The bytes the client sends.
    AsSent,
    /// Form-decoded (`%XX` and `+` decoded, `unquote_plus`): the exchange signs the values
    /// unencoded (Bitget, KuCoin, Gate). `&` or `=` inside a decoded value would read as a
    /// separator, so the agent refuses them, and judges the other groupings of the parameters
    /// the same decoded bytes could be sent as.
    Decoded,
    /// Decoded, then re-encoded by the exchange's own rule (HTX: RFC 3986, upper-case hex, the
    /// parameters sorted), whatever spelling the client sends.
    Reencoded,
}

/// A host a preset signs for (where the host is in the signed string).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Host {
    /// The name as the client sends it and the exchange signs it (lower case).
    pub name: &'static str,
    /// The `host=` of its endpoints in the preset's table; `None`: the main host, whose
    /// endpoints carry no `host=`.
    pub table: Option<&'static str>,
}

/// A preset's requests.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub methods: &'static [&'static str],
    /// Paths must start with one of these (empty: any path).
    pub path_prefixes: &'static [&'static str],
    pub query: Query,
    pub body: Body,
    pub covers: Covers,
    /// The client's parts that lie side by side in the signed string with nothing between
    /// them that the client cannot also write: bytes can slide across their boundaries, so the
    /// agent judges every other reading of them (empty: the parts are separated or hashed).
    pub adjacent: &'static [Slot],
    /// Which of its signatures the exchange also takes as a login (`policy`: class `login`).
    pub login: Login,
    /// How the query stands in the signed string.
    pub signed_query: SignedQuery,
    /// The hosts a client may name, the default first: empty unless the signature covers the
    /// host (`Covers::Endpoint { host: true }`), since elsewhere a host changes nothing signed.
    pub hosts: &'static [Host],
    /// Whether the exchange also takes the request without the agent's number (Kraken
    /// Futures' `Nonce` header is optional): its digits can then be sent as the parameters'
    /// end, and the signature replayed.
    pub number_optional: bool,
    /// Whether a DELETE carries its parameters in a body as a POST does (BitMEX: `DELETE
    /// /api/v1/order` takes `{"orderID": ...}`, and ccxt sends it so). Elsewhere a DELETE, like
    /// a GET, has no body.
    pub delete_body: bool,
}

impl Shape {
    /// Whether a request of `method` may carry a body: the one home of "a GET (and, on most
    /// exchanges, a DELETE) has its parameters in the query".
    pub fn carries_body(&self, method: &str) -> bool {
        match method {
            "GET" => false,
            "DELETE" => self.delete_body,
            _ => true,
        }
    }

    /// Whether a `method` request's parameters are read from its body, so that a field the
    /// policy requires must be there: every method that carries a body (POST, PUT, BitMEX's
    /// DELETE) but Gate's PATCH and Binance's `WS`, which take parameters in the query as well.
    pub fn body_params(&self, method: &str) -> bool {
        self.carries_body(method) && !matches!(method, "PATCH" | "WS")
    }

    /// Whether the signature covers a `method` request's fields where they travel.
    pub fn covers_fields(&self, method: &str) -> bool {
        self.covers.fields(self.carries_body(method))
    }

    /// The host `name` stands for; the default host for an empty name. `None`: not one of
    /// the preset's hosts (or the preset signs no host).
    pub fn host(&self, name: &str) -> Option<&'static Host> {
        if name.is_empty() {
            self.hosts.first()
        } else {
            self.hosts.iter().find(|h| h.name == name)
        }
    }
}

/// Signatures that are also logins, beyond the endpoints the table marks `login`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Login {
    /// Every signature is also a login, and why (Deribit: `public/auth` takes any of them).
    pub every_signature: Option<&'static str>,
    /// A signature over parameters that include one of these is a WebSocket API request's
    /// signature (Binance signs `apiKey` among the parameters of each; no REST request has it).
    pub params: &'static [&'static str],
    /// Every signature of a request with this method is also a login, and why (Binance's `WS`:
    /// a WebSocket API request signs `apiKey` and `timestamp` among its parameters, as
    /// `session.logon` does).
    pub method: Option<(&'static str, &'static str)>,
}

impl Login {
    pub const NONE: Self = Self {
        every_signature: None,
        params: &[],
        method: None,
    };
}

pub const STANDARD_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];
