//! A Tab pressed in a real bash: the completion script a binary printed, sourced, and the
//! function bash registered for the binary called as bash's readline calls it.

use std::path::Path;
use std::process::Command;

use crate::process::{assert_ok, stdout};

/// bash's side of one Tab: sources the script, asks bash (`complete -p`) which function it
/// registered for the command, sets `COMP_WORDS`/`COMP_CWORD` (the last word is the one being
/// completed, "" for a fresh one) and prints `COMPREPLY`, one candidate per line.
const TAB: &str = r#"
source "$1" || exit 90
shift
f=$(complete -p "$1" | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
[ -n "$f" ] || { echo "no completion registered for $1" >&2; exit 91; }
COMP_WORDS=("$@")
COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
COMP_TYPE=9
cur="${COMP_WORDS[COMP_CWORD]}"
prev="${COMP_WORDS[COMP_CWORD-1]}"
"$f" "$1" "$cur" "$prev"
printf '%s\n' "${COMPREPLY[@]}"
"#;

/// The candidates bash offers for the last of `words` (`words[0]` is the command), with
/// `bash` (a `Command` for `bash` carrying the environment and `PATH` the binary is found by).
pub fn bash_tab(mut bash: Command, script: &Path, words: &[&str]) -> Vec<String> {
    let out = bash
        .arg("-c")
        .arg(TAB)
        .arg("tab")
        .arg(script)
        .args(words)
        .output()
        .expect("bash");
    assert_ok(&out, &format!("Tab after {words:?}"));
    assert!(
        out.stderr.is_empty(),
        "a Tab printed errors: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}
