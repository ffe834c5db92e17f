//! [`LatencyDigest`]: a mergeable latency histogram with bounded relative error and a compact,
//! versioned byte encoding for storage.
//!
//! Percentiles cannot be averaged: the daily p95 is not the mean of 24 hourly p95s. So every
//! bucket keeps a histogram, and merging histograms is exact (bin counts add up). The bins are
//! log-linear over integer milliseconds (the HDR-histogram layout): values below 64 ms have a
//! bin each, so they are exact; above that, each power of two is split into 32 bins, so a bin
//! is never wider than 1/32 of its lower edge and the midpoint we report is within 1/64
//! (1.6 %) of every value in it — about what DDSketch is usually configured for. The maximum is
//! kept exactly beside the bins. (64 bins per power of two halve the error but make the hourly
//! row about 20 % larger; see `docs/monitoring.md`.)
//!
//! We keep our own small type instead of a sketch crate because the bin layout *is* the storage
//! format: it must never change under us with a dependency update, and it must encode to a few
//! dozen bytes (see `docs/monitoring.md` for measured sizes).

use serde::{Deserialize, Serialize};

/// Bits of sub-bucket resolution: 2^5 = 32 bins per power of two.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Largest bin index (the bin of `u64::MAX`).
const MAX_INDEX: u16 = bin_index(u64::MAX);
/// Version byte of the encoding written by [`LatencyDigest::encode`].
pub const ENCODING_VERSION: u8 = 1;

/// Why stored digest bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// No bytes at all.
    #[error("latency digest is empty (no version byte)")]
    Empty,
    /// Written by a newer opsdeck.
    #[error("latency digest has encoding version {0}; this build reads version 1")]
    UnknownVersion(u8),
    /// The bytes end in the middle of a value.
    #[error("latency digest is truncated")]
    Truncated,
    /// The bytes decode but describe an impossible histogram.
    #[error("latency digest is corrupt: {0}")]
    Corrupt(&'static str),
}

/// A latency histogram over integer milliseconds. See the module docs for its error bound.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyDigest {
    /// (bin index, count), sorted by index, counts > 0.
    bins: Vec<(u16, u64)>,
    count: u64,
    max: u64,
}

const fn bin_index(v: u64) -> u16 {
    if v < 2 * SUB {
        return v as u16;
    }
    let exp = 63 - v.leading_zeros();
    let shift = exp - SUB_BITS;
    let mantissa = v >> shift;
    (SUB + shift as u64 * SUB + (mantissa - SUB)) as u16
}

/// Lowest value and width of bin `idx`.
const fn bin_range(idx: u16) -> (u64, u64) {
    let idx = idx as u64;
    if idx < 2 * SUB {
        return (idx, 1);
    }
    let shift = (idx - SUB) / SUB;
    let mantissa = SUB + (idx - SUB) % SUB;
    (mantissa << shift, 1 << shift)
}

impl LatencyDigest {
    /// An empty digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// A digest of `values` (convenient in tests and examples).
    pub fn from_values(values: impl IntoIterator<Item = u64>) -> Self {
        let mut d = Self::new();
        for v in values {
            d.add(v);
        }
        d
    }

    /// Records one latency.
    pub fn add(&mut self, latency_ms: u64) {
        self.add_n(latency_ms, 1);
    }

    /// Records `n` latencies of the same value.
    pub fn add_n(&mut self, latency_ms: u64, n: u64) {
        if n == 0 {
            return;
        }
        let idx = bin_index(latency_ms);
        match self.bins.binary_search_by_key(&idx, |b| b.0) {
            Ok(i) => self.bins[i].1 = self.bins[i].1.saturating_add(n),
            Err(i) => self.bins.insert(i, (idx, n)),
        }
        self.count = self.count.saturating_add(n);
        self.max = self.max.max(latency_ms);
    }

