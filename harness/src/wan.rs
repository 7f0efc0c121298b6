//! WAN conditions from the config's `[network]` section: what happens to one message on one link. Both drivers
//! take their delays from here, so the simulator and the QUIC runtime put exactly the configured conditions on
//! the wire.
//!
//! Delay = the link's one-way delay plus a normal jitter N(0, jitter), truncated at zero (so the median delay is
//! the configured one); with probability `reorder` a message is held back by a further uniform `[0, reorder_ms]`,
//! letting later messages overtake it. Loss drops a copy; duplication sends a second copy with its own delay.

use crate::config::NetworkSpec;
use paxos_variants::DetRng;

#[derive(Debug, Clone)]
pub struct LinkModel {
    regions: usize,
    delay_ns: Vec<u64>,
    jitter_ns: f64,
    loss: f64,
    duplicate: f64,
    reorder: f64,
    reorder_max_ns: f64,
}

/// The delays of the copies of one message that arrive (none if it was lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transit {
    pub first: Option<u64>,
    pub duplicate: Option<u64>,
}

impl LinkModel {
    pub fn new(spec: &NetworkSpec) -> LinkModel {
        let regions = spec.delay.len();
        let delay_ns = spec
            .delay
            .iter()
            .flat_map(|row| row.iter().map(|d| d.as_nanos() as u64))
            .collect();
        LinkModel {
            regions,
            delay_ns,
            jitter_ns: spec.jitter.as_nanos() as f64,
            loss: spec.loss,
            duplicate: spec.duplicate,
            reorder: spec.reorder,
            reorder_max_ns: spec.reorder_max.as_nanos() as f64,
        }
    }

    /// The configured one-way delay between two regions, in nanoseconds.
    pub fn base_ns(&self, from_region: usize, to_region: usize) -> u64 {
        self.delay_ns[from_region * self.regions + to_region]
    }

    /// The jitter's standard deviation, in nanoseconds.
    pub fn jitter_ns(&self) -> f64 {
        self.jitter_ns
    }

    /// Turns off loss, duplication and reordering (the checker's healing phase).
    pub fn calm(&mut self) {
        self.loss = 0.0;
        self.duplicate = 0.0;
        self.reorder = 0.0;
    }

    pub fn set_impairments(
        &mut self,
        loss: f64,
        duplicate: f64,
        reorder: f64,
        reorder_max_ns: f64,
    ) {
        self.loss = loss;
        self.duplicate = duplicate;
        self.reorder = reorder;
        self.reorder_max_ns = reorder_max_ns;
    }

    fn one_copy(&self, rng: &mut DetRng, base: u64) -> Option<u64> {
        if rng.chance(self.loss) {
            return None;
        }
        let mut d = base as f64;
        if self.jitter_ns > 0.0 {
            d = (d + rng.normal() * self.jitter_ns).max(0.0);
        }
        if rng.chance(self.reorder) {
            d += rng.next_f64() * self.reorder_max_ns;
        }
        Some(d as u64)
    }

    pub fn transit(&self, rng: &mut DetRng, from_region: usize, to_region: usize) -> Transit {
        let base = self.base_ns(from_region, to_region);
        let first = self.one_copy(rng, base);
        let duplicate = if rng.chance(self.duplicate) {
            self.one_copy(rng, base)
        } else {
            None
        };
        Transit { first, duplicate }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn spec(jitter_ms: u64, loss: f64, duplicate: f64) -> NetworkSpec {
        NetworkSpec {
            delay: vec![
                vec![Duration::from_micros(100), Duration::from_millis(30)],
                vec![Duration::from_millis(30), Duration::from_micros(100)],
            ],
            jitter: Duration::from_millis(jitter_ms),
            loss,
            duplicate,
            reorder: 0.0,
            reorder_max: Duration::ZERO,
        }
    }

    #[test]
    fn without_impairments_the_delay_is_exactly_the_link() {
        let m = LinkModel::new(&spec(0, 0.0, 0.0));
        let mut rng = DetRng::new(1);
        for _ in 0..100 {
            let t = m.transit(&mut rng, 0, 1);
            assert_eq!(t.first, Some(30_000_000));
            assert_eq!(t.duplicate, None);
        }
        assert_eq!(m.base_ns(1, 1), 100_000);
    }

    #[test]
    fn jitter_keeps_the_median_and_never_goes_negative() {
        let m = LinkModel::new(&spec(5, 0.0, 0.0));
        let mut rng = DetRng::new(2);
        let mut ds: Vec<u64> = (0..10_001)
            .map(|_| m.transit(&mut rng, 0, 1).first.unwrap())
            .collect();
        ds.sort();
        let median = ds[5000] as f64;
        assert!((median - 30e6).abs() < 0.3e6, "median {median}");
        let mut local: Vec<u64> = (0..1000)
            .map(|_| m.transit(&mut rng, 0, 0).first.unwrap())
            .collect();
        local.sort();
        assert_eq!(local[0], 0, "truncated at zero, not folded");
    }

    #[test]
    fn loss_and_duplication_rates_are_what_the_config_says() {
        let m = LinkModel::new(&spec(0, 0.2, 0.3));
        let mut rng = DetRng::new(3);
        let n = 20_000;
        let (mut lost, mut dup) = (0, 0);
        for _ in 0..n {
            let t = m.transit(&mut rng, 0, 1);
            lost += t.first.is_none() as u32;
            dup += t.duplicate.is_some() as u32;
        }
        let lost = lost as f64 / n as f64;
        let dup = dup as f64 / n as f64;
        assert!((lost - 0.2).abs() < 0.015, "loss {lost}");
        // A duplicate is sent with probability 0.3 and survives loss with probability 0.8.
        assert!((dup - 0.24).abs() < 0.015, "duplicates {dup}");
    }
}
