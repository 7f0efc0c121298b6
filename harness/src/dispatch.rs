//! From a variant's name in a config to its type: the drivers are generic, so each variant's code is compiled
//! for the simulator without dynamic dispatch on the hot path.

/// Evaluates `$body` with `$V` bound to the variant type named `$name`; `None` for an unknown name.
#[macro_export]
macro_rules! with_variant {
    ($name:expr, $V:ident => $body:expr) => {
        match $name {
            "basic" => {
                type $V = paxos_variants::basic::Basic;
                Some($body)
            }
            "multi" => {
                type $V = paxos_variants::multi::Multi;
                Some($body)
            }
            "flexible" => {
                type $V = paxos_variants::flexible::Flexible;
                Some($body)
            }
            "fast" => {
                type $V = paxos_variants::fast::Fast;
                Some($body)
            }
            "cheap" => {
                type $V = paxos_variants::cheap::Cheap;
                Some($body)
            }
            "raft" => {
                type $V = paxos_variants::raft::Raft;
                Some($body)
            }
            "epaxos" => {
                type $V = paxos_variants::epaxos::Epaxos;
                Some($body)
            }
            _ => None,
        }
    };
}

#[cfg(test)]
mod tests {
    use paxos_variants::{Variant, VARIANT_NAMES};

    #[test]
    fn every_variant_name_dispatches_to_its_own_type() {
        for name in VARIANT_NAMES {
            let got = with_variant!(*name, V => V::NAME);
            assert_eq!(got, Some(*name));
        }
        assert_eq!(with_variant!("nope", V => V::NAME), None);
    }
}