    /// Adds every value of `other` into `self` (exact: the result is what adding all values to
    /// one digest would have given).
    pub fn merge(&mut self, other: &LatencyDigest) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other.clone();
            return;
        }
        // Common case when summing a window: every bin of `other` already exists here, so add in
        // place instead of building a new vector.
        let mut j = 0;
        let all_present = other.bins.iter().all(|&(idx, _)| {
            while j < self.bins.len() && self.bins[j].0 < idx {
                j += 1;
            }
            j < self.bins.len() && self.bins[j].0 == idx
        });
        if all_present {
            let mut j = 0;
            for &(idx, c) in &other.bins {
                while self.bins[j].0 < idx {
                    j += 1;
                }
                self.bins[j].1 = self.bins[j].1.saturating_add(c);
            }
            self.count = self.count.saturating_add(other.count);
            self.max = self.max.max(other.max);
            return;
        }
        let mut out = Vec::with_capacity(self.bins.len() + other.bins.len());
        let (mut a, mut b) = (self.bins.iter().peekable(), other.bins.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    out.push((x.0, x.1.saturating_add(y.1)));
                    a.next();
                    b.next();
                }
                (Some(x), Some(y)) if x.0 < y.0 => {
                    out.push(**x);
                    a.next();
                }
                (Some(_), Some(y)) => {
                    out.push(**y);
                    b.next();
                }
                (Some(x), None) => {
                    out.push(**x);
                    a.next();
                }
                (None, Some(y)) => {
                    out.push(**y);
                    b.next();
                }
                (None, None) => break,
            }
        }
        self.bins = out;
        self.count = self.count.saturating_add(other.count);
        self.max = self.max.max(other.max);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The exact maximum; `None` when empty.
    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    /// The nearest-rank percentile for `per_mille` (500 = median, 950 = p95, 1000 = max):
    /// the value at rank ⌈n·p⌉ in sorted order, within 1.6 % (exact below 64 ms, and the
    /// maximum is exact). `None` when empty.
    pub fn percentile_per_mille(&self, per_mille: u16) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let per_mille = u128::from(per_mille.min(1000));
        if per_mille == 1000 {
            return Some(self.max);
        }
        let n = u128::from(self.count);
        // ceil(n * p / 1000), at least rank 1; integer maths so 95 % of 100 is rank 95 exactly.
        let rank = ((n * per_mille).div_ceil(1000)).max(1);
        let mut seen: u128 = 0;
        for &(idx, c) in &self.bins {
            seen += u128::from(c);
            if seen >= rank {
                let (low, width) = bin_range(idx);
                return Some((low + (width - 1) / 2).min(self.max));
            }
        }
        Some(self.max)
    }

    /// Median (nearest rank).
    pub fn p50(&self) -> Option<u64> {
        self.percentile_per_mille(500)
    }

    /// 95th percentile (nearest rank).
    pub fn p95(&self) -> Option<u64> {
        self.percentile_per_mille(950)
    }

    /// Non-empty bins (a measure of how large the encoding is).
    pub fn bins(&self) -> usize {
        self.bins.len()
    }

    /// Compact bytes for storage: a version byte, then LEB128 varints — the maximum, the number
    /// of bins, and per bin the index delta and the count. Typically 2 bytes per distinct bin.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.bins.len() * 2);
        out.push(ENCODING_VERSION);
        put_varint(&mut out, self.max);
        put_varint(&mut out, self.bins.len() as u64);
        let mut prev = 0u16;
        for &(idx, c) in &self.bins {
            put_varint(&mut out, u64::from(idx - prev));
            put_varint(&mut out, c);
            prev = idx;
        }
        out
    }

    /// Reads bytes written by [`encode`](Self::encode) (any version this build knows).
    pub fn decode(bytes: &[u8]) -> Result<Self, DigestError> {
        let (&version, mut rest) = bytes.split_first().ok_or(DigestError::Empty)?;
        if version != ENCODING_VERSION {
            return Err(DigestError::UnknownVersion(version));
        }
        let max = get_varint(&mut rest)?;
        let n = get_varint(&mut rest)?;
        if n > u64::from(MAX_INDEX) + 1 {
            return Err(DigestError::Corrupt("more bins than exist"));
        }
        let mut bins = Vec::with_capacity(n as usize);
        let mut idx: u64 = 0;
        let mut count: u64 = 0;
        for i in 0..n {
            let delta = get_varint(&mut rest)?;
            if i > 0 && delta == 0 {
                return Err(DigestError::Corrupt("bins out of order"));
            }
            idx = idx.saturating_add(delta);
            if idx > u64::from(MAX_INDEX) {
                return Err(DigestError::Corrupt("bin index out of range"));
            }
            let c = get_varint(&mut rest)?;
            if c == 0 {
                return Err(DigestError::Corrupt("empty bin"));
            }
            count = count
                .checked_add(c)
                .ok_or(DigestError::Corrupt("count overflows"))?;
            bins.push((idx as u16, c));
        }
        if !rest.is_empty() {
            return Err(DigestError::Corrupt("trailing bytes"));
        }
        match bins.last() {
            Some(&(last, _)) if bin_index(max) != last => {
                return Err(DigestError::Corrupt("maximum is not in the highest bin"));
            }
            None if max != 0 => return Err(DigestError::Corrupt("maximum without values")),
            _ => {}
        }
        Ok(LatencyDigest { bins, count, max })
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(input: &mut &[u8]) -> Result<u64, DigestError> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = input.split_first().ok_or(DigestError::Truncated)?;
        *input = rest;
        let part = u64::from(b & 0x7f);
        if shift == 63 && part > 1 {
            return Err(DigestError::Corrupt("varint overflows"));
        }
        v |= part << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(DigestError::Corrupt("varint too long"))
}

