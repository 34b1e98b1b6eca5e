use super::*;

fn peer(uid: u32) -> PeerInfo {
    PeerInfo {
        uid,
        gid: uid,
        pid: Some(4242),
        exe: Some("/usr/bin/python3".into()),
        comm: None,
        cmdline: None,
    }
}

fn refusal<'a>(class: Option<&'a str>, rate_limited: bool) -> Refusal<'a> {
    Refusal {
        secret: "bg",
        class,
        rate_limited,
        request: "POST /api/v2/spot/wallet/withdrawal\n(fake line)",
        reason: "rule 1 denies it",
    }
}

#[test]
fn a_refused_transfer_alerts_once_with_its_details_on_standard_input_only() {
    let mut w = Watch::default();
    let t = Instant::now();
    let alerts = w.refused(t, &peer(1000), &refusal(Some("transfer"), false));
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.kind, "refused-transfer");
    assert_eq!(
        a.line,
        "refused a transfer request for bg from python3 (pid 4242, uid 1000)"
    );
    assert!(!a.line.contains("withdrawal"), "no request details in argv");
    assert!(
        a.details
            .contains("request: POST /api/v2/spot/wallet/withdrawal\\n(fake line) for bg\n"),
        "{}",
        a.details
    );
    // The same request again soon: no second alert; another withdrawal path is news.
    let mut other = refusal(Some("transfer"), false);
    other.request = "POST /api/v2/spot/wallet/transfer";
    assert_eq!(w.refused(t, &peer(1000), &other).len(), 1);
    let again = w.refused(
        t + Duration::from_secs(5),
        &peer(1000),
        &refusal(Some("transfer"), false),
    );
    assert!(again.is_empty(), "{again:?}");
    // After REPEAT_AFTER, it is news again.
    let later = w.refused(
        t + REPEAT_AFTER,
        &peer(1000),
        &refusal(Some("transfer"), false),
    );
    assert_eq!(later.len(), 1);
    // An admin request is its own kind; a refused trade request alone is not an alert.
    let admin = w.refused(t, &peer(1001), &refusal(Some("admin"), false));
    assert_eq!(admin[0].kind, "refused-admin");
    assert!(w
        .refused(t, &peer(1002), &refusal(Some("trade"), false))
        .is_empty());
}

#[test]
fn bursts_of_refusals_and_of_rate_limit_hits_are_counted_per_uid_within_the_window() {
    let mut w = Watch::default();
    let t = Instant::now();
    let kinds = |alerts: Vec<Alert>| alerts.iter().map(|a| a.kind).collect::<Vec<_>>();
    for i in 0..REFUSAL_BURST - 1 {
        let at = t + Duration::from_millis(i as u64);
        assert!(w
            .refused(at, &peer(7), &refusal(Some("trade"), true))
            .is_empty());
        // Another uid's refusals do not add up with uid 7's.
        assert!(w.refused(at, &peer(8), &refusal(None, false)).is_empty());
    }
    let burst = w.refused(
        t + Duration::from_millis(50),
        &peer(7),
        &refusal(None, true),
    );
    assert_eq!(kinds(burst), vec!["refusal-burst"]);
    let mut rate = Vec::new();
    for i in REFUSAL_BURST..RATE_LIMIT_BURST {
        let at = t + Duration::from_millis(100 + i as u64);
        rate.extend(kinds(w.refused(at, &peer(7), &refusal(None, true))));
    }
    assert_eq!(
        rate,
        vec!["rate-limit-burst"],
        "one burst alert, not one per hit"
    );
    // Spread out over more than the window, refusals make no burst.
    let mut slow = Watch::default();
    for i in 0..3 * REFUSAL_BURST {
        let at = t + WINDOW / (REFUSAL_BURST as u32 - 2) * i as u32;
        assert!(slow.refused(at, &peer(9), &refusal(None, false)).is_empty());
    }
}

#[test]
fn alerts_are_rate_limited_themselves_and_the_next_one_says_how_many_were_held_back() {
    let mut w = Watch::default();
    let t = Instant::now();
    // One uid raising one owner-only alert per operation it tries: BURST go out, then none.
    let ops: Vec<String> = (0..BURST as usize + 5).map(|i| format!("op{i}")).collect();
    let mut sent = 0;
    for op in &ops {
        sent += usize::from(w.owner_only(t, &peer(7), op).is_some());
    }
    assert_eq!(sent, BURST as usize);
    // Its refused transfers are counted apart: still alerted.
    let transfer = w.refused(t, &peer(7), &refusal(Some("transfer"), false));
    assert_eq!(transfer[0].kind, "refused-transfer");
    assert!(
        transfer[0]
            .details
            .contains("5 earlier alert(s) were held back"),
        "{}",
        transfer[0].details
    );
    // Another uid has its own limit.
    assert!(w.owner_only(t, &peer(8), "op0").is_some());
    // After a refill, one more; and the summary says nothing new was held back since.
    assert!(w.owner_only(t + REFILL, &peer(7), "late").is_some());
    assert!(w.owner_only(t + REFILL, &peer(7), "later").is_none());
    let summary = w.summary(t + REFILL).expect("one was held back since");
    assert_eq!(summary.kind, "held-back");
    assert!(
        summary.line.starts_with("1 alert(s) were held back"),
        "{}",
        summary.line
    );
    assert!(w.summary(t + REFILL).is_none(), "said once");
}

#[test]
fn counting_keeps_no_more_than_a_burst_needs() {
    let mut w = Watch::default();
    let t = Instant::now();
    for i in 0..100_000u64 {
        w.refused(t + Duration::from_nanos(i), &peer(9), &refusal(None, true));
    }
    assert!(w.refusals[&9].len() <= REFUSAL_BURST);
    assert!(w.rate_hits[&9].len() <= RATE_LIMIT_BURST);
}

#[test]
fn an_owner_only_refusal_names_the_operation_and_the_client() {
    let mut w = Watch::default();
    let a = w.owner_only(Instant::now(), &peer(1000), "reload").unwrap();
    assert_eq!(a.kind, "owner-only");
    assert_eq!(
        a.line,
        "refused reload from python3 (pid 4242, uid 1000): only the owner may"
    );
}
