use super::*;

fn peer(pid: i32) -> PeerInfo {
    PeerInfo {
        uid: 1000,
        gid: 1000,
        pid: Some(pid),
        exe: None,
        comm: None,
    }
}

fn secrets(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| (n.to_string(), "bitget".to_owned()))
        .collect()
}

#[tokio::test]
async fn requests_for_a_secret_in_flight_join_it_and_share_its_outcome() {
    let flights = Flights::default();
    let first = flights.join(&secrets(&["a", "b"]), &peer(1), None);
    let flight = first
        .started
        .clone()
        .expect("nothing in flight: a new flight");
    let (tx, mut rx) = mpsc::unbounded_channel();
    flight.tell("waiting for approval");
    // "b" is in flight, "c" is not: one ticket for the flight, one new flight for "c".
    let second = flights.join(&secrets(&["b", "c"]), &peer(2), Some(&tx));
    assert_eq!(second.tickets.len(), 2);
    let other = second.started.clone().expect("c was not in flight");
    assert_eq!(other.secrets, secrets(&["c"]));
    assert_eq!(flight.requesters().len(), 2);
    assert_eq!(
        rx.try_recv().unwrap(),
        "waiting for approval",
        "a late joiner gets the line the others were sent"
    );
    flight.tell("touch your YubiKey");
    assert_eq!(rx.try_recv().unwrap(), "touch your YubiKey");
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
    assert!(flights
        .join(&secrets(&["a"]), &peer(3), None)
        .started
        .is_some());
}

#[tokio::test]
async fn a_requester_leaving_keeps_the_flight_and_the_last_one_abandons_it() {
    let flights = Flights::default();
    let first = flights.join(&secrets(&["a"]), &peer(1), None);
    let flight = first.started.clone().unwrap();
    let second = flights.join(&secrets(&["a"]), &peer(2), None);
    assert!(second.started.is_none());
    drop(first);
    assert!(flight.wanted(), "the second still waits");
    let third = flights.join(&secrets(&["a"]), &peer(3), None);
    assert!(third.started.is_none(), "still in flight");
    drop(second);
    drop(third);
    assert!(!flight.wanted());
    tokio::time::timeout(std::time::Duration::from_secs(1), flight.abandoned())
        .await
        .expect("the flight is told it was abandoned");
    assert!(
        flights
            .join(&secrets(&["a"]), &peer(4), None)
            .started
            .is_some(),
        "an abandoned flight is not joined"
    );
}

#[tokio::test]
async fn once_approved_a_flight_survives_every_requester_leaving() {
    let flights = Flights::default();
    let first = flights.join(&secrets(&["a"]), &peer(1), None);
    let flight = first.started.clone().unwrap();
    flight.commit();
    drop(first);
    let later = flights.join(&secrets(&["a"]), &peer(2), None);
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
