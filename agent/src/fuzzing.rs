//! Fuzzing entry points: one per parser that reads bytes an attacker (or a damaged disk) controls.
//! Each takes arbitrary bytes and must never panic; the cargo-fuzz targets under `fuzz/` call them,
//! and `tests/tests/fuzz_corpus.rs` replays the committed corpus and regression inputs through
//! them on every `cargo test`. See `docs/fuzzing.md`.
//!
//! They run the agent's own code paths, not copies: [`frame`] splits a stream with the server's
//! frame reader and with the splitter of what it peeks at, and decodes with the server's
//! [`decode`](crate::proto::decode).

use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::proto::{self, frame as framing, ApisecRequest, FrameError};
use crate::server::request_reader;

/// The frames a stream splits into, as the server's (async) reader reads them, and the error that
/// ended the stream.
fn server_frames(mut data: &[u8]) -> (Vec<Vec<u8>>, FrameError) {
    let mut frames = Vec::new();
    loop {
        // Reading from a byte slice never waits, so one poll completes the read.
        let mut read = pin!(request_reader::read_frame(&mut data));
        match read.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(message)) => frames.push(message),
            Poll::Ready(Err(e)) => return (frames, e),
            Poll::Pending => unreachable!("reading from a byte slice never waits"),
        }
    }
}

/// A byte stream from a client: split into frames by the server's reader, each frame decoded as
/// the server decodes it (message type, ssh-agent-lib's `Request::decode`,
/// `ApisecRequest::decode`). The client's blocking reader must split the stream the same way.
pub fn frame(data: &[u8]) {
    let (frames, end) = server_frames(data);
    for message in &frames {
        let decoded = proto::decode(message);
        if let proto::Decoded::Apisec(req) = &decoded {
            // What decodes must re-encode to the same details (the client builds requests this way).
            let details = req.encode_details();
            assert_eq!(
                ApisecRequest::decode(req.name(), &details)
                    .ok()
                    .flatten()
                    .as_ref(),
                Some(req),
                "a decoded request does not survive encode and decode"
            );
        }
    }
    // The server splits what it peeks at with `frame::complete`: it must agree with the reader.
    let mut rest = data;
    let mut peeked = Vec::new();
    let peek_end = loop {
        match framing::complete(rest) {
            Ok(Some(total)) => {
                peeked.push(rest[4..total].to_vec());
                rest = &rest[total..];
            }
            // Not all there: the server reads it with `read_frame`, which meets the stream's end.
            Ok(None) => break FrameError::Closed,
            Err(e) => break e,
        }
    };
    assert_eq!(frames, peeked, "peeking splits the stream differently");
    assert_eq!(
        std::mem::discriminant(&end),
        std::mem::discriminant(&peek_end),
        "peeking ends the stream differently: {end} / {peek_end}"
    );
    // The client side reads frames with the blocking reader: it must agree with the server's.
    let mut stream = data;
    let mut blocking = Vec::new();
    let blocking_end = loop {
        match framing::read_blocking(&mut stream) {
            Ok(message) => blocking.push(message),
            Err(e) => break e,
        }
    };
    assert_eq!(
        frames, blocking,
        "the two frame readers split the stream differently"
    );
    assert_eq!(
        std::mem::discriminant(&end),
        std::mem::discriminant(&blocking_end),
        "the two frame readers end the stream differently: {end} / {blocking_end}"
    );
}

/// An extension message's name and details: `ApisecRequest::decode` and every reply decoder.
/// Layout: one byte `n`, then `n` bytes of name (clamped to what is there), then the details.
pub fn extension(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (name, details) = rest.split_at((n as usize).min(rest.len()));
    let name = String::from_utf8_lossy(name);
    // Also as one of our own extensions, so every request decoder sees every input.
    let _ = ApisecRequest::decode(&name, details);
    for ext in proto::EXTENSIONS {
        let _ = ApisecRequest::decode(ext, details);
    }
    let _ = proto::StatusReply::decode(details);
    let _ = proto::SignReply::decode(details);
    let _ = proto::UnlockReply::decode(details);
    let _ = proto::ErrorReply::decode(details);
    let _ = proto::decode_progress(details);
    let _ = proto::decode_count(details);
    let _ = proto::decode_mac_reply(details);
}

/// A store entry file (`NAME.toml`, when it is UTF-8) and a sealed plaintext (the raw bytes).
pub fn store_entry(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(entry) = crate::store::EntryFile::parse(text) {
            // What `list` and the tamper check do with a parsed entry.
            let meta = entry.meta();
            let _ = meta.freshness();
            let _ = meta.policy.summary();
            let _ = meta.differences(&meta);
        }
    }
    if let Ok(unsealed) = crate::store::entry::parse_sealed(data) {
        let _ = unsealed.secret();
        let _ = unsealed.passphrase();
        let _ = unsealed.meta.freshness();
    }
}

/// The config file: parsed, then validated.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = crate::config::ConfigFile::parse(text) {
        let _ = file.validate(Path::new("fuzz.toml"));
    }
}

/// A policy file (`apisec-agent add --policy FILE`); a policy that parses is also checked against
/// an exchange and judges a few requests, which runs its path patterns and class rules.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((policy, _)) = crate::policy::file::parse(text) {
        let _ = policy.summary();
        for id in ["bitget", "binance"] {
            let preset = crate::sign::exchanges::by_id(id).expect("a preset");
            let _ = crate::policy::coverage::check(&policy, id, preset.shape());
            let plan = crate::policy::judge::Plan::new(&policy, preset);
            for (method, path, query, body) in [
                (
                    "POST",
                    "/api/v2/spot/wallet/withdrawal",
                    "",
                    &b"{\"coin\":\"USDT\"}"[..],
                ),
                ("GET", "/api/v3/account", "coin=USDT&size=1", b""),
                ("GET", "/", "", b""),
            ] {
                let request = crate::sign::HttpRequest {
                    method: method.into(),
                    path: path.into(),
                    query: query.into(),
                    body: body.to_vec(),
                    ..Default::default()
                };
                // Only a canonical request reaches the judge, as in the agent.
                if let Ok(canonical) =
                    crate::sign::request::check(preset.id(), preset.shape(), &request)
                {
                    let _ = crate::policy::judge::judge(&policy, &plan, "fuzz", preset, canonical);
                }
            }
        }
    }
}

/// An audit log (`apisec-agent audit verify`).
pub fn audit(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::audit::verify(text);
    }
}
