//! The statistical gate for measured rows (QUIC, kernel path): is the current set of repeated runs slower
//! than the baseline's, beyond noise and beyond the threshold?
//!
//! A measured figure varies from run to run, so one run against one run says nothing, and a mean against a
//! spread says little with few runs. The gate compares the two sets of repetitions (one figure per run, e.g.
//! each run's p50) with the Mann-Whitney U test, which assumes nothing about the figures' distribution (a
//! latency's is skewed), and reports the ratio of the medians with a bootstrap 95% interval. A regression is
//! flagged only when the U test finds the current runs worse at `ALPHA` **and** the ratio of medians is beyond
//! the threshold: a tiny but consistent change does not fail CI, and a large change seen in noisy runs does not
//! either.
//!
//! The U test's p-value is exact (every split of the pooled runs into two groups of the same sizes, ties
//! counted half) when there are at most [`EXACT_LIMIT`] splits, and from the normal approximation with the tie
//! correction beyond. With 4 runs on each side the smallest one-sided p is 1/70 (0.014); with 3, 1/20 (0.05),
//! so fewer than 4 runs a side cannot reach significance and the gate says so ("too few runs").

use paxos_variants::DetRng;

/// The U test's significance level (one-sided).
pub const ALPHA: f64 = 0.05;

/// Runs needed on each side for the U test to be able to reach [`ALPHA`].
pub const MIN_RUNS: usize = 4;

/// Largest number of splits enumerated for an exact p-value.
pub const EXACT_LIMIT: u64 = 200_000;

/// Bootstrap resamples for the interval of the ratio of medians.
const BOOTSTRAP: usize = 4000;

/// Which way is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// The gate's finding for one figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Median of the current runs over median of the baseline's.
    pub ratio: f64,
    /// Bootstrap 95% interval of the ratio.
    pub ratio_lo: f64,
    pub ratio_hi: f64,
    /// One-sided p-value that the current runs are worse.
    pub p_worse: f64,
    /// One-sided p-value that they are better.
    pub p_better: f64,
    pub verdict: GateVerdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateVerdict {
    Same,
    Regressed,
    Improved,
    /// Fewer than [`MIN_RUNS`] on a side: no decision is possible.
    TooFewRuns,
}

impl Decision {
    /// "ratio 1.213 [1.154, 1.270], p 0.004" for the comparison table.
    pub fn detail(&self) -> String {
        format!(
            "ratio {:.3} [{:.3}, {:.3}], p {:.4}",
            self.ratio,
            self.ratio_lo,
            self.ratio_hi,
            self.p_worse.min(self.p_better)
        )
    }
}

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// U of `x` over `y`: the number of pairs with x > y, ties counting a half.
fn u_stat(x: &[f64], y: &[f64]) -> f64 {
    let mut u = 0.0;
    for a in x {
        for b in y {
            if a > b {
                u += 1.0;
            } else if a == b {
                u += 0.5;
            }
        }
    }
    u
}

fn binomial(n: u64, k: u64) -> u64 {
    let k = k.min(n - k);
    let mut r: u64 = 1;
    for i in 0..k {
        r = r.saturating_mul(n - i) / (i + 1);
        if r > u64::MAX / 64 {
            return u64::MAX;
        }
    }
    r
}

