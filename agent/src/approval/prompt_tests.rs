use super::*;

fn peer() -> PeerInfo {
    PeerInfo {
        uid: 1000,
        gid: 1000,
        pid: Some(4242),
        exe: Some("/usr/bin/python3.11".into()),
        comm: None,
        cmdline: None,
    }
}

const ADDRESS: &str = "TQrealAddressOfTheAttacker9999";

/// A withdrawal dressed up by a hostile bot: decoy fields that sort first and look like the
/// real ones, a newline that would start a fake line, a right-to-left override that reverses
/// what follows, markup for a dialog that reads Pango, and a long value.
fn hostile<'a>(secrets: &'a [(String, String)], client: &'a PeerInfo) -> ApprovalRequest<'a> {
    ApprovalRequest {
        action: "sign",
        secrets,
        client,
        others: &[],
        step_up: Some(StepUp {
            method: "POST",
            path: "/api/v2/spot/wallet/withdrawal",
            class: Some("transfer"),
            what: "withdraw to an external address",
            why: "rule 1 (step-up POST /api/v2/spot/wallet/withdrawal coin=USDT)",
            fields: vec![
                ("_address".into(), "TQyourOwnColdWallet".into()),
                ("_size".into(), "1".into()),
                ("address".into(), ADDRESS.into()),
                ("chain".into(), "trc20\nsize = \"1\"".into()),
                ("coin".into(), "USDT".into()),
                ("remark".into(), "\u{202e}0001\u{202c} <b>safe</b>".into()),
                ("size".into(), "100000".into()),
                ("tag".into(), "x".repeat(300)),
            ],
        }),
        fresh: true,
        changes: &[],
    }
}

#[test]
fn the_short_line_holds_no_request_detail() {
    let secrets = vec![("bg".to_owned(), "bitget".to_owned())];
    let p = peer();
    let line = hostile(&secrets, &p).prompt();
    assert_eq!(
        line,
        "sign bg (bitget): a transfer request, asked by python3.11 (pid 4242, uid 1000); the \
         request is on standard input"
    );
    for detail in ["withdrawal", ADDRESS, "100000", "USDT"] {
        assert!(!line.contains(detail), "{detail} in {line}");
    }
}

#[test]
fn the_full_prompt_shows_every_field_escaped() {
    let secrets = vec![("bg".to_owned(), "bitget".to_owned())];
    let p = peer();
    let text = hostile(&secrets, &p).full_text();
    // Every field, the real ones too, each on its own line.
    for line in [
        "  _address = \"TQyourOwnColdWallet\"",
        "  _size = \"1\"",
        &format!("  address = \"{ADDRESS}\""),
        "  coin = \"USDT\"",
        "  size = \"100000\"",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
    }
    assert!(text.contains("fields (8):"), "{text}");
    // A newline in a value cannot start a line of its own.
    assert!(
        text.contains("  chain = \"trc20\\nsize = \"1\"\""),
        "{text}"
    );
    assert!(!text
        .lines()
        .any(|l| l.trim_start().starts_with("size = \"1\"")));
    // The override is shown, not obeyed; markup is plain text (the dialog must not read it).
    assert!(
        text.contains("\\u{202e}0001\\u{202c} <b>safe</b>"),
        "{text}"
    );
    assert!(!text.contains('\u{202e}'));
    // A long value: its digest in the list, the whole of it below.
    assert!(text.contains("  tag = <300 bytes, sha256 "), "{text}");
    assert!(text.contains(&format!("tag, in full:\n\"{}\"", "x".repeat(300))));
    assert!(text.contains("endpoint class: transfer (withdraw to an external address)"));
    assert!(text.contains("why it needs this approval: rule 1"));
    assert!(text.contains("asked by python3.11 (pid 4242, uid 1000), /usr/bin/python3.11"));
    assert!(
        text.chars().all(|c| c == '\n' || !c.is_control()),
        "{text:?}"
    );
}

