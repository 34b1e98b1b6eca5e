use super::*;

/// Byte-exact fixture, the same bytes as the example in docs/protocol.md.
#[test]
fn unlock_request_frame_is_pinned() {
    let req = ApisecRequest::Unlock(UnlockRequest {
        flags: UNLOCK_WANT_PROGRESS,
        names: vec!["bg".into()],
    });
    let expected = hex::decode(concat!(
        "00000020", // length 32
        "1b",       // SSH_AGENTC_EXTENSION
        "0000000d",
        "756e6c6f636b40617069736563", // "unlock@apisec"
        "00000001",                   // flags: want progress
        "00000001",
        "00000002",
        "6267", // ["bg"]
    ))
    .unwrap();
    assert_eq!(req.to_frame(), expected);
}

/// The login example of docs/protocol.md, byte for byte; and its reply.
#[test]
fn login_frames_are_pinned() {
    let req = ApisecRequest::Login(LoginRequest {
        name: "bg".into(),
        ..Default::default()
    });
    let expected = hex::decode(concat!(
        "00000023",
        "1b",
        "0000000c",
        "6c6f67696e40617069736563", // "login@apisec"
        "00000002",
        "6267", // name "bg"
        "00000000",
        "00000000",
        "00000000", // kind, challenge, host: empty
    ))
    .unwrap();
    assert_eq!(req.to_frame(), expected);
    let reply = LoginReply {
        fields: vec![("sign".into(), "x".into())],
        message: "{}".into(),
    };
    assert_eq!(LoginReply::decode(&reply.encode()).unwrap(), reply);
    assert!(LoginReply::decode(&[reply.encode(), vec![0]].concat()).is_err());
    assert!(
        !format!("{reply:?}").contains("\"x\""),
        "the Debug output names fields only"
    );
}

/// A sign request names its host in a trailing field, sent only when set: without one, the
/// bytes are those an agent older than the field reads.
#[test]
fn the_host_is_a_trailing_field_sent_only_when_set() {
    let mut req = SignRequest {
        name: "n".into(),
        method: "GET".into(),
        path: "/p".into(),
        ..Default::default()
    };
    let without = ApisecRequest::Sign(req.clone()).encode_details();
    req.host = "api.hbdm.com".into();
    let with = ApisecRequest::Sign(req).encode_details();
    assert_eq!(&with[..without.len()], &without[..]);
    assert_eq!(&with[without.len()..], b"\x00\x00\x00\x0capi.hbdm.com");
}

#[test]
fn every_request_round_trips() {
    let all = [
        ApisecRequest::Query,
        ApisecRequest::Status(StatusRequest::default()),
        ApisecRequest::Status(StatusRequest {
            flags: STATUS_WANT_NOTES,
        }),
        ApisecRequest::Reload,
        ApisecRequest::Shutdown,
        ApisecRequest::Unlock(UnlockRequest {
            flags: 0,
            names: vec!["a".into(), "b".into()],
        }),
        ApisecRequest::Lock(LockRequest { names: vec![] }),
        ApisecRequest::Sign(SignRequest {
            name: "n".into(),
            method: "POST".into(),
            path: "/p".into(),
            query: "a=1".into(),
            body: b"{}".to_vec(),
            timestamp: "1".into(),
            nonce: String::new(),
            ..Default::default()
        }),
        ApisecRequest::Mac(MacRequest {
            name: "n".into(),
            algorithm: "hmac-sha256".into(),
            data: vec![0, 1, 2],
        }),
        ApisecRequest::Login(LoginRequest {
            name: "n".into(),
            kind: "linear-swap".into(),
            challenge: String::new(),
            host: "api.hbdm.vn".into(),
        }),
        ApisecRequest::Sign(SignRequest {
            name: "n".into(),
            method: "GET".into(),
            path: "/p".into(),
            host: "api.hbdm.com".into(),
            ..Default::default()
        }),
    ];
    for req in all {
        let details = req.encode_details();
        assert_eq!(
            ApisecRequest::decode(req.name(), &details).unwrap(),
            Some(req)
        );
    }
}

