//! Test doubles and an APDU-level harness for the applet tests.

use super::PivCard;
use crate::state::CardState;
use crate::touch::{Clock, TouchSensor};
use crate::transport::Transport;
use crate::{state, tlv};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A button whose answer the test sets; counts how often it was asked.
#[derive(Clone, Default)]
pub struct FakeTouch {
    pub touched: Arc<AtomicBool>,
    pub asked: Arc<AtomicUsize>,
}

impl TouchSensor for FakeTouch {
    fn wait_for_touch(&mut self) -> bool {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.touched.load(Ordering::SeqCst)
    }
}

/// A clock the test advances by hand.
#[derive(Clone, Default)]
pub struct FakeClock(pub Arc<AtomicU64>);

impl FakeClock {
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}

pub struct Harness {
    pub card: PivCard,
    pub transport: Transport,
    pub touch: FakeTouch,
    pub clock: FakeClock,
}

impl Harness {
    pub fn new() -> Self {
        let touch = FakeTouch::default();
        touch.touched.store(true, Ordering::SeqCst);
        let clock = FakeClock::default();
        // Start the fake clock well away from zero so "no touch yet" and
        // "touched at t=0" cannot be confused.
        clock.advance(Duration::from_secs(1000));
        let card = PivCard::new(
            CardState::new(0x00c0_ffee),
            Box::new(touch.clone()),
            Box::new(clock.clone()),
        );
        Harness {
            card,
            transport: Transport::default(),
            touch,
            clock,
        }
    }

    /// Sends raw bytes through the transport; returns (data, sw) after
    /// draining any 61xx with GET RESPONSE, as the yubikey crate does.
    pub fn raw(&mut self, apdu: &[u8]) -> (Vec<u8>, u16) {
        let mut out = self.transport.handle(apdu, &mut self.card);
        let mut data = Vec::new();
        loop {
            let sw = u16::from_be_bytes([out[out.len() - 2], out[out.len() - 1]]);
            data.extend_from_slice(&out[..out.len() - 2]);
            if sw >> 8 != 0x61 {
                return (data, sw);
            }
            out = self.transport.handle(&[0, 0xc0, 0, 0, 0], &mut self.card);
        }
    }

    /// Builds a short APDU, chaining like the yubikey crate when data > 255.
    pub fn cmd(&mut self, ins: u8, p1: u8, p2: u8, data: &[u8]) -> (Vec<u8>, u16) {
        let chunks: Vec<&[u8]> = if data.is_empty() {
            vec![&[]]
        } else {
            data.chunks(255).collect()
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.iter().enumerate() {
            let cla = if i < last { 0x10 } else { 0x00 };
            let mut apdu = vec![cla, ins, p1, p2, chunk.len() as u8];
            apdu.extend_from_slice(chunk);
            let res = self.raw(&apdu);
            if i == last {
                return res;
            }
            assert_eq!(res.1, 0x9000, "chained block refused");
        }
        unreachable!()
    }

    pub fn select(&mut self) {
        assert_eq!(self.cmd(0xa4, 0x04, 0, super::PIV_AID).1, 0x9000);
    }

    pub fn verify(&mut self, pin: &[u8]) -> u16 {
        let mut block = [0xffu8; 8];
        block[..pin.len()].copy_from_slice(pin);
        self.cmd(0x20, 0, 0x80, &block).1
    }

    /// The yubikey crate's mutual authentication with `key`.
    pub fn mgm_auth_with(&mut self, key: &[u8]) -> u16 {
        let (resp, sw) = self.cmd(0x87, 0x03, 0x9b, &[0x7c, 0x02, 0x80, 0x00]);
        assert_eq!(sw, 0x9000);
        let witness = super::crypto::tdes_decrypt(key, resp[4..12].try_into().unwrap()).unwrap();
        let challenge = *b"hostchal";
        let mut data = vec![0x7c, 20, 0x80, 8];
        data.extend_from_slice(&witness);
        data.extend_from_slice(&[0x81, 8]);
        data.extend_from_slice(&challenge);
        let (resp, sw) = self.cmd(0x87, 0x03, 0x9b, &data);
        if sw == 0x9000 {
            let expected = super::crypto::tdes_encrypt(key, &challenge).unwrap();
            assert_eq!(&resp[..4], &[0x7c, 0x0a, 0x82, 0x08]);
            assert_eq!(&resp[4..12], &expected, "card proved the wrong key");
        }
        sw
    }

    pub fn mgm_auth(&mut self) {
        assert_eq!(self.mgm_auth_with(&state::DEFAULT_MGM_KEY), 0x9000);
    }

    /// GENERATE with optional policy tags; returns the uncompressed point.
    pub fn generate(&mut self, slot: u8, pin: u8, touch: u8) -> Result<Vec<u8>, u16> {
        let mut inner = vec![0x80, 0x01, 0x11];
        if pin != 0 {
            inner.extend_from_slice(&[0xaa, 0x01, pin]);
        }
        if touch != 0 {
            inner.extend_from_slice(&[0xab, 0x01, touch]);
        }
        let (resp, sw) = self.cmd(0x47, 0, slot, &tlv::encode(&[0xac], &inner));
        if sw != 0x9000 {
            return Err(sw);
        }
        // 7F49 43 86 41 <65 bytes>, the exact shape the crate skips into.
        assert_eq!(&resp[..5], &[0x7f, 0x49, 0x43, 0x86, 0x41]);
        Ok(resp[5..].to_vec())
    }

    /// GENERAL AUTHENTICATE exactly as the crate frames it for ECDH.
    pub fn ecdh(&mut self, slot: u8, point: &[u8]) -> Result<Vec<u8>, u16> {
        let mut inner = vec![0x82, 0x00];
        inner.extend(tlv::encode(&[0x85], point));
        let (resp, sw) = self.cmd(0x87, 0x11, slot, &tlv::encode(&[0x7c], &inner));
        if sw != 0x9000 {
            return Err(sw);
        }
        assert_eq!(&resp[..4], &[0x7c, 0x22, 0x82, 0x20]);
        Ok(resp[4..].to_vec())
    }

    pub fn sign(&mut self, slot: u8, digest: &[u8]) -> Result<Vec<u8>, u16> {
        let mut inner = vec![0x82, 0x00];
        inner.extend(tlv::encode(&[0x81], digest));
        let (resp, sw) = self.cmd(0x87, 0x11, slot, &tlv::encode(&[0x7c], &inner));
        if sw != 0x9000 {
            return Err(sw);
        }
        let (outer, _) = tlv::parse_one(&resp).unwrap();
        let (sig, _) = tlv::parse_one(outer.value).unwrap();
        assert_eq!(sig.tag, 0x82);
        Ok(sig.value.to_vec())
    }

    pub fn touches_asked(&self) -> usize {
        self.touch.asked.load(Ordering::SeqCst)
    }

    pub fn set_touch(&self, touched: bool) {
        self.touch.touched.store(touched, Ordering::SeqCst);
    }
}
