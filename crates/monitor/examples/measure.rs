//! Quick figures for docs/monitoring.md: the encoded size of hourly and daily latency digests for
//! typical check data, and the cost of adding a sample, merging buckets and encoding.
//!
//! Run with the crate optimised (dependencies can stay as they are):
//! `CARGO_PROFILE_DEV_PACKAGE_OPSDECK_MONITOR_OPT_LEVEL=3 cargo run -p opsdeck-monitor --example measure`
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use opsdeck_core::Status;
use opsdeck_monitor::digest::LatencyDigest;
use opsdeck_monitor::history::{Bucket, CheckSample};
use opsdeck_monitor::time::{BucketWidth, HOUR_MS, MINUTE_MS};

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Latency shaped like a vendor API: mostly 80–250 ms, a tail to ~1.5 s, rare 10 s timeouts.
    fn latency(&mut self) -> u64 {
        let r = self.next() % 1000;
        let base = 80 + self.next() % 170;
        match r {
            0..=949 => base,
            950..=997 => base * (2 + self.next() % 6),
            _ => 10_000,
        }
    }
}

fn main() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Sizes: 200 service-hours of minute checks.
    let mut hour_sizes = Vec::new();
    let mut day = LatencyDigest::new();
    for _ in 0..200 {
        let d = LatencyDigest::from_values((0..60).map(|_| rng.latency()));
        hour_sizes.push(d.encode().len());
        day.merge(&d);
    }
    hour_sizes.sort_unstable();
    let mean = hour_sizes.iter().sum::<usize>() as f64 / hour_sizes.len() as f64;
    println!(
        "hourly digest (60 checks): mean {mean:.1} B, median {} B, max {} B",
        hour_sizes[hour_sizes.len() / 2],
        hour_sizes[hour_sizes.len() - 1]
    );
    let one_day = LatencyDigest::from_values((0..1440).map(|_| rng.latency()));
    println!(
        "daily digest (1440 checks): {} B ({} bins)",
        one_day.encode().len(),
        one_day.bins()
    );
    println!(
        "200 hours merged (12000 checks): {} B ({} bins)",
        day.encode().len(),
        day.bins()
    );
    let flat = LatencyDigest::from_values((0..60).map(|_| 120 + rng.next() % 10));
    println!(
        "hourly digest, steady 120-129 ms: {} B",
        flat.encode().len()
    );
    println!("empty digest: {} B", LatencyDigest::new().encode().len());

    // Cost of adding one sample to an hourly bucket.
    let n = 5_000_000u64;
    let samples: Vec<CheckSample> = (0..4096)
        .map(|i| CheckSample {
            at_ms: (i % 60) * MINUTE_MS,
            status: if i % 50 == 0 {
                Status::Failed
            } else {
                Status::Connected
            },
            failure: None,
            latency_ms: rng.latency(),
        })
        .collect();
    let mut bucket = Bucket::containing(BucketWidth::Hour, 0);
    let t = Instant::now();
    for i in 0..n {
        bucket
            .add(black_box(&samples[(i % 4096) as usize]))
            .unwrap();
    }
    let add_ns = t.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "Bucket::add: {add_ns:.1} ns/sample ({:.1} M samples/s)",
        1e3 / add_ns
    );

    // Cost of merging 24 hourly buckets into a day.
    let hours: Vec<Bucket> = (0..24)
        .map(|h| {
            let mut b = Bucket::containing(BucketWidth::Hour, h * HOUR_MS);
            for m in 0..60 {
                let s = CheckSample {
                    at_ms: h * HOUR_MS + m * MINUTE_MS,
                    status: Status::Connected,
                    failure: None,
                    latency_ms: rng.latency(),
                };
                b.add(&s).unwrap();
            }
            b
        })
        .collect();
    let rounds = 20_000;
    let t = Instant::now();
    for _ in 0..rounds {
        let mut d = Bucket::containing(BucketWidth::Day, 0);
        for h in &hours {
            d.merge(black_box(h)).unwrap();
        }
        black_box(d);
    }
    let merge_ns = t.elapsed().as_nanos() as f64 / (rounds * 24) as f64;
    println!("Bucket::merge (hour into day): {merge_ns:.0} ns/merge");

    // 30-day window: 29 daily + 24 hourly buckets merged, the per-service cost of an uptime query.
    let days: Vec<Bucket> = (0..29)
        .map(|_| {
            let mut d = Bucket::containing(BucketWidth::Day, 0);
            for h in &hours {
                d.merge(h).unwrap();
            }
            d
        })
        .collect();
    let t = Instant::now();
    for _ in 0..2_000 {
        let mut totals = opsdeck_monitor::history::WindowTotals::new();
        for b in days.iter().chain(hours.iter()) {
            totals.add_bucket(black_box(b));
        }
        black_box(totals.finish());
    }
    println!(
        "30-day combine (53 buckets + percentiles): {:.1} µs/query",
        t.elapsed().as_nanos() as f64 / 2_000.0 / 1e3
    );

    let t = Instant::now();
    for _ in 0..20_000 {
        let mut totals = opsdeck_monitor::history::WindowTotals::counts_only();
        for b in days.iter().chain(hours.iter()) {
            totals.add_bucket(black_box(b));
        }
        black_box(totals.finish());
    }
    println!(
        "30-day combine, counts only (dashboard): {:.2} µs/query",
        t.elapsed().as_nanos() as f64 / 20_000.0 / 1e3
    );

    // Encode / decode of an hourly digest.
    let enc = hours[0].latency.encode();
    let t = Instant::now();
    for _ in 0..200_000 {
        black_box(LatencyDigest::decode(black_box(&enc)).unwrap());
    }
    println!(
        "decode hourly digest ({} B): {:.0} ns",
        enc.len(),
        t.elapsed().as_nanos() as f64 / 200_000.0
    );
    let t = Instant::now();
    for _ in 0..200_000 {
        black_box(black_box(&hours[0].latency).encode());
    }
    println!(
        "encode hourly digest: {:.0} ns",
        t.elapsed().as_nanos() as f64 / 200_000.0
    );
}
