//! `mac@apisec`: a raw HMAC over the client's bytes, for exchanges without a preset. Off unless
//! the secret was added with `--allow-raw`, since it lets a client sign anything.

use crate::audit::Event;
use crate::peer::PeerInfo;
use crate::policy::admit::admit;
use crate::proto::{self, ErrorCode, ErrorReply};
use crate::sign;

use super::super::state::Agent;

pub fn mac(
    agent: &Agent,
    request: &proto::MacRequest,
    peer: &PeerInfo,
) -> Result<Vec<u8>, ErrorReply> {
    let data_sha256 = <sha2::Sha256 as sha2::Digest>::digest(&request.data).into();
    let event = Event::mac(&request.name, &request.algorithm, data_sha256);
    let mut rate_limited = false;
    let result = agent.usable(&request.name, peer.uid).and_then(|held| {
        admit(
            &request.name,
            &held.unsealed.meta.policy,
            peer,
            agent.limiter(),
        )
        .map_err(|e| {
            rate_limited = e.is_rate_limit();
            ErrorReply::from(e)
        })?;
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
        let compute = |key: &dyn sign::mac_key::MacKey| {
            let reserved = [
                crate::store::attest::PREFIX,
                crate::store::attest::CHALLENGE_PREFIX,
            ];
            sign::mac::compute(&request.algorithm, key, &request.data, &reserved).map_err(|e| {
                match e {
                    sign::mac::RawMacError::Key(_) => {
                        ErrorReply::new(ErrorCode::Token, e.to_string())
                    }
                    _ => ErrorReply::new(ErrorCode::BadRequest, e.to_string()),
                }
            })
        };
        let mac = match held.mac.as_ref() {
            Some(key) => super::sign::on_token(&held, || compute(key)),
            None => compute(
                &sign::mac_key::MemoryMacKey::new(
                    "raw MAC",
                    held.unsealed.secret(),
                    sign::mac_key::KeyForm::AsShown,
                )
                .map_err(|e| ErrorReply::new(ErrorCode::BadEntry, e.to_string()))?,
            ),
        };
        crate::secret::wipe_stack();
        mac
    });
    match &result {
        Ok(_) => agent.audit(&event.allowed(None), Some(peer)),
        Err(e) => {
            crate::info!(
                "raw MAC refused for {} ({}): {}",
                request.name,
                peer.describe(),
                e.message
            );
            agent.audit(&event.denied(&e.message), Some(peer));
            let what = format!("mac {}", request.algorithm);
            let refusal = crate::server::alerts::Refusal {
                secret: &request.name,
                class: None,
                rate_limited,
                request: &what,
                reason: &e.message,
            };
            agent.alerts().refused(peer, &refusal);
        }
    }
    result
}
