//! Signing requests: the secret's policy (clients, rules, rate limits, step-up approval) is checked
//! before every signature, and every decision goes to the audit log.

use std::sync::Arc;
use std::time::Instant;

use super::agent::{Agent, Held};
use crate::approval::ApprovalRequest;
use crate::audit::Event;
use crate::keys::KeyType;
use crate::peer::PeerInfo;
use crate::policy::rules::{self, Decision};
use crate::proto::{self, ErrorCode, ErrorReply};
use crate::sign;
use crate::timefmt::{unix_micros, unix_millis};

/// The longest request path the agent signs.
const MAX_PATH: usize = 2048;

/// At most this many body fields are shown in a step-up prompt.
const PROMPT_FIELDS: usize = 6;

/// `POST /api/v2/spot/wallet/withdrawal coin=USDT size=100 ...`: what a human approves.
fn describe(method: &str, path: &str, query: &str, body: &[u8]) -> String {
    // A request whose fields cannot be read was refused before it got here; show none then.
    let fields = rules::request_fields(query, body).unwrap_or_default();
    let mut s = format!("{method} {path}");
    for (k, v) in fields.iter().take(PROMPT_FIELDS) {
        let v: String = v.chars().take(48).collect();
        s.push_str(&format!(" {k}={v}"));
    }
    if fields.len() > PROMPT_FIELDS {
        s.push_str(&format!(" (+{} more fields)", fields.len() - PROMPT_FIELDS));
    }
    s
}

fn body_digest(request: &proto::SignRequest) -> [u8; 32] {
    <sha2::Sha256 as sha2::Digest>::digest(&request.body).into()
}

/// The audit record of a sign request; the caller adds the reason or the approval.
fn sign_event<'a>(
    request: &'a proto::SignRequest,
    body_sha256: [u8; 32],
    allowed: bool,
    exchange: Option<&'a str>,
) -> Event<'a> {
    Event {
        action: "sign",
        secret: Some(&request.name),
        exchange,
        method: Some(&request.method),
        path: Some(&request.path),
        body_sha256: Some(body_sha256),
        allowed,
        reason: None,
        approval: None,
    }
}

impl Agent {
    /// Client and rate checks of a secret's policy (request rules are checked by the caller).
    fn admit(&self, name: &str, held: &Held, peer: &PeerInfo) -> Result<(), ErrorReply> {
        let policy = &held.unsealed.meta.policy;
        if let Some(clients) = &policy.clients {
            if !clients.uids.is_empty() && !clients.uids.contains(&peer.uid) {
                return Err(ErrorReply::new(
                    ErrorCode::Refused,
                    format!(
                        "uid {} is not among the clients {name}'s policy allows",
                        peer.uid
                    ),
                ));
            }
            if !clients.executables.is_empty()
                && !peer
                    .exe
                    .as_ref()
                    .is_some_and(|e| clients.executables.contains(e))
            {
                return Err(ErrorReply::new(
                    ErrorCode::Refused,
                    format!(
                        "{} is not among the executables {name}'s policy allows",
                        peer.exe
                            .as_ref()
                            .map(|e| e.display().to_string())
                            .unwrap_or_else(|| "an unknown program".into())
                    ),
                ));
            }
        }
        if let Some(rate) = &policy.rate {
            let now = Instant::now();
            let mut limiter = self.limiter.lock().expect("limiter poisoned");
            limiter
                .take(&format!("{name}\u{0}"), rate.per_second, rate.burst, now)
                .map_err(|wait| {
                    ErrorReply::new(
                        ErrorCode::Refused,
                        format!(
                            "rate limit of {name}: {} requests/s, burst {}; retry in {wait:.2} s",
                            rate.per_second, rate.burst
                        ),
                    )
                })?;
            if let (Some(per_second), Some(burst)) =
                (rate.per_client_per_second, rate.per_client_burst)
            {
                let client = format!(
                    "{name}\u{0}{}\u{0}{}",
                    peer.uid,
                    peer.exe
                        .as_ref()
                        .map(|e| e.display().to_string())
                        .unwrap_or_default()
                );
                limiter.take(&client, per_second, burst, now).map_err(|wait| {
                    ErrorReply::new(
                        ErrorCode::Refused,
                        format!(
                            "per-client rate limit of {name} for {}: {per_second} requests/s, burst {burst}; \
                             retry in {wait:.2} s",
                            peer.describe()
                        ),
                    )
                })?;
            }
        }
        Ok(())
    }

