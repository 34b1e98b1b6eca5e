//! Generated from each exchange's endpoint table, through the real agent with the default
//! policy: every `transfer` and `admin` endpoint is refused, every `read` and `trade` endpoint is
//! signed; and for the exchanges whose signature does not cover the endpoint (Binance, MEXC,
//! Bybit), each `transfer` or `admin` endpoint's mandatory parameters sent under a `read` path
//! are refused too, since the signature would be good for that endpoint.

use std::collections::BTreeMap;

use apisec_agent::client::{Client, ClientError};
use apisec_agent::proto::SignRequest;
use apisec_agent::sign::endpoints::{self, Class, Endpoint};
use apisec_agent::sign::exchanges;
use apisec_agent::sign::request;
use apisec_tests::*;
use base64::Engine;

/// A secret of the form each exchange issues.
fn secret_for(id: &str) -> (Vec<u8>, Option<&'static [u8]>) {
    let b64 = base64::engine::general_purpose::STANDARD;
    match id {
        "kraken" | "kraken-futures" | "coinbase-exchange" => {
            (b64.encode([7u8; 64]).into_bytes(), Some(b"pp"))
        }
        _ => (b"0123456789abcdef0123456789abcdef".to_vec(), Some(b"pp")),
    }
}

/// The endpoint as a request: placeholders filled, its mandatory parameters (and `extra`) where
/// the exchange takes them.
fn request_for(id: &str, e: &Endpoint, method: &str, path: &str, params: &[&str]) -> SignRequest {
    let preset = exchanges::by_id(id).unwrap();
    let json = preset.shape().body == request::Body::Json;
    // A WebSocket API request (Binance's `WS`) carries its parameters in the query.
    let reads = matches!(method, "GET" | "DELETE" | "WS");
    // Where the exchange signs the host (HTX), the request names the one that serves it.
    let host = preset
        .shape()
        .hosts
        .iter()
        .find(|h| h.table == e.host)
        .map_or("", |h| h.name);
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|p| (p.to_string(), "1".to_string()))
        .collect();
    let form = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let (query, body) = if reads || preset.shape().query == request::Query::NotWithBody {
        (form, Vec::new())
    } else if json {
        let obj: BTreeMap<String, String> = pairs.into_iter().collect();
        (String::new(), serde_json::to_vec(&obj).unwrap())
    } else {
        (String::new(), form.into_bytes())
    };
    SignRequest {
        name: id.to_owned(),
        method: method.to_owned(),
        path: fill(path),
        query,
        body,
        timestamp: String::new(),
        nonce: String::new(),
        host: host.to_owned(),
    }
}

