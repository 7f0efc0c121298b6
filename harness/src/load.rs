//! What clients ask for: the read/write mix, the key space (uniform or Zipf-skewed) and the payload. Each
//! client has its own random stream, so adding a client does not change what the others do.

use crate::config::LoadSpec;
use bytes::Bytes;
use paxos_variants::{ClientId, DetRng, Op};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Workload {
    spec: LoadSpec,
    /// Zipf: cumulative probability of keys 0..=i (key 0 the most popular); shared by clones.
    zipf_cdf: Option<Arc<[f64]>>,
}

impl Workload {
    pub fn new(spec: LoadSpec) -> Workload {
        let zipf_cdf = (spec.zipf > 0.0).then(|| {
            let weights: Vec<f64> = (1..=spec.keys)
                .map(|k| (k as f64).powf(-spec.zipf))
                .collect();
            let total: f64 = weights.iter().sum();
            let mut acc = 0.0;
            weights
                .iter()
                .map(|w| {
                    acc += w / total;
                    acc
                })
                .collect::<Arc<[f64]>>()
        });
        Workload { spec, zipf_cdf }
    }

    fn key(&self, rng: &mut DetRng) -> u64 {
        match &self.zipf_cdf {
            None => rng.below(self.spec.keys),
            Some(cdf) => {
                let u = rng.next_f64();
                (cdf.partition_point(|&c| c < u) as u64).min(self.spec.keys - 1)
            }
        }
    }

    pub fn spec(&self) -> &LoadSpec {
        &self.spec
    }

    /// The next operation of a client. A written value starts with the client id and sequence number, so every
    /// write is distinguishable in a history.
    pub fn next_op(&self, rng: &mut DetRng, client: ClientId, seq: u64) -> Op {
        let key = self.key(rng);
        if rng.chance(self.spec.write_fraction) {
            let mut v = vec![0u8; self.spec.payload_bytes];
            let tag = [client.0.to_le_bytes().as_slice(), &seq.to_le_bytes()].concat();
            let k = tag.len().min(v.len());
            v[..k].copy_from_slice(&tag[..k]);
            Op::Put {
                key,
                value: Bytes::from(v),
            }
        } else {
            Op::Get { key }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LoadKind;

    fn spec(write_fraction: f64) -> LoadSpec {
        LoadSpec {
            kind: LoadKind::Closed { window: 1 },
            payload_bytes: 64,
            write_fraction,
            keys: 10,
            zipf: 0.0,
        }
    }

    #[test]
    fn zipf_skew_makes_low_keys_popular_in_the_expected_proportion() {
        let mut s = spec(1.0);
        s.keys = 100;
        s.zipf = 1.0;
        let w = Workload::new(s);
        let mut rng = DetRng::new(9);
        let mut hits = [0u32; 100];
        for seq in 0..100_000 {
            if let Op::Put { key, .. } = w.next_op(&mut rng, ClientId(0), seq) {
                hits[key as usize] += 1;
            }
        }
        // With exponent 1 over 100 keys, key 0 has probability 1/H(100) = 0.1928 and key 1 half of that.
        let p0 = hits[0] as f64 / 100_000.0;
        assert!((p0 - 0.1928).abs() < 0.01, "key 0: {p0}");
        let ratio = hits[0] as f64 / hits[1] as f64;
        assert!((ratio - 2.0).abs() < 0.15, "key 0 / key 1 = {ratio}");
        assert!(hits[99] > 0);
    }

    #[test]
    fn mix_keys_and_payload_follow_the_spec() {
        let w = Workload::new(spec(0.25));
        let mut rng = DetRng::new(5);
        let mut writes = 0;
        for seq in 0..4000 {
            match w.next_op(&mut rng, ClientId(3), seq) {
                Op::Put { key, value } => {
                    writes += 1;
                    assert!(key < 10);
                    assert_eq!(value.len(), 64);
                    assert_eq!(&value[..4], &3u32.to_le_bytes());
                    assert_eq!(&value[4..12], &seq.to_le_bytes());
                }
                Op::Get { key } => assert!(key < 10),
            }
        }
        assert!((900..1100).contains(&writes), "{writes} writes of 4000");
    }

    #[test]
    fn all_writes_means_all_writes() {
        let w = Workload::new(spec(1.0));
        let mut rng = DetRng::new(1);
        assert!((0..100).all(|s| matches!(w.next_op(&mut rng, ClientId(0), s), Op::Put { .. })));
    }
}
