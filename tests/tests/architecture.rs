//! The code keeps the shape `docs/architecture.md` gives it: the top-level modules of
//! `agent/src` use only modules of their own or a lower layer (the order is read from the doc, so
//! the two cannot drift apart), no two rooms of one directory use each other (a cycle), the files
//! of `cli/src` form no cycle, no shipped source file is over 500 lines, and the `apisec` CLI
//! links none of the daemon's dependencies.
//!
//! Imports are read from the source text: `use` trees and `crate::`/`super::`/`apisec_agent::`
//! paths anywhere in the code, with comments, strings and `#[cfg(test)]` modules left out. A name
//! used through its parent's re-export (`super::Agent` for `server::state::Agent`) counts as a use
//! of the parent, which is not a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 500;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Test code, which may use anything: `tests.rs`, `*_tests.rs`, and files under a `tests/` dir.
fn is_test_file(relative: &Path) -> bool {
    let name = relative.file_name().unwrap().to_string_lossy();
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || relative.components().any(|c| c.as_os_str() == "tests")
}

/// The files below `dir` whose extension is one of `extensions`, sorted.
fn files_below(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p
                .extension()
                .is_some_and(|e| extensions.iter().any(|x| e == *x))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The module path of a file below `src` (`server/ops/sign.rs` -> `[server, ops, sign]`;
/// `lib.rs` -> `[]`); the binary's files get `main` (its root) and `admin/...`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap();
    match file.as_str() {
        "lib.rs" if parts.is_empty() => {}
        "main.rs" if parts.is_empty() => parts.push("main".into()),
        "mod.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_owned()),
    }
    parts
}

/// The source without comments, string and char literals, and `#[cfg(test)] mod x { ... }`.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'r' && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) {
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push('r');
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            j += 1;
            while j < b.len() && !b[j..].starts_with(&close) {
                j += 1;
            }
            i = j + close.len();
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' {
            // A char literal ('x', '\n', '\u{..}'), or a lifetime ('a), which is kept.
            let end = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..]
                    .iter()
                    .position(|&c| c == b'\'')
                    .map(|p| i + 2 + p)
            } else {
                let len = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + len) == Some(&b'\'')).then_some(i + 1 + len)
            };
            match end {
                Some(e) => {
                    out.push_str("' '");
                    i = e + 1;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            let len = text[i..].chars().next().unwrap().len_utf8();
            out.push_str(&text[i..i + len]);
            i += len;
        }
    }
    strip_test_modules(&out)
}

