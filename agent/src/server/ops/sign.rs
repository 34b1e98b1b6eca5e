//! `sign@apisec`: the secret's policy (clients, rules, rate limits, step-up approval) is checked
//! before every signature, then the exchange's preset signs with the agent's clock; every
//! decision goes to the audit log.

use std::sync::Arc;

use crate::approval::{ApprovalRequest, StepUp};
use crate::audit::Event;
use crate::keys::KeyType;
use crate::peer::PeerInfo;
use crate::policy::admit::admit;
use crate::policy::fields::request_fields;
use crate::policy::judge::{judge, Verdict};
use crate::policy::rules::Decision;
use crate::proto::{self, ErrorCode, ErrorReply};
use crate::sign;
use crate::timefmt::{unix_micros, unix_millis};

use super::super::error_reply::approval_code;
use super::super::state::{Agent, Held};

/// The longest request path the agent signs.
const MAX_PATH: usize = 2048;

fn http_request(request: &proto::SignRequest) -> sign::HttpRequest {
    sign::HttpRequest {
        method: request.method.clone(),
        path: request.path.clone(),
        query: request.query.clone(),
        body: request.body.clone(),
        host: request.host.clone(),
    }
}

fn body_digest(request: &proto::SignRequest) -> [u8; 32] {
    <sha2::Sha256 as sha2::Digest>::digest(&request.body).into()
}

/// The audit record of a sign request, before its outcome.
fn sign_event<'a>(
    request: &'a proto::SignRequest,
    body_sha256: [u8; 32],
    exchange: Option<&'a str>,
) -> Event<'a> {
    Event::sign(
        &request.name,
        exchange,
        &request.method,
        &request.path,
        body_sha256,
    )
}

/// Signs `request` for `peer`, or says why not.
pub async fn sign(
    agent: &Arc<Agent>,
    request: &proto::SignRequest,
    peer: &PeerInfo,
) -> Result<sign::Signed, ErrorReply> {
    let body_sha256 = body_digest(request);
    let held = match agent.usable(&request.name, peer.uid) {
        Ok(h) => h,
        Err(e) => {
            let refused = sign_event(request, body_sha256, None).denied(&e.message);
            agent.audit(&refused, Some(peer));
            alert_refusal(agent, request, peer, (None, None), false, &e);
            return Err(e);
        }
    };
    let meta = &held.unsealed.meta;
    let exchange = Some(meta.exchange.as_str());
    // The class the judge found, once it has judged: every later record names it.
    let judged_class: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    let refuse_as = |e: ErrorReply, rate_limited: bool| {
        crate::info!(
            "sign refused: {} {} {} for {}: {}",
            request.name,
            request.method,
            request.path,
            peer.describe(),
            e.message
        );
        let refused = sign_event(request, body_sha256, exchange)
            .judged(judged_class.get().copied())
            .denied(&e.message);
        agent.audit(&refused, Some(peer));
        let class = judged_class.get().copied();
        alert_refusal(agent, request, peer, (exchange, class), rate_limited, &e);
        e
    };
    let refuse = |e: ErrorReply| refuse_as(e, false);
    admit(&request.name, &meta.policy, peer, agent.limiter()).map_err(|e| {
        let rate_limited = e.is_rate_limit();
        refuse_as(e.into(), rate_limited)
    })?;
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
    let preset = sign::exchanges::by_id(&meta.exchange).ok_or_else(|| {
        refuse(ErrorReply::from(sign::SignError::UnknownExchange(
            meta.exchange.clone(),
        )))
    })?;
    let http = http_request(request);
    // The canonical form first: the policy judges only requests the exchange reads one way,
    // and the preset signs only what the policy judged.
    let canonical = sign::request::check(preset.id(), preset.shape(), &http)
        .map_err(|e| refuse(sign::SignError::Preset(e).into()))?;
    let verdict = judge(&meta.policy, &held.plan, &request.name, preset, canonical)
        .map_err(|e| refuse(ErrorReply::new(ErrorCode::Refused, e.to_string())))?;
    if let Some(class) = verdict.audited_class() {
        let _ = judged_class.set(class.as_str());
    }
    let approval = match &verdict.decision {
        Decision::Allow => None,
        Decision::Deny(reason) => {
            return Err(refuse(ErrorReply::new(ErrorCode::Refused, reason.clone())))
        }
        Decision::StepUp(rule) => Some(
            step_up(agent, request, &meta.exchange, peer, rule, &verdict)
                .await
                .map_err(refuse)?,
        ),
    };
    // A step-up can wait a minute for its human: a `lock`, `ssh-add -x` or lifetime end in the
    // meantime wins over the approval.
    let held = if approval.is_some() {
        agent.usable(&request.name, peer.uid).map_err(refuse)?
    } else {
        Arc::clone(&held)
    };
    let signed = with_credentials(&held, |credentials| {
        compute_signature(agent, credentials, &held, request, canonical)
    });
    match signed {
        Ok(reply) => {
            let allowed = sign_event(request, body_sha256, exchange)
                .judged(judged_class.get().copied())
                .signing(reply.signed_sha256)
                .allowed(approval.as_deref());
            agent.audit(&allowed, Some(peer));
            Ok(reply)
        }
        Err(e) => Err(refuse(e)),
    }
}

