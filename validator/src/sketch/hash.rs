//! Stable 64-bit hashes for sketches. Stable across processes and versions (no
//! random seed), because HyperLogLog states are stored in the metrics history and
//! merged with states computed by later runs.

use std::hash::{BuildHasherDefault, Hasher};

/// Hash of a byte string (xxh3, seed 0).
#[inline]
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// Hash of a 64-bit value: the splitmix64 finalizer, a bijection with full avalanche.
#[inline]
pub fn hash_u64(v: u64) -> u64 {
    let mut z = v.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of a float, with `-0.0` equal to `0.0` and every NaN equal.
#[inline]
pub fn hash_f64(v: f64) -> u64 {
    let bits = if v == 0.0 {
        0
    } else if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    };
    hash_u64(bits)
}

/// A `Hasher` for keys that already are good hashes: passes the `u64` through.
#[derive(Default, Debug, Clone, Copy)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
}

/// Build-hasher for maps and sets keyed by precomputed hashes.
pub type IdentityBuild = BuildHasherDefault<IdentityHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable() {
        // Stored HLL states depend on these values never changing.
        assert_eq!(hash_u64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(hash_bytes(b""), 0x2D06_8005_38D3_94C2);
        assert_eq!(hash_f64(-0.0), hash_f64(0.0));
        assert_eq!(hash_f64(f64::NAN), hash_f64(-f64::NAN));
    }
}
