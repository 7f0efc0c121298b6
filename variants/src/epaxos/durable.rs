//! EPaxos's durable state: per instance, the highest ballot promised and what was voted. A restarted replica
//! rebuilds everything else from it (its conflict table, and its state machine by executing the committed
//! instances again in dependency order).

use super::messages::{InstanceId, Voted};
use crate::journal::DurableState;
use crate::types::Ballot;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instance {
    pub promised: Ballot,
    pub vote: Option<Voted>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpaxosDurable {
    pub instances: BTreeMap<InstanceId, Instance>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum EpaxosRecord {
    /// No ballot below `ballot` will be answered for `id`.
    Promise { id: InstanceId, ballot: Ballot },
    /// A vote (pre-accepted, accepted or committed); it also promises its ballot.
    Vote { id: InstanceId, vote: Voted },
}

impl DurableState for EpaxosDurable {
    type Record = EpaxosRecord;

    fn apply(&mut self, record: EpaxosRecord) {
        match record {
            EpaxosRecord::Promise { id, ballot } => {
                let i = self.instances.entry(id).or_default();
                i.promised = i.promised.max(ballot);
            }
            EpaxosRecord::Vote { id, vote } => {
                let i = self.instances.entry(id).or_default();
                i.promised = i.promised.max(vote.ballot);
                i.vote = Some(vote);
            }
        }
    }

    fn checkpoint(&self) -> Vec<EpaxosRecord> {
        let mut out = Vec::with_capacity(self.instances.len());
        for (&id, i) in &self.instances {
            out.push(EpaxosRecord::Promise {
                id,
                ballot: i.promised,
            });
            if let Some(v) = &i.vote {
                out.push(EpaxosRecord::Vote {
                    id,
                    vote: v.clone(),
                });
            }
        }
        out
    }
}

impl EpaxosDurable {
    pub fn vote(&self, id: InstanceId) -> Option<&Voted> {
        self.instances.get(&id)?.vote.as_ref()
    }

    pub fn promised(&self, id: InstanceId) -> crate::types::Ballot {
        self.instances.get(&id).map_or(Ballot::ZERO, |i| i.promised)
    }
}
