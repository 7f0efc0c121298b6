//! What clients ask for: the read/write mix, the key space (uniform, Zipf-skewed, or a conflict rate: one
//! shared key and one per client) and the payload. Each
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

    fn key(&self, rng: &mut DetRng, client: ClientId) -> u64 {
        if let Some(c) = self.spec.conflict {
            return if rng.chance(c) {
                0
            } else {
                1 + u64::from(client.0)
            };
        }
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

    /// A written value: it starts with the client id and sequence number, so every write is distinguishable
    /// in a history.
    fn value(&self, client: ClientId, seq: u64) -> Bytes {
        let mut v = vec![0u8; self.spec.payload_bytes];
        let tag = [client.0.to_le_bytes().as_slice(), &seq.to_le_bytes()].concat();
        let k = tag.len().min(v.len());
        v[..k].copy_from_slice(&tag[..k]);
        Bytes::from(v)
    }

    /// The next operation of a client. A compare-and-set expects the value the client last saw for its key
    /// (`seen`); a client that has seen none for that key reads it instead, so that its compares can succeed.
    /// With no compare-and-set in the mix no extra random number is drawn, so such runs are the same as before
    /// compare-and-set existed.
    pub fn next_op(&self, rng: &mut DetRng, client: ClientId, seq: u64, seen: &Seen) -> Op {
        let key = self.key(rng, client);
        if rng.chance(self.spec.write_fraction) {
            return Op::Put {
                key,
                value: self.value(client, seq),
            };
        }
        let reads = 1.0 - self.spec.write_fraction;
        if self.spec.cas_fraction > 0.0 && rng.chance(self.spec.cas_fraction / reads) {
            if let Some(expect) = seen.get(key) {
                return Op::Cas {
                    key,
                    expect: expect.clone(),
                    new: self.value(client, seq),
                };
            }
        }
        Op::Get { key }
    }
}

/// What one client last saw of each key: the value it read, wrote, or set by a compare-and-set that
/// succeeded. A failed compare teaches nothing (its reply carries no value).
#[derive(Debug, Clone, Default)]
pub struct Seen {
    by_key: std::collections::HashMap<u64, Bytes>,
}

impl Seen {
    pub fn get(&self, key: u64) -> Option<&Bytes> {
        self.by_key.get(&key)
    }

    pub fn observe(&mut self, op: &Op, reply: &paxos_variants::Reply) {
        use paxos_variants::Reply;
        match (op, reply) {
            (Op::Put { key, value }, Reply::Written { .. }) => {
                self.by_key.insert(*key, value.clone());
            }
            (Op::Get { key }, Reply::Read { value, .. }) => match value {
                Some(v) => {
                    self.by_key.insert(*key, v.clone());
                }
                None => {
                    self.by_key.remove(key);
                }
            },
            (Op::Cas { key, new, .. }, Reply::Cas { ok: true, .. }) => {
                self.by_key.insert(*key, new.clone());
            }
            _ => {}
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
            cas_fraction: 0.0,
            keys: 10,
            zipf: 0.0,
            conflict: None,
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
            if let Op::Put { key, .. } = w.next_op(&mut rng, ClientId(0), seq, &Seen::default()) {
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
    fn a_conflict_rate_sends_that_share_to_the_shared_key_and_the_rest_to_the_clients_own() {
        let mut s = spec(1.0);
        s.conflict = Some(0.25);
        let w = Workload::new(s);
        let mut rng = DetRng::new(4);
        let (mut shared, mut own) = (0u32, 0u32);
        for seq in 0..40_000 {
            match w.next_op(&mut rng, ClientId(7), seq, &Seen::default()) {
                Op::Put { key: 0, .. } => shared += 1,
                Op::Put { key: 8, .. } => own += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        let p = f64::from(shared) / 40_000.0;
        assert!((p - 0.25).abs() < 0.01, "shared key share {p}");
        assert_eq!(shared + own, 40_000);
    }

    #[test]
    fn mix_keys_and_payload_follow_the_spec() {
        let w = Workload::new(spec(0.25));
        let mut rng = DetRng::new(5);
        let mut writes = 0;
        for seq in 0..4000 {
            match w.next_op(&mut rng, ClientId(3), seq, &Seen::default()) {
                Op::Put { key, value } => {
                    writes += 1;
                    assert!(key < 10);
                    assert_eq!(value.len(), 64);
                    assert_eq!(&value[..4], &3u32.to_le_bytes());
                    assert_eq!(&value[4..12], &seq.to_le_bytes());
                }
                Op::Get { key } => assert!(key < 10),
                Op::Cas { .. } => panic!("no compare-and-set in this mix"),
            }
        }
        assert!((900..1100).contains(&writes), "{writes} writes of 4000");
    }

    #[test]
    fn compare_and_set_expects_what_the_client_saw_and_takes_its_share() {
        let mut s = spec(0.5);
        s.cas_fraction = 0.25;
        let w = Workload::new(s);
        let mut rng = DetRng::new(8);
        let mut seen = Seen::default();
        let (mut cas, mut reads) = (0, 0);
        for seq in 0..8000 {
            let op = w.next_op(&mut rng, ClientId(2), seq, &seen);
            let reply = match &op {
                Op::Put { .. } => paxos_variants::Reply::Written { version: 1 },
                Op::Get { key } => {
                    reads += 1;
                    paxos_variants::Reply::Read {
                        version: 1,
                        value: Some(Bytes::from(vec![*key as u8])),
                    }
                }
                Op::Cas { key, expect, .. } => {
                    cas += 1;
                    assert_eq!(Some(expect), seen.get(*key), "expects what it saw");
                    paxos_variants::Reply::Cas {
                        ok: true,
                        version: 2,
                    }
                }
            };
            seen.observe(&op, &reply);
        }
        // A quarter are compares once every key has been seen (10 keys, so almost from the start).
        assert!((1800..2200).contains(&cas), "{cas} compares of 8000");
        assert!((1800..2200).contains(&reads), "{reads} reads of 8000");
    }

    #[test]
    fn all_writes_means_all_writes() {
        let w = Workload::new(spec(1.0));
        let mut rng = DetRng::new(1);
        assert!((0..100).all(|s| matches!(
            w.next_op(&mut rng, ClientId(0), s, &Seen::default()),
            Op::Put { .. }
        )));
    }
}
