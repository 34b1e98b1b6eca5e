//! An entry setting as the entry spells it, with its parse: the file keeps the spelling (so the
//! tamper check compares exactly what was sealed, and a value a later release wrote survives a
//! rewrite), and the code gets a type, parsed once when the entry is read.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::keys::KeyType;
use crate::sign::Freshness;

/// A type an entry setting holds.
pub trait Setting: Copy {
    fn parse_setting(text: &str) -> Option<Self>;
    fn spelling(&self) -> String;
}

impl Setting for KeyType {
    fn parse_setting(text: &str) -> Option<Self> {
        KeyType::parse(text)
    }
    fn spelling(&self) -> String {
        self.as_str().to_owned()
    }
}

impl Setting for Freshness {
    fn parse_setting(text: &str) -> Option<Self> {
        Freshness::parse(text).ok()
    }
    fn spelling(&self) -> String {
        self.to_string()
    }
}

/// The setting's text and, when it parses, its value. Equal when the text is equal.
#[derive(Clone)]
pub struct Spelled<T> {
    text: String,
    value: Option<T>,
}

impl<T: Setting> Spelled<T> {
    pub fn new(value: T) -> Self {
        Self {
            text: value.spelling(),
            value: Some(value),
        }
    }

    /// The value, or `None` when the spelling does not parse (each caller decides what that
    /// means: the safe default, or a refusal naming the text).
    pub fn get(&self) -> Option<T> {
        self.value
    }

    /// The text as the entry has it.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl<T: Setting> From<&str> for Spelled<T> {
    fn from(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            value: T::parse_setting(text),
        }
    }
}

impl<T> PartialEq for Spelled<T> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<T> fmt::Debug for Spelled<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl<T> fmt::Display for Spelled<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<T> Serialize for Spelled<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de, T: Setting> Deserialize<'de> for Spelled<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from(String::deserialize(d)?.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spelling_is_kept_and_parsed_once() {
        let f: Spelled<Freshness> = "5".into();
        assert_eq!(f.get(), Some(Freshness::DEFAULT));
        assert_eq!(f.as_str(), "5");
        assert_ne!(f, Spelled::new(Freshness::DEFAULT), "5 is not spelled 5s");
        let k: Spelled<KeyType> = "token-p257".into();
        assert_eq!(k.get(), None);
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"token-p257\"");
        let back: Spelled<KeyType> = serde_json::from_str("\"hmac\"").unwrap();
        assert_eq!(back.get(), Some(KeyType::Hmac));
    }
}
