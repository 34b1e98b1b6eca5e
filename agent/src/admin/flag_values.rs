//! What clap checks as it reads the typed flags: a bad value is clap's usage error (exit status
//! 2, the flag named, its form said). The values keep their text (`settings/` converts them
//! once); the same settings from a policy file or the config are checked where those are read.

/// `--exchange`'s values: every preset id, which clap lists in the help and in the error for any
/// other value (exit status 2).
pub fn exchange_ids() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(apisec_agent::sign::exchanges::ids())
}

/// `--type`'s values (`es256` is Coinbase's name for P-256).
pub fn key_types() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(["ed25519", "p256", "es256"])
}

pub fn duration_arg(s: &str) -> Result<String, String> {
    apisec_agent::config::parse_duration(s).map(|_| s.to_owned())
}

pub fn freshness_arg(s: &str) -> Result<String, String> {
    apisec_agent::sign::Freshness::parse(s).map(|_| s.to_owned())
}

pub fn date_arg(s: &str) -> Result<String, String> {
    match apisec_agent::timefmt::parse_date(s) {
        Some(_) => Ok(s.to_owned()),
        None => Err("not a date of the form YYYY-MM-DD".to_owned()),
    }
}
