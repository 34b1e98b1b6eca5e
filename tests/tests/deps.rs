//! `scripts/deps.txt`, the one list of what the tests need, is complete and true: every program
//! the tests start (from Rust `Command::new`, the scripts, shell snippets and the Python tests)
//! is on it, and each program or file on it belongs to the Debian package it names (or to one
//! that package depends on), as `dpkg -S` tells. A test that starts a new program without a line
//! there fails here, before it fails on a fresh machine.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

#[derive(Debug)]
struct Entry {
    kind: String,
    package: String,
    provides: Vec<String>,
}

fn table() -> Vec<Entry> {
    let text = fs::read_to_string(workspace().join("scripts/deps.txt")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut w = l.split_whitespace();
            let kind = w.next().unwrap().to_owned();
            let package = w.next().expect("a package").to_owned();
            let _tags = w.next().expect("tags (or -)");
            Entry {
                kind,
                package,
                provides: w.map(str::to_owned).collect(),
            }
        })
        .collect()
}

fn files(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            if !["target", "__pycache__", ".git", "node_modules"].contains(&name.as_str()) {
                files(&p, keep, out);
            }
        } else if keep(&p) {
            out.push(p);
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Sh {
    /// A word; `literal` is false when it holds an expansion (`$x`, `$(...)`).
    Word { text: String, literal: bool },
    /// `|`, `||`, `&&`, `;`, `;;`, `&`, `(`, `)`, a newline: a command may start after it.
    Op(&'static str),
    /// `>`, `>>`, `<`, `2>&1`, ...: the word after it (if not attached) is a file.
    Redirect { attached: bool },
}

/// Splits shell text into words and operators, quotes respected; the commands inside `$(...)`
/// and backquotes (also within double quotes) are collected into `inner`.
fn shell_lex(text: &str, inner: &mut Vec<String>) -> Vec<Sh> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut word = String::new();
    let mut literal = true;
    let mut in_word = false;
    // Reads a `$( ... )` starting after `$(`, balancing parentheses and quotes; returns the end.
    fn until_close(c: &[char], mut i: usize) -> usize {
        let mut depth = 1;
        let mut quote: Option<char> = None;
        while i < c.len() {
            match (quote, c[i]) {
                (None, '\'' | '"') => quote = Some(c[i]),
                (Some(q), ch) if ch == q => quote = None,
                (None, '(') => depth += 1,
                (None, ')') => {
                    depth -= 1;
                    if depth == 0 {
                        return i;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        i
    }
    // After an attached redirect (`>/dev/null`) the word being read is its file.
    let mut discard = false;
    macro_rules! flush {
        () => {
            if in_word {
                let text = std::mem::take(&mut word);
                if !std::mem::take(&mut discard) {
                    out.push(Sh::Word { text, literal });
                }
                literal = true;
                in_word = false;
            }
        };
    }
    while i < c.len() {
        let ch = c[i];
        match ch {
            '\'' => {
                in_word = true;
                let end = c[i + 1..]
                    .iter()
                    .position(|&x| x == '\'')
                    .map_or(c.len(), |p| i + 1 + p);
                word.extend(&c[i + 1..end.min(c.len())]);
                i = end + 1;
                continue;
            }
            '"' => {
                in_word = true;
                let mut k = i + 1;
                while k < c.len() && c[k] != '"' {
                    if c[k] == '\\' {
                        k += 1;
                    } else if c[k] == '$'
                        && c.get(k + 1) == Some(&'(')
                        && c.get(k + 2) != Some(&'(')
                    {
                        let end = until_close(&c, k + 2);
                        inner.push(c[k + 2..end.min(c.len())].iter().collect());
                        literal = false;
                        k = end;
                    } else if c[k] == '$' || c[k] == '`' {
                        literal = false;
                    } else {
                        word.push(c[k]);
                    }
                    k += 1;
                }
                i = k + 1;
                continue;
            }
            '\\' => {
                in_word = true;
                if let Some(&n) = c.get(i + 1) {
                    if n != '\n' {
                        word.push(n);
                    }
                }
                i += 2;
                continue;
            }
            '$' if c.get(i + 1) == Some(&'(') => {
                in_word = true;
                literal = false;
                if c.get(i + 2) == Some(&'(') {
                    // Arithmetic: no commands.
                    let end = until_close(&c, i + 3);
                    i = end + 2;
                } else {
                    let end = until_close(&c, i + 2);
                    inner.push(c[i + 2..end.min(c.len())].iter().collect());
                    i = end + 1;
                }
                continue;
            }
            '`' => {
                in_word = true;
                literal = false;
                let end = c[i + 1..]
                    .iter()
                    .position(|&x| x == '`')
                    .map_or(c.len(), |p| i + 1 + p);
                inner.push(c[i + 1..end.min(c.len())].iter().collect());
                i = end + 1;
                continue;
            }
            '$' => {
                in_word = true;
                literal = false;
                word.push('$');
                i += 1;
                continue;
            }
            ' ' | '\t' => {
                flush!();
                i += 1;
                continue;
            }
            '>' | '<' => {
                // `2>` with the digit already in the word.
                if word.chars().all(|d| d.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                flush!();
                let mut k = i + 1;
                while k < c.len() && matches!(c[k], '>' | '<' | '&' | '|') {
                    k += 1;
                }
                let attached = k < c.len() && !c[k].is_whitespace();
                if attached && c[k].is_ascii_digit() {
                    k += 1;
                    out.push(Sh::Redirect { attached: false });
                    out.push(Sh::Op(""));
                    i = k;
                    continue;
                }
                out.push(Sh::Redirect { attached });
                discard = attached;
                i = k;
                continue;
            }
            '(' if c.get(i + 1) == Some(&'(') && !in_word => {
                // `(( ... ))`: arithmetic.
                let end = until_close(&c, i + 2);
                i = end + 2;
                continue;
            }
            '|' | '&' | ';' | '(' | ')' | '\n' => {
                flush!();
                let two: String = c[i..(i + 2).min(c.len())].iter().collect();
                let op: &'static str = match two.as_str() {
                    "||" => "||",
                    "&&" => "&&",
                    ";;" => ";;",
                    _ => match ch {
                        '|' => "|",
                        '&' => "&",
                        ';' => ";",
                        '(' => "(",
                        ')' => ")",
                        _ => "\n",
                    },
                };
                out.push(Sh::Op(op));
                i += op.len().max(1);
                continue;
            }
            _ => {
                in_word = true;
                word.push(ch);
                i += 1;
            }
        }
    }
    if in_word && !discard {
        out.push(Sh::Word {
            text: word,
            literal,
        });
    }
    out
}

/// Shell keywords after which a command still starts.
const SHELL_KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "while", "until", "do", "done", "function", "time", "!",
    "{", "}",
];

/// Shell builtins: commands, but not programs.
const SHELL_BUILTINS: &[&str] = &[
    "echo", "printf", "cd", "export", "local", "set", "trap", "exit", "return", "wait", "kill",
    "read", "test", "[", "true", "false", "shift", "unset", "eval", ":", ".", "source", "type",
    "declare", "readonly", "let", "break", "continue", "getopts", "hash", "pwd", "umask", "ulimit",
    "mapfile",
];

/// The programs a shell script starts: the first word of each simple command, with
/// assignments, keywords, builtins, functions the script defines and `$variable` commands left
/// out, `command -v X` counted as X, and the commands of `$(...)` read too.
fn shell_programs(script: &str) -> BTreeSet<String> {
    shell_programs_with(script, &mut BTreeSet::new())
}

/// An empty word, or a `format!` placeholder (`{apisec}`) standing for a path the test fills in.
fn is_placeholder(word: &str) -> bool {
    word.is_empty() || (word.starts_with('{') && word.ends_with('}'))
}

/// Wrappers whose argument (after their options) is the program they run.
const WRAPPERS: &[&str] = &[
    "stdbuf", "timeout", "env", "sudo", "nohup", "setsid", "exec",
];

fn shell_programs_with(script: &str, functions: &mut BTreeSet<String>) -> BTreeSet<String> {
    // Here-documents are data, and a `#` at the start of a word starts a comment.
    let mut text = String::new();
    let mut heredoc: Option<String> = None;
    for line in script.lines() {
        if let Some(end) = &heredoc {
            if line.trim() == end {
                heredoc = None;
            }
            continue;
        }
        if let Some(at) = line.find("<<") {
            let word: String = line[at + 2..]
                .trim_start_matches('-')
                .trim()
                .trim_matches(|c| c == '\'' || c == '"')
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !word.is_empty() {
                heredoc = Some(word);
            }
        }
        let mut prev = ' ';
        let mut quote: Option<char> = None;
        for ch in line.chars() {
            match (quote, ch) {
                (None, '#') if prev.is_whitespace() => break,
                (None, '\'' | '"') => quote = Some(ch),
                (Some(q), ch) if ch == q => quote = None,
                _ => {}
            }
            text.push(ch);
            prev = ch;
        }
        text.push('\n');
    }
    let mut inner = Vec::new();
    let tokens = shell_lex(&text, &mut inner);
    let mut out = BTreeSet::new();
    // Function definitions first: `name() {`.
    for w in tokens.windows(3) {
        if let [Sh::Word { text, .. }, Sh::Op("("), Sh::Op(")")] = w {
            functions.insert(text.clone());
        }
    }
    let mut at_start = true;
    let mut case_patterns = false;
    let mut skip_to_separator = false;
    let mut in_test = false;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Sh::Op(op) => {
                if matches!(*op, "\n" | ";") {
                    skip_to_separator = false;
                }
                if *op == ";;" {
                    case_patterns = true;
                }
                at_start = true;
            }
            Sh::Redirect { attached } => {
                if !attached {
                    i += 1;
                }
            }
            Sh::Word { text, literal } => {
                if text == "[[" {
                    in_test = true;
                } else if text == "]]" {
                    in_test = false;
                } else if skip_to_separator || in_test || !at_start {
                } else if case_patterns && matches!(tokens.get(i + 1), Some(Sh::Op(")"))) {
                    i += 1;
                } else if text == "esac" {
                    case_patterns = false;
                } else if text == "case" {
                    case_patterns = true;
                    skip_to_separator = true;
                } else if text == "for" || text == "select" {
                    skip_to_separator = true;
                } else if text.ends_with('=') && matches!(tokens.get(i + 1), Some(Sh::Op("("))) {
                    // An array assignment: its words are data.
                    while i < tokens.len() && tokens[i] != Sh::Op(")") {
                        i += 1;
                    }
                } else if SHELL_KEYWORDS.contains(&text.as_str())
                    || (text.contains('=') && !text.starts_with('='))
                {
                    // Still at the start: the command follows.
                } else if WRAPPERS.contains(&text.as_str()) {
                    if text != "exec" {
                        out.insert(text.clone());
                    }
                    // The program follows the wrapper's options (and timeout's duration).
                    while let Some(Sh::Word { text: next, .. }) = tokens.get(i + 1) {
                        let is_option = next.starts_with('-')
                            || (text == "timeout"
                                && next.chars().next().is_some_and(|c| c.is_ascii_digit()))
                            || (text == "env" && next.contains('='));
                        if !is_option {
                            break;
                        }
                        i += 1;
                    }
                } else if SHELL_BUILTINS.contains(&text.as_str()) {
                    at_start = false;
                } else {
                    at_start = false;
                    if text == "command" {
                        if let (
                            Some(Sh::Word { text: flag, .. }),
                            Some(Sh::Word {
                                text: p,
                                literal: true,
                            }),
                        ) = (tokens.get(i + 1), tokens.get(i + 2))
                        {
                            if flag == "-v" {
                                out.insert(p.clone());
                            }
                        }
                    } else if *literal
                        && !is_placeholder(text)
                        && !functions.contains(text)
                        && !matches!(tokens.get(i + 1), Some(Sh::Op("(")))
                    {
                        out.insert(text.clone());
                    }
                }
            }
        }
        i += 1;
    }
    for script in inner {
        out.extend(shell_programs_with(&script, functions));
    }
    out
}

/// Rust string literals, unescaped (normal) or as they are (raw), in order.
fn rust_literals(code: &str) -> Vec<(usize, String)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'r'
            && matches!(b.get(i + 1), Some(b'"' | b'#'))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let start = j + 1;
            let mut k = start;
            while k < b.len() && !b[k..].starts_with(&close) {
                k += 1;
            }
            out.push((i, code[start..k].to_owned()));
            i = k + close.len();
        } else if b[i] == b'"' {
            let mut s = String::new();
            let mut k = i + 1;
            while k < b.len() && b[k] != b'"' {
                if b[k] == b'\\' {
                    match b.get(k + 1) {
                        Some(b'n') => s.push('\n'),
                        Some(b't') => s.push('\t'),
                        Some(b'\n') => {
                            // A continuation: the newline and the next line's indent go.
                            k += 2;
                            while k < b.len() && b[k].is_ascii_whitespace() {
                                k += 1;
                            }
                            continue;
                        }
                        Some(&c) => s.push(c as char),
                        None => {}
                    }
                    k += 2;
                } else {
                    let len = code[k..].chars().next().unwrap().len_utf8();
                    s.push_str(&code[k..k + len]);
                    k += len;
                }
            }
            out.push((i, s));
            i = k + 1;
        } else if b[i] == b'\'' {
            // A char literal or a lifetime: skip a quoted char so that '"' is not a string.
            if b.get(i + 2) == Some(&b'\'') {
                i += 3;
            } else if b.get(i + 1) == Some(&b'\\') {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The programs Rust test code starts: `Command::new("X")`, `command("X")`, `#!` scripts and
/// `sh -c` scripts written as literals (or bound to a name first).
fn rust_programs(code: &str) -> BTreeSet<String> {
    let literals = rust_literals(code);
    let mut out = BTreeSet::new();
    for (k, (at, lit)) in literals.iter().enumerate() {
        let before = code[..*at].trim_end();
        if before.ends_with("Command::new(") || before.ends_with("command(") {
            out.insert(lit.clone());
        }
        if let Some(rest) = lit.strip_prefix("#!") {
            let interpreter = rest.lines().next().unwrap_or("");
            let mut words = interpreter.split_whitespace();
            match words.next() {
                Some("/usr/bin/env") => out.extend(words.next().map(str::to_owned)),
                Some(p) => {
                    out.insert(p.to_owned());
                }
                None => {}
            }
            out.extend(shell_programs(rest));
        }
        if lit == "-c" {
            // The script: the next literal, or the literal bound to the name that follows.
            let after = code[at + 4..].trim_start_matches(|c: char| {
                c.is_whitespace() || c == ',' || c == ')' || c == '&'
            });
            let after = after
                .strip_prefix(".arg(")
                .unwrap_or(after)
                .trim_start_matches('&');
            let script = if after.starts_with('"') || after.starts_with("format!(") {
                literals.get(k + 1).map(|(_, s)| s.clone())
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                code.find(&format!("let {name} = ")).and_then(|def| {
                    literals
                        .iter()
                        .find(|(a, _)| *a > def)
                        .map(|(_, s)| s.clone())
                })
            };
            out.extend(script.iter().flat_map(|s| shell_programs(s)));
        }
    }
    out
}

/// The programs Python test code starts: `subprocess.*(["X", ...` and `shutil.which("X")`.
fn python_programs(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for pattern in ["([\"", "which(\""] {
        for (at, _) in code.match_indices(pattern) {
            let before = &code[..at];
            let call = before
                .rsplit(|c: char| !(c.is_alphanumeric() || c == '.' || c == '_'))
                .next()
                .unwrap_or("");
            let relevant = pattern.starts_with("which") || call.starts_with("subprocess.");
            if relevant {
                let rest = &code[at + pattern.len()..];
                if let Some(end) = rest.find('"') {
                    out.insert(rest[..end].to_owned());
                }
            }
        }
    }
    out
}

/// Every program the tests start, with where it was found.
fn programs_started() -> BTreeMap<String, String> {
    let ws = workspace();
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |set: BTreeSet<String>, file: &Path| {
        for p in set {
            found
                .entry(p)
                .or_insert_with(|| file.strip_prefix(&ws).unwrap().display().to_string());
        }
    };
    let mut rust = Vec::new();
    files(
        &ws.join("tests"),
        &|p| p.extension().is_some_and(|e| e == "rs"),
        &mut rust,
    );
    files(
        &ws.join("agent/src"),
        &|p| p.extension().is_some_and(|e| e == "rs"),
        &mut rust,
    );
    // This file's own literals are the readers' test data.
    rust.retain(|f| !f.ends_with("tests/tests/deps.rs"));
    for f in rust {
        add(rust_programs(&fs::read_to_string(&f).unwrap()), &f);
    }
    // The approvers the tests and the demo run (zenity-confirm is for desktops only).
    let mut shell = vec![
        ws.join(".ci/run"),
        ws.join("contrib/approvers/demo-approve"),
    ];
    for dir in ["scripts", "tests/vcard/scripts"] {
        files(
            &ws.join(dir),
            &|p| {
                fs::read_to_string(p)
                    .is_ok_and(|t| t.starts_with("#!") && !t.starts_with("#!/usr/bin/env python"))
            },
            &mut shell,
        );
    }
    for f in shell {
        add(shell_programs(&fs::read_to_string(&f).unwrap()), &f);
    }
    let mut python = Vec::new();
    for dir in ["clients/python", "examples"] {
        files(
            &ws.join(dir),
            &|p| p.extension().is_some_and(|e| e == "py"),
            &mut python,
        );
    }
    for f in python {
        add(python_programs(&fs::read_to_string(&f).unwrap()), &f);
    }
    found
}

/// Programs the project builds itself, and what runs them (not packages).
fn own(program: &str) -> bool {
    program.starts_with("apisec")
        || program.ends_with(".sh")
        || program.starts_with("scripts/")
        || program.starts_with("tests/")
        || program == "cargo"
}

#[test]
fn every_program_the_tests_start_is_on_the_list() {
    let provided: BTreeSet<String> = table().iter().flat_map(|e| e.provides.clone()).collect();
    let found = programs_started();
    for expected in [
        "softhsm2-util",
        "setpriv",
        "ssh-add",
        "sh",
        "stdbuf",
        "/usr/sbin/pcscd",
        "python3",
    ] {
        assert!(
            found.contains_key(expected),
            "the reader misses {expected}: {found:?}"
        );
    }
    let missing: Vec<String> = found
        .iter()
        .filter(|(p, _)| !own(p) && !provided.contains(*p))
        .filter(|(p, _)| {
            // A program named by path is listed by that path, or by its file name.
            let name = Path::new(p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            !name.is_some_and(|n| provided.contains(&n))
        })
        .map(|(p, f)| format!("{p} (started in {f})"))
        .collect();
    assert!(
        missing.is_empty(),
        "programs the tests start that scripts/deps.txt does not list: {missing:?}"
    );
}

/// The package a path belongs to, as `dpkg -S` names it (also under its pre-usrmerge path).
fn owner(path: &Path) -> Option<String> {
    let mut candidates = vec![path.to_owned()];
    if let Ok(real) = fs::canonicalize(path) {
        candidates.push(real);
    }
    for c in candidates.clone() {
        let s = c.display().to_string();
        for (merged, old) in [
            ("/usr/bin/", "/bin/"),
            ("/usr/sbin/", "/sbin/"),
            ("/usr/lib/", "/lib/"),
        ] {
            if let Some(rest) = s.strip_prefix(merged) {
                candidates.push(PathBuf::from(format!("{old}{rest}")));
            }
        }
    }
    candidates.iter().find_map(|c| {
        let out = Command::new("dpkg").arg("-S").arg(c).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .filter(|l| !l.starts_with("diversion by"))
            .find(|l| l.ends_with(&format!(": {}", c.display())))?;
        Some(line.split(':').next()?.to_owned())
    })
}

/// The packages `package` depends on, to any depth (`direct` remembers each package's own).
fn depends(package: &str, direct: &mut BTreeMap<String, Vec<String>>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![package.to_owned()];
    while let Some(p) = todo.pop() {
        if !seen.insert(p.clone()) {
            continue;
        }
        let deps = direct.entry(p.clone()).or_insert_with(|| {
            let out = Command::new("dpkg-query")
                .args(["-W", "-f=${Depends},${Pre-Depends}", &p])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout)
                .split([',', '|'])
                .filter_map(|dep| dep.split_whitespace().next())
                .filter_map(|name| name.split(':').next())
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect()
        });
        todo.extend(deps.iter().cloned());
    }
    seen
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[test]
fn each_listed_program_and_file_comes_from_its_package() {
    let mut wrong = Vec::new();
    let mut direct = BTreeMap::new();
    for entry in table() {
        for item in &entry.provides {
            let path = if item.starts_with('/') {
                Some(PathBuf::from(item))
            } else if entry.kind == "cargo" {
                Some(apisec_tests::stock::tools_dir().join("bin").join(item))
            } else {
                which(item)
            };
            let Some(path) = path.filter(|p| p.exists()) else {
                if entry.kind == "optional" {
                    continue;
                }
                wrong.push(format!(
                    "{item} ({} {}): not on this machine",
                    entry.kind, entry.package
                ));
                continue;
            };
            match entry.kind.as_str() {
                "machine" | "optional" => {}
                // Built by scripts/deps.sh: the pinned version is the one there.
                "cargo" => {
                    let version = entry.package.split_once('@').map_or("", |(_, v)| v);
                    let out = Command::new(&path).arg("--version").output().unwrap();
                    let said = String::from_utf8_lossy(&out.stdout).into_owned();
                    if version.is_empty() || !said.contains(&format!(" {version}")) {
                        wrong.push(format!(
                            "{item} ({}): {} says {said:?}",
                            entry.package,
                            path.display()
                        ));
                    }
                }
                "debian" => match owner(&path) {
                    Some(pkg) if depends(&entry.package, &mut direct).contains(&pkg) => {}
                    other => wrong.push(format!(
                        "{item} is {}, which belongs to {other:?}, not to {} or what it depends on",
                        path.display(),
                        entry.package
                    )),
                },
                kind => wrong.push(format!("{}: unknown kind {kind}", entry.package)),
            }
        }
    }
    assert!(wrong.is_empty(), "scripts/deps.txt:\n{}", wrong.join("\n"));
}

#[test]
fn the_readers_find_what_scripts_start() {
    let script = "#!/bin/sh\n# a comment: rm -rf\nset -e\nx=$(mktemp) && cat \"$x\" | tee y >/dev/null\n\
                  case \"$m\" in\n  approve) exit 0 ;;\n  hang) sleep 600 & wait ;;\nesac\n\
                  f() { echo; }\nf\nVAR=1 softhsm2-util --show-slots\ncommand -v pcscd\n\
                  cat <<'EOF'\nnot-a-program here\nEOF\nfor p in a b c; do grep x \"$p\"; done\n\"$bin/apisec\" status\n\
                  echo \"a; b\" 2>&1 >/dev/null\nn=$(( 1 + 2 ))\n[[ -n $n && -z x ]] && echo \"$(seq 3)\"\n";
    let got = shell_programs(script);
    let want: BTreeSet<String> = [
        "mktemp",
        "cat",
        "tee",
        "sleep",
        "softhsm2-util",
        "pcscd",
        "grep",
        "seq",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(got, want);
    let rust = r##"
        let a = Command::new("ssh-keygen");
        env.command("sh").arg("-c").arg(format!("LISTEN_PID=1 exec \"$0\" run"));
        let script = format!("echo x > {m}; dd if=/dev/zero of={m}");
        run(&["sh", "-c", &script]);
        std::fs::write(&p, "#!/bin/sh\necho $1 >> log\nprintf x | od -An\n");
    "##;
    let got = rust_programs(rust);
    let want: BTreeSet<String> = ["ssh-keygen", "sh", "/bin/sh", "dd", "od"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(got, want);
    let py = "out = subprocess.run([\"softhsm2-util\", \"--init-token\"])\nshutil.which(\"pkcs11-tool\")\nx = f([\"not\"])\n";
    let want: BTreeSet<String> = ["softhsm2-util", "pkcs11-tool"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(python_programs(py), want);
}
