//! The format-preserving token (pure).
//!
//! Properties:
//! - Keyed and deterministic: the same value under the same key always gives
//!   the same token (joins and counts by token still work); without the key a
//!   token cannot be recomputed from a guessed value.
//! - Shape kept: the token has as many characters as the value; every decimal
//!   digit becomes an ASCII digit, every letter an ASCII letter of the same
//!   case (non-ASCII letters too), and every other character (`@ . - _ +`,
//!   spaces, symbols) is kept where it is. `jane.doe@example.com` becomes
//!   something like `qkfw.zla@hdmrzto.bsy`; `+1 415-555-0100` keeps its
//!   punctuation.
//! - Not reversible: each character is drawn from an HMAC-SHA256 keystream
//!   seeded by the HMAC of the *whole* value, so there is no per-character
//!   mapping to invert and no decryption; distinct values may (rarely) share
//!   a token. Separators stay in clear by design (the shape is the point).
//! - Slight bias: a digit is `byte % 10` and a letter `byte % 26`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Tokenises `value` with a keyed HMAC instance (see the module docs).
pub fn tokenize(keyed: &HmacSha256, value: &str) -> String {
    let mut seed_mac = keyed.clone();
    seed_mac.update(b"ade-token\0");
    seed_mac.update(value.as_bytes());
    let seed = seed_mac.finalize().into_bytes();

    let mut stream = KeyStream {
        keyed,
        seed: seed.into(),
        block: seed.into(),
        used: 0,
        counter: 0,
    };
    value
        .chars()
        .map(|c| {
            if c.is_numeric() {
                char::from(b'0' + stream.next() % 10)
            } else if c.is_alphabetic() {
                let base = if c.is_uppercase() { b'A' } else { b'a' };
                char::from(base + stream.next() % 26)
            } else {
                c
            }
        })
        .collect()
}

struct KeyStream<'a> {
    keyed: &'a HmacSha256,
    seed: [u8; 32],
    block: [u8; 32],
    used: usize,
    counter: u32,
}

impl KeyStream<'_> {
    fn next(&mut self) -> u8 {
        if self.used == self.block.len() {
            self.counter += 1;
            let mut mac = self.keyed.clone();
            mac.update(&self.seed);
            mac.update(&self.counter.to_be_bytes());
            self.block = mac.finalize().into_bytes().into();
            self.used = 0;
        }
        let b = self.block[self.used];
        self.used += 1;
        b
    }
}

#[cfg(test)]
mod tests {
    use hmac::KeyInit;

    use super::*;

    fn key(k: &[u8]) -> HmacSha256 {
        HmacSha256::new_from_slice(k).expect("any key length")
    }

    #[test]
    fn keeps_shape_and_separators() {
        let k = key(b"secret");
        let cases = [
            "jane.doe@example.com",
            "+1 415-555-0100",
            "AB-12_cd",
            "José Müller",
            "",
            "a-very-long-value-that-needs-more-than-thirty-two-characters-of-keystream-0123456789",
        ];
        for value in cases {
            let t = tokenize(&k, value);
            assert_eq!(t.chars().count(), value.chars().count(), "{value} -> {t}");
            for (a, b) in value.chars().zip(t.chars()) {
                if a.is_numeric() {
                    assert!(b.is_ascii_digit(), "{value} -> {t}");
                } else if a.is_alphabetic() {
                    assert!(
                        b.is_ascii_alphabetic() && a.is_uppercase() == b.is_uppercase(),
                        "{value} -> {t}"
                    );
                } else {
                    assert_eq!(a, b, "{value} -> {t}");
                }
            }
            if value.len() > 4 {
                assert_ne!(t, value);
            }
        }
    }

    #[test]
    fn keyed_and_deterministic() {
        let (k1, k2) = (key(b"one"), key(b"two"));
        assert_eq!(tokenize(&k1, "jane@example.com"), tokenize(&k1, "jane@example.com"));
        assert_ne!(tokenize(&k1, "jane@example.com"), tokenize(&k2, "jane@example.com"));
        assert_ne!(tokenize(&k1, "jane@example.com"), tokenize(&k1, "jane@example.org"));
        // Same prefix, different suffix: the whole token changes, not just the tail.
        let (a, b) = (tokenize(&k1, "1234567890"), tokenize(&k1, "1234567891"));
        assert_ne!(a[..5], b[..5]);
    }
}
