//! Execution by dependency graph: a committed instance runs once every instance it depends on, transitively,
//! is committed here; the strongly connected components of that graph run in dependency order (Tarjan's
//! algorithm finishes a component only after every component it reaches), and the instances inside one
//! component by sequence number, then by name. Every replica that commits the same attributes therefore runs
//! interfering commands in the same order, whatever order the commits arrived in.

use super::messages::{Attrs, InstanceId};
use crate::types::Time;
use std::collections::{BTreeSet, HashMap, HashSet};

#[derive(Debug)]
pub struct Executor {
    /// Per row: every instance below this index has run.
    floor: Vec<u64>,
    /// Instances at or above their row's floor that have run.
    done: HashSet<InstanceId>,
    /// Committed here and not yet run.
    pending: BTreeSet<InstanceId>,
    /// A root whose last attempt stopped at an uncommitted dependency, and that dependency.
    blocked: HashMap<InstanceId, InstanceId>,
    /// Uncommitted dependencies and since when something has waited for them (recovery starts after a while).
    pub waiting_for: HashMap<InstanceId, Time>,
    /// Mutation: run an instance without waiting for its uncommitted dependencies.
    skip_uncommitted: bool,
}

/// What the graph walk needs of a committed instance.
pub trait Committed {
    fn committed(&self, id: InstanceId) -> Option<&Attrs>;
}

struct Frame {
    node: InstanceId,
    deps: Vec<InstanceId>,
    next: usize,
}

impl Executor {
    pub fn new(n: usize, skip_uncommitted: bool) -> Executor {
        Executor {
            floor: vec![0; n],
            done: HashSet::new(),
            pending: BTreeSet::new(),
            blocked: HashMap::new(),
            waiting_for: HashMap::new(),
            skip_uncommitted,
        }
    }

    pub fn has_run(&self, id: InstanceId) -> bool {
        id.idx < self.floor[id.leader.0 as usize] || self.done.contains(&id)
    }

    /// How many instances of each row have run without a gap (a row's instances below it all have).
    pub fn floors(&self) -> &[u64] {
        &self.floor
    }

