//! Work split over machines or pods: shard INDEX of COUNT takes the INDEX-th of COUNT contiguous blocks (of a
//! check's seeds, or of a run's clients), so that the shards cover everything once and `paxos-bench merge`
//! can add their outputs.

use serde::{Deserialize, Serialize};

/// One shard's place among all shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parses `INDEX/COUNT` (index from 0).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not INDEX/COUNT (e.g. 0/4)"))?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| format!("`{i}` in `{s}` is not a shard index (a whole number from 0)"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{n}` in `{s}` is not a shard count (a whole number from 1)"))?;
        if count == 0 {
            return Err(format!("`{s}`: the shard count must be at least 1"));
        }
        if index >= count {
            return Err(format!(
                "`{s}`: shard index {index} is not below the count {count} (indices are 0..{count})"
            ));
        }
        Ok(Shard { index, count })
    }

    /// This shard's part of `items`: the `index`-th of `count` contiguous blocks, whose sizes differ by at
    /// most one, so that a shard is a seed range that can be replayed alone.
    pub fn take<T: Clone>(self, items: &[T]) -> Vec<T> {
        let (n, k) = (items.len() as u64, self.count);
        let start = |i: u64| (i * (n / k) + i.min(n % k)) as usize;
        items[start(self.index)..start(self.index + 1)].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_seeds_into_contiguous_blocks_that_cover_them_once() {
        let seeds: Vec<u64> = (1..=10).collect();
        let parts: Vec<Vec<u64>> = (0..3)
            .map(|index| Shard { index, count: 3 }.take(&seeds))
            .collect();
        assert_eq!(parts, vec![vec![1, 2, 3, 4], vec![5, 6, 7], vec![8, 9, 10]]);
        // More shards than seeds: some shards are empty, none repeats a seed.
        let few: Vec<u64> = (0..4)
            .flat_map(|index| Shard { index, count: 4 }.take(&[7, 8]))
            .collect();
        assert_eq!(few, vec![7, 8]);
    }

    #[test]
    fn a_bad_shard_is_refused_with_the_reason() {
        assert!(Shard::parse("3/3").unwrap_err().contains("not below"));
        assert!(Shard::parse("0/0").unwrap_err().contains("at least 1"));
        assert!(Shard::parse("2").unwrap_err().contains("INDEX/COUNT"));
        assert!(Shard::parse("x/2").unwrap_err().contains("shard index"));
        assert_eq!(Shard::parse("1/4"), Ok(Shard { index: 1, count: 4 }));
    }
}
