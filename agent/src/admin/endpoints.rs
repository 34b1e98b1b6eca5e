//! `apisec-agent endpoints EXCHANGE [--class C]`: the exchange's endpoint table as the agent
//! uses it, and what the exchange's signature covers (which decides what a policy can judge).

use apisec_agent::policy::residual::residual;
use apisec_agent::sign::endpoints::{self, Class};
use apisec_agent::sign::request::Covers;
use apisec_agent::sign::Preset;

use super::args::EndpointsArgs;
use super::settings::values;
use super::{CliError, CmdResult};

/// One line saying what `covers` means for the policy.
pub fn coverage_note(exchange: &str, covers: Covers) -> String {
    match covers {
        Covers::Endpoint { method: false, .. } => format!(
            "{exchange} signs the path and the parameters, not the method: a signature is judged \
             as a request of every method to that path"
        ),
        Covers::Endpoint { query, body, .. } => {
            let mut unsigned = Vec::new();
            if !query {
                unsigned.push("the query");
            }
            if !body {
                unsigned.push("the body");
            }
            if unsigned.is_empty() {
                format!("{exchange} signs the method, the path and the parameters")
            } else {
                format!(
                    "{exchange} signs the method and the path, not {}: rules test the path or \
                     class, not those fields",
                    unsigned.join(" or ")
                )
            }
        }
        Covers::Parameters | Covers::Payload => format!(
            "{exchange} signs the parameters, not the endpoint: a signature is good for every \
             endpoint whose mandatory parameters it carries, and the agent judges all of them"
        ),
    }
}

pub fn run(a: EndpointsArgs) -> CmdResult {
    let preset = values::preset(&a.exchange)?;
    let class = match &a.class {
        Some(c) => Some(Class::parse(c).ok_or_else(|| {
            CliError::new(format!(
                "--class {c:?} is not read, trade, transfer or admin"
            ))
        })?),
        None => None,
    };
    let table = endpoints::table(preset.id())
        .ok_or_else(|| CliError::new(format!("no endpoint table for {}", preset.id())))?;
    if a.residual {
        return print_residual(preset, class, a.json);
    }
    let rows: Vec<_> = table
        .endpoints()
        .iter()
        .filter(|e| class.is_none_or(|c| e.class == c))
        .collect();
    if a.json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|e| {
                serde_json::json!({
                    "method": e.method,
                    "path": e.path.as_str(),
                    "class": e.class.as_str(),
                    "params": e.params,
                    "host": e.host,
                    "what": e.what,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items).expect("json"));
        return Ok(());
    }
    println!("# {}", coverage_note(preset.id(), preset.shape().covers));
    println!("# by default read and trade are signed, transfer and admin refused (docs/policy.md)");
    for e in rows {
        let params = match &e.params {
            Some(p) if !p.is_empty() => format!(" params={}", p.join(",")),
            _ => String::new(),
        };
        let host = e
            .host
            .as_ref()
            .map(|h| format!(" host={h}"))
            .unwrap_or_default();
        println!(
            "{:<6} {} {}{params}{host} -- {}",
            e.method, e.path, e.class, e.what
        );
    }
    Ok(())
}

fn print_residual(preset: &dyn Preset, class: Option<Class>, json: bool) -> CmdResult {
    let rows: Vec<_> = residual(preset)
        .into_iter()
        .filter(|r| class.is_none_or(|c| r.endpoint.class == c))
        .collect();
    if json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "method": r.endpoint.method,
                    "path": r.endpoint.path.as_str(),
                    "class": r.endpoint.class.as_str(),
                    "params": r.endpoint.params,
                    "what": r.endpoint.what,
                    "within": r.within.iter().map(|n| n.describe()).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items).expect("json"));
        return Ok(());
    }
    if preset.shape().covers.endpoint() {
        println!(
            "# {} signs the endpoint: a signature is good for the endpoint it was made for only",
            preset.id()
        );
        return Ok(());
    }
    println!(
        "# {}: endpoints a harmless request's signature is also good for; only the key's own \
         permissions at the exchange close them (docs/operations.md)",
        preset.id()
    );
    for r in rows {
        let why = if r.within.is_empty() {
            "needs no parameters: any signature reaches it".to_owned()
        } else {
            let names: Vec<String> = r.within.iter().take(3).map(|n| n.describe()).collect();
            let more = r.within.len().saturating_sub(3);
            format!(
                "its parameters are all among those of {}{}",
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        };
        println!(
            "{:<6} {} {} -- {}; {why}",
            r.endpoint.method, r.endpoint.path, r.endpoint.class, r.endpoint.what
        );
    }
    Ok(())
}