fn strip_test_modules(code: &str) -> String {
    let mut out = code.to_owned();
    while let Some(at) = out.find("#[cfg(test)]") {
        let rest = &out[at + "#[cfg(test)]".len()..];
        let trimmed = rest.trim_start();
        let skip = rest.len() - trimmed.len();
        let end = if trimmed.starts_with("mod ") {
            match (trimmed.find('{'), trimmed.find(';')) {
                (Some(brace), semi) if semi.is_none_or(|s| brace < s) => {
                    let mut depth = 0;
                    let mut end = brace;
                    for (k, c) in trimmed[brace..].char_indices() {
                        match c {
                            '{' => depth += 1,
                            '}' => {
                                depth -= 1;
                                if depth == 0 {
                                    end = brace + k + 1;
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    end
                }
                (_, Some(semi)) => semi + 1,
                _ => trimmed.len(),
            }
        } else {
            // Another test-only item: up to the end of its line.
            trimmed.find('\n').unwrap_or(trimmed.len())
        };
        let cut_end = at + "#[cfg(test)]".len() + skip + end;
        out.replace_range(at..cut_end, "");
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Colons,
    Open,
    Close,
    Comma,
    Other,
}

fn tokens(code: &str) -> Vec<Token> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Token::Ident(code[start..i].to_owned()));
            continue;
        }
        match c {
            b':' if b.get(i + 1) == Some(&b':') => {
                out.push(Token::Colons);
                i += 2;
                continue;
            }
            b'{' => out.push(Token::Open),
            b'}' => out.push(Token::Close),
            b',' => out.push(Token::Comma),
            c if c.is_ascii_whitespace() => {}
            _ => out.push(Token::Other),
        }
        i += 1;
    }
    out
}

/// Every path that starts at `crate`, `super`, `self` or `apisec_agent`, with `use` groups
/// expanded (`crate::{a, b::c}` gives `crate::a` and `crate::b::c`).
fn paths(tokens: &[Token]) -> Vec<Vec<String>> {
    fn ident(t: Option<&Token>) -> Option<&str> {
        match t {
            Some(Token::Ident(s)) => Some(s),
            _ => None,
        }
    }
    /// Reads `ident (:: ident)* [:: { group }]` from `i`; returns where it ended.
    fn walk(
        tokens: &[Token],
        mut i: usize,
        prefix: Vec<String>,
        out: &mut Vec<Vec<String>>,
    ) -> usize {
        let mut path = prefix;
        loop {
            match tokens.get(i) {
                Some(Token::Ident(s)) => {
                    path.push(s.clone());
                    i += 1;
                }
                Some(Token::Open) => {
                    i += 1;
                    loop {
                        match tokens.get(i) {
                            Some(Token::Close) => return i + 1,
                            Some(Token::Comma) => i += 1,
                            Some(Token::Ident(_)) => i = walk(tokens, i, path.clone(), out),
                            Some(_) => i += 1,
                            None => return i,
                        }
                    }
                }
                _ => break,
            }
            if tokens.get(i) == Some(&Token::Colons) {
                i += 1;
            } else {
                break;
            }
        }
        out.push(path);
        i
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let starts = matches!(
            ident(tokens.get(i)),
            Some("crate" | "super" | "self" | "apisec_agent")
        ) && tokens.get(i + 1) == Some(&Token::Colons)
            && (i == 0 || tokens[i - 1] != Token::Colons);
        if starts {
            i = walk(tokens, i, Vec::new(), &mut out);
        } else {
            i += 1;
        }
    }
    out
}

/// One source tree: its files by module path, and each file's uses, resolved to modules.
struct Tree {
    root: PathBuf,
    files: BTreeMap<Vec<String>, PathBuf>,
    /// Which module each exported macro (`crate::info!`) lives in.
    macros: BTreeMap<String, Vec<String>>,
}

impl Tree {
    fn read(root: &Path) -> Self {
        let mut files = BTreeMap::new();
        let mut macros = BTreeMap::new();
        for path in files_below(root, &["rs"]) {
            let relative = path.strip_prefix(root).unwrap().to_owned();
            if is_test_file(&relative) {
                continue;
            }
            let module = module_of(&relative);
            let text = fs::read_to_string(&path).unwrap();
            for (k, _) in text.match_indices("#[macro_export]") {
                if let Some(name) = text[k..]
                    .split("macro_rules!")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                {
                    macros.insert(name.to_owned(), module.clone());
                }
            }
            files.insert(module, relative);
        }
        Self {
            root: root.to_owned(),
            files,
            macros,
        }
    }

    /// The module a path names: the longest prefix that is a file of this tree.
    fn resolve(&self, from: &[String], path: &[String], in_binary: bool) -> Option<Vec<String>> {
        let (mut base, rest): (Vec<String>, &[String]) = match path.first()?.as_str() {
            "apisec_agent" => (Vec::new(), &path[1..]),
            "crate" if in_binary => match path.get(1).map(String::as_str) {
                Some("admin") => (Vec::new(), &path[1..]),
                _ => (vec!["main".to_owned()], &[]),
            },
            "crate" => (Vec::new(), &path[1..]),
            "self" => (from.to_owned(), &path[1..]),
            "super" => {
                let mut base = from.to_owned();
                let mut k = 0;
                while path.get(k).map(String::as_str) == Some("super") {
                    base.pop();
                    k += 1;
                }
                // `super` in `x.rs` of a directory module `d/` is `d`; from `d/mod.rs` it is
                // the parent of `d`: module paths already say so.
                (base, &path[k..])
            }
            _ => return None,
        };
        if let (Some(name), true) = (rest.first(), rest.len() == 1) {
            if let Some(m) = self.macros.get(name) {
                return Some(m.clone());
            }
        }
        let mut best = base.clone();
        for seg in rest {
            base.push(seg.clone());
            if self.files.contains_key(&base) {
                best = base.clone();
            } else {
                break;
            }
        }
        Some(best)
    }

    /// Every (user, used) pair of modules.
    fn uses(&self) -> Vec<(Vec<String>, Vec<String>)> {
        let mut out = Vec::new();
        for (module, relative) in &self.files {
            let text = fs::read_to_string(self.root.join(relative)).unwrap();
            let in_binary = module.first().is_some_and(|m| m == "main" || m == "admin");
            for path in paths(&tokens(&code_only(&text))) {
                let is_lib_path = path.first().is_some_and(|p| p == "apisec_agent");
                if let Some(target) = self.resolve(module, &path, in_binary && !is_lib_path) {
                    if &target != module {
                        out.push((module.clone(), target));
                    }
                }
            }
        }
        out
    }
}

/// For every directory `d` of the tree: the uses between two different rooms `a`, `b` of `d`
/// (a room is a child module with everything below it), as `a -> b`.
fn room_edges(
    uses: &[(Vec<String>, Vec<String>)],
) -> BTreeMap<Vec<String>, BTreeSet<(String, String)>> {
    let mut levels: BTreeMap<Vec<String>, BTreeSet<(String, String)>> = BTreeMap::new();
    for (from, to) in uses {
        let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
        if let (Some(a), Some(b)) = (from.get(common), to.get(common)) {
            levels
                .entry(from[..common].to_vec())
                .or_default()
                .insert((a.clone(), b.clone()));
        }
    }
    levels
}

/// A cycle among `edges`, as a path that ends where it starts.
fn find_cycle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
    }
    fn visit<'a>(
        n: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(k) = stack.iter().position(|s| *s == n) {
            let mut cycle: Vec<String> = stack[k..].iter().map(|s| s.to_string()).collect();
            cycle.push(n.to_owned());
            return Some(cycle);
        }
        if !done.insert(n) {
            return None;
        }
        stack.push(n);
        for m in next.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, next, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for n in next.keys() {
        if let Some(c) = visit(n, &next, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

/// The layers of `docs/architecture.md`, lowest first: the backquoted names of each numbered
/// line between `<!-- layers -->` and `<!-- /layers -->`.
fn layers() -> Vec<Vec<String>> {
    let doc = fs::read_to_string(workspace().join("docs/architecture.md")).unwrap();
    let start = doc
        .find("<!-- layers -->")
        .expect("docs/architecture.md marks its layers");
    let end = doc.find("<!-- /layers -->").expect("the layers end");
    doc[start..end]
        .lines()
        .filter(|l| {
            l.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
        .map(|l| l.split('`').skip(1).step_by(2).map(str::to_owned).collect())
        .collect()
}

fn cycles_report(tree: &Tree) -> Vec<String> {
    room_edges(&tree.uses())
        .iter()
        .filter_map(|(dir, edges)| {
            let root = tree.root.strip_prefix(workspace()).unwrap_or(&tree.root);
            let room = std::iter::once(root.display().to_string())
                .chain(dir.iter().cloned())
                .collect::<Vec<_>>()
                .join("/");
            find_cycle(edges).map(|c| format!("in {room}: {}", c.join(" -> ")))
        })
        .collect()
}

#[test]
fn the_layers_of_the_doc_are_the_layers_of_the_code() {
    let tree = Tree::read(&workspace().join("agent/src"));
    let layers = layers();
    let layer_of: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, names)| names.iter().map(move |n| (n.as_str(), i)))
        .collect();
    let top: BTreeSet<&str> = tree
        .files
        .keys()
        .filter_map(|m| m.first().map(String::as_str))
        .collect();
    let unlisted: Vec<&&str> = top.iter().filter(|m| !layer_of.contains_key(**m)).collect();
    assert!(
        unlisted.is_empty(),
        "modules docs/architecture.md does not place in a layer: {unlisted:?}"
    );
    let missing: Vec<&&str> = layer_of.keys().filter(|m| !top.contains(**m)).collect();
    assert!(
        missing.is_empty(),
        "docs/architecture.md names modules that do not exist: {missing:?}"
    );
    let wrong: Vec<String> = room_edges(&tree.uses())
        .get(&Vec::new())
        .into_iter()
        .flatten()
        .filter(|(a, b)| layer_of[a.as_str()] < layer_of[b.as_str()])
        .map(|(a, b)| {
            format!(
                "{a} (layer {}) uses {b} (layer {})",
                layer_of[a.as_str()] + 1,
                layer_of[b.as_str()] + 1
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "uses against the layer order of docs/architecture.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_room_uses_a_room_that_uses_it() {
    let mut report = cycles_report(&Tree::read(&workspace().join("agent/src")));
    report.extend(cycles_report(&Tree::read(&workspace().join("cli/src"))));
    assert!(report.is_empty(), "import cycles:\n{}", report.join("\n"));
}

#[test]
fn no_shipped_source_file_is_over_500_lines() {
    let ws = workspace();
    let mut long = Vec::new();
    for dir in ["agent/src", "cli/src", "clients/python/src"] {
        let files = files_below(&ws.join(dir), &["rs", "py"]);
        for f in files {
            let relative = f.strip_prefix(ws.join(dir)).unwrap();
            let n = fs::read_to_string(&f).unwrap().lines().count();
            if !is_test_file(relative) && n > MAX_LINES {
                long.push(format!(
                    "{} ({n} lines)",
                    f.strip_prefix(&ws).unwrap().display()
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "shipped files over {MAX_LINES} lines: {long:?}"
    );
}

/// The CLI links the client side of the protocol only: no token, envelope or daemon crates.
#[test]
fn the_cli_links_none_of_the_daemon() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "apisec-cli",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .expect("cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: BTreeSet<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains("apisec-agent"), "{tree}");
    for daemon_only in [
        "cryptoki",
        "yubikey",
        "pcsc",
        "age",
        "tokio",
        "hmac",
        "ssh-agent-lib",
        "toml",
    ] {
        assert!(
            !crates.contains(daemon_only),
            "apisec links {daemon_only}:\n{tree}"
        );
    }
}

/// The reader itself: a cycle and a layer breach it must see, in a tree made for the test.
#[test]
fn the_reader_sees_cycles_and_uses() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    fs::create_dir_all(src.join("admin")).unwrap();
    fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    fs::write(
        src.join("a.rs"),
        "// crate::b::x in a comment\nuse crate::{b::{self, Y}, c};\nfn f() { let s = \"crate::zz\"; }\n",
    )
    .unwrap();
    fs::write(
        src.join("b.rs"),
        "pub fn g() { crate::a::f(); }\n#[cfg(test)]\nmod tests { use crate::c; }\n",
    )
    .unwrap();
    fs::write(src.join("c.rs"), "fn h(x: &'static str) -> char { 'a' }\n").unwrap();
    fs::write(src.join("main.rs"), "mod admin;\n").unwrap();
    fs::write(src.join("admin/mod.rs"), "pub mod add;\npub mod keygen;\n").unwrap();
    fs::write(
        src.join("admin/add.rs"),
        "use super::keygen::parse;\nuse apisec_agent::a;\n",
    )
    .unwrap();
    fs::write(src.join("admin/keygen.rs"), "use super::add::check;\n").unwrap();
    let tree = Tree::read(src);
    let uses: BTreeSet<(String, String)> = tree
        .uses()
        .into_iter()
        .map(|(a, b)| (a.join("/"), b.join("/")))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("a", "b"),
        ("a", "c"),
        ("b", "a"),
        ("admin/add", "admin/keygen"),
        ("admin/add", "a"),
        ("admin/keygen", "admin/add"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(uses, expected);
    let report = cycles_report(&tree);
    assert_eq!(report.len(), 2, "{report:?}");
    assert!(
        report.iter().any(|r| r.ends_with(": a -> b -> a")),
        "{report:?}"
    );
    assert!(
        report
            .iter()
            .any(|r| r.ends_with("admin: add -> keygen -> add")),
        "{report:?}"
    );
}
