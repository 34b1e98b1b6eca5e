//! Every request a signature is good for, judged: the policy must allow all of them, because the
//! exchange will accept any of them with it.
//!
//! - the request the client names;
//! - the other readings of its signed string, where the exchange concatenates the client's parts
//!   with nothing between them or does not sign the method (`sign::request::alternatives`): a
//!   reading whose endpoint the table does not know is taken for one the exchange does not
//!   serve;
//! - for an exchange that does not sign the endpoint (Binance and MEXC sign the parameters,
//!   Bybit the payload): every endpoint of the exchange whose mandatory parameters the signed
//!   ones carry. An endpoint whose mandatory parameters the named endpoint itself requires cannot
//!   be told apart from it by anyone but the exchange: those are the residual risk
//!   (`docs/threat-model.md`), closed only by the key's own permissions at the exchange.

use std::collections::{BTreeMap, HashMap};

use super::fields::{request_fields, FieldsError};
use super::residual::{boundary_names, names, Mandatory};
use super::rules::{evaluate, evaluate_reading, Decision, Judged, Policy, Remedy};
use crate::sign::endpoints::{self, Class, Endpoint};
use crate::sign::request::{alternatives, decoded, Canonical};
use crate::sign::shape::{Covers, Shape, SignedQuery};
use crate::sign::{HttpRequest, Preset};

/// What the judging needs beyond the request, worked out once per unsealed secret.
#[derive(Debug, Default)]
pub struct Plan {
    /// For an exchange that does not sign the endpoint: the endpoints a signature's parameters
    /// could reach that the policy may refuse (the others it allows whatever the parameters),
    /// indexed by one of their mandatory parameters: a signature reaches only endpoints indexed
    /// under one of its own.
    candidates: HashMap<String, Vec<Mandatory>>,
}

impl Plan {
    pub fn new(policy: &Policy, preset: &dyn Preset) -> Self {
        let shape = preset.shape();
        let Some(table) = endpoints::table(preset.id()) else {
            return Self::default();
        };
        if shape.covers.endpoint() {
            return Self::default();
        }
        let may_refuse = |e: &Endpoint| {
            (policy.default_deny && !e.class.allowed_by_default())
                || policy.rules.iter().any(|r| {
                    r.action != super::rules::Action::Allow
                        && (r.methods.is_empty() || r.methods.iter().any(|m| m == e.method))
                        && match (&r.path, r.class) {
                            (Some(p), _) => super::glob::matches(p, e.path.as_str()),
                            (None, Some(c)) => c == e.class,
                            (None, None) => false,
                        }
                })
        };
        let mut candidates: HashMap<String, Vec<Mandatory>> = HashMap::new();
        for e in table
            .endpoints()
            .iter()
            .filter(|e| e.params.as_ref().is_some_and(|m| !m.is_empty()))
            .filter(|e| {
                shape.path_prefixes.is_empty()
                    || shape
                        .path_prefixes
                        .iter()
                        .any(|p| e.path.as_str().starts_with(p))
            })
            .filter(|e| may_refuse(e))
        {
            let m = Mandatory::of(e);
            if let Some(name) = m.any_name() {
                candidates.entry(name.to_owned()).or_default().push(m);
            }
        }
        Self { candidates }
    }
}

/// The outcome for one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub decision: Decision,
    /// The class of the endpoint the client named (`None`: the table does not know it).
    pub class: Option<Class>,
    /// What that endpoint does, from the table (empty when it does not know it).
    pub what: &'static str,
    /// The signature is also a login (`Class::Login`): an endpoint, a reading or the
    /// exchange's scheme makes it one. Audited so.
    pub login: bool,
}

impl Verdict {
    /// The class the audit log records: `login` for a signature that is one.
    pub fn audited_class(&self) -> Option<Class> {
        if self.login {
            Some(Class::Login)
        } else {
            self.class
        }
    }
}

/// The strictest class among the table's entries for one method and path (one path may be
/// served by several hosts; where the exchange signs the host, only that host's entries), and
/// what that endpoint does.
fn lookup(
    table: Option<&'static endpoints::Table>,
    shape: &Shape,
    request: &HttpRequest,
) -> (Option<Class>, &'static str, Vec<&'static Endpoint>) {
    let (method, path) = (request.method.as_str(), request.path.as_str());
    let found = match (table, shape.hosts.is_empty()) {
        (None, _) => Vec::new(),
        (Some(t), true) => t.find(method, path),
        // The canonical check let no other host through; an unknown one finds nothing. A path
        // another host serves as a login, a transfer or an administration keeps that class on
        // every host: which paths a host's gateway routes is not the table's to promise, and
        // only the classes refused by default matter here.
        (Some(t), false) => {
            let mut found = match shape.host(&request.host) {
                Some(host) => t.find_on_host(method, path, host.table),
                None => Vec::new(),
            };
            for e in t.find(method, path) {
                if !e.class.allowed_by_default() && !found.iter().any(|f| std::ptr::eq(*f, e)) {
                    found.push(e);
                }
            }
            found
        }
    };
    let worst = found.iter().max_by_key(|e| e.class);
    (worst.map(|e| e.class), worst.map_or("", |e| e.what), found)
}