/// Tells the alerts about a refused sign request: its class as judged or, refused before
/// judging (a rate limit, a malformed request, the wrong program), as the endpoint table gives
/// it, so that a withdrawal refused early still raises its alert.
fn alert_refusal(
    agent: &Agent,
    request: &proto::SignRequest,
    peer: &PeerInfo,
    (exchange, class): (Option<&str>, Option<&str>),
    rate_limited: bool,
    e: &ErrorReply,
) {
    let what = format!("sign {} {}", request.method, request.path);
    let class = class.or_else(|| {
        let id = exchange?;
        let path = request.path.split('?').next().unwrap_or_default();
        sign::endpoints::class_of(id, &request.method, path).map(|c| c.as_str())
    });
    let refusal = crate::server::alerts::Refusal {
        secret: &request.name,
        class,
        rate_limited,
        request: &what,
        reason: &e.message,
    };
    agent.alerts().refused(peer, &refusal);
}

/// Asks for the fresh approval a step-up rule wants; says how it was approved.
pub(super) async fn step_up(
    agent: &Agent,
    request: &proto::SignRequest,
    exchange: &str,
    peer: &PeerInfo,
    rule: &str,
    verdict: &Verdict,
) -> Result<String, ErrorReply> {
    let secrets = vec![(request.name.clone(), exchange.to_owned())];
    // A request whose fields cannot be read was refused before it got here.
    let fields = request_fields(&request.query, &request.body)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let ask = ApprovalRequest {
        action: "sign",
        secrets: &secrets,
        client: peer,
        others: &[],
        step_up: Some(StepUp {
            method: &request.method,
            path: &request.path,
            class: verdict.audited_class().map(|c| c.as_str()),
            what: verdict.what,
            why: rule,
            fields,
        }),
        fresh: true,
        changes: &[],
    };
    let refused = |e: crate::approval::ApprovalError| {
        ErrorReply::new(
            approval_code(&e),
            format!(
                "{rule} of {}'s policy needs a fresh approval for this request: {e}",
                request.name
            ),
        )
    };
    let admitted = agent.admit_approval(peer.uid).map_err(refused)?;
    if agent.approval_waits(&ask) {
        agent.notify_waiting(&format!("waiting for approval: {}", ask.prompt()), &ask);
    }
    match agent.ask_approval(&ask, &admitted).await {
        Ok(how) => {
            crate::info!("step-up approved by {how} ({rule}): {}", ask.prompt());
            Ok(format!("step-up {how} ({rule})"))
        }
        Err(e) => Err(refused(e)),
    }
}

/// Records a step-up its client gave up on (it hung up while the approval was asked): a
/// denial, like every sign record with the secret's exchange when the secret is still held.
pub fn audit_abandoned_step_up(agent: &Agent, request: &proto::SignRequest, peer: &PeerInfo) {
    let held = agent.usable(&request.name, peer.uid).ok();
    let exchange = held.as_ref().map(|h| h.unsealed.meta.exchange.as_str());
    let abandoned = sign_event(request, body_digest(request), exchange)
        .denied("the client hung up while the step-up waited for approval");
    agent.audit(&abandoned, Some(peer));
}

/// Runs `f` with the held secret's credentials, then wipes the stack the secret's bytes went
/// through; where the key is in the token, as [`on_token`] says.
pub(super) fn with_credentials<T>(held: &Held, f: impl FnOnce(&sign::Credentials<'_>) -> T) -> T {
    let meta = &held.unsealed.meta;
    let run = || {
        let credentials = sign::Credentials {
            api_key: &meta.api_key,
            secret: held.unsealed.secret(),
            passphrase: held.unsealed.passphrase(),
            signer: held
                .signer
                .as_deref()
                .map(|s| s as &dyn sign::AsymmetricSigner),
            mac: held.mac.as_ref().map(|m| m as &dyn sign::mac_key::MacKey),
        };
        let r = f(&credentials);
        crate::secret::wipe_stack();
        r
    };
    if meta.key_type.get().is_some_and(KeyType::in_token) {
        on_token(held, run)
    } else {
        run()
    }
}

/// Runs a call that goes to the token. An HMAC key on the token decides for itself, call by
/// call, what may block (`token::quick_calls`: a quick `C_Sign` on an idle session runs here,
/// anything else on a blocking thread's budget); any other token call blocks, so it runs on a
/// blocking thread's budget (`block_in_place`, which hands this worker's other tasks to
/// another thread).
pub(super) fn on_token<T>(held: &Held, call: impl FnOnce() -> T) -> T {
    if held.mac.is_some() {
        call()
    } else {
        tokio::task::block_in_place(call)
    }
}

fn compute_signature(
    agent: &Agent,
    credentials: &sign::Credentials<'_>,
    held: &Held,
    request: &proto::SignRequest,
    canonical: sign::request::Canonical<'_>,
) -> Result<sign::Signed, ErrorReply> {
    let meta = &held.unsealed.meta;
    let time = sign::TimeContext {
        client_timestamp: &request.timestamp,
        client_nonce: &request.nonce,
        now_ms: unix_millis(),
        freshness: meta.freshness(),
    };
    Ok(sign::sign(
        &meta.exchange,
        canonical,
        credentials,
        &time,
        &mut || agent.nonces().next(&request.name, unix_micros()),
    )?)
}
