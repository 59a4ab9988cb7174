//! The binary form of sketch states in the metrics history (version 1),
//! stored as standard base64 strings in the JSON record. Little-endian throughout:
//!
//! ```text
//! envelope  "ADSK" (4 bytes) · version u8 = 1 · kind u8 · payload
//! kind 1    HyperLogLog: precision u8 · encoding u8 · registers
//!                     encoding 0 sparse (per set register: index u16 big-endian · value u8)
//!                              1 dense (2^precision bytes, one per register)
//! kind 2    KLL:      k u32 · n u64 · floor u32 · levels u32 ·
//!                     per level: items u32 · items × f64   (level l weighs 2^l)
//! kind 3    frequent: max_error u64 · value type u8 · items u32 ·
//!                     per item: count u64 · value
//!           value type 0 int (i64) · 1 float (f64) · 2 text (u32 length · UTF-8)
//!                      · 3 time (i64 µs since the epoch, UTC) · 4 bool (u8)
//! ```
//!
//! Records written before version 1 stored HyperLogLog and KLL states as JSON
//! objects; they still read. A reader meets an unknown version or kind with an
//! error, never a wrong sketch. (The Apache DataSketches formats were
//! considered: their HLL hashes values with MurmurHash3 and its own seed, so
//! adopting them would have made every stored state unmergeable with new ones,
//! and the profile's HLL is fed hashes the frequent-values summary already
//! computed; our layouts stay small and are documented here instead.)

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::scalar::Scalar;

const MAGIC: &[u8; 4] = b"ADSK";
/// The format version written.
pub const VERSION: u8 = 1;
/// Kind byte of a HyperLogLog.
pub const KIND_HLL: u8 = 1;
/// Kind byte of a KLL sketch.
pub const KIND_KLL: u8 = 2;
/// Kind byte of a frequent-items summary.
pub const KIND_FREQUENT: u8 = 3;

/// Why a stored sketch cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("not base64: {0}")]
    Base64(String),
    #[error("not an ADE sketch (no ADSK header)")]
    Magic,
    #[error("sketch format version {0}; this ade-validate reads version {VERSION}")]
    Version(u8),
    #[error("sketch kind {found}, expected {expected}")]
    Kind { found: u8, expected: u8 },
    #[error("truncated or malformed sketch")]
    Truncated,
}

/// Writes an envelope of `kind` around the payload `body` writes; base64.
pub fn encode(kind: u8, body: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(kind);
    body(&mut out);
    STANDARD.encode(out)
}

/// Opens an envelope of `kind`: a reader positioned at its payload.
pub fn decode(text: &str, kind: u8) -> Result<Reader, CodecError> {
    let bytes = STANDARD.decode(text).map_err(|e| CodecError::Base64(e.to_string()))?;
    let mut r = Reader { bytes, at: 0 };
    if r.take(4)? != MAGIC {
        return Err(CodecError::Magic);
    }
    match r.u8()? {
        VERSION => {}
        v => return Err(CodecError::Version(v)),
    }
    match r.u8()? {
        k if k == kind => Ok(r),
        found => Err(CodecError::Kind { found, expected: kind }),
    }
}

/// Reads a payload.
#[derive(Debug)]
pub struct Reader {
    bytes: Vec<u8>,
    at: usize,
}

impl Reader {
    fn take(&mut self, n: usize) -> Result<&[u8], CodecError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(CodecError::Truncated)?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        self.take(N)?.try_into().map_err(|_| CodecError::Truncated)
    }

    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub fn i64(&mut self) -> Result<i64, CodecError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    pub fn f64(&mut self) -> Result<f64, CodecError> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// A count of items that each take at least `min_size` bytes: bounded by what is left.
    pub fn count(&mut self, min_size: usize) -> Result<usize, CodecError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_size.max(1)) > self.bytes.len() - self.at {
            return Err(CodecError::Truncated);
        }
        Ok(n)
    }

    /// The bytes not read yet (the reader ends there).
    pub fn rest(self) -> Vec<u8> {
        self.bytes[self.at..].to_vec()
    }

    /// Fails unless every byte was read.
    pub fn finish(self) -> Result<(), CodecError> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(CodecError::Truncated)
        }
    }

    /// A value of the frequent-items layout.
    pub fn scalar(&mut self, value_type: u8) -> Result<Scalar, CodecError> {
        Ok(match value_type {
            0 => Scalar::Int(self.i64()?),
            1 => Scalar::Float(self.f64()?),
            2 => {
                let n = self.count(1)?;
                let text = std::str::from_utf8(self.take(n)?).map_err(|_| CodecError::Truncated)?;
                Scalar::Text(text.to_owned())
            }
            3 => Scalar::Time(self.i64()?),
            4 => Scalar::Bool(self.u8()? != 0),
            _ => return Err(CodecError::Truncated),
        })
    }
}

/// The value type byte of a scalar, and its bytes.
pub fn write_scalar(out: &mut Vec<u8>, value: &Scalar) {
    match value {
        Scalar::Int(v) => out.extend_from_slice(&v.to_le_bytes()),
        Scalar::Float(v) => out.extend_from_slice(&v.to_le_bytes()),
        Scalar::Text(s) => {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Scalar::Time(v) => out.extend_from_slice(&v.to_le_bytes()),
        Scalar::Bool(b) => out.push(u8::from(*b)),
    }
}

/// The value type byte of a scalar.
pub fn scalar_type(value: &Scalar) -> u8 {
    match value {
        Scalar::Int(_) => 0,
        Scalar::Float(_) => 1,
        Scalar::Text(_) => 2,
        Scalar::Time(_) => 3,
        Scalar::Bool(_) => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_reject_other_versions_kinds_and_garbage() {
        let text = encode(KIND_KLL, |out| out.extend_from_slice(&7u32.to_le_bytes()));
        let mut r = decode(&text, KIND_KLL).unwrap();
        assert_eq!(r.u32(), Ok(7));
        assert_eq!(r.finish(), Ok(()));
        assert_eq!(
            decode(&text, KIND_FREQUENT).err(),
            Some(CodecError::Kind {
                found: KIND_KLL,
                expected: KIND_FREQUENT
            })
        );
        let v2 = STANDARD.encode(b"ADSK\x02\x02");
        assert_eq!(decode(&v2, KIND_KLL).err(), Some(CodecError::Version(2)));
        assert_eq!(
            decode(&STANDARD.encode(b"nope!!"), KIND_KLL).err(),
            Some(CodecError::Magic)
        );
        let mut short = decode(&text, KIND_KLL).unwrap();
        assert_eq!(short.u64(), Err(CodecError::Truncated));
        let huge = encode(KIND_KLL, |out| out.extend_from_slice(&u32::MAX.to_le_bytes()));
        assert_eq!(decode(&huge, KIND_KLL).unwrap().count(8), Err(CodecError::Truncated));
    }
}
