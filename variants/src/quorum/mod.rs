//! Quorum systems as validated values: building one proves the intersections the protocols rely on, so an unsafe
//! configuration can never reach a replica. Phase 1 quorums (Q1) must meet every Phase 2 quorum (Q2).
//!
//! - majority: Q1 = Q2 = any floor(n/2)+1 replicas.
//! - flexible (Howard, Malkhi and Spiegelman 2016): any q1 and any q2 replicas, safe iff q1 + q2 > n.
//! - grid r x c: Q1 = one full column (r replicas), Q2 = one full row (c replicas); every column meets every row
//!   in exactly one replica. Replica `i` sits in row `i / c`, column `i % c`.
//! - fast (Lamport, "Fast Paxos", 2006): classic quorums of c and fast quorums of f replicas with 2c > n,
//!   c + f > n, c + 2f > 2n (a classic quorum and any two fast quorums share a replica, so recovery can tell
//!   which value a fast quorum may have chosen) and 3f > 2n (any three fast quorums share one). Phase 1 and
//!   classic Phase 2 use c.

mod membership;
mod nodeset;
mod verify;

pub use membership::Membership;

/// Which quorum settings of an experiment a variant takes, so that a config is validated by what the variant
/// says of itself rather than by its name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum QuorumKind {
    /// A majority, or any phase-1/phase-2 system whose quorums intersect (`q1`/`q2`, a grid): Basic Paxos.
    AnyIntersecting,
    /// A majority only: with `q1`/`q2` or a grid the same core is Flexible Paxos, a variant of its own.
    MajorityOnly,
    /// `q1`/`q2` or a grid, required: Flexible Paxos.
    PhaseQuorums,
    /// Classic and fast quorums (`classic_quorum`, `fast_quorum`): Fast Paxos.
    FastClassic,
    /// Main and auxiliary acceptors (`auxiliary`, `auxiliaries`): Cheap Paxos.
    MainAuxiliary,
}
pub use nodeset::NodeSet;
pub use verify::exhaustive_intersection_check;

use thiserror::Error;

/// The most replicas a quorum system may have (a node set is one `u64`).
pub const MAX_REPLICAS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QuorumError {
    #[error("a cluster needs at least one replica")]
    NoReplicas,
    #[error("n = {n} replicas is more than the supported {MAX_REPLICAS}")]
    TooManyReplicas { n: usize },
    #[error("{which} = {size} must be between 1 and n = {n}")]
    SizeOutOfRange {
        which: &'static str,
        size: usize,
        n: usize,
    },
    #[error(
        "q1 + q2 = {sum} must exceed n = {n} (q1 = {q1}, q2 = {q2}): a phase-1 quorum could miss a phase-2 quorum",
        sum = q1 + q2
    )]
    NotIntersecting { q1: usize, q2: usize, n: usize },
    #[error("grid = [{rows}, {cols}] needs at least one row and one column")]
    EmptyGrid { rows: usize, cols: usize },
    #[error("grid = [{rows}, {cols}] has {cells} cells but the cluster has n = {n} replicas", cells = rows * cols)]
    GridSizeMismatch { rows: usize, cols: usize, n: usize },
    #[error("auxiliary replica {id} is not in 0..{n}")]
    AuxiliaryOutOfRange { id: usize, n: usize },
    #[error("{aux} auxiliary replicas of n = {n}: the {mains} main ones would not be a quorum (Cheap Paxos has f + 1 main and at most f auxiliary acceptors)", mains = n - aux)]
    TooManyAuxiliaries { aux: usize, n: usize },
    #[error("classic_quorum = {classic} and fast_quorum = {fast} with n = {n} break the rule that {rule} ({formula})")]
    FastUnsafe {
        classic: usize,
        fast: usize,
        n: usize,
        rule: &'static str,
        formula: &'static str,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumSystem {
    Majority {
        n: usize,
    },
    Flexible {
        n: usize,
        q1: usize,
        q2: usize,
    },
    Grid {
        rows: usize,
        cols: usize,
    },
    /// Fast Paxos: classic quorums of `classic` replicas, fast quorums of `fast`.
    Fast {
        n: usize,
        classic: usize,
        fast: usize,
    },
    /// Cheap Paxos's initial configuration: the main acceptors (a quorum on their own) and any majority.
    Cheap {
        n: usize,
        mains: NodeSet,
    },
}

