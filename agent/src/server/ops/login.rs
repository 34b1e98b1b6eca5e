//! `login@apisec`: a WebSocket login of an unsealed secret. A login opens a session whose later
//! requests the agent never sees, so it is class `login`: refused unless the secret's policy
//! says `allow_login = true`, then judged by its rules (a `step-up` rule with `class = "login"`
//! asks each time), rate-limited like a signature, and audited with action `login`.

use std::sync::Arc;

use crate::audit::Event;
use crate::peer::PeerInfo;
use crate::policy::admit::admit;
use crate::policy::rules::{evaluate, Decision, Judged, Remedy};
use crate::proto::{self, ErrorCode, ErrorReply};
use crate::sign;
use crate::sign::endpoints::Class;
use crate::sign::login::{LoginMessage, LoginRequest, LoginStamp};
use crate::timefmt::{unix_micros, unix_millis};

use super::super::state::{Agent, Held};

/// The method and path a login stands as in the policy's rules, prompts and the audit log: no
/// HTTP request is one (`LOGIN` is no method a rule names; a rule reaches it by class).
const METHOD: &str = "LOGIN";

/// The login `request` asks for, for `peer`, or why not.
pub async fn login(
    agent: &Arc<Agent>,
    request: &proto::LoginRequest,
    peer: &PeerInfo,
) -> Result<LoginMessage, ErrorReply> {
    let kind_label = if request.kind.is_empty() {
        "default"
    } else {
        request.kind.as_str()
    };
    let held = match agent.usable(&request.name, peer.uid) {
        Ok(h) => h,
        Err(e) => {
            agent.audit(
                &Event::login(&request.name, None, kind_label).denied(&e.message),
                Some(peer),
            );
            return Err(e);
        }
    };
    let meta = &held.unsealed.meta;
    let exchange = Some(meta.exchange.as_str());
    let refuse = |e: ErrorReply| {
        crate::info!(
            "login refused: {} ({kind_label}) for {}: {}",
            request.name,
            peer.describe(),
            e.message
        );
        agent.audit(
            &Event::login(&request.name, exchange, kind_label).denied(&e.message),
            Some(peer),
        );
        e
    };
    admit(&request.name, &meta.policy, peer, agent.limiter()).map_err(|e| refuse(e.into()))?;
    let preset = sign::exchanges::by_id(&meta.exchange).ok_or_else(|| {
        refuse(ErrorReply::from(sign::SignError::UnknownExchange(
            meta.exchange.clone(),
        )))
    })?;
    let wanted = LoginRequest {
        kind: request.kind.clone(),
        challenge: request.challenge.clone(),
        host: request.host.clone(),
    };
    let kind =
        sign::login_kind(preset, &wanted).map_err(|e| refuse(sign::SignError::Preset(e).into()))?;
    let path = format!("websocket {}", kind.name);
    let fields = Default::default();
    let judged = Judged {
        method: METHOD,
        path: &path,
        class: Some(Class::Login),
        what: kind.what,
        fields: &fields,
        query: "",
        body_params: false,
    };
    let remedy = Remedy {
        secret: &request.name,
        exchange: preset.id(),
        unbound: false,
    };
    let mut decision = evaluate(&meta.policy, &judged, &remedy);
    // A login signed exactly as a REST request is: the rules on that request apply to it too.
    if let Some(twin) = kind.rest_twin {
        let rest = Judged {
            method: "GET",
            path: twin,
            ..judged
        };
        let other = evaluate(&meta.policy, &rest, &remedy);
        if other.severity() > decision.severity() {
            decision = other;
        }
    }
    let verdict = crate::policy::judge::Verdict {
        decision,
        class: Some(Class::Login),
        what: kind.what,
        login: true,
    };
    let approval = match &verdict.decision {
        Decision::Allow => None,
        Decision::Deny(reason) => {
            return Err(refuse(ErrorReply::new(ErrorCode::Refused, reason.clone())))
        }
        Decision::StepUp(rule) => {
            // The prompt and the approval's audit name the login as it stands in the rules.
            let asked = proto::SignRequest {
                name: request.name.clone(),
                method: METHOD.into(),
                path: path.clone(),
                ..Default::default()
            };
            Some(
                super::sign::step_up(agent, &asked, &meta.exchange, peer, rule, &verdict)
                    .await
                    .map_err(refuse)?,
            )
        }
    };
    let held = if approval.is_some() {
        agent.usable(&request.name, peer.uid).map_err(refuse)?
    } else {
        Arc::clone(&held)
    };
    let signed = compute(agent, &held, &request.name, preset, &wanted).map_err(refuse)?;
    agent.audit(
        &Event::login(&request.name, exchange, kind.name)
            .signing(signed.signed_sha256)
            .allowed(approval.as_deref()),
        Some(peer),
    );
    Ok(signed)
}

fn compute(
    agent: &Agent,
    held: &Held,
    name: &str,
    preset: &dyn sign::Preset,
    request: &LoginRequest,
) -> Result<LoginMessage, ErrorReply> {
    let nonce = agent
        .nonces()
        .next(name, unix_micros())
        .map_err(|e| ErrorReply::new(ErrorCode::Internal, e))?;
    let stamp = LoginStamp {
        now_ms: unix_millis(),
        nonce,
    };
    let signed = super::sign::with_credentials(held, |credentials| {
        sign::login(preset, request, credentials, stamp)
    });
    signed.map_err(|e| sign::SignError::Preset(e).into())
}
