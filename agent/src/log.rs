//! The agent's own log: one line per event on stderr (the journal under systemd, a file under
//! `start`). Never given a secret: callers pass names, paths and error texts only.

use std::io::Write;

/// Writes one log line: `2026-11-27T17:00:00Z apisec-agent[PID] LEVEL message`.
pub fn line(level: &str, message: std::fmt::Arguments<'_>) {
    let stamp = crate::timefmt::iso8601_seconds(crate::timefmt::unix_secs());
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "{stamp} apisec-agent[{}] {level} {message}",
        std::process::id()
    );
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::line("info", format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::line("warn", format_args!($($arg)*)) };
}
