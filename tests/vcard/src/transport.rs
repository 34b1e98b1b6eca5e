//! ISO 7816-4 transport on top of the applet: command chaining (CLA bit
//! 0x10) in, and 61xx / GET RESPONSE out.
//!
//! The yubikey crate splits anything longer than 255 bytes into chained short
//! APDUs and collects long answers with GET RESPONSE (INS C0), so the applet
//! itself only ever sees whole commands and returns whole responses.

use crate::apdu::{sw, Command, Response};

/// Something that answers whole (unchained) commands.
pub trait Applet {
    fn process(&mut self, cmd: &Command) -> Response;
}

const INS_GET_RESPONSE: u8 = 0xc0;
/// The most a short APDU response can carry.
const SHORT_MAX: usize = 256;

#[derive(Default)]
pub struct Transport {
    /// Command blocks received so far in a chain: (ins, p1, p2, data).
    chain: Option<(u8, u8, u8, Vec<u8>)>,
    /// Response bytes not yet collected with GET RESPONSE.
    pending: Vec<u8>,
    /// Status word to send once `pending` is drained.
    final_sw: u16,
}

impl Transport {
    /// Forgets half-done chains and unread responses (card reset/power cycle).
    pub fn reset(&mut self) {
        *self = Transport::default();
    }

    /// Handles one raw APDU and returns the raw response (data + SW1 SW2).
    pub fn handle(&mut self, raw: &[u8], applet: &mut dyn Applet) -> Vec<u8> {
        let cmd = match Command::parse(raw) {
            Ok(cmd) => cmd,
            Err(status) => return Response::status(status).to_bytes(),
        };
        if cmd.ins == INS_GET_RESPONSE && !cmd.is_chained() {
            if self.pending.is_empty() {
                return Response::status(sw::CONDITIONS_NOT_SATISFIED).to_bytes();
            }
            let max = cmd.le.unwrap_or(SHORT_MAX).min(SHORT_MAX);
            return self.next_chunk(max);
        }
        // Any other command abandons an unread response, as on real cards.
        self.pending.clear();

        if cmd.is_chained() {
            match &mut self.chain {
                Some((ins, p1, p2, data)) if (*ins, *p1, *p2) == (cmd.ins, cmd.p1, cmd.p2) => {
                    data.extend_from_slice(&cmd.data)
                }
                _ => self.chain = Some((cmd.ins, cmd.p1, cmd.p2, cmd.data.clone())),
            }
            return Response::status(sw::OK).to_bytes();
        }

        let whole = match self.chain.take() {
            Some((ins, p1, p2, mut data)) if (ins, p1, p2) == (cmd.ins, cmd.p1, cmd.p2) => {
                data.extend_from_slice(&cmd.data);
                Command { data, ..cmd }
            }
            _ => cmd,
        };
        let resp = applet.process(&whole);
        let max = if whole.extended {
            usize::MAX
        } else {
            whole.le.unwrap_or(SHORT_MAX).min(SHORT_MAX)
        };
        self.pending = resp.data;
        self.final_sw = resp.sw;
        self.next_chunk(max)
    }

    fn next_chunk(&mut self, max: usize) -> Vec<u8> {
        let n = self.pending.len().min(max);
        let mut out: Vec<u8> = self.pending.drain(..n).collect();
        let left = self.pending.len();
        let status = if left == 0 {
            self.final_sw
        } else {
            // 61 00 means "256 or more bytes remain".
            0x6100 | if left >= SHORT_MAX { 0 } else { left as u16 }
        };
        out.extend_from_slice(&status.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Echoes the command data back, repeated `p1` times, so tests can make
    /// responses of any size.
    struct Echo {
        seen: Vec<Command>,
    }

    impl Applet for Echo {
        fn process(&mut self, cmd: &Command) -> Response {
            self.seen.push(cmd.clone());
            Response::ok(cmd.data.repeat(usize::from(cmd.p1)))
        }
    }

    #[test]
    fn chained_blocks_reach_the_applet_as_one_command() {
        let mut t = Transport::default();
        let mut a = Echo { seen: vec![] };
        let mut first = vec![0x10, 0xdb, 0, 0, 0xff];
        first.extend(vec![1u8; 255]);
        assert_eq!(t.handle(&first, &mut a), vec![0x90, 0x00]);
        assert!(a.seen.is_empty());
        let out = t.handle(&[0x00, 0xdb, 0, 0, 2, 9, 9], &mut a);
        assert_eq!(out, vec![0x90, 0x00]);
        assert_eq!(a.seen.len(), 1);
        assert_eq!(a.seen[0].data.len(), 257);
        assert_eq!(&a.seen[0].data[255..], &[9, 9]);
    }

    #[test]
    fn long_responses_are_collected_with_get_response() {
        let mut t = Transport::default();
        let mut a = Echo { seen: vec![] };
        // 3 x 100 bytes = 300 bytes of response.
        let mut cmd = vec![0x00, 0x01, 3, 0, 100];
        cmd.extend(vec![5u8; 100]);
        let first = t.handle(&cmd, &mut a);
        assert_eq!(first.len(), 258);
        assert_eq!(&first[256..], &[0x61, 44]);
        let second = t.handle(&[0x00, 0xc0, 0, 0, 0], &mut a);
        assert_eq!(second.len(), 46);
        assert_eq!(&second[44..], &[0x90, 0x00]);
        // Nothing left: a further GET RESPONSE is refused.
        assert_eq!(t.handle(&[0x00, 0xc0, 0, 0, 0], &mut a), vec![0x69, 0x85]);
    }

    #[test]
    fn extended_commands_get_the_whole_response_at_once() {
        let mut t = Transport::default();
        let mut a = Echo { seen: vec![] };
        let mut cmd = vec![0x00, 0x01, 3, 0, 0, 0, 100];
        cmd.extend(vec![5u8; 100]);
        cmd.extend([0, 0]);
        let out = t.handle(&cmd, &mut a);
        assert_eq!(out.len(), 302);
        assert_eq!(&out[300..], &[0x90, 0x00]);
    }
}