fn check_n(n: usize) -> Result<(), QuorumError> {
    if n == 0 {
        return Err(QuorumError::NoReplicas);
    }
    if n > MAX_REPLICAS {
        return Err(QuorumError::TooManyReplicas { n });
    }
    Ok(())
}

impl QuorumSystem {
    pub fn majority(n: usize) -> Result<QuorumSystem, QuorumError> {
        check_n(n)?;
        Ok(QuorumSystem::Majority { n })
    }

    pub fn flexible(n: usize, q1: usize, q2: usize) -> Result<QuorumSystem, QuorumError> {
        check_n(n)?;
        for (which, size) in [("q1", q1), ("q2", q2)] {
            if size == 0 || size > n {
                return Err(QuorumError::SizeOutOfRange { which, size, n });
            }
        }
        if q1 + q2 <= n {
            return Err(QuorumError::NotIntersecting { q1, q2, n });
        }
        Ok(QuorumSystem::Flexible { n, q1, q2 })
    }

    /// Fast Paxos quorum sizes; `None` picks the smallest safe size (classic: a majority; fast: the smallest
    /// that meets every rule with that classic size).
    pub fn fast(
        n: usize,
        classic: Option<usize>,
        fast: Option<usize>,
    ) -> Result<QuorumSystem, QuorumError> {
        check_n(n)?;
        let c = classic.unwrap_or(n / 2 + 1);
        let f = match fast {
            Some(f) => f,
            None => (1..=n)
                .find(|&f| c + f > n && c + 2 * f > 2 * n && 3 * f > 2 * n)
                .unwrap_or(n),
        };
        for (which, size) in [("classic_quorum", c), ("fast_quorum", f)] {
            if size == 0 || size > n {
                return Err(QuorumError::SizeOutOfRange { which, size, n });
            }
        }
        let unsafe_if = |broken: bool, rule, formula| {
            if broken {
                Err(QuorumError::FastUnsafe {
                    classic: c,
                    fast: f,
                    n,
                    rule,
                    formula,
                })
            } else {
                Ok(())
            }
        };
        unsafe_if(2 * c <= n, "any two classic quorums meet", "needs 2c > n")?;
        unsafe_if(
            c + f <= n,
            "a classic and a fast quorum meet",
            "needs c + f > n",
        )?;
        unsafe_if(
            c + 2 * f <= 2 * n,
            "a classic quorum and any two fast quorums share a replica",
            "needs c + 2f > 2n",
        )?;
        unsafe_if(
            3 * f <= 2 * n,
            "any three fast quorums share a replica",
            "needs 3f > 2n",
        )?;
        Ok(QuorumSystem::Fast {
            n,
            classic: c,
            fast: f,
        })
    }

    /// Cheap Paxos: `auxiliaries` are the auxiliary acceptors (default: the last (n - 1) / 2 replicas).
    pub fn cheap(n: usize, auxiliaries: Option<Vec<usize>>) -> Result<QuorumSystem, QuorumError> {
        check_n(n)?;
        let aux = auxiliaries.unwrap_or_else(|| (n - (n - 1) / 2..n).collect());
        let mut set = NodeSet::EMPTY;
        for &id in &aux {
            if id >= n {
                return Err(QuorumError::AuxiliaryOutOfRange { id, n });
            }
            set.insert(crate::types::NodeId(id as u32));
        }
        if set.len() > (n - 1) / 2 {
            return Err(QuorumError::TooManyAuxiliaries { aux: set.len(), n });
        }
        Ok(QuorumSystem::Cheap {
            n,
            mains: set.complement(n),
        })
    }

    /// The fast quorum size of a Fast Paxos system.
    pub fn fast_size(&self) -> Option<usize> {
        match *self {
            QuorumSystem::Fast { fast, .. } => Some(fast),
            _ => None,
        }
    }

