//! Replays the fuzz corpus and every regression input (`fuzz/corpus/TARGET/`,
//! `fuzz/regressions/TARGET/`) through the matching `apisec_agent::fuzzing` entry point, so that a
//! parser panic found once by `cargo fuzz` stays fixed without nightly or cargo-fuzz
//! (docs/fuzzing.md).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use apisec_agent::fuzzing;

/// A fuzzing entry point.
type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("frame", fuzzing::frame),
    ("extension", fuzzing::extension),
    ("store_entry", fuzzing::store_entry),
    ("config", fuzzing::config),
    ("policy", fuzzing::policy),
    ("audit", fuzzing::audit),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files directly under `dir` (sorted), none if it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input through `run`; returns how many ran, and fails naming each input that panicked.
fn replay(kind: &str, target: &str, run: Target) -> usize {
    let files = inputs(&fuzz_dir().join(kind).join(target));
    let mut panicked = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
            panicked.push(file.display().to_string());
        }
    }
    assert!(
        panicked.is_empty(),
        "fuzzing::{target} panicked on: {panicked:#?}"
    );
    files.len()
}

#[test]
fn every_target_has_a_corpus_and_none_of_it_panics() {
    for (target, run) in TARGETS {
        let n = replay("corpus", target, *run);
        assert!(
            n > 0,
            "fuzz/corpus/{target}/ is missing or empty: the replay would test nothing"
        );
    }
}

#[test]
fn regression_inputs_do_not_panic() {
    // Every regressions/ subdirectory must be a known target (a typo would silently skip inputs).
    let known: Vec<&str> = TARGETS.iter().map(|(t, _)| *t).collect();
    if let Ok(dirs) = std::fs::read_dir(fuzz_dir().join("regressions")) {
        for dir in dirs {
            let name = dir.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                known.contains(&name.as_str()),
                "fuzz/regressions/{name}/ is not a fuzz target"
            );
        }
    }
    let total: usize = TARGETS
        .iter()
        .map(|(target, run)| replay("regressions", target, *run))
        .sum();
    assert!(total > 0, "fuzz/regressions/ holds no input");
}

/// The seeds reach past the first error: the agent's real log verifies, real entries and configs
/// parse. Without this, a corpus of garbage would pass the replay above and fuzz nothing deep.
#[test]
fn seed_inputs_are_accepted_by_the_parsers() {
    let corpus = fuzz_dir().join("corpus");
    let log = std::fs::read_to_string(corpus.join("audit/valid-agent-log.jsonl")).unwrap();
    assert!(apisec_agent::audit::verify(&log).unwrap() > 0);
    for entry in ["bitget-main.toml", "binance-main-policy.toml"] {
        let text = std::fs::read_to_string(corpus.join("store_entry").join(entry)).unwrap();
        apisec_agent::store::EntryFile::parse(&text).unwrap_or_else(|e| panic!("{entry}: {e}"));
    }
    for config in ["init-softhsm.toml", "piv-full.toml"] {
        let text = std::fs::read_to_string(corpus.join("config").join(config)).unwrap();
        apisec_agent::config::ConfigFile::parse(&text)
            .unwrap_or_else(|e| panic!("{config}: {e}"))
            .validate(Path::new(config))
            .unwrap_or_else(|e| panic!("{config}: {e}"));
    }
    for policy in [
        "docs-full.toml",
        "okx-step-up.toml",
        "kucoin-per-client.toml",
    ] {
        let text = std::fs::read_to_string(corpus.join("policy").join(policy)).unwrap();
        apisec_agent::policy::file::parse(&text).unwrap_or_else(|e| panic!("{policy}: {e}"));
    }
}
