//! Pieces every preset shares: method checks, stamp checks, MACs and encodings.
//!
//! Kept private to the crate so a preset's public face stays the [`Preset`] trait alone.

use crate::sign::mac_key::{Hash, KeyForm};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256, Sha512};

use crate::sign::login::{Json, LoginMessage};
use crate::sign::preset::{Credentials, PresetError, TimeFormat};

pub(crate) fn bad(exchange: &'static str, reason: impl Into<String>) -> PresetError {
    PresetError::BadRequest {
        exchange,
        reason: reason.into(),
    }
}

/// A value that goes into a header must not be able to end the header early (CR/LF) or smuggle
/// other control bytes; the api key comes from user config, the stamp from a client.
pub(crate) fn header_safe(
    exchange: &'static str,
    what: &str,
    value: &str,
) -> Result<(), PresetError> {
    if value.is_empty() {
        return Err(bad(exchange, format!("the {what} is empty")));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(bad(
            exchange,
            format!("the {what} contains control characters"),
        ));
    }
    Ok(())
}

/// Checks the stamp's timestamp has the shape the preset announced, so a client-supplied value
/// cannot carry anything but a time into the prehash and headers.
pub(crate) fn check_timestamp(
    exchange: &'static str,
    format: TimeFormat,
    ts: &str,
) -> Result<(), PresetError> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = match format {
        TimeFormat::UnixMillis | TimeFormat::UnixSeconds => digits(ts),
        TimeFormat::UnixSecondsDecimal => match ts.split_once('.') {
            Some((whole, frac)) => digits(whole) && digits(frac),
            None => digits(ts),
        },
        TimeFormat::Iso8601Millis => iso8601_millis_shape(ts),
    };
    if ok {
        Ok(())
    } else {
        Err(bad(
            exchange,
            format!("timestamp {ts:?} is not in the {format:?} format"),
        ))
    }
}

pub(crate) use crate::timefmt::iso8601_millis_shape;

/// Nonces end up in headers and in `k=v` bodies, so only plain tokens are allowed.
pub(crate) fn stamped_nonce<'a>(
    exchange: &'static str,
    nonce: Option<&'a str>,
    digits_only: bool,
) -> Result<&'a str, PresetError> {
    let n = nonce.ok_or_else(|| bad(exchange, "no nonce was stamped for this request"))?;
    let ok = !n.is_empty()
        && n.bytes().all(|b| {
            if digits_only {
                b.is_ascii_digit()
            } else {
                b.is_ascii_alphanumeric()
            }
        });
    if ok {
        Ok(n)
    } else if digits_only {
        Err(bad(
            exchange,
            format!("nonce {n:?} is not a decimal integer"),
        ))
    } else {
        Err(bad(exchange, format!("nonce {n:?} is not alphanumeric")))
    }
}

pub(crate) fn utf8<'a>(
    exchange: &'static str,
    what: &str,
    bytes: &'a [u8],
) -> Result<&'a str, PresetError> {
    std::str::from_utf8(bytes).map_err(|_| bad(exchange, format!("the {what} is not valid UTF-8")))
}

/// The passphrase travels in a header, so it has to be text; its content is never echoed.
pub(crate) fn passphrase<'a>(
    exchange: &'static str,
    p: Option<&'a [u8]>,
) -> Result<&'a str, PresetError> {
    let p = p.ok_or(PresetError::MissingPassphrase { exchange })?;
    let text = std::str::from_utf8(p).map_err(|_| PresetError::BadSecret {
        exchange,
        reason: "the passphrase is not valid UTF-8 text",
    })?;
    if text.is_empty() || text.chars().any(|c| c.is_control()) {
        return Err(PresetError::BadSecret {
            exchange,
            reason: "the passphrase is empty or contains control characters",
        });
    }
    Ok(text)
}

pub(crate) use crate::sign::mac_key::{base64_secret, nonempty_secret};

/// The digest of the bytes a signature covers, for the audit log: the parts the preset fed to
/// the MAC (or to the signing key), in order.
/// A JSON body for an exchange that also takes form bodies (telling them apart by Content-Type,
/// which the client chooses) and signs the bytes either way (Kraken, BitMEX): with an '&', the
/// same signed bytes sent as a form would be parameters the policy never saw.
pub(crate) fn json_without_ampersand(
    exchange: &'static str,
    body: &[u8],
) -> Result<(), PresetError> {
    if body.contains(&b'&') {
        return Err(bad(
            exchange,
            "the JSON body holds '&': sent as a form, the same signed bytes would be other \
             parameters; write '&' in JSON strings as \\u0026",
        ));
    }
    Ok(())
}

pub(crate) fn signed_digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    parts.iter().for_each(|p| h.update(p));
    h.finalize().into()
}

pub(crate) fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha256::new();
    parts.iter().for_each(|p| h.update(p));
    h.finalize().to_vec()
}