/// One-sided p-value that `x` tends to be greater than `y`: P(U >= observed) under exchangeability.
pub fn mann_whitney_greater(x: &[f64], y: &[f64]) -> f64 {
    let (n, m) = (x.len(), y.len());
    if n == 0 || m == 0 {
        return 1.0;
    }
    let observed = u_stat(x, y);
    let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    let total = binomial((n + m) as u64, n as u64);
    if total <= EXACT_LIMIT {
        // Every way to choose which n of the pooled values are "x".
        let mut at_least = 0u64;
        let mut idx: Vec<usize> = (0..n).collect();
        loop {
            let mut in_x = vec![false; n + m];
            for &i in &idx {
                in_x[i] = true;
            }
            let xs: Vec<f64> = (0..n + m).filter(|&i| in_x[i]).map(|i| pooled[i]).collect();
            let ys: Vec<f64> = (0..n + m)
                .filter(|&i| !in_x[i])
                .map(|i| pooled[i])
                .collect();
            if u_stat(&xs, &ys) >= observed - 1e-9 {
                at_least += 1;
            }
            // Next combination in lexicographic order.
            let mut i = n;
            loop {
                if i == 0 {
                    return at_least as f64 / total as f64;
                }
                i -= 1;
                if idx[i] < i + m {
                    break;
                }
            }
            idx[i] += 1;
            for j in i + 1..n {
                idx[j] = idx[j - 1] + 1;
            }
        }
    }
    // Normal approximation with the tie correction and a continuity correction.
    let (nf, mf) = (n as f64, m as f64);
    let mut sorted = pooled.clone();
    sorted.sort_by(f64::total_cmp);
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[i] {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let nn = nf + mf;
    let var = nf * mf / 12.0 * ((nn + 1.0) - tie_term / (nn * (nn - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = (observed - nf * mf / 2.0 - 0.5) / var.sqrt();
    1.0 - normal_cdf(z)
}

fn normal_cdf(z: f64) -> f64 {
    // Abramowitz and Stegun 7.1.26 (error below 1.5e-7).
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Percentile bootstrap 95% interval of median(current) / median(baseline), deterministic in its seed.
pub fn ratio_interval(baseline: &[f64], current: &[f64], seed: u64) -> (f64, f64) {
    let mut rng = DetRng::derive(seed, 0xB007);
    let draw = |v: &[f64], rng: &mut DetRng| -> Vec<f64> {
        (0..v.len())
            .map(|_| v[rng.below(v.len() as u64) as usize])
            .collect()
    };
    let mut ratios: Vec<f64> = (0..BOOTSTRAP)
        .filter_map(|_| {
            let b = median(&draw(baseline, &mut rng));
            let c = median(&draw(current, &mut rng));
            (b > 0.0).then(|| c / b)
        })
        .collect();
    if ratios.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    (at(0.025), at(0.975))
}

/// The gate for one figure: `threshold` is the fraction beyond which a significant change counts (0.10: the
/// current median must be more than 10% worse).
pub fn decide(baseline: &[f64], current: &[f64], better: Better, threshold: f64) -> Decision {
    let (b, c) = (median(baseline), median(current));
    let ratio = if b > 0.0 { c / b } else { f64::NAN };
    let (lo, hi) = ratio_interval(
        baseline,
        current,
        baseline.len() as u64 * 1000 + current.len() as u64,
    );
    let (p_greater, p_less) = (
        mann_whitney_greater(current, baseline),
        mann_whitney_greater(baseline, current),
    );
    let (p_worse, p_better) = match better {
        Better::Lower => (p_greater, p_less),
        Better::Higher => (p_less, p_greater),
    };
    // How much worse, as a fraction of the baseline, in the figure's own direction.
    let worse_by = match better {
        Better::Lower => ratio - 1.0,
        Better::Higher => 1.0 - ratio,
    };
    let verdict = if baseline.len() < MIN_RUNS || current.len() < MIN_RUNS {
        GateVerdict::TooFewRuns
    } else if p_worse < ALPHA && worse_by > threshold {
        GateVerdict::Regressed
    } else if p_better < ALPHA && -worse_by > threshold {
        GateVerdict::Improved
    } else {
        GateVerdict::Same
    };
    Decision {
        ratio,
        ratio_lo: lo,
        ratio_hi: hi,
        p_worse,
        p_better,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_p_values_match_the_known_tables() {
        // Complete separation, 4 and 4: one split of 70 is as extreme.
        let p = mann_whitney_greater(&[5.0, 6.0, 7.0, 8.0], &[1.0, 2.0, 3.0, 4.0]);
        assert!((p - 1.0 / 70.0).abs() < 1e-12, "{p}");
        // 5 and 5: 1 of 252.
        let p = mann_whitney_greater(&[6.0, 7.0, 8.0, 9.0, 10.0], &[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!((p - 1.0 / 252.0).abs() < 1e-12, "{p}");
        // The other way round it is certain.
        let p = mann_whitney_greater(&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0]);
        assert!((p - 1.0).abs() < 1e-12);
        // All equal: no evidence either way.
        assert!(mann_whitney_greater(&[1.0; 5], &[1.0; 5]) > 0.5);
    }

    #[test]
    fn the_normal_approximation_agrees_with_the_exact_test() {
        // 12 and 12 is 2.7 M splits: approximated. Compare with a shift whose exact value is known to be
        // small, and with interleaved samples whose p is near a half.
        let a: Vec<f64> = (0..12).map(|i| 10.0 + i as f64).collect();
        let b: Vec<f64> = (0..12).map(|i| 16.0 + i as f64).collect();
        let p = mann_whitney_greater(&b, &a);
        assert!(p < 0.01, "{p}");
        let c: Vec<f64> = (0..12).map(|i| 10.5 + i as f64).collect();
        let p = mann_whitney_greater(&c, &a);
        assert!(p > 0.3 && p < 0.6, "{p}");
    }

    #[test]
    fn a_regression_needs_significance_and_size() {
        let base = [100.0, 102.0, 98.0, 101.0, 99.0];
        // 20% slower, clearly: flagged.
        let slow = [120.0, 122.0, 118.0, 121.0, 119.0];
        let d = decide(&base, &slow, Better::Lower, 0.10);
        assert_eq!(d.verdict, GateVerdict::Regressed, "{d:?}");
        assert!((d.ratio - 1.2).abs() < 1e-9);
        assert!(d.ratio_lo > 1.1 && d.ratio_hi < 1.3, "{d:?}");
        // 3% slower, consistently: significant but under the threshold.
        let bit = [103.0, 105.0, 101.0, 104.0, 102.0];
        assert_eq!(
            decide(&base, &bit, Better::Lower, 0.10).verdict,
            GateVerdict::Same
        );
        // Large but noisy: one wild run does not make a regression.
        let noisy = [99.0, 160.0, 98.0, 101.0, 100.0];
        assert_eq!(
            decide(&base, &noisy, Better::Lower, 0.10).verdict,
            GateVerdict::Same
        );
        // Throughput falling 20% is a regression; rising is an improvement.
        let d = decide(&base, &[80.0, 81.0, 79.0, 82.0, 78.0], Better::Higher, 0.10);
        assert_eq!(d.verdict, GateVerdict::Regressed);
        let d = decide(&base, &slow, Better::Higher, 0.10);
        assert_eq!(d.verdict, GateVerdict::Improved);
        // Three runs a side cannot decide.
        let d = decide(&base[..3], &slow[..3], Better::Lower, 0.10);
        assert_eq!(d.verdict, GateVerdict::TooFewRuns);
    }
}