    pub async fn sign(
        self: &Arc<Self>,
        request: &proto::SignRequest,
        peer: &PeerInfo,
    ) -> Result<sign::Signed, ErrorReply> {
        let body_sha256 = body_digest(request);
        let event = |allowed, exchange| sign_event(request, body_sha256, allowed, exchange);
        let held = match self.usable(&request.name) {
            Ok(h) => h,
            Err(e) => {
                let refused = Event {
                    reason: Some(&e.message),
                    ..event(false, None)
                };
                self.audit(&refused, Some(peer));
                return Err(e);
            }
        };
        let meta = &held.unsealed.meta;
        let exchange = Some(meta.exchange.as_str());
        let refuse = |e: ErrorReply| {
            crate::info!(
                "sign refused: {} {} {} for {}: {}",
                request.name,
                request.method,
                request.path,
                peer.describe(),
                e.message
            );
            let refused = Event {
                reason: Some(&e.message),
                ..event(false, exchange)
            };
            self.audit(&refused, Some(peer));
            e
        };
        self.admit(&request.name, &held, peer).map_err(refuse)?;
        // Policy patterns are matched by backtracking; a client-chosen path of hundreds of KiB
        // against several `**` would cost polynomial time. No exchange path comes near this.
        if request.path.len() > MAX_PATH {
            return Err(refuse(ErrorReply::new(
                ErrorCode::BadRequest,
                format!(
                    "the path is {} bytes long; paths of more than {MAX_PATH} bytes are refused",
                    request.path.len()
                ),
            )));
        }
        let deny_list = sign::exchanges::by_id(&meta.exchange)
            .map(|p| p.deny_list())
            .unwrap_or(&[]);
        // Parsing the body's fields costs more than the HMAC; only rules that test fields need it.
        let fields = if meta.policy.rules.iter().any(|r| !r.fields.is_empty()) {
            rules::request_fields(&request.query, &request.body)
                .map_err(|reason| refuse(ErrorReply::new(ErrorCode::Refused, reason)))?
        } else {
            Default::default()
        };
        let decision = rules::evaluate(
            &meta.policy,
            &request.name,
            &meta.exchange,
            deny_list,
            &request.method,
            &request.path,
            &fields,
        );
        let approval = match decision {
            Decision::Allow => None,
            Decision::Deny(reason) => {
                return Err(refuse(ErrorReply::new(ErrorCode::Refused, reason)))
            }
            Decision::StepUp(rule) => {
                let secrets = vec![(request.name.clone(), meta.exchange.clone())];
                let ask = ApprovalRequest {
                    action: "sign",
                    secrets: &secrets,
                    client: peer,
                    detail: Some(describe(
                        &request.method,
                        &request.path,
                        &request.query,
                        &request.body,
                    )),
                    fresh: true,
                };
                if self.settings.approver.waits(&ask) {
                    self.notify_waiting(&format!("waiting for approval: {}", ask.prompt()), &ask);
                }
                match self.settings.approver.ask(&ask).await {
                    Ok(how) => {
                        crate::info!("step-up approved by {how} ({rule}): {}", ask.prompt());
                        Some(format!("step-up {how} ({rule})"))
                    }
                    Err(e) => {
                        let reply = ErrorReply::new(
                            super::agent::approval_code(&e),
                            format!("{rule} of {}'s policy needs a fresh approval for this request: {e}", request.name),
                        );
                        return Err(refuse(reply));
                    }
                }
            }
        };
        // A step-up can wait a minute for its human: a `lock`, `ssh-add -x` or lifetime end in
        // the meantime wins over the approval.
        let held = if approval.is_some() {
            self.usable(&request.name).map_err(refuse)?
        } else {
            Arc::clone(&held)
        };
        let compute = || {
            let r = self.compute_signature(&held, request);
            crate::secret::wipe_stack();
            r
        };
        let in_token = KeyType::parse(&meta.key_type).is_some_and(KeyType::in_token);
        let signed = if in_token {
            tokio::task::block_in_place(compute)
        } else {
            compute()
        };
        match signed {
            Ok(reply) => {
                let allowed = Event {
                    approval: approval.as_deref(),
                    ..event(true, exchange)
                };
                self.audit(&allowed, Some(peer));
                Ok(reply)
            }
            Err(e) => Err(refuse(e)),
        }
    }