#[test]
fn unknown_extension_is_none_and_trailing_bytes_are_errors() {
    assert_eq!(
        ApisecRequest::decode("nope@example.com", b"").unwrap(),
        None
    );
    let err = ApisecRequest::decode(EXT_STATUS, b"x").unwrap_err();
    assert_eq!(err.what, "status flags");
    let err = ApisecRequest::decode(EXT_STATUS, b"\0\0\0\x01x").unwrap_err();
    assert_eq!(err.what, "status@apisec");
}

#[test]
fn replies_round_trip() {
    let s = StatusReply {
        version: "0.1.0".into(),
        pid: 42,
        agent_locked: false,
        entries: vec![StatusEntry {
            name: "a".into(),
            exchange: "bitget".into(),
            api_key: "k".into(),
            unsealed: true,
            expires: "2027-01-01".into(),
            forget_at: 9,
            problem: String::new(),
            notes: "allow_raw = true: ...\nfreshness = \"off\": ...".into(),
            recipients: vec!["age1yubikey1q...".into(), "age1q...".into()],
        }],
    };
    assert_eq!(
        StatusReply::decode(&s.encode_for(STATUS_WANT_NOTES | STATUS_WANT_RECIPIENTS)).unwrap(),
        s
    );
    // Recipients come after the notes: a client that asked for notes only reads that prefix.
    assert!(s
        .encode_for(STATUS_WANT_NOTES | STATUS_WANT_RECIPIENTS)
        .starts_with(&s.encode_for(STATUS_WANT_NOTES)));
    let mut notes_only = s.clone();
    notes_only.entries[0].recipients.clear();
    assert_eq!(
        StatusReply::decode(&s.encode_for(STATUS_WANT_NOTES)).unwrap(),
        notes_only
    );
    // The reply to a request without flags is the 0.1.0 reply: no notes, nothing appended.
    let plain = s.encode();
    assert!(s.encode_for(STATUS_WANT_NOTES).starts_with(&plain));
    let mut without_notes = notes_only.clone();
    without_notes.entries[0].notes.clear();
    assert_eq!(StatusReply::decode(&plain).unwrap(), without_notes);
    assert_eq!(without_notes.encode_for(0), plain);
    let r = SignReply {
        headers: vec![("A".into(), "b".into())],
        query_additions: vec![],
        query: "x=1".into(),
        body: Some(b"nonce=1".to_vec()),
    };
    assert_eq!(SignReply::decode(&r.encode()).unwrap(), r);
    // The one-buffer frame is the framed `string name || details`.
    let mut payload = (EXT_SIGN.len() as u32).to_be_bytes().to_vec();
    payload.extend_from_slice(EXT_SIGN.as_bytes());
    payload.extend_from_slice(&r.encode());
    let framed = frame::encode(msg::EXTENSION_RESPONSE, &payload);
    assert_eq!(r.to_frame(), framed);
    assert_eq!(extension_response_frame(EXT_SIGN, &r.encode()), framed);
    let e = ErrorReply::new(ErrorCode::Sealed, "sealed");
    let f = e.to_frame();
    assert_eq!(f[4], msg::EXTENSION_FAILURE);
    assert_eq!(ErrorReply::decode(&f[5..]), e);
}

#[test]
fn the_approvals_reply_round_trips_and_a_short_one_is_an_error() {
    let list = vec![
        WaitingApproval {
            id: 3,
            line: "unlock bg (bitget), asked by python3 (pid 1, uid 1001)".into(),
            prompt: "apisec-agent asks for approval\n\nunlock bg (bitget)\n".into(),
            waited_secs: 12,
        },
        WaitingApproval {
            id: 4,
            line: String::new(),
            prompt: "\u{e9}".into(),
            waited_secs: 0,
        },
    ];
    let bytes = encode_approvals(&list);
    assert_eq!(decode_approvals(&bytes).unwrap(), list);
    assert_eq!(decode_approvals(&encode_approvals(&[])).unwrap(), vec![]);
    assert!(decode_approvals(&bytes[..bytes.len() - 1]).is_err());
    let answer = ApisecRequest::Answer(AnswerRequest {
        id: 9,
        approve: false,
    });
    assert_eq!(
        ApisecRequest::decode(EXT_ANSWER, &answer.encode_details()).unwrap(),
        Some(answer)
    );
}
