//! What clients ask for: the read/write mix, the key space and the payload. Each client has its own random
//! stream, so adding a client does not change what the others do.

use crate::config::LoadSpec;
use bytes::Bytes;
use paxos_variants::{ClientId, DetRng, Op};

#[derive(Debug, Clone)]
pub struct Workload {
    spec: LoadSpec,
}

impl Workload {
    pub fn new(spec: LoadSpec) -> Workload {
        Workload { spec }
    }

    pub fn spec(&self) -> &LoadSpec {
        &self.spec
    }

    /// The next operation of a client. A written value starts with the client id and sequence number, so every
    /// write is distinguishable in a history.
    pub fn next_op(&self, rng: &mut DetRng, client: ClientId, seq: u64) -> Op {
        let key = rng.below(self.spec.keys);
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
        }
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
