//! How `apisec` prints replies: for people (tables), for scripts (JSON), for curl.

use std::io::{self, Write};

use apisec_agent::proto::{LoginReply, SignReply, StatusReply};
use apisec_agent::timefmt::unix_secs;
use base64::Engine;
use serde_json::json;

/// How `apisec sign` prints what the agent returned.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Headers,
    Json,
    Curl,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// " (forgotten in 7h59m)" or "".
pub fn forget_note(forget_at: u64) -> String {
    if forget_at == 0 {
        return String::new();
    }
    let left = forget_at.saturating_sub(unix_secs());
    format!(" (forgotten in {}h{:02}m)", left / 3600, left % 3600 / 60)
}

pub fn status(out: &mut impl Write, s: &StatusReply, json_out: bool) -> io::Result<()> {
    if json_out {
        let entries: Vec<_> = s
            .entries
            .iter()
            .map(|e| {
                json!({
                    "name": e.name,
                    "exchange": e.exchange,
                    "api_key": e.api_key,
                    "unsealed": e.unsealed,
                    "expires": if e.expires.is_empty() { None } else { Some(&e.expires) },
                    "forget_at": if e.forget_at == 0 { None } else { Some(e.forget_at) },
                    "problem": if e.problem.is_empty() { None } else { Some(&e.problem) },
                    "weakened_by": e.notes.lines().collect::<Vec<_>>(),
                    "recipients": e.recipients,
                })
            })
            .collect();
        let v = json!({
            "version": s.version,
            "pid": s.pid,
            "locked": s.agent_locked,
            "secrets": entries,
        });
        return writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("json"));
    }
    writeln!(
        out,
        "agent {} (pid {}){}",
        s.version,
        s.pid,
        if s.agent_locked {
            ": LOCKED (ssh-add -X to unlock)"
        } else {
            ""
        }
    )?;
    if s.entries.is_empty() {
        return writeln!(out, "no secrets in the store");
    }
    writeln!(
        out,
        "{:<24} {:<10} {:<9} EXPIRES",
        "NAME", "EXCHANGE", "STATE"
    )?;
    for e in &s.entries {
        if !e.problem.is_empty() {
            writeln!(out, "{:<24} UNUSABLE: {}", e.name, e.problem)?;
            continue;
        }
        let state = if e.unsealed { "unsealed" } else { "sealed" };
        let expires = apisec_agent::expiry::note(Some(&e.expires), unix_secs());
        writeln!(
            out,
            "{:<24} {:<10} {:<9} {}{}",
            e.name,
            e.exchange,
            state,
            expires,
            forget_note(e.forget_at)
        )?;
        for note in e.notes.lines() {
            writeln!(out, "{:<24} WEAKENED: {note}", "")?;
        }
        // An older agent sends no recipients: nothing to say then.
        if e.recipients.len() == 1 {
            writeln!(
                out,
                "{:<24} NO BACKUP: sealed to one token only (apisec-agent backup list)",
                ""
            )?;
        }
    }
    Ok(())
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A login: its message, or (where the exchange defines fields only) one line per field.
pub fn login(out: &mut impl Write, r: &LoginReply, json: bool) -> io::Result<()> {
    if json {
        let fields: serde_json::Map<String, serde_json::Value> = r
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let v = json!({ "fields": fields, "message": r.message });
        return writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("json"));
    }
    if r.message.is_empty() {
        for (k, v) in &r.fields {
            writeln!(out, "{k}: {v}")?;
        }
        Ok(())
    } else {
        writeln!(out, "{}", r.message)
    }
}

pub fn signed(
    out: &mut impl Write,
    r: &SignReply,
    path: &str,
    query: &str,
    format: Format,
) -> io::Result<()> {
    match format {
        Format::Headers => {
            for (k, v) in &r.headers {
                writeln!(out, "{k}: {v}")?;
            }
            if r.query != query {
                writeln!(out, "?{}", r.query)?;
            }
            // The body to send instead of the client's (Kraken's carries the agent's nonce).
            if let Some(body) = &r.body {
                writeln!(out)?;
                out.write_all(body)?;
                writeln!(out)?;
            }
        }
        Format::Json => {
            let headers: serde_json::Map<String, serde_json::Value> = r
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let additions: serde_json::Map<String, serde_json::Value> = r
                .query_additions
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let target = if r.query.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{}", r.query)
            };
            let mut v = json!({
                "headers": headers,
                "query_additions": additions,
                "query": r.query,
                "target": target,
            });
            if let Some(body) = &r.body {
                v["body"] = json!(String::from_utf8_lossy(body));
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("json"))?;
        }
        Format::Curl => {
            let mut args: Vec<String> = r
                .headers
                .iter()
                .map(|(k, v)| format!("-H {}", sh_quote(&format!("{k}: {v}"))))
                .collect();
            // Parameters the agent added (a signature in the query): `+` makes curl append them
            // as they are, already encoded, after the query of the URL the caller gives.
            args.extend(
                r.query_additions
                    .iter()
                    .map(|(k, v)| format!("--url-query {}", sh_quote(&format!("+{k}={v}")))),
            );
            if let Some(body) = &r.body {
                args.push(format!(
                    "--data-binary {}",
                    sh_quote(&String::from_utf8_lossy(body))
                ));
            }
            writeln!(out, "{}", args.join(" "))?;
        }
    }
    Ok(())
}

/// `apisec approvals`: each waiting approval with its id, how long it has waited, and the whole
/// prompt (already escaped by the agent), or JSON.
pub fn approvals(
    out: &mut impl Write,
    waiting: &[apisec_agent::proto::WaitingApproval],
    json_out: bool,
) -> io::Result<()> {
    if json_out {
        let list: Vec<_> = waiting
            .iter()
            .map(|a| {
                json!({
                    "id": a.id,
                    "line": a.line,
                    "prompt": a.prompt,
                    "waited_secs": a.waited_secs,
                })
            })
            .collect();
        return writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&list).expect("json")
        );
    }
    if waiting.is_empty() {
        return writeln!(out, "nothing waits for an approval");
    }
    for a in waiting {
        writeln!(
            out,
            "== approval {} (waiting {} s): apisec approve {} / apisec deny {}",
            a.id, a.waited_secs, a.id, a.id
        )?;
        for line in a.prompt.lines() {
            writeln!(out, "   {line}")?;
        }
    }
    Ok(())
}
