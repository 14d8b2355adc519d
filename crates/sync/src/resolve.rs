//! Which version of a path wins. Every node applies the same rule to the
//! same pairs, so all converge on one winner whatever order they see the
//! versions in:
//!
//! - a version made from the one a node holds replaces it (an edit, a
//!   delete, a re-creation after a delete);
//! - a version the held one was made from is stale: kept as is;
//! - two concurrent versions (neither made from the other): the higher
//!   rank wins, where a content version ranks by its own stamp and a delete
//!   by the stamp of the version it deleted. So a delete removes only what
//!   it saw, or older: an edit made concurrently with it and later than
//!   what it deleted survives it. Ties go to content over a delete, then
//!   to the higher stamp (the node id breaks the last tie).
//!
//! The loser of a concurrent pair is reported and, when it had content,
//! kept in the datastore.

use crate::hlc::Stamp;

/// A version of one path, as the rule sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Its stamp.
    pub stamp: Stamp,
    /// The version it was made from.
    pub base: Option<Stamp>,
    /// True for a delete.
    pub delete: bool,
}

/// What to do with an incoming version, given the one held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Apply it; nothing lost (new path, or made from the held version).
    Apply,
    /// Already held, or stale: nothing to do.
    Ignore,
    /// Concurrent, and it wins: apply it; the held version lost.
    ApplyOverConcurrent,
    /// Concurrent, and the held version wins: the incoming one lost.
    KeepOverConcurrent,
}

fn key(v: &Version) -> (Stamp, bool, Stamp) {
    let zero = Stamp {
        ms: 0,
        n: 0,
        node: "".into(),
    };
    let rank = if v.delete {
        v.base.clone().unwrap_or(zero)
    } else {
        v.stamp.clone()
    };
    (rank, !v.delete, v.stamp.clone())
}

/// The rule (see the module documentation).
pub fn decide(held: Option<&Version>, incoming: &Version) -> Decision {
    let Some(held) = held else {
        return Decision::Apply;
    };
    if held.stamp == incoming.stamp {
        return Decision::Ignore;
    }
    if incoming.base.as_ref() == Some(&held.stamp) {
        return Decision::Apply;
    }
    if held.base.as_ref() == Some(&incoming.stamp) {
        return Decision::Ignore;
    }
    if key(incoming) > key(held) {
        Decision::ApplyOverConcurrent
    } else {
        Decision::KeepOverConcurrent
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::hlc::Clock;

    fn stamp(ms: u64, node: &str) -> Stamp {
        Stamp {
            ms,
            n: 0,
            node: node.into(),
        }
    }

    #[test]
    fn a_delete_removes_only_what_it_saw() {
        let v1 = Version {
            stamp: stamp(1, "a"),
            base: None,
            delete: false,
        };
        let edit = Version {
            stamp: stamp(5, "b"),
            base: Some(v1.stamp.clone()),
            delete: false,
        };
        let delete = Version {
            stamp: stamp(10, "a"),
            base: Some(v1.stamp.clone()),
            delete: true,
        };
        // On b (holding its edit) the delete loses; on a (holding the delete) the edit wins.
        assert_eq!(decide(Some(&edit), &delete), Decision::KeepOverConcurrent);
        assert_eq!(decide(Some(&delete), &edit), Decision::ApplyOverConcurrent);
        // Made from what is held: no conflict.
        assert_eq!(decide(Some(&v1), &delete), Decision::Apply);
        assert_eq!(decide(Some(&delete), &v1), Decision::Ignore, "stale");
    }

    /// One node of the model: its clock, what it holds per path, and how
    /// far it has read each node's log.
    #[derive(Clone, Default)]
    struct Node {
        clock: Clock,
        held: BTreeMap<u8, Version>,
        read: Vec<usize>,
    }

    #[derive(Clone, Debug)]
    enum Step {
        Edit { node: usize, path: u8, wall: u64 },
        Delete { node: usize, path: u8, wall: u64 },
        Pull { node: usize },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..3usize, 0..3u8, 0..50u64).prop_map(|(node, path, wall)| Step::Edit { node, path, wall }),
            (0..3usize, 0..3u8, 0..50u64).prop_map(|(node, path, wall)| Step::Delete { node, path, wall }),
            (0..3usize).prop_map(|node| Step::Pull { node }),
        ]
    }

    /// Pulls every unread version of the other nodes, in stamp order.
    fn pull(nodes: &mut [Node], logs: &[Vec<(u8, Version)>], me: usize) {
        let mut new: Vec<(u8, Version)> = Vec::new();
        for (other, log) in logs.iter().enumerate() {
            if other != me {
                new.extend(log[nodes[me].read[other]..].iter().cloned());
                nodes[me].read[other] = log.len();
            }
        }
        new.sort_by(|a, b| a.1.stamp.cmp(&b.1.stamp));
        let node = &mut nodes[me];
        for (path, v) in new {
            node.clock.observe(&v.stamp);
            match decide(node.held.get(&path), &v) {
                Decision::Apply | Decision::ApplyOverConcurrent => {
                    node.held.insert(path, v);
                }
                Decision::Ignore | Decision::KeepOverConcurrent => {}
            }
        }
    }

    proptest! {
        /// Random edits and deletes on three nodes with skewed clocks, random
        /// pulls; after everyone pulls twice, all hold the same versions.
        #[test]
        fn every_node_converges_on_one_winner(steps in proptest::collection::vec(step(), 1..60), skew in proptest::collection::vec(0..40u64, 3)) {
            let names = ["a", "b", "c"];
            let mut nodes = vec![Node { read: vec![0; 3], ..Node::default() }; 3];
            let mut logs: Vec<Vec<(u8, Version)>> = vec![Vec::new(); 3];
            for s in steps {
                match s {
                    Step::Edit { node, path, wall } | Step::Delete { node, path, wall } => {
                        let delete = matches!(s, Step::Delete { .. });
                        let n = &mut nodes[node];
                        let base = n.held.get(&path).cloned();
                        if delete && base.as_ref().is_none_or(|b| b.delete) {
                            continue; // nothing to delete
                        }
                        let stamp = n.clock.tick(wall + skew[node], names[node]);
                        let v = Version { stamp, base: base.map(|b| b.stamp), delete };
                        n.held.insert(path, v.clone());
                        logs[node].push((path, v));
                    }
                    Step::Pull { node } => pull(&mut nodes, &logs, node),
                }
            }
            for _ in 0..2 {
                for me in 0..3 {
                    pull(&mut nodes, &logs, me);
                }
            }
            prop_assert_eq!(&nodes[0].held, &nodes[1].held);
            prop_assert_eq!(&nodes[1].held, &nodes[2].held);
        }
    }
}