fn fill(pattern: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').unwrap() + open;
        out.push_str("x1");
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Endpoints the preset signs at all: its methods, its path prefixes.
fn signable(id: &str, e: &Endpoint) -> bool {
    let shape = exchanges::by_id(id).unwrap().shape();
    shape.methods.contains(&e.method)
        && (shape.path_prefixes.is_empty()
            || shape
                .path_prefixes
                .iter()
                .any(|p| e.path.as_str().starts_with(p)))
}

fn sign(client: &mut Client, r: &SignRequest) -> Result<(), String> {
    match client.sign(r.clone()) {
        Ok(_) => Ok(()),
        Err(ClientError::Agent(e)) => Err(e.message),
        Err(other) => panic!("the agent failed: {other}"),
    }
}

#[test]
fn every_table_is_enforced_by_class() {
    let mut env = Env::new();
    env.init();
    // Every Deribit signature is also a login: such a secret signs only with allow_login.
    let logins = env.root().join("allow-login.toml");
    std::fs::write(&logins, "allow_login = true\n").unwrap();
    let logins = logins.display().to_string();
    for p in exchanges::ALL {
        let add = if p.accepts_key(None) {
            let (secret, passphrase) = secret_for(p.id());
            let mut a = env
                .secret(p.id(), p.id())
                .api_key("k")
                .secret_bytes(&secret);
            if let Some(pp) = passphrase.filter(|_| p.needs_passphrase()) {
                a = a.passphrase(pp);
            }
            if p.shape().login.every_signature.is_some() {
                a = a.args(&["--policy", &logins]);
            }
            a.add()
        } else {
            env.agent(&[
                "keygen",
                p.id(),
                "--exchange",
                p.id(),
                "--type",
                "p256",
                "--in-memory",
                "--api-key",
                "organizations/o/apiKeys/k",
            ])
        };
        assert_ok(&add, p.id());
    }
    env.start(&[]);
    let mut unlock = vec!["unlock"];
    unlock.extend(exchanges::ALL.iter().map(|p| p.id()));
    assert_ok(&env.cli(&unlock), "unlock");
    let mut client = Client::connect(&env.socket).unwrap();

    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for p in exchanges::ALL {
        let id = p.id();
        let table = endpoints::table(id).unwrap();
        for e in table.endpoints().iter().filter(|e| signable(id, e)) {
            let params: Vec<&str> = e.params.iter().flatten().copied().collect();
            let r = request_for(id, e, e.method, e.path.as_str(), &params);
            let got = sign(&mut client, &r);
            if p.shape().login.method.is_some_and(|(m, _)| m == e.method) {
                // Every signature of this method is also a login (Binance's WebSocket API
                // requests may be a session.logon): none without allow_login.
                let m = got.expect_err(&format!("{id}: {} {} was signed", e.method, r.path));
                assert!(
                    m.contains("allow_login"),
                    "{id}: {} {}: {m}",
                    e.method,
                    r.path
                );
                continue;
            }
            if e.class.allowed_by_default() {
                // A read may share its path with a refused endpoint of another host: then the
                // stricter class is the endpoint's, and the refusal names it.
                let shared = table
                    .find(e.method, &r.path)
                    .iter()
                    .any(|o| !o.class.allowed_by_default());
                // Where the method is not signed (Kraken Futures), a read whose path a refused
                // endpoint of another method shares is judged as that endpoint's request too
                // (strictly: whether the other method's mandatory parameters are there is not
                // asked, since a table's list of them may be short).
                let same_path_other_method = p.shape().covers.endpoint()
                    && !p.shape().covers.method()
                    && p.shape().methods.iter().any(|m| {
                        *m != e.method
                            && table
                                .find(m, &r.path)
                                .iter()
                                .any(|o| !o.class.allowed_by_default())
                    });
                if same_path_other_method {
                    let m = got.expect_err(&format!(
                        "{id}: {} {} shares its signature with a refused endpoint",
                        e.method, r.path
                    ));
                    assert!(m.contains("the method is not signed"), "{id}: {m}");
                } else if !shared {
                    got.unwrap_or_else(|m| {
                        panic!("{id}: {} {} ({}) refused: {m}", e.method, r.path, e.class)
                    });
                }
            } else {
                let m = got.expect_err(&format!(
                    "{id}: {} {} ({}) was signed",
                    e.method, r.path, e.class
                ));
                assert!(
                    m.contains(e.class.as_str()) || m.contains("does not sign the endpoint"),
                    "{id}: {} {}: {m}",
                    e.method,
                    r.path
                );
            }
            *counts.entry((id, e.class.as_str())).or_default() += 1;
        }
    }
    // Logins: the exchanges whose private WebSocket is opened by a REST call, or signs a string a
    // REST signature of a path the preset accepts can equal, list that path as a login
    // (docs/threat-model.md, "Logins").
    const REST_LOGINS: [&str; 4] = ["coinbase-exchange", "kraken", "kucoin", "htx"];
    for p in exchanges::ALL {
        for class in Class::ALL {
            let tried = counts.get(&(p.id(), class.as_str())).copied().unwrap_or(0);
            let optional =
                class == Class::Admin || (class == Class::Login && !REST_LOGINS.contains(&p.id()));
            assert!(
                tried > 0 || optional,
                "{}: no {class} endpoint was tried",
                p.id()
            );
        }
    }

    // The exchanges that do not sign the endpoint: a transfer's or an admin endpoint's mandatory
    // parameters under an innocent read path are that endpoint's request.
    for (id, read_get, read_post) in [
        ("binance", "/api/v3/account", "/api/v3/account"),
        ("mexc", "/api/v3/account", "/api/v3/account"),
        (
            "bybit",
            "/v5/account/info",
            "/v5/crypto-loan-common/max-loan",
        ),
    ] {
        let table = endpoints::table(id).unwrap();
        let mut refused = 0;
        for e in table
            .endpoints()
            .iter()
            .filter(|e| !e.class.allowed_by_default() && signable(id, e))
        {
            let Some(params) = e.params.as_ref().filter(|m| !m.is_empty()) else {
                continue; // the residual: nothing tells it from any request
            };
            let kind_get = matches!(e.method, "GET" | "DELETE");
            let (method, path) = if id == "bybit" && !kind_get {
                ("POST", read_post)
            } else {
                ("GET", read_get)
            };
            let mut carried: Vec<&str> = params.to_vec();
            if path == "/v5/crypto-loan-common/max-loan" {
                carried.push("currency");
                carried.sort();
                carried.dedup();
            }
            let named = &table.find(method, path)[0];
            let named_params: Vec<&str> = named.params.iter().flatten().copied().collect();
            if params.iter().all(|p| named_params.contains(p)) {
                continue; // indistinguishable from the named read itself
            }
            let r = request_for(id, named, method, path, &carried);
            let m = sign(&mut client, &r).expect_err(&format!(
                "{id}: {method} {path} with {carried:?} (the parameters of {} {}) was signed",
                e.method, e.path
            ));
            // A WebSocket login's mandatory apiKey makes it a login before anything else.
            assert!(
                m.contains("does not sign the endpoint")
                    || m.contains("which no REST request carries"),
                "{id}: {m}"
            );
            refused += 1;
        }
        assert!(refused > 5, "{id}: only {refused} endpoints tried");
    }
}

/// `docs/threat-model.md` lists, per exchange that does not sign the endpoint, exactly the
/// endpoints `policy::residual` computes from the tables: a table change that adds or removes
/// one fails here until the document says so.
#[test]
fn the_threat_model_lists_the_residual_of_each_exchange() {
    use apisec_agent::policy::residual::residual;
    let doc_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/threat-model.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    for p in apisec_agent::sign::exchanges::ALL {
        let marker = format!("<!-- residual {} -->", p.id());
        let computed: std::collections::BTreeSet<String> =
            residual(*p).iter().map(|r| r.endpoint.describe()).collect();
        let Some(start) = doc.find(&marker) else {
            assert!(
                computed.is_empty(),
                "{}: docs/threat-model.md has no `{marker}` section for its residual {computed:?}",
                p.id()
            );
            continue;
        };
        assert!(
            !computed.is_empty(),
            "{}: a residual section, but none is computed",
            p.id()
        );
        let section = &doc[start..];
        let section = &section[..section.find("<!-- /residual -->").expect("section end")];
        let listed: std::collections::BTreeSet<String> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once('`').map(|(e, _)| e.to_owned()))
            .collect();
        let missing: Vec<_> = computed.difference(&listed).collect();
        let extra: Vec<_> = listed.difference(&computed).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{}: docs/threat-model.md's residual list is out of date (`apisec-agent endpoints {} \
             --residual` prints it): missing {missing:?}, no longer residual {extra:?}",
            p.id(),
            p.id()
        );
    }
}