    pub fn committed(&mut self, id: InstanceId) {
        self.waiting_for.remove(&id);
        if !self.has_run(id) {
            self.pending.insert(id);
        }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn mark_run(&mut self, id: InstanceId) {
        self.pending.remove(&id);
        self.blocked.remove(&id);
        let row = id.leader.0 as usize;
        if id.idx == self.floor[row] {
            self.floor[row] += 1;
            while self.done.remove(&InstanceId {
                leader: id.leader,
                idx: self.floor[row],
            }) {
                self.floor[row] += 1;
            }
        } else {
            self.done.insert(id);
        }
    }

    /// The instances `id` must wait for that have not run here.
    fn deps_of(&self, id: InstanceId, attrs: &Attrs) -> Vec<InstanceId> {
        let mut out: Vec<InstanceId> = attrs
            .deps
            .iter()
            .copied()
            .filter(|&d| !self.has_run(d))
            .collect();
        if attrs.below {
            let row = id.leader;
            for idx in self.floor[row.0 as usize]..id.idx {
                let d = InstanceId { leader: row, idx };
                if !self.done.contains(&d) {
                    out.push(d);
                }
            }
        }
        out
    }

    /// Runs everything that can run now: returns the instances in the order to execute them (they count as
    /// run from here on). Uncommitted dependencies met on the way are noted in `waiting_for` from `now`.
    pub fn ready(&mut self, now: Time, log: &impl Committed) -> Vec<InstanceId> {
        let mut order = Vec::new();
        let roots: Vec<InstanceId> = self.pending.iter().copied().collect();
        for root in roots {
            if self.has_run(root) {
                continue;
            }
            if let Some(dep) = self.blocked.get(&root) {
                if log.committed(*dep).is_none() {
                    continue;
                }
            }
            match self.walk(root, log) {
                Ok(components) => {
                    for mut scc in components {
                        scc.sort_by_key(|&id| (log.committed(id).map_or(0, |a| a.seq), id));
                        for id in scc {
                            self.mark_run(id);
                            order.push(id);
                        }
                    }
                }
                Err(dep) => {
                    self.blocked.insert(root, dep);
                    self.waiting_for.entry(dep).or_insert(now);
                }
            }
        }
        order
    }

    /// Tarjan's algorithm from `root` over committed instances that have not run (iterative: dependency chains
    /// can be long). Components come out dependencies first. Stops at the first uncommitted dependency.
    fn walk(
        &self,
        root: InstanceId,
        log: &impl Committed,
    ) -> Result<Vec<Vec<InstanceId>>, InstanceId> {
        // Per visited node: (index, lowlink, on the stack).
        let mut seen: HashMap<InstanceId, (u32, u32, bool)> = HashMap::new();
        let mut stack: Vec<InstanceId> = Vec::new();
        let mut frames: Vec<Frame> = Vec::new();
        let mut out = Vec::new();
        let mut counter = 0u32;
        let visit = |node: InstanceId,
                     seen: &mut HashMap<InstanceId, (u32, u32, bool)>,
                     stack: &mut Vec<InstanceId>,
                     counter: &mut u32|
         -> Result<Frame, InstanceId> {
            let attrs = log.committed(node).ok_or(node)?;
            seen.insert(node, (*counter, *counter, true));
            *counter += 1;
            stack.push(node);
            let mut deps = self.deps_of(node, attrs);
            if self.skip_uncommitted {
                deps.retain(|&d| log.committed(d).is_some());
            }
            Ok(Frame {
                node,
                deps,
                next: 0,
            })
        };
        frames.push(visit(root, &mut seen, &mut stack, &mut counter)?);
        while let Some(top) = frames.last_mut() {
            if top.next < top.deps.len() {
                let d = top.deps[top.next];
                top.next += 1;
                let node = top.node;
                match seen.get(&d).copied() {
                    None => {
                        let f = visit(d, &mut seen, &mut stack, &mut counter)?;
                        frames.push(f);
                    }
                    Some((index, _, true)) => {
                        if let Some(e) = seen.get_mut(&node) {
                            e.1 = e.1.min(index);
                        }
                    }
                    Some((_, _, false)) => {}
                }
                continue;
            }
            let node = top.node;
            frames.pop();
            let (index, low, _) = seen[&node];
            if let Some(parent) = frames.last() {
                if let Some(e) = seen.get_mut(&parent.node) {
                    e.1 = e.1.min(low);
                }
            }
            if index == low {
                let mut scc = Vec::new();
                while let Some(m) = stack.pop() {
                    if let Some(e) = seen.get_mut(&m) {
                        e.2 = false;
                    }
                    scc.push(m);
                    if m == node {
                        break;
                    }
                }
                out.push(scc);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::NodeId;
    use std::collections::HashMap;

    struct Log(HashMap<InstanceId, Attrs>);
    impl Committed for Log {
        fn committed(&self, id: InstanceId) -> Option<&Attrs> {
            self.0.get(&id)
        }
    }

    fn i(l: u32, idx: u64) -> InstanceId {
        InstanceId {
            leader: NodeId(l),
            idx,
        }
    }

    fn a(seq: u64, deps: &[InstanceId]) -> Attrs {
        Attrs {
            seq,
            deps: deps.to_vec(),
            below: false,
        }
    }

    #[test]
    fn a_cycle_runs_by_sequence_number_after_what_it_depends_on() {
        let mut log = Log(HashMap::new());
        log.0.insert(i(0, 0), a(1, &[]));
        log.0.insert(i(1, 0), a(3, &[i(2, 0), i(0, 0)]));
        log.0.insert(i(2, 0), a(2, &[i(1, 0)]));
        let mut ex = Executor::new(3, false);
        for id in [i(1, 0), i(2, 0), i(0, 0)] {
            ex.committed(id);
        }
        assert_eq!(ex.ready(Time(0), &log), vec![i(0, 0), i(2, 0), i(1, 0)]);
        assert_eq!(ex.floors(), &[1, 1, 1]);
        assert_eq!(ex.pending(), 0);
    }

    #[test]
    fn waits_for_an_uncommitted_dependency_unless_mutated() {
        let mut log = Log(HashMap::new());
        log.0.insert(i(0, 1), a(2, &[i(1, 0)]));
        let mut ex = Executor::new(2, false);
        ex.committed(i(0, 1));
        assert!(ex.ready(Time(5), &log).is_empty());
        assert_eq!(ex.waiting_for.get(&i(1, 0)), Some(&Time(5)));
        log.0.insert(i(1, 0), a(1, &[]));
        ex.committed(i(1, 0));
        assert_eq!(ex.ready(Time(6), &log), vec![i(1, 0), i(0, 1)]);
        // Row 0 has a gap at 0, so its floor stays.
        assert_eq!(ex.floors(), &[0, 1]);

        let mut log = Log(HashMap::new());
        log.0.insert(i(0, 1), a(2, &[i(1, 0)]));
        let mut broken = Executor::new(2, true);
        broken.committed(i(0, 1));
        assert_eq!(broken.ready(Time(5), &log), vec![i(0, 1)]);
    }

    #[test]
    fn a_recovered_no_op_waits_for_its_whole_row() {
        let mut log = Log(HashMap::new());
        log.0.insert(
            i(0, 2),
            Attrs {
                seq: 1,
                deps: vec![],
                below: true,
            },
        );
        log.0.insert(i(0, 0), a(1, &[]));
        let mut ex = Executor::new(1, false);
        ex.committed(i(0, 2));
        ex.committed(i(0, 0));
        assert_eq!(ex.ready(Time(0), &log), vec![i(0, 0)]);
        assert!(ex.waiting_for.contains_key(&i(0, 1)));
        log.0.insert(i(0, 1), a(1, &[]));
        ex.committed(i(0, 1));
        assert_eq!(ex.ready(Time(0), &log), vec![i(0, 1), i(0, 2)]);
        assert_eq!(ex.floors(), &[3]);
    }
}