/// The request a signature of `request` is also good for when sent without the agent's number
/// (Kraken Futures' optional `Nonce`): the number's digits at the end of its parameters, here
/// one digit standing for them (no rule names a value with the agent's number in it).
fn without_the_number(request: &HttpRequest) -> HttpRequest {
    let mut r = request.clone();
    if r.body.is_empty() {
        r.query.push('0');
    } else {
        r.body.push(b'0');
    }
    r
}

/// Why a reading whose fields cannot be read is refused: one that names a field twice (the
/// exchange may act on either value, and a rule can test one), or a JSON body the policy cannot
/// read.
fn fields_refusal(e: &FieldsError) -> String {
    match e {
        FieldsError::Repeated(name) => format!(
            "that reading names {name:?} twice (in its query and its body, say), and the \
             exchange may act on either value"
        ),
        FieldsError::UnreadableJson(why) => format!(
            "that reading's JSON body cannot be read as fields ({why}), and the exchange may \
             read it"
        ),
    }
}

/// For an exchange that signs the query decoded: the other groupings of `reading`'s
/// parameters the same signed bytes stand for (`sign::request::decoded`), each judged. Only a
/// policy that tests fields can tell them apart: the method and path stay.
fn judge_groupings(
    policy: &Policy,
    remedy: &Remedy<'_>,
    preset: &dyn Preset,
    table: Option<&'static endpoints::Table>,
    reading: &HttpRequest,
    consider: &mut dyn FnMut(Decision, &dyn Fn() -> String),
) {
    let shape = preset.shape();
    let Some(signed) = crate::sign::encoding::form_decode(&reading.query) else {
        return;
    };
    let (class, what, _) = lookup(table, shape, reading);
    let groupings = match decoded::groupings(&signed) {
        Ok(g) => g,
        Err(n) => {
            consider(
                Decision::Deny(format!(
                    "{} signs the query decoded, so these parameters could also be sent grouped \
                        {n} other ways (a value holding '&' or '=', a name holding '='), more than the {} the agent \
                        judges, and the policy tests fields: send at most seven query parameters",
                    preset.id(),
                    decoded::MAX_GROUPINGS
                )),
                &|| format!("{} {}", reading.method, reading.path),
            );
            return;
        }
    };
    for query in groupings {
        let fields = match request_fields(&query, &reading.body) {
            Ok(f) => f,
            Err(unread) => {
                consider(Decision::Deny(fields_refusal(&unread)), &|| {
                    format!("{} {}?{query}", reading.method, reading.path)
                });
                continue;
            }
        };
        let judged = Judged {
            method: &reading.method,
            path: &reading.path,
            class,
            what,
            fields: &fields,
            query: &query,
            body_params: preset.shape().body_params(&reading.method),
        };
        let decision = evaluate_reading(policy, &judged, remedy);
        consider(decision, &|| {
            format!(
                "{} signs the query decoded, so the signature is also good for {} {}?{query} \
                    (the same parameters grouped otherwise, '&' and '=' sent as %26 and %3D), and \
                    that request is refused",
                preset.id(),
                reading.method,
                reading.path
            )
        });
    }
}

