//! BER-TLV as PIV uses it: one- or two-byte tags, DER-style definite lengths.
//!
//! PIV only ever nests a couple of levels deep and never uses indefinite
//! lengths, so a flat parser over a byte slice is all the card needs.

/// Appends a DER definite length (short form, 0x81 xx or 0x82 xx xx).
pub fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
}

/// Encodes one TLV; `tag` is given as its raw bytes (e.g. `[0x7f, 0x49]`).
pub fn encode(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tag.len() + 3 + value.len());
    out.extend_from_slice(tag);
    push_len(&mut out, value.len());
    out.extend_from_slice(value);
    out
}

/// One parsed TLV: the tag as a big-endian integer of its raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u32,
    pub value: &'a [u8],
}

/// The input was not a well-formed TLV sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Parses one TLV from the front of `buf`, returning it and the rest.
pub fn parse_one(buf: &[u8]) -> Result<(Tlv<'_>, &[u8]), Malformed> {
    let first = *buf.first().ok_or(Malformed)?;
    // Low five bits all set means "tag continues" (ISO 7816-4 / X.690);
    // PIV uses at most two-byte tags such as 7F49 and 5F?? objects.
    let tag_len = if first & 0x1f == 0x1f { 2 } else { 1 };
    if buf.len() < tag_len + 1 {
        return Err(Malformed);
    }
    let tag = buf[..tag_len]
        .iter()
        .fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    let rest = &buf[tag_len..];
    let (len, hdr) = match rest[0] {
        n if n < 0x80 => (usize::from(n), 1),
        0x81 if rest.len() >= 2 => (usize::from(rest[1]), 2),
        0x82 if rest.len() >= 3 => ((usize::from(rest[1]) << 8) | usize::from(rest[2]), 3),
        _ => return Err(Malformed),
    };
    let rest = &rest[hdr..];
    if rest.len() < len {
        return Err(Malformed);
    }
    Ok((
        Tlv {
            tag,
            value: &rest[..len],
        },
        &rest[len..],
    ))
}

/// Parses a whole buffer as a sequence of sibling TLVs.
pub fn parse_all(mut buf: &[u8]) -> Result<Vec<Tlv<'_>>, Malformed> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (tlv, rest) = parse_one(buf)?;
        out.push(tlv);
        buf = rest;
    }
    Ok(out)
}

/// Finds the first sibling with `tag`.
pub fn find<'a>(tlvs: &[Tlv<'a>], tag: u32) -> Option<&'a [u8]> {
    tlvs.iter().find(|t| t.tag == tag).map(|t| t.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_across_forms() {
        for len in [0usize, 1, 0x7f, 0x80, 0xff, 0x100, 0x3ff] {
            let value = vec![0xab; len];
            let enc = encode(&[0x53], &value);
            let (tlv, rest) = parse_one(&enc).unwrap();
            assert_eq!(tlv.tag, 0x53);
            assert_eq!(tlv.value.len(), len);
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn two_byte_tag_is_recognised() {
        let enc = encode(&[0x7f, 0x49], &[0x86, 0x01, 0x04]);
        let (tlv, _) = parse_one(&enc).unwrap();
        assert_eq!(tlv.tag, 0x7f49);
        assert_eq!(tlv.value, &[0x86, 0x01, 0x04]);
    }

    #[test]
    fn truncated_value_is_rejected() {
        assert_eq!(parse_one(&[0x81, 0x05, 1, 2]), Err(Malformed));
        assert_eq!(parse_all(&[0x81]), Err(Malformed));
    }
}
