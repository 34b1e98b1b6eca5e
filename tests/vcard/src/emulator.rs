//! Ties the pieces together: vpcd messages in, card answers out, state
//! saved when it changes, and card removal/reinsertion on command.

use crate::control::ControlDir;
use crate::piv::PivCard;
use crate::state::CardState;
use crate::transport::Transport;
use crate::vpcd::{self, Link};
use std::path::PathBuf;
use std::thread::sleep;
use std::time::Duration;

/// How often the card checks the control directory while idle.
const POLL: Duration = Duration::from_millis(100);
/// Pause between connection attempts while pcscd/vpcd is not listening.
const RETRY: Duration = Duration::from_millis(250);
/// Shortest time a removed card stays out. pcscd polls vpcd for presence
/// about every 400 ms; a card that comes back faster can be missed, and
/// pcscd then keeps reporting "no card" although vpcd has one.
pub const DEFAULT_MIN_REMOVAL: Duration = Duration::from_millis(1000);

pub struct Emulator {
    /// Log every vpcd message (env APISEC_VCARD_TRACE=1); APDUs may carry PINs.
    trace: bool,
    card: PivCard,
    transport: Transport,
    state_path: Option<PathBuf>,
    control: Option<ControlDir>,
    min_removal: Duration,
}

impl Emulator {
    pub fn new(card: PivCard, state_path: Option<PathBuf>, control: Option<ControlDir>) -> Self {
        Emulator {
            trace: std::env::var_os("APISEC_VCARD_TRACE").is_some(),
            card,
            transport: Transport::default(),
            state_path,
            control,
            min_removal: DEFAULT_MIN_REMOVAL,
        }
    }

    pub fn with_min_removal(mut self, d: Duration) -> Self {
        self.min_removal = d;
        self
    }

    pub fn state(&self) -> &CardState {
        self.card.state()
    }

    /// A fresh session, as after any power cycle, reset or reinsertion.
    fn reset(&mut self) {
        self.card.reset_session();
        self.transport.reset();
    }

    /// Answers one vpcd message; `None` for messages that get no reply.
    pub fn handle(&mut self, msg: &[u8]) -> Option<Vec<u8>> {
        let reply = self.answer(msg);
        if self.trace {
            let out = reply.as_deref().map(hex::encode).unwrap_or_default();
            eprintln!("apisec-vcard: > {} < {out}", hex::encode(msg));
        }
        reply
    }

    fn answer(&mut self, msg: &[u8]) -> Option<Vec<u8>> {
        match msg {
            [] => None,
            [vpcd::CTRL_GET_ATR] => Some(vpcd::ATR.to_vec()),
            [vpcd::CTRL_POWER_OFF | vpcd::CTRL_POWER_ON | vpcd::CTRL_RESET] => {
                self.reset();
                None
            }
            [other] => {
                eprintln!("apisec-vcard: ignoring unknown vpcd control byte {other:#04x}");
                None
            }
            apdu => {
                if self
                    .control
                    .as_ref()
                    .is_some_and(|c| c.take("forget-touch"))
                {
                    self.card.forget_touch();
                }
                let resp = self.transport.handle(apdu, &mut self.card);
                if self.card.take_dirty() {
                    self.save();
                }
                Some(resp)
            }
        }
    }

    fn save(&self) {
        if let Some(path) = &self.state_path {
            if let Err(e) = self.card.state().save(path) {
                eprintln!("apisec-vcard: cannot save state to {}: {e}", path.display());
            }
        }
    }

    fn present(&self) -> bool {
        self.control.as_ref().is_none_or(|c| c.present())
    }

    fn mark_connected(&self, up: bool) {
        if let Some(c) = &self.control {
            c.write("connected", if up { "1\n" } else { "0\n" });
        }
    }

    /// Runs forever: insert (connect), serve, and on removal or vpcd going
    /// away, reconnect once the card is "present" again.
    pub fn run(&mut self, addr: &str) -> ! {
        self.save();
        let mut waiting_logged = false;
        loop {
            self.mark_connected(false);
            if !self.present() {
                sleep(POLL);
                continue;
            }
            let mut link = match Link::connect(addr, POLL) {
                Ok(link) => link,
                Err(e) => {
                    if !waiting_logged {
                        eprintln!("apisec-vcard: waiting for vpcd on {addr} ({e})");
                        waiting_logged = true;
                    }
                    sleep(RETRY);
                    continue;
                }
            };
            waiting_logged = false;
            eprintln!("apisec-vcard: card inserted (connected to {addr})");
            self.reset();
            self.mark_connected(true);
            self.serve(&mut link);
            // Dropping the link closes the socket: vpcd reports the card removed.
            drop(link);
            self.reset();
            eprintln!("apisec-vcard: card removed");
            self.mark_connected(false);
            sleep(self.min_removal);
        }
    }

    /// Serves one connection until it closes or the test removes the card.
    fn serve(&mut self, link: &mut Link) {
        loop {
            if !self.present() {
                return;
            }
            match link.poll() {
                Ok(Some(msg)) => {
                    if let Some(reply) = self.handle(&msg) {
                        if let Err(e) = link.send(&reply) {
                            eprintln!("apisec-vcard: send failed: {e}");
                            return;
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    eprintln!("apisec-vcard: vpcd connection closed: {e}");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::touch::SystemClock;

    struct NoTouch;
    impl crate::touch::TouchSensor for NoTouch {
        fn wait_for_touch(&mut self) -> bool {
            false
        }
    }

    fn emulator(path: Option<PathBuf>) -> Emulator {
        let card = PivCard::new(
            CardState::new(7),
            Box::new(NoTouch),
            Box::new(SystemClock::default()),
        );
        Emulator::new(card, path, None)
    }

    #[test]
    fn control_messages() {
        let mut e = emulator(None);
        assert_eq!(e.handle(&[4]), Some(vpcd::ATR.to_vec()));
        assert_eq!(e.handle(&[1]), None);
        assert_eq!(e.handle(&[2]), None);
        assert_eq!(e.handle(&[0]), None);
    }

    #[test]
    fn reset_forgets_the_selected_applet_and_pin() {
        let mut e = emulator(None);
        let mut select = vec![0, 0xa4, 4, 0, 5];
        select.extend_from_slice(crate::piv::PIV_AID);
        assert!(e.handle(&select).unwrap().ends_with(&[0x90, 0]));
        let verify = [
            0, 0x20, 0, 0x80, 8, b'1', b'2', b'3', b'4', b'5', b'6', 0xff, 0xff,
        ];
        assert_eq!(e.handle(&verify), Some(vec![0x90, 0]));
        e.handle(&[2]);
        assert_eq!(e.handle(&[0, 0x20, 0, 0x80]), Some(vec![0x6d, 0x00]));
        e.handle(&select);
        assert_eq!(e.handle(&[0, 0x20, 0, 0x80]), Some(vec![0x63, 0xc3]));
    }

    #[test]
    fn wrong_pin_is_saved_to_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        let mut e = emulator(Some(path.clone()));
        let mut select = vec![0, 0xa4, 4, 0, 5];
        select.extend_from_slice(crate::piv::PIV_AID);
        e.handle(&select);
        let verify = [
            0, 0x20, 0, 0x80, 8, b'0', b'0', b'0', b'0', b'0', b'0', 0xff, 0xff,
        ];
        assert_eq!(e.handle(&verify), Some(vec![0x63, 0xc2]));
        assert_eq!(CardState::load(&path).unwrap().pin.tries_left, 2);
    }
}
