//! Command-line flags (hand-rolled: six flags do not justify a parser crate).

use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
usage: apisec-vcard [--port N] [--host ADDR] [--serial N] [--state FILE]
                    [--control DIR] [--touch-timeout-ms N] [--min-removal-ms N]

  --port N              vpcd port (35963 = reader 'Virtual PCD 00 00', 35964 = '00 01')
  --host ADDR           vpcd host (default 127.0.0.1)
  --serial N            card serial (default 13371337; overrides the state file)
  --state FILE          JSON file holding keys, PINs and counters across restarts
  --control DIR         control directory (touch, touch-delay-ms, present, touches...)
  --touch-timeout-ms N  how long the card waits for a touch before 6982 (default 15000)
  --min-removal-ms N    shortest time a removed card stays out (default 1000; pcscd
                        polls presence every ~400 ms and misses faster swaps)
";

pub const DEFAULT_SERIAL: u32 = 13_371_337;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub host: String,
    pub port: u16,
    pub serial: Option<u32>,
    pub state: Option<PathBuf>,
    pub control: Option<PathBuf>,
    pub touch_timeout: Duration,
    pub min_removal: Duration,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            host: "127.0.0.1".into(),
            port: 35963,
            serial: None,
            state: None,
            control: None,
            touch_timeout: apisec_vcard::touch::DEFAULT_TOUCH_TIMEOUT,
            min_removal: apisec_vcard::emulator::DEFAULT_MIN_REMOVAL,
        }
    }
}

/// Parses flags; `Err` carries the message to print (usage on --help).
pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_string());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |_| format!("bad value for {flag}: {value}");
        match flag.as_str() {
            "--port" => args.port = value.parse().map_err(bad)?,
            "--host" => args.host = value,
            "--serial" => args.serial = Some(value.parse().map_err(bad)?),
            "--state" => args.state = Some(value.into()),
            "--control" => args.control = Some(value.into()),
            "--touch-timeout-ms" => {
                args.touch_timeout = Duration::from_millis(value.parse().map_err(bad)?)
            }
            "--min-removal-ms" => {
                args.min_removal = Duration::from_millis(value.parse().map_err(bad)?)
            }
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> Result<Args, String> {
        parse(s.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(p(&[]).unwrap(), Args::default());
        let a = p(&[
            "--port",
            "35964",
            "--serial",
            "42",
            "--touch-timeout-ms",
            "500",
        ])
        .unwrap();
        assert_eq!(a.port, 35964);
        assert_eq!(a.serial, Some(42));
        assert_eq!(a.touch_timeout, Duration::from_millis(500));
    }

    #[test]
    fn errors_are_reported() {
        assert!(p(&["--port"]).is_err());
        assert!(p(&["--port", "x"]).is_err());
        assert!(p(&["--bogus", "1"]).is_err());
    }
}
