//! The load test: many clients, many signatures, every one checked against an independent
//! computation of Bitget's rule. Zero errors and zero wrong signatures is the only pass.

use std::time::Instant;

use apisec_agent::client::Client;

use crate::stats::Samples;
use crate::world::{name, secret, sign_request, AgentProc, ORDER_BODY, ORDER_PATH};

pub struct Report {
    pub total: u64,
    pub errors: u64,
    pub wrong: u64,
    pub latency: Samples,
    pub rps: f64,
}

fn expected(i: usize, timestamp: &str) -> String {
    apisec_tests::bitget_sign(
        secret(i).as_bytes(),
        &format!("{timestamp}POST{ORDER_PATH}{ORDER_BODY}"),
    )
}

pub fn run(agent: &AgentProc, clients: usize, per_client: usize) -> Result<Report, String> {
    let t = Instant::now();
    let mut handles = Vec::new();
    for c in 0..clients {
        let sock = agent.sock.clone();
        handles.push(std::thread::spawn(move || {
            let mut errors = 0u64;
            let mut wrong = 0u64;
            let mut lat = Samples::default();
            let Ok(mut client) = Client::connect(&sock) else {
                return (per_client as u64, 0, lat);
            };
            let i = c % 1000;
            let req = sign_request(&name(i));
            for _ in 0..per_client {
                let s = Instant::now();
                match client.sign(req.clone()) {
                    Ok(reply) => {
                        lat.0.push(s.elapsed());
                        let get = |k: &str| {
                            reply
                                .headers
                                .iter()
                                .find(|(h, _)| h == k)
                                .map(|(_, v)| v.clone())
                        };
                        match (get("ACCESS-TIMESTAMP"), get("ACCESS-SIGN")) {
                            (Some(ts), Some(sig)) if sig == expected(i, &ts) => {}
                            _ => wrong += 1,
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
            (errors, wrong, lat)
        }));
    }
    let mut report = Report {
        total: (clients * per_client) as u64,
        errors: 0,
        wrong: 0,
        latency: Samples::default(),
        rps: 0.0,
    };
    for h in handles {
        let (e, w, l) = h.join().map_err(|_| "a load client panicked".to_owned())?;
        report.errors += e;
        report.wrong += w;
        report.latency.extend(l);
    }
    report.rps = report.total as f64 / t.elapsed().as_secs_f64();
    Ok(report)
}