#[test]
fn an_unlock_prompt_names_the_secrets_and_the_client() {
    let secrets = vec![
        ("bg".to_owned(), "bitget".to_owned()),
        ("bn\u{1b}[2J".to_owned(), "binance".to_owned()),
    ];
    let p = peer();
    let req = ApprovalRequest::unlock(&secrets, &p);
    assert_eq!(
        req.prompt(),
        "unlock bg (bitget), bn\\u{1b}[2J (binance), asked by python3.11 (pid 4242, uid 1000)"
    );
    assert_eq!(
        req.full_text(),
        "apisec-agent asks for approval\n\nunlock bg (bitget), bn\\u{1b}[2J (binance)\nasked by \
         python3.11 (pid 4242, uid 1000), /usr/bin/python3.11\n"
    );
    let env = req.env();
    assert!(env.iter().all(|(k, _)| k.starts_with("APISEC_")));
    assert!(env.contains(&("APISEC_CLASS", String::new())));
}

#[test]
fn merged_unlocks_list_every_requester_once_with_its_count() {
    let secrets = vec![("bg".to_owned(), "bitget".to_owned())];
    let first = peer();
    let other = PeerInfo {
        uid: 1001,
        pid: Some(77),
        exe: Some("/usr/bin/freq\u{202e}trade".into()),
        ..peer()
    };
    let others = vec![other.clone(), peer(), other.clone(), other];
    let mut req = ApprovalRequest::unlock(&secrets, &first);
    req.others = &others;
    assert!(
        req.prompt()
            .ends_with("asked by python3.11 (pid 4242, uid 1000) and 4 more requests (listed on standard input)"),
        "{}",
        req.prompt()
    );
    let text = req.full_text();
    assert!(
        text.contains("also waiting for this unseal (4 more requests):\n"),
        "{text}"
    );
    assert!(
        text.contains("  - python3.11 (pid 4242, uid 1000), /usr/bin/python3.11\n"),
        "{text}"
    );
    // One line for pid 77's three connections, its program's name escaped.
    let line = text
        .lines()
        .find(|l| l.contains("pid 77"))
        .expect("pid 77 listed");
    assert!(line.ends_with(", 3 requests"), "{line}");
    assert!(!line.contains('\u{202e}'), "{line}");
    assert_eq!(text.matches("pid 77").count(), 1, "{text}");
    assert!(req.env().contains(&("APISEC_REQUESTS", "5".to_owned())));
    assert!(req
        .env()
        .contains(&("APISEC_CLIENT_UIDS", "1000,1001".to_owned())));
}

#[test]
fn hundreds_of_requesters_do_not_push_what_changed_out_of_the_prompt() {
    let secrets = vec![("bg".to_owned(), "bitget".to_owned())];
    let first = peer();
    let others: Vec<PeerInfo> = (0..300)
        .map(|i| PeerInfo {
            uid: 1001,
            pid: Some(10_000 + i),
            ..peer()
        })
        .collect();
    let changes = vec!["its policy changed: rule 1 now allows transfer".to_owned()];
    let mut req = ApprovalRequest::unlock(&secrets, &first);
    req.others = &others;
    req.changes = &changes;
    let text = req.full_text();
    let changed = text
        .find("changed since the last approval")
        .expect("changes listed");
    let also = text.find("also waiting").expect("others listed");
    assert!(changed < also, "{text}");
    assert!(text.len() < 4096, "{} bytes", text.len());
    assert!(
        text.contains("  - and 280 more request(s) from uid 1001\n"),
        "{text}"
    );
}

#[test]
fn the_whole_prompt_shows_the_clients_command_line_escaped() {
    let secrets = vec![("bg".to_owned(), "bitget".to_owned())];
    let client = PeerInfo {
        exe: Some("/usr/bin/apisec".into()),
        cmdline: Some("apisec exec --unlock bg -- freqtrade trade \u{1b}[2J".into()),
        ..peer()
    };
    let text = ApprovalRequest::unlock(&secrets, &client).full_text();
    assert!(
        text.contains(
            "  its command line (as it set it): apisec exec --unlock bg -- freqtrade trade \\u{1b}[2J\n"
        ),
        "{text}"
    );
    // Not in the short line: that stays one line of who asks.
    let short = ApprovalRequest::unlock(&secrets, &client).prompt();
    assert!(!short.contains("freqtrade"), "{short}");
}