    /// A grid of `rows x cols` replicas; `n` is the cluster size it must match.
    pub fn grid(n: usize, rows: usize, cols: usize) -> Result<QuorumSystem, QuorumError> {
        check_n(n)?;
        if rows == 0 || cols == 0 {
            return Err(QuorumError::EmptyGrid { rows, cols });
        }
        if rows * cols != n {
            return Err(QuorumError::GridSizeMismatch { rows, cols, n });
        }
        Ok(QuorumSystem::Grid { rows, cols })
    }

    /// Whether `node` runs no state machine by design: Cheap Paxos's auxiliaries only vote (when a main fails)
    /// and never learn the log, so they are not asked to hold every decided command.
    pub fn never_learns(&self, node: crate::types::NodeId) -> bool {
        matches!(self, QuorumSystem::Cheap { mains, .. } if !mains.contains(node))
    }

    pub fn n(&self) -> usize {
        match *self {
            QuorumSystem::Majority { n }
            | QuorumSystem::Flexible { n, .. }
            | QuorumSystem::Fast { n, .. }
            | QuorumSystem::Cheap { n, .. } => n,
            QuorumSystem::Grid { rows, cols } => rows * cols,
        }
    }

    /// The size of the smallest phase-1 quorum (what `results.csv` reports as q1).
    pub fn q1_size(&self) -> usize {
        match *self {
            QuorumSystem::Majority { n } => n / 2 + 1,
            QuorumSystem::Flexible { q1, .. } => q1,
            QuorumSystem::Grid { rows, .. } => rows,
            QuorumSystem::Fast { classic, .. } => classic,
            QuorumSystem::Cheap { mains, .. } => mains.len(),
        }
    }

    /// The size of the smallest phase-2 quorum.
    pub fn q2_size(&self) -> usize {
        match *self {
            QuorumSystem::Majority { n } => n / 2 + 1,
            QuorumSystem::Flexible { q2, .. } => q2,
            QuorumSystem::Grid { cols, .. } => cols,
            QuorumSystem::Fast { classic, .. } => classic,
            QuorumSystem::Cheap { mains, .. } => mains.len(),
        }
    }

    pub fn is_phase1_quorum(&self, set: NodeSet) -> bool {
        match *self {
            QuorumSystem::Majority { .. }
            | QuorumSystem::Flexible { .. }
            | QuorumSystem::Fast { .. } => set.len() >= self.q1_size(),
            QuorumSystem::Grid { rows, cols } => {
                (0..cols).any(|c| (0..rows).all(|r| set.contains_index(r * cols + c)))
            }
            QuorumSystem::Cheap { n, mains } => Membership {
                members: NodeSet::all(n),
                mains,
            }
            .is_quorum(set),
        }
    }

    /// Whether `set` meets every phase-2 quorum (and, for Fast Paxos, every fast quorum): a reader that hears
    /// from it hears from an acceptor of every acknowledged write.
    pub fn is_read_quorum(&self, set: NodeSet) -> bool {
        let n = self.n();
        match *self {
            QuorumSystem::Majority { .. } | QuorumSystem::Flexible { .. } => {
                set.len() > n - self.q2_size()
            }
            QuorumSystem::Fast { fast, classic, .. } => set.len() > n - fast.min(classic),
            QuorumSystem::Grid { rows, cols } => {
                (0..rows).all(|r| (0..cols).any(|c| set.contains_index(r * cols + c)))
            }
            // Its quorums move with reconfiguration: only everyone is sure to meet them all.
            QuorumSystem::Cheap { n, .. } => set.len() >= n,
        }
    }

    pub fn is_phase2_quorum(&self, set: NodeSet) -> bool {
        match *self {
            QuorumSystem::Majority { .. }
            | QuorumSystem::Flexible { .. }
            | QuorumSystem::Fast { .. } => set.len() >= self.q2_size(),
            QuorumSystem::Grid { rows, cols } => {
                (0..rows).any(|r| (0..cols).all(|c| set.contains_index(r * cols + c)))
            }
            QuorumSystem::Cheap { n, mains } => Membership {
                members: NodeSet::all(n),
                mains,
            }
            .is_quorum(set),
        }
    }
}

#[cfg(test)]
mod tests;
