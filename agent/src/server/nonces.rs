//! Nonces that only go up, per secret, even across an agent restart and a clock that steps back.
//!
//! Kraken (and Bitfinex) reject a nonce not larger than the last one they saw for the key. The
//! agent uses microseconds of its clock, bumped past the last nonce it issued; it persists a high
//! water mark a few seconds ahead of what it issues, so a restart resumes above every nonce it
//! may have used, at the cost of one small atomic write every few seconds of signing, not one per
//! request.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::store::atomic;

/// How far ahead of the issued nonces the persisted mark runs (10 s of microseconds).
const RESERVE: u64 = 10_000_000;

struct Counter {
    last: u64,
    reserved: u64,
}

pub struct NonceStore {
    dir: PathBuf,
    /// One lock per secret: recording one secret's mark (an fsync, a few ms on a slow disk)
    /// holds up that secret's signatures only.
    counters: Mutex<HashMap<String, Arc<Mutex<Counter>>>>,
}

impl NonceStore {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            counters: Mutex::new(HashMap::new()),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.nonce"))
    }

    /// The high-water mark recorded for `name`: 0 when none was ever recorded. A mark that
    /// exists but cannot be read is an error, not 0: starting again from 0 could issue a nonce
    /// the exchange has already seen.
    fn persisted(&self, name: &str) -> Result<u64, String> {
        let path = self.path(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<u64>().map_err(|_| {
                format!(
                    "the nonce mark {} is damaged; restore it from a backup, or remove it to \
                     continue from the current clock (safe unless the clock was set back)",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(format!(
                "cannot read the nonce mark {}: {e}",
                path.display()
            )),
        }
    }

    /// The next nonce for secret `name`: larger than every nonce issued before for it.
    pub fn next(&self, name: &str, now_us: u64) -> Result<u64, String> {
        let counter = {
            let mut map = self.counters.lock().expect("nonce map poisoned");
            match map.get(name) {
                Some(c) => Arc::clone(c),
                None => {
                    let persisted = self.persisted(name)?;
                    let c = Arc::new(Mutex::new(Counter {
                        last: persisted,
                        reserved: persisted,
                    }));
                    map.insert(name.to_owned(), Arc::clone(&c));
                    c
                }
            }
        };
        let mut c = counter.lock().expect("nonce counter poisoned");
        let next = now_us.max(c.last + 1);
        if next >= c.reserved {
            let mark = next + RESERVE;
            std::fs::create_dir_all(&self.dir)
                .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
            atomic::write(
                &self.path(name),
                mark.to_string().as_bytes(),
                atomic::Mode::Replace,
            )
            .map_err(|e| format!("cannot record the nonce for {name}: {e}"))?;
            c.reserved = mark;
        }
        c.last = next;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_increasing_across_restart_and_clock_steps() {
        let dir = tempfile::tempdir().unwrap();
        let a = NonceStore::new(dir.path().to_owned());
        let n1 = a.next("k", 1_000).unwrap();
        let n2 = a.next("k", 1_000).unwrap();
        let n3 = a.next("k", 500).unwrap(); // the clock stepped back
        assert!(n1 < n2 && n2 < n3, "{n1} {n2} {n3}");
        drop(a);
        // A restarted agent, same clock reading: still above everything issued.
        let b = NonceStore::new(dir.path().to_owned());
        let n4 = b.next("k", 1_000).unwrap();
        assert!(n4 > n3, "{n4} <= {n3}");
        // Other secrets have their own counters.
        assert_eq!(b.next("other", 7).unwrap(), 7);
    }

    #[test]
    fn concurrent_signers_of_one_secret_never_share_a_nonce() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(NonceStore::new(dir.path().to_owned()));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    // A frozen clock: every nonce past the first comes from the bump.
                    (0..500)
                        .map(|_| store.next("k", 1_000).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in threads {
            let issued = t.join().unwrap();
            assert!(issued.windows(2).all(|w| w[0] < w[1]), "not increasing");
            all.extend(issued);
        }
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 2000, "a nonce was issued twice");
        assert_eq!(all[0], 1_000);
    }

    #[test]
    fn a_damaged_mark_is_an_error_not_a_restart_from_zero() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k.nonce"), "12x\n").unwrap();
        let store = NonceStore::new(dir.path().to_owned());
        let err = store.next("k", 1_000).unwrap_err();
        assert!(err.contains("k.nonce is damaged"), "{err}");
    }
}