/// Judges every request a signature of `request` is good for; the strictest decision wins.
pub fn judge(
    policy: &Policy,
    plan: &Plan,
    secret: &str,
    preset: &dyn Preset,
    request: Canonical<'_>,
) -> Result<Verdict, FieldsError> {
    let request = request.request();
    let shape = preset.shape();
    let table = endpoints::table(preset.id());
    let unbound = !shape.covers.endpoint();
    let remedy = Remedy {
        secret,
        exchange: preset.id(),
        unbound,
    };
    let tests_fields = policy
        .rules
        .iter()
        .any(|r| !r.fields.is_empty() || !r.require.is_empty());
    let fields = if tests_fields || unbound || !shape.login.params.is_empty() {
        request_fields(&request.query, &request.body)?
    } else {
        BTreeMap::new()
    };
    let (class, what, named) = lookup(table, shape, request);
    // A signature the exchange also takes as a login, whatever endpoint it names.
    let method_login = shape
        .login
        .method
        .filter(|(m, _)| *m == request.method)
        .map(|(_, why)| why);
    let scheme_login = shape
        .login
        .every_signature
        .or(method_login)
        .map(str::to_owned)
        .or_else(|| {
            let p = shape
                .login
                .params
                .iter()
                .find(|p| fields.keys().any(|k| k.eq_ignore_ascii_case(p)))?;
            Some(format!(
                "{} signs these parameters as a WebSocket API request: they include {p}, which no \
             REST request carries",
                preset.id()
            ))
        });
    if let Some(why) = &scheme_login {
        if !policy.allow_login {
            return Ok(Verdict {
                decision: Decision::Deny(super::rules::login_refusal(secret, why)),
                class,
                what,
                login: true,
            });
        }
    }
    let mut login = scheme_login.is_some() || class == Some(Class::Login);
    let primary = Judged {
        method: &request.method,
        path: &request.path,
        class,
        what,
        fields: &fields,
        query: &request.query,
        body_params: shape.body_params(&request.method),
    };
    let mut worst = evaluate(policy, &primary, &remedy);
    let mut consider = |decision: Decision, why: &dyn Fn() -> String| {
        if decision.severity() > worst.severity() {
            worst = match decision {
                Decision::Deny(m) => Decision::Deny(format!("{}: {m}", why())),
                Decision::StepUp(m) => Decision::StepUp(format!("{m}, for {}", why())),
                Decision::Allow => Decision::Allow,
            };
        }
    };
    let mut readings = alternatives(shape, request);
    if shape.number_optional {
        readings.push(without_the_number(request));
    }
    if tests_fields && shape.signed_query == SignedQuery::Decoded {
        for reading in std::iter::once(request).chain(&readings) {
            judge_groupings(policy, &remedy, preset, table, reading, &mut consider);
        }
    }
    for alt in readings {
        let alt_fields = if tests_fields {
            match request_fields(&alt.query, &alt.body) {
                Ok(f) => f,
                // A reading the exchange may act on either way: never judged with no fields.
                Err(unread) => {
                    consider(Decision::Deny(fields_refusal(&unread)), &|| {
                        format!(
                            "{}'s signed string for it is also that of {} {}?{} with a body \
                             (bytes move between its parts)",
                            preset.id(),
                            alt.method,
                            alt.path,
                            alt.query
                        )
                    });
                    continue;
                }
            }
        } else {
            BTreeMap::new()
        };
        let (class, what, _) = lookup(table, shape, &alt);
        login |= class == Some(Class::Login);
        let judged = Judged {
            method: &alt.method,
            path: &alt.path,
            class,
            what,
            fields: &alt_fields,
            query: &alt.query,
            body_params: shape.body_params(&alt.method),
        };
        let decision = evaluate_reading(policy, &judged, &remedy);
        consider(decision, &|| {
            format!(
                "{}'s signed string for it is also that of {} {}{} (bytes move between its \
                 parts, the method is not signed, or the optional nonce is left out), and that \
                 request is refused",
                preset.id(),
                alt.method,
                alt.path,
                if alt.query.is_empty() {
                    String::new()
                } else {
                    format!("?{}", alt.query)
                }
            )
        });
    }
    if unbound {
        let keys = names(fields.keys());
        let named_params = names(named.iter().filter_map(|e| e.params.as_ref()).flatten());
        // Query and body joined with nothing between them: a cut moved by the sender adds a
        // name (`residual::boundary_names`).
        let cut_names = if shape.covers == Covers::Parameters {
            boundary_names(&request.query, &request.body)
        } else {
            Default::default()
        };
        let mut reachable: Vec<&Mandatory> = keys
            .iter()
            .chain(&cut_names)
            .filter_map(|k| plan.candidates.get(k))
            .flatten()
            .collect();
        reachable.sort_by_key(|m| std::ptr::from_ref(*m) as usize);
        reachable.dedup_by_key(|m| std::ptr::from_ref(*m) as usize);
        // A refusal names the endpoint the parameters match most closely.
        reachable.sort_by_key(|m| {
            (
                std::cmp::Reverse(m.endpoint.params.as_ref().map_or(0, Vec::len)),
                m.endpoint.path.as_str(),
            )
        });
        for m in reachable {
            let e = m.endpoint;
            let mandatory = e.params.as_deref().unwrap_or_default();
            // Not reached, or reached by every valid request of the named endpoint too: the
            // latter only the exchange can tell apart (`policy::residual`).
            let cut = if m.reached(shape, &request.method, &keys) {
                None
            } else {
                match m.reached_with(&keys, &cut_names) {
                    Some(name) => Some(name),
                    None => continue,
                }
            };
            if m.reached(shape, &request.method, &named_params)
                || named.iter().any(|n| std::ptr::eq(*n, e))
            {
                continue;
            }
            login |= e.class == Class::Login;
            let judged = Judged {
                method: e.method,
                path: e.path.as_str(),
                class: Some(e.class),
                what: e.what,
                fields: &fields,
                query: &request.query,
                body_params: shape.body_params(e.method),
            };
            let decision = evaluate(policy, &judged, &remedy);
            consider(decision, &|| {
                let via = cut.map_or(String::new(), |name| {
                    format!(
                        " once the query and body are cut elsewhere (they are signed joined, \
                         and a cut inside a name or value leaves \"{name}\" for the body)"
                    )
                });
                format!(
                    "{} does not sign the endpoint, and these parameters carry the mandatory ones \
                     ({}) of {} ({}){via}, so the signature is good for it too",
                    preset.id(),
                    mandatory.join(", "),
                    e.describe(),
                    e.what
                )
            });
        }
    }
    Ok(Verdict {
        decision: worst,
        class,
        what,
        login,
    })
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
