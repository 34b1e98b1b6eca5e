use super::*;
use crate::proto::{
    AnswerRequest, LockRequest, LoginRequest, MacRequest, SignRequest, StatusRequest,
    UnlockRequest, EXTENSIONS, STATUS_WANT_NOTES,
};

fn ssh_string(s: &[u8]) -> Vec<u8> {
    let mut v = (s.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(s);
    v
}

fn message(msg_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![msg_type];
    m.extend_from_slice(payload);
    m
}

/// One request of each extension the agent answers, as a client would send it.
fn every_extension() -> Vec<ApisecRequest> {
    vec![
        ApisecRequest::Query,
        ApisecRequest::Unlock(UnlockRequest {
            flags: 0,
            names: vec!["a".into()],
        }),
        ApisecRequest::Lock(LockRequest { names: vec![] }),
        ApisecRequest::Status(StatusRequest {
            flags: STATUS_WANT_NOTES,
        }),
        ApisecRequest::Sign(SignRequest {
            name: "a".into(),
            method: "GET".into(),
            path: "/x".into(),
            query: String::new(),
            body: vec![],
            timestamp: String::new(),
            nonce: String::new(),
            ..Default::default()
        }),
        ApisecRequest::Mac(MacRequest {
            name: "a".into(),
            algorithm: "hmac-sha256".into(),
            data: vec![],
        }),
        ApisecRequest::Login(LoginRequest {
            name: "a".into(),
            kind: "private".into(),
            challenge: String::new(),
            host: String::new(),
        }),
        ApisecRequest::Reload,
        ApisecRequest::Shutdown,
        ApisecRequest::Approvals,
        ApisecRequest::Answer(AnswerRequest {
            id: 7,
            approve: true,
        }),
    ]
}

/// The access table, message by message: what a client admitted by uid may send, what needs the
/// agent's owner. A message added without a row here fails this test.
#[test]
fn every_message_has_its_access_class() {
    let standard: &[(&str, Vec<u8>, Access)] = &[
        (
            "REQUEST_IDENTITIES (11)",
            message(11, &[]),
            Access::AnyClient,
        ),
        (
            "REMOVE_ALL_IDENTITIES (19)",
            message(19, &[]),
            Access::OwnerOnly,
        ),
        (
            "LOCK (22)",
            message(22, &ssh_string(b"pw")),
            Access::OwnerOnly,
        ),
        (
            "UNLOCK (23)",
            message(23, &ssh_string(b"pw")),
            Access::OwnerOnly,
        ),
        ("an unknown type (99)", message(99, &[]), Access::AnyClient),
        (
            "an unknown extension",
            message(27, &ssh_string(b"nope@example.com")),
            Access::AnyClient,
        ),
        (
            "a malformed sign@apisec",
            message(27, &[ssh_string(b"sign@apisec"), vec![0, 0]].concat()),
            Access::AnyClient,
        ),
    ];
    for (what, m, class) in standard {
        assert_eq!(decode(m).access(), *class, "{what}");
    }

    let expected = |name: &str| match name {
        "query" | "status@apisec" | "sign@apisec" | "mac@apisec" | "login@apisec" => {
            Access::AnyClient
        }
        "unlock@apisec" => Access::Unseal,
        "lock@apisec" | "reload@apisec" | "shutdown@apisec" | "approvals@apisec"
        | "answer@apisec" => Access::OwnerOnly,
        other => panic!("{other} has no row in the access table"),
    };
    let requests = every_extension();
    let mut seen: Vec<&str> = requests.iter().map(ApisecRequest::name).collect();
    seen.sort();
    let mut listed = EXTENSIONS.to_vec();
    listed.sort();
    assert_eq!(
        seen, listed,
        "every extension `query` lists is in the table"
    );
    for req in requests {
        let frame = req.to_frame();
        let decoded = decode(&frame[4..]);
        assert!(
            matches!(&decoded, Decoded::Apisec(r) if *r == req),
            "{} decodes",
            req.name()
        );
        assert_eq!(decoded.access(), expected(req.name()), "{}", req.name());
    }
}
