//! Single values from the command line, converted once.

use std::time::Duration;

use apisec_agent::config::parse_duration;
use apisec_agent::sign::{exchanges, KeyAlgorithm, Preset};

use super::super::CliError;

/// `--type ed25519|p256` (also `es256`, Coinbase's name for P-256).
pub fn key_algorithm(s: &str) -> Result<KeyAlgorithm, CliError> {
    match s {
        "ed25519" => Ok(KeyAlgorithm::Ed25519),
        "p256" | "es256" => Ok(KeyAlgorithm::P256),
        other => Err(CliError::new(format!(
            "--type {other:?} is not ed25519 or p256"
        ))),
    }
}

/// `--exchange ID`: the preset of that id.
pub fn preset(exchange: &str) -> Result<&'static dyn Preset, CliError> {
    exchanges::by_id(exchange).ok_or_else(|| {
        CliError::new(format!("unknown exchange {exchange:?}"))
            .hint(format!("known exchanges: {}", exchanges::ids().join(", ")))
    })
}

/// A duration flag (`--lifetime 8h`), named in its error.
pub fn duration(flag: &str, value: &str) -> Result<Duration, CliError> {
    parse_duration(value).map_err(|e| CliError::new(format!("{flag}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_their_messages() {
        assert_eq!(key_algorithm("es256").unwrap(), KeyAlgorithm::P256);
        assert_eq!(
            key_algorithm("rsa").unwrap_err().message,
            "--type \"rsa\" is not ed25519 or p256"
        );
        assert_eq!(preset("okx").unwrap().id(), "okx");
        let Err(e) = preset("okex") else {
            panic!("okex is not a preset id")
        };
        assert_eq!(e.message, "unknown exchange \"okex\"");
        assert!(e.hint.unwrap().contains("bitget, binance"));
        assert_eq!(
            duration("--lifetime", "8h").unwrap(),
            Duration::from_secs(8 * 3600)
        );
        assert!(duration("--lifetime", "soon")
            .unwrap_err()
            .message
            .starts_with("--lifetime: \"soon\" is not a duration"));
    }
}
