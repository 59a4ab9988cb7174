//! Per-batch loops over whole value buffers (hashing, integer → float), compiled
//! for three vector widths and picked at run time: AVX-512 (with DQ, whose 64-bit
//! multiplies and integer ↔ float conversions the hash and the conversion need
//! in vector registers), AVX2, and the baseline x86-64 the binary is built for.
//! Each variant is the same scalar Rust, vectorized by the compiler, so the
//! results are identical bit for bit: stored sketch states do not depend on the
//! machine that computed them. Pure.

use super::hash::hash_u64;

/// Defines `pub fn $name(input, out)`, which appends the body's result for every
/// input value to `out`; the body is compiled once per width and the widest the CPU
/// supports is called.
macro_rules! wide_map {
    ($(#[$meta:meta])* $name:ident: |$x:ident: $in:ty| -> $out:ty $body:block) => {
        $(#[$meta])*
        pub fn $name(input: &[$in], out: &mut Vec<$out>) {
            let start = out.len();
            out.resize(start + input.len(), Default::default());
            let output = &mut out[start..];
            #[inline(always)]
            fn each(input: &[$in], output: &mut [$out]) {
                for (o, &$x) in output.iter_mut().zip(input) {
                    *o = $body;
                }
            }
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
                fn avx512(input: &[$in], output: &mut [$out]) {
                    each(input, output)
                }
                #[target_feature(enable = "avx2")]
                fn avx2(input: &[$in], output: &mut [$out]) {
                    each(input, output)
                }
                if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512dq")
                    && std::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the CPU has every feature `avx512` was compiled for.
                    #[expect(unsafe_code, reason = "a target-feature call after the run-time check")]
                    return unsafe { avx512(input, output) };
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2.
                    #[expect(unsafe_code, reason = "a target-feature call after the run-time check")]
                    return unsafe { avx2(input, output) };
                }
            }
            each(input, output)
        }
    };
}

wide_map! {
    /// Appends `hash_u64(v as u64)` of every value: integer and timestamp values.
    hash_i64s: |v: i64| -> u64 { hash_u64(v as u64) }
}

wide_map! {
    /// Appends `hash_f64(v)` of every value, for finite values (no NaN: a NaN hashes as
    /// its own bits here, not as the canonical NaN [`hash_f64`] uses). Branch-free,
    /// so it vectorizes.
    hash_finite_f64s: |v: f64| -> u64 { hash_u64(if v == 0.0 { 0 } else { v.to_bits() }) }
}

wide_map! {
    /// Appends `v as f64` of every value.
    i64s_as_f64s: |v: i64| -> f64 { v as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::hash::hash_f64;

    /// Unit test: the dispatched loops (the widest variant this machine has) give the
    /// scalar functions' results, appended after what the output held, on lengths around the vector widths' multiples.
    #[test]
    fn wide_loops_match_the_scalar_functions() {
        for len in [0, 1, 7, 8, 9, 63, 64, 1_000] {
            let mut ints: Vec<i64> = (0..len as i64)
                .map(|i| (i * 0x9E37_79B9).wrapping_mul(i - 500) ^ (i << 50))
                .collect();
            let extremes = [i64::MIN, i64::MAX, -1, 0];
            let n = len.min(extremes.len());
            ints[..n].copy_from_slice(&extremes[..n]);
            let floats: Vec<f64> = ints
                .iter()
                .map(|&i| (i as f64) * 1e-7)
                .chain([0.0, -0.0, f64::MAX, -f64::MIN_POSITIVE])
                .collect();
            let mut hashes = vec![7];
            hash_i64s(&ints, &mut hashes);
            let want: Vec<u64> = [7]
                .into_iter()
                .chain(ints.iter().map(|&v| hash_u64(v as u64)))
                .collect();
            assert_eq!(hashes, want);
            let mut as_f64 = Vec::new();
            i64s_as_f64s(&ints, &mut as_f64);
            assert_eq!(as_f64, ints.iter().map(|&v| v as f64).collect::<Vec<_>>());
            let mut hashes = Vec::new();
            hash_finite_f64s(&floats, &mut hashes);
            assert_eq!(hashes, floats.iter().map(|&v| hash_f64(v)).collect::<Vec<_>>());
        }
    }
}