pub(crate) fn sha512_hex(data: &[u8]) -> String {
    hex::encode(Sha512::digest(data))
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

use crate::sign::encoding::form_decode;
pub(crate) use crate::sign::encoding::percent_encode;

/// `path` plus `?query` when there is one: the "request path" most exchanges sign.
pub(crate) fn path_and_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// Splits `a=1&b=2` into pairs, refusing empty keys so a malformed form is caught before it is
/// signed rather than rejected by the exchange with a vaguer message.
pub(crate) fn form_pairs<'a>(
    exchange: &'static str,
    what: &str,
    form: &'a str,
) -> Result<Vec<(&'a str, &'a str)>, PresetError> {
    if form.is_empty() {
        return Ok(Vec::new());
    }
    form.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k, v)),
            _ => Err(bad(
                exchange,
                format!("the {what} is not url-encoded key=value pairs (bad segment {pair:?})"),
            )),
        })
        .collect()
}

/// A value decoded, then encoded again the one way (`percent_encode`): for exchanges that sign
/// a canonical encoding whatever spelling the client sent.
pub(crate) fn reencode_value(
    exchange: &'static str,
    what: &str,
    name: &str,
    value: &str,
) -> Result<String, PresetError> {
    let text = form_decode(value).ok_or_else(|| {
        bad(
            exchange,
            format!("the value of {name:?} in the {what} does not decode to UTF-8 text"),
        )
    })?;
    Ok(percent_encode(&text))
}

/// A form (`k=v&...`) with every name and value re-encoded ([`reencode_value`]), in order.
pub(crate) fn reencode_form(
    exchange: &'static str,
    what: &str,
    form: &str,
) -> Result<String, PresetError> {
    let mut out = Vec::new();
    for (k, v) in form_pairs(exchange, what, form)? {
        let name = reencode_value(exchange, what, k, k)?;
        out.push(format!("{name}={}", reencode_value(exchange, what, k, v)?));
    }
    Ok(out.join("&"))
}

pub(crate) fn join_query(query: &str, additions: &[(String, String)]) -> String {
    let mut out = query.to_string();
    for (k, v) in additions {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// The WebSocket login Bitget and OKX share: `{"op":"login","args":[{"apiKey", "passphrase",
/// "timestamp", "sign"}]}`, sign = base64(HMAC-SHA256(secret, seconds + "GET" + `path`)). The
/// timestamp is in seconds where every REST one of theirs is not, and `path` is outside their
/// REST prefixes, so no REST signature is one.
pub(crate) fn verify_path_login(
    exchange: &'static str,
    credentials: &Credentials<'_>,
    now_ms: u64,
    path: &str,
) -> Result<LoginMessage, PresetError> {
    header_safe(exchange, "api key", credentials.api_key)?;
    let pass = passphrase(exchange, credentials.passphrase)?;
    let ts = (now_ms / 1000).to_string();
    let parts: &[&[u8]] = &[ts.as_bytes(), b"GET", path.as_bytes()];
    let sign = b64(&credentials.hmac(exchange, KeyForm::Trimmed, Hash::Sha256, parts)?);
    let args = Json::new()
        .str("apiKey", credentials.api_key)
        .str("passphrase", pass)
        .str("timestamp", &ts)
        .str("sign", &sign)
        .done();
    Ok(LoginMessage {
        message: Json::new()
            .str("op", "login")
            .raw("args", &format!("[{args}]"))
            .done(),
        fields: vec![
            ("apiKey", credentials.api_key.to_owned()),
            ("passphrase", pass.to_owned()),
            ("timestamp", ts.clone()),
            ("sign", sign),
        ],
        signed_sha256: signed_digest(parts),
    })
}

pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::sign::preset::{Credentials, HttpRequest, Preset, PresetError, Signed, Stamp};

    /// A preset's signing after the canonical checks, as `sign::sign` runs them.
    pub trait SignChecked {
        fn sign_checked(
            &self,
            r: &HttpRequest,
            c: &Credentials<'_>,
            s: &Stamp,
        ) -> Result<Signed, PresetError>;
    }

    impl<P: Preset + ?Sized> SignChecked for P {
        fn sign_checked(
            &self,
            r: &HttpRequest,
            c: &Credentials<'_>,
            s: &Stamp,
        ) -> Result<Signed, PresetError> {
            crate::sign::request::check(self.id(), self.shape(), r)?;
            self.sign(r, c, s)
        }
    }

    pub fn req(method: &str, path: &str, query: &str, body: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            body: body.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    pub fn creds<'a>(key: &'a str, secret: &'a str, pass: Option<&'a str>) -> Credentials<'a> {
        Credentials {
            api_key: key,
            secret: secret.as_bytes(),
            passphrase: pass.map(str::as_bytes),
            signer: None,
            mac: None,
        }
    }

    pub fn stamp(ts: &str, nonce: Option<&str>) -> Stamp {
        Stamp {
            timestamp: ts.into(),
            nonce: nonce.map(Into::into),
        }
    }

    pub fn header<'a>(h: &'a [(&'static str, String)], name: &str) -> &'a str {
        h.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("header {name} missing"))
    }
}
