//! The agent's own log: one line per event on stderr (the journal under systemd, a file under
//! `start`). Never given a secret: callers pass names, paths and error texts only.

use std::io::Write;

/// Writes one log line: `2026-11-27T17:00:00Z apisec-agent[PID] LEVEL message`.
pub fn line(level: &str, message: std::fmt::Arguments<'_>) {
    let stamp = crate::timefmt::iso8601_seconds(crate::timefmt::unix_secs());
    let text = render(&stamp, std::process::id(), level, &message.to_string());
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// One line, whatever the message holds: messages carry what clients sent (a request's path, a
/// secret's name), and a newline in one must not forge a line of its own. Control characters
/// are written escaped (`\n`, `\u{1b}`).
fn render(stamp: &str, pid: u32, level: &str, message: &str) -> String {
    let mut out = format!("{stamp} apisec-agent[{pid}] {level} ");
    push_escaped(&mut out, message);
    out.push('\n');
    out
}

/// Appends `text` with its control characters escaped (`\n`, `\u{1b}`), and the invisible
/// format characters that reorder or hide text (`\u{202e}`): for text that came from a client
/// and is shown to a human, in a log, a prompt or a terminal.
pub fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else if hides_or_reorders(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
}

/// `text` with control and invisible format characters escaped (see [`push_escaped`]): the
/// one way anything a client chose is shown to a human (logs, prompts, the audit tail).
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

/// The format characters that change how text reads without being seen: bidirectional
/// overrides, embeddings and isolates (U+202A..U+202E, U+2066..U+2069), the direction marks,
/// zero-width characters, the soft hyphen, word joiners and the byte-order mark.
fn hides_or_reorders(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::line("info", format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::line("warn", format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn a_message_cannot_forge_a_line_of_its_own() {
        let forged = "GET /x\n2026-11-27T17:00:00Z apisec-agent[1] info SIGUSR1: forgot 0\u{1b}[2K";
        let line = render("2026-11-27T16:59:59Z", 42, "info", forged);
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with('\n'));
        assert_eq!(
            line,
            "2026-11-27T16:59:59Z apisec-agent[42] info GET /x\\n2026-11-27T17:00:00Z \
             apisec-agent[1] info SIGUSR1: forgot 0\\u{1b}[2K\n"
        );
        // Everything else is written as it is.
        assert_eq!(
            render("T", 1, "warn", "secret \"bg\" (bitget) — ok"),
            "T apisec-agent[1] warn secret \"bg\" (bitget) — ok\n"
        );
    }
}