    /// Records a step-up its client gave up on (it hung up while the approval was asked): a
    /// denial, like every sign record with the secret's exchange when the secret is still held.
    pub fn audit_abandoned_step_up(&self, request: &proto::SignRequest, peer: &PeerInfo) {
        let held = self.usable(&request.name).ok();
        let exchange = held.as_ref().map(|h| h.unsealed.meta.exchange.as_str());
        let abandoned = Event {
            reason: Some("the client hung up while the step-up waited for approval"),
            ..sign_event(request, body_digest(request), false, exchange)
        };
        self.audit(&abandoned, Some(peer));
    }

    fn compute_signature(
        &self,
        held: &Held,
        request: &proto::SignRequest,
    ) -> Result<sign::Signed, ErrorReply> {
        let meta = &held.unsealed.meta;
        let credentials = sign::Credentials {
            api_key: &meta.api_key,
            secret: held.unsealed.secret(),
            passphrase: held.unsealed.passphrase(),
            signer: held
                .signer
                .as_deref()
                .map(|s| s as &dyn sign::AsymmetricSigner),
        };
        let http = sign::HttpRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            body: request.body.clone(),
        };
        let time = sign::TimeContext {
            client_timestamp: &request.timestamp,
            client_nonce: &request.nonce,
            now_ms: unix_millis(),
            freshness: meta.freshness(),
        };
        sign::sign(&meta.exchange, &http, &credentials, &time, &mut || {
            self.nonces.next(&request.name, unix_micros())
        })
        .map_err(|e| {
            let code = match e {
                sign::SignError::Time(_) => ErrorCode::Refused,
                _ => ErrorCode::Sign,
            };
            ErrorReply::new(code, e.to_string())
        })
    }

    pub fn mac(&self, request: &proto::MacRequest, peer: &PeerInfo) -> Result<Vec<u8>, ErrorReply> {
        let event = |allowed, reason| Event {
            action: "mac",
            secret: Some(&request.name),
            method: Some(&request.algorithm),
            body_sha256: Some(<sha2::Sha256 as sha2::Digest>::digest(&request.data).into()),
            allowed,
            reason,
            ..Default::default()
        };
        let result = self.usable(&request.name).and_then(|held| {
            self.admit(&request.name, &held, peer)?;
            if !held.unsealed.meta.allow_raw {
                return Err(ErrorReply::new(
                    ErrorCode::Refused,
                    format!(
                        "raw MAC is off for secret {:?}: it lets a client sign anything; it is allowed \
                         only for a secret added with --allow-raw",
                        request.name
                    ),
                ));
            }
            let mac = sign::mac::compute(&request.algorithm, held.unsealed.secret(), &request.data)
                .map_err(|e| ErrorReply::new(ErrorCode::BadRequest, e.to_string()));
            crate::secret::wipe_stack();
            mac
        });
        match &result {
            Ok(_) => self.audit(&event(true, None), Some(peer)),
            Err(e) => {
                crate::info!(
                    "raw MAC refused for {} ({}): {}",
                    request.name,
                    peer.describe(),
                    e.message
                );
                self.audit(&event(false, Some(&e.message)), Some(peer));
            }
        }
        result
    }
}