// In JSON (API, persisted state) the digest is its storage bytes, so both paths read one format.
impl Serialize for LatencyDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.encode())
    }
}

impl<'de> Deserialize<'de> for LatencyDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = Vec::<u8>::deserialize(d)?;
        LatencyDigest::decode(&bytes).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_exact_below_64_and_tight_above() {
        for v in 0..64 {
            assert_eq!(bin_range(bin_index(v)), (v, 1));
        }
        for v in [
            64u64,
            65,
            127,
            128,
            129,
            1000,
            4095,
            4096,
            65_535,
            1 << 40,
            u64::MAX,
        ] {
            let (low, width) = bin_range(bin_index(v));
            assert!(low <= v && v - low < width, "{v}: {low}+{width}");
            assert!(width <= low / 32, "{v}");
            let est = low + (width - 1) / 2;
            assert!(est.abs_diff(v) as f64 <= v as f64 / 64.0, "{v}: {est}");
        }
        assert_eq!(MAX_INDEX, 1919);
    }

    #[test]
    fn hand_computed_percentiles() {
        let d = LatencyDigest::from_values(1..=100);
        assert_eq!(d.p50(), Some(50));
        // Rank 95 is 95 ms, in the bin [94, 95] whose midpoint (rounded down) is 94.
        assert_eq!(d.p95(), Some(94));
        assert_eq!(d.max(), Some(100));
        let d = LatencyDigest::from_values(1..=60);
        assert_eq!((d.p50(), d.p95()), (Some(30), Some(57)));
        // Four values: nearest rank of p50 is the 2nd, of p95 the 4th.
        let d = LatencyDigest::from_values([10, 40, 20, 30]);
        assert_eq!(d.p50(), Some(20));
        assert_eq!(d.p95(), Some(40));
        assert_eq!(LatencyDigest::new().p50(), None);
        assert_eq!(LatencyDigest::new().max(), None);
    }

    #[test]
    fn merged_percentiles_equal_those_of_all_values() {
        let a = LatencyDigest::from_values((0..500).map(|i| 100 + i * 3));
        let b = LatencyDigest::from_values((0..300).map(|i| 2_000 + i * 7));
        let mut merged = a.clone();
        merged.merge(&b);
        // Merging a subset of existing bins takes the in-place path; same result either way.
        let mut twice = merged.clone();
        twice.merge(&a);
        let mut expected = a.clone();
        expected.merge(&a);
        expected.merge(&b);
        assert_eq!(twice, expected);
        let all = LatencyDigest::from_values(
            (0..500)
                .map(|i| 100 + i * 3)
                .chain((0..300).map(|i| 2_000 + i * 7)),
        );
        assert_eq!(merged, all);
        // Within the bound against the true nearest-rank value.
        let mut sorted: Vec<u64> = (0..500)
            .map(|i| 100 + i * 3)
            .chain((0..300).map(|i| 2_000 + i * 7))
            .collect();
        sorted.sort_unstable();
        let true_p95 = sorted[(800 * 95usize).div_ceil(100) - 1];
        let est = merged.p95().unwrap_or_default();
        assert!(
            est.abs_diff(true_p95) * 128 <= true_p95,
            "{est} vs {true_p95}"
        );
        assert_eq!(merged.max(), Some(2_000 + 299 * 7));
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let d = LatencyDigest::from_values([0, 5, 5, 130, 9_999, 70_000]);
        let bytes = d.encode();
        assert_eq!(LatencyDigest::decode(&bytes), Ok(d));
        assert_eq!(
            LatencyDigest::decode(&LatencyDigest::new().encode()),
            Ok(LatencyDigest::new())
        );
        assert_eq!(LatencyDigest::decode(&[]), Err(DigestError::Empty));
        assert_eq!(
            LatencyDigest::decode(&[2, 0, 0]),
            Err(DigestError::UnknownVersion(2))
        );
        assert_eq!(
            LatencyDigest::decode(&bytes[..bytes.len() - 1]),
            Err(DigestError::Truncated)
        );
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            LatencyDigest::decode(&trailing),
            Err(DigestError::Corrupt(_))
        ));
        // A maximum that does not sit in the highest bin.
        assert!(matches!(
            LatencyDigest::decode(&[1, 50, 1, 10, 1]),
            Err(DigestError::Corrupt(_))
        ));
    }
}
