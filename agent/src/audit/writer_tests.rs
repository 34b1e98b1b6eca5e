use super::super::event::Action;
use super::*;

fn queued(actions: &[Action]) -> Vec<u8> {
    let mut queue = Vec::new();
    for (i, &action) in actions.iter().enumerate() {
        let event = Event {
            action,
            secret: Some("bg"),
            allowed: true,
            ..Default::default()
        };
        event::encode(&mut queue, &event, None, 1_700_000_000_000 + i as u64);
    }
    queue
}

/// A write that fails (here: a descriptor that cannot write, as a full disk would) leaves the
/// chain where it was and keeps the decisions; the next write puts them all in, in order, and
/// the log verifies.
#[test]
fn decisions_survive_a_failed_write_and_the_chain_stays_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, "").unwrap();
    let mut chain = Chain {
        path: path.clone(),
        file: std::fs::File::open(&path).unwrap(),
        len: 0,
        seq: 0,
        prev: GENESIS.to_owned(),
        out: Vec::new(),
        unwritten: Vec::new(),
        reported: 0,
        lines: Vec::new(),
        journal: None,
    };
    assert!(chain
        .write_batch(&queued(&[Action::Unlock, Action::Sign]))
        .is_err());
    assert_eq!(chain.seq, 0, "the chain moved on without its lines");
    assert_eq!(chain.prev, GENESIS);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    assert_eq!(Reader::new(&chain.unwritten).count(), 2);

    chain.file = OpenOptions::new().append(true).open(&path).unwrap();
    assert!(chain.write_batch(&queued(&[Action::Lock])).is_ok());
    assert!(chain.unwritten.is_empty());
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(super::super::verify(&text), Ok(3), "{text}");
    let actions: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Record>(l).unwrap().action)
        .collect();
    assert_eq!(actions, ["unlock", "sign", "lock"]);
    assert_eq!(chain.len, text.len() as u64);
}

#[test]
fn a_closed_log_has_written_everything_recorded_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path).unwrap();
    for _ in 0..100 {
        log.record(
            &Event {
                action: Action::Sign,
                secret: Some("bg"),
                allowed: true,
                ..Default::default()
            },
            None,
        );
    }
    log.close();
    // After close nothing is queued any more (a warning says so instead).
    log.record(
        &Event {
            action: Action::Sign,
            ..Default::default()
        },
        None,
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(super::super::verify(&text), Ok(100));
}

fn sign_event() -> Event<'static> {
    Event {
        action: Action::Sign,
        secret: Some("bg"),
        allowed: true,
        ..Default::default()
    }
}

#[test]
fn a_link_a_device_or_a_readable_file_is_refused_as_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("linked.jsonl");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    let e = AuditLog::open(&link).err().expect("a link is refused");
    assert!(e.to_string().contains("symbolic link"), "{e}");
    let e = AuditLog::open(Path::new("/dev/null"))
        .err()
        .expect("a device is refused");
    assert!(e.to_string().contains("not a regular file"), "{e}");
    let open = dir.path().join("open.jsonl");
    std::fs::write(&open, "").unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let e = AuditLog::open(&open)
        .err()
        .expect("a readable log is refused");
    assert!(e.to_string().contains("must be 0600"), "{e}");
}

/// logrotate's `create` mode: the file is renamed, and the next line goes to a new file at
/// the path, chained to the old file's last line; the two verify together, in order.
#[test]
fn a_renamed_log_is_followed_by_a_new_file_that_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path).unwrap();
    log.record(&sign_event(), None);
    log.record(&sign_event(), None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&path).unwrap().lines().count() < 2 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    let rotated = dir.path().join("audit.jsonl.1");
    std::fs::rename(&path, &rotated).unwrap();
    log.record(&sign_event(), None);
    log.close();
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&path).unwrap();
    assert_eq!(old.lines().count(), 2);
    assert_eq!(
        new.lines().count(),
        1,
        "the new line is in a new file at the path"
    );
    use super::super::{verify_files, Start};
    assert_eq!(verify_files(&[&old, &new], Start::Genesis), Ok(3));
    // Alone, the new file does not start the chain; out of order, they do not verify.
    assert!(verify_files(&[&new], Start::Genesis).is_err());
    assert_eq!(verify_files(&[&new], Start::Anywhere), Ok(1));
    assert!(verify_files(&[&new, &old], Start::Genesis).is_err());
    // A line removed between the files is caught.
    let cut: String = old.lines().take(1).map(|l| format!("{l}\n")).collect();
    assert!(verify_files(&[&cut, &new], Start::Genesis).is_err());
}

/// A log path replaced by a link while the agent runs: nothing is written through it, the
/// failure is reported (the agent then refuses to sign), and the decisions are kept.
#[test]
fn a_log_replaced_by_a_link_is_a_failure_not_a_silent_loss() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path).unwrap();
    assert_eq!(log.failure(), None);
    std::fs::remove_file(&path).unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::write(&elsewhere, "").unwrap();
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    log.record(&sign_event(), None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while log.failure().is_none() {
        assert!(Instant::now() < deadline, "no failure reported");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(log.failure().unwrap().contains("symbolic link"));
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "");
    // The path made right again: the writer's retry writes the kept decision.
    std::fs::remove_file(&path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while log.failure().is_some() {
        assert!(Instant::now() < deadline, "the writer did not recover");
        std::thread::sleep(Duration::from_millis(20));
    }
    log.close();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
}
