//! The model with jitter: the median latency over the joint distribution of every message's jitter.
//!
//! A latency is a sum, maximum and k-th order statistic of message delays, each delay being its link's base
//! plus its own normal jitter truncated at zero (as `wan.rs` draws it), and each reply queued on a CPU. The
//! jitter-free model puts every delay at its median, but the median of a k-th fastest reply is not the k-th
//! fastest median, and truncation at zero lengthens a short link whose jitter is comparable to its delay (a
//! 0.25 ms local link beside 0.5 ms of jitter has a mean delay of about 0.35 ms). So with jitter the p50 is the
//! 0.5-quantile of the latency's distribution, which this module integrates numerically.
//!
//! The integral is over the cube of every message's jitter, one dimension per message the model sends. It uses
//! a Kronecker lattice (Roberts' R_d sequence, whose generators are powers of the inverse of the plastic-number
//! generalisation φ_d): point `i` has coordinate `j` at `frac(0.5 + i·α_j)`, mapped to a normal jitter through
//! the inverse normal CDF. At each point the exact model (queueing included) is evaluated, so the N values are an
//! equal-weight quadrature of the latency's CDF, and their middle value is its median. Lattice points fill the
//! cube far more evenly than random draws, so the median converges faster than a Monte Carlo of the same size,
//! and the result is deterministic: the same config gives the same model figure on every machine.

use super::{JitterDraw, ModelInput};
use std::cell::RefCell;

/// Quadrature points per median (odd, so the median is one point's value).
pub const POINTS: usize = 16_385;

/// The median of `f` over the jitter of every message, or `f` itself on a jitter-free network.
pub fn median_ns(input: &ModelInput<'_>, f: &dyn Fn(&ModelInput<'_>) -> u64) -> u64 {
    let sigma = input.links.jitter_ns();
    if sigma <= 0.0 || input.jitter.is_some() {
        return f(input);
    }
    // How many messages one evaluation sends: a fixed number for a given model and input, because every model
    // computes every message's arrival before it orders them.
    let counting = RefCell::new(JitterDraw::counting(sigma));
    f(&ModelInput {
        jitter: Some(&counting),
        ..*input
    });
    let dims = counting.borrow().draws();
    if dims == 0 {
        return f(input);
    }
    let lattice = Lattice::new(dims);
    let mut values: Vec<u64> = (0..POINTS)
        .map(|i| {
            let draw = RefCell::new(JitterDraw::point(lattice.normals(i as u64), sigma));
            f(&ModelInput {
                jitter: Some(&draw),
                ..*input
            })
        })
        .collect();
    let mid = POINTS / 2;
    *values.select_nth_unstable(mid).1
}

/// The generators of an R_d lattice in `dims` dimensions.
struct Lattice {
    alphas: Vec<f64>,
}

impl Lattice {
    fn new(dims: usize) -> Lattice {
        // φ_d is the positive root of x^(d+1) = x + 1; the fixed-point iteration converges from 2.
        let mut phi = 2.0f64;
        for _ in 0..64 {
            phi = (1.0 + phi).powf(1.0 / (dims as f64 + 1.0));
        }
        let alphas = (1..=dims)
            .map(|j| (1.0 / phi).powi(j as i32).fract())
            .collect();
        Lattice { alphas }
    }

    /// Point `i`'s coordinates as standard normal values.
    fn normals(&self, i: u64) -> Vec<f64> {
        self.alphas
            .iter()
            .map(|a| inverse_normal_cdf((0.5 + i as f64 * a).fract()))
            .collect()
    }
}

/// The standard normal quantile function, by Acklam's rational approximation (relative error below 1.2e-9).
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inverse_normal_cdf_inverts_known_quantiles() {
        for (p, z) in [
            (0.5, 0.0),
            (0.841_344_746, 1.0),
            (0.975, 1.959_963_985),
            (0.001, -3.090_232_306),
            (0.999_968_328_758_2, 4.0),
        ] {
            let got = inverse_normal_cdf(p);
            assert!((got - z).abs() < 1e-6, "p {p}: {got} vs {z}");
        }
    }

    #[test]
    fn lattice_coordinates_are_standard_normal() {
        let l = Lattice::new(7);
        for j in 0..7 {
            let xs: Vec<f64> = (0..POINTS as u64).map(|i| l.normals(i)[j]).collect();
            let n = xs.len() as f64;
            let mean = xs.iter().sum::<f64>() / n;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
            assert!(mean.abs() < 0.01, "dimension {j}: mean {mean}");
            assert!((var - 1.0).abs() < 0.01, "dimension {j}: variance {var}");
        }
    }
}
