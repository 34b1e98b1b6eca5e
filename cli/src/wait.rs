//! Waiting for an unlock: the agent's progress lines go to stderr at once, and on a terminal a
//! live indicator shows how long the wait has lasted (not when stderr is a file or a pipe, where
//! it would only add noise to logs).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apisec_agent::client::{Client, ClientError};
use apisec_agent::proto::UnlockReply;

pub fn unlock(client: &mut Client, names: &[String]) -> Result<UnlockReply, ClientError> {
    let live = std::io::stderr().is_terminal();
    let done = Arc::new(AtomicBool::new(false));
    let waiting = Arc::new(AtomicBool::new(false));
    let ticker = live.then(|| {
        let done = Arc::clone(&done);
        let waiting = Arc::clone(&waiting);
        std::thread::spawn(move || {
            let start = Instant::now();
            let frames = ['|', '/', '-', '\\'];
            let mut i = 0;
            while !done.load(Ordering::Relaxed) {
                if waiting.load(Ordering::Relaxed) {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(
                        err,
                        "\r{} waiting {}s ",
                        frames[i % 4],
                        start.elapsed().as_secs()
                    );
                    let _ = err.flush();
                    i += 1;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            if waiting.load(Ordering::Relaxed) {
                let _ = write!(std::io::stderr(), "\r\x1b[K");
            }
        })
    });
    let result = client.unlock(names, |line| {
        if live && waiting.load(Ordering::Relaxed) {
            eprint!("\r\x1b[K");
        }
        eprintln!("{line}");
        waiting.store(true, Ordering::Relaxed);
    });
    done.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        let _ = t.join();
    }
    result
}
