use super::*;

fn peer(pid: i32) -> PeerInfo {
    PeerInfo {
        uid: 1000,
        gid: 1000,
        pid: Some(pid),
        exe: None,
        comm: None,
        cmdline: None,
    }
}

fn secrets(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| (n.to_string(), "bitget".to_owned()))
        .collect()
}

type Join<'f> = Joined<'f, ()>;

fn join<'f>(
    flights: &'f Flights,
    names: &[&str],
    pid: i32,
    tx: Option<&mpsc::UnboundedSender<String>>,
) -> Join<'f> {
    flights
        .join(&secrets(names), &peer(pid), tx, || Ok::<(), ()>(()))
        .unwrap()
}

fn started(j: &Join<'_>) -> Arc<Flight> {
    Arc::clone(&j.started.as_ref().expect("a new flight").0)
}

#[tokio::test]
async fn requests_for_a_secret_in_flight_join_it_and_share_its_outcome() {
    let flights = Flights::default();
    let first = join(&flights, &["a", "b"], 1, None);
    let flight = started(&first);
    let (tx, mut rx) = mpsc::unbounded_channel();
    flight.tell("waiting for approval: unlock a (bitget), b (bitget)");
    // "b" is in flight, "c" is not: one ticket for the flight, one new flight for "c".
    let second = join(&flights, &["b", "c"], 2, Some(&tx));
    assert_eq!(second.tickets.len(), 2);
    assert_eq!(started(&second).secrets, secrets(&["c"]));
    assert_eq!(flight.requesters().len(), 2);
    // It asked for b only: the line it gets names b, not a.
    assert_eq!(
        rx.try_recv().unwrap(),
        "waiting for the unlock of b, which another request started"
    );
    assert!(!second.tickets[0].asked_for_all());
    assert_eq!(flight.each_requester_of("a", |_| {}), 1);
    assert_eq!(flight.each_requester_of("b", |_| {}), 2);
    flights.finish(&flight, Outcome::Unsealed);
    assert!(matches!(
        second.tickets[0].outcome().await,
        Outcome::Unsealed
    ));
    assert!(matches!(
        first.tickets[0].outcome().await,
        Outcome::Unsealed
    ));
    // Finished: a new request for "a" starts a new flight.
    assert!(join(&flights, &["a"], 3, None).started.is_some());
}

#[tokio::test]
async fn a_requester_leaving_keeps_the_flight_and_the_last_one_abandons_it() {
    let flights = Flights::default();
    let first = join(&flights, &["a"], 1, None);
    let flight = started(&first);
    let second = join(&flights, &["a"], 2, None);
    assert!(second.started.is_none());
    drop(first);
    assert_eq!(
        flight.requesters(),
        vec![peer(2)],
        "the one that left is gone"
    );
    // Joining and leaving in a loop leaves nothing behind.
    for pid in 0..10_000 {
        drop(join(&flights, &["a"], 100 + pid, None));
    }
    assert_eq!(flight.requesters().len(), 1);
    assert_eq!(flight.joins(), 10_002);
    drop(second);
    assert!(!flight.commit(), "nobody waits: nothing to commit");
    tokio::time::timeout(std::time::Duration::from_secs(1), flight.abandoned())
        .await
        .expect("the flight is told it was abandoned");
    assert!(
        join(&flights, &["a"], 4, None).started.is_some(),
        "an abandoned flight is not joined"
    );
}

#[tokio::test]
async fn once_approved_a_flight_survives_every_requester_leaving() {
    let flights = Flights::default();
    let first = join(&flights, &["a"], 1, None);
    let flight = started(&first);
    assert!(flight.commit());
    drop(first);
    let later = join(&flights, &["a"], 2, None);
    assert!(
        later.started.is_none(),
        "the unseal under way is joined, not asked for again"
    );
    flights.finish(
        &flight,
        Outcome::Refused(ErrorReply::new(
            crate::proto::ErrorCode::Token,
            "pulled out",
        )),
    );
    match later.tickets[0].outcome().await {
        Outcome::Refused(e) => assert_eq!(e.message, "pulled out"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_requester_not_admitted_to_start_a_flight_joins_nothing() {
    let flights = Flights::default();
    let a = join(&flights, &["a"], 1, None);
    let flight = started(&a);
    let refused = flights.join(&secrets(&["a", "b"]), &peer(2), None, || {
        Err::<(), _>("cap")
    });
    assert!(matches!(refused, Err("cap")));
    assert_eq!(
        flight.requesters().len(),
        1,
        "it did not join a's flight either"
    );
    // Joining only what is in flight needs no admission.
    let joined = flights
        .join(&secrets(&["a"]), &peer(3), None, || Err::<(), _>("cap"))
        .unwrap();
    assert_eq!(joined.tickets.len(), 1);
}
