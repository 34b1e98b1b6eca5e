//! `apisec-agent policy check NAME --method M --path P [--query Q] [--body F]`: what the secret's
//! policy decides for one request, judged exactly as the agent judges it before signing (the
//! canonical form, every request the signature would be good for), without signing anything.

use std::path::Path;

use apisec_agent::policy::fields::request_fields;
use apisec_agent::policy::judge::{judge, Plan};
use apisec_agent::policy::rules::{matching_rule, Decision, Judged};
use apisec_agent::sign::{self, endpoints, HttpRequest};
use apisec_agent::store::Store;

use super::args::PolicyCheckArgs;
use super::endpoints::coverage_note;
use super::new_entry::read_source;
use super::settings::values;
use super::{load_config, CliError, CmdResult};

pub fn run(config_path: &Path, a: PolicyCheckArgs) -> CmdResult {
    let config = load_config(config_path)?;
    let file = Store::new(&config.store_dir).load(&a.name)?;
    let preset = values::preset(&file.exchange)?;
    let body = match &a.body {
        Some(p) => read_source(p, "body")?.to_vec(),
        None => Vec::new(),
    };
    let request = HttpRequest {
        method: a.method.clone(),
        path: a.path.clone(),
        query: a.query.clone(),
        body,
        ..Default::default()
    };
    println!("secret: {} ({})", a.name, preset.id());
    for note in file.weakened() {
        println!("weakened: {note}");
    }
    println!("{}", coverage_note(preset.id(), preset.shape().covers));
    let canonical = sign::request::check(preset.id(), preset.shape(), &request)
        .map_err(|e| CliError::new(format!("refused before the policy: {e}")))?;
    let found = endpoints::table(preset.id())
        .map(|t| t.find(&request.method, &request.path))
        .unwrap_or_default();
    let worst = found.iter().max_by_key(|e| e.class);
    match worst {
        Some(e) => println!(
            "endpoint: {} {} ({}): {}",
            e.method, e.path, e.class, e.what
        ),
        None => println!("endpoint: not in the {} table", preset.id()),
    }
    let policy = &file.policy;
    let fields = request_fields(&request.query, &request.body)
        .map_err(|e| CliError::new(format!("refused before the policy: {e}")))?;
    let named = Judged {
        method: &request.method,
        path: &request.path,
        class: worst.map(|e| e.class),
        what: "",
        fields: &fields,
        query: &request.query,
        body_params: preset.shape().body_params(&request.method),
    };
    match matching_rule(policy, &named) {
        Some((i, rule)) => println!(
            "rule for the request as named: rule {} ({})",
            i + 1,
            rule.describe()
        ),
        None if policy.default_deny => {
            println!("rule for the request as named: none; the default refusals decide")
        }
        None => println!("rule for the request as named: none; default_deny = false allows it"),
    }
    let plan = Plan::new(policy, preset);
    let verdict = judge(policy, &plan, &a.name, preset, canonical)
        .map_err(|e| CliError::new(format!("refused before the policy: {e}")))?;
    match verdict.decision {
        Decision::Allow => {
            println!("decision: signed");
            Ok(())
        }
        Decision::StepUp(rule) => {
            println!("decision: signed after a fresh approval ({rule})");
            Ok(())
        }
        Decision::Deny(reason) => Err(CliError::new(format!("decision: {reason}"))),
    }
}
