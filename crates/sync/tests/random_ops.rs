//! Random sequences of file operations on random nodes, with random sync
//! cycles in between: once every node has cycled enough, all webroots are
//! identical. Runs on the in-memory store (the protocol is the same; the
//! emulator suites cover S3 itself).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use adt_backups::Exclusions;
use adt_datastore::Store;
use adt_localfs::{Dir, MountTable};
use adt_webroot_sync::{Node, StateDir, SyncOptions, run_cycle};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Action {
    Write { node: usize, file: usize, body: u8 },
    Delete { node: usize, file: usize },
    Rename { node: usize, from: usize, to: usize },
    Cycle { node: usize },
}

const FILES: [&str; 5] = ["a.php", "b.php", "dir/c.php", "dir/sub/d.php", "e f.txt"];

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (0..3usize, 0..5usize, 0..4u8).prop_map(|(node, file, body)| Action::Write { node, file, body }),
        (0..3usize, 0..5usize).prop_map(|(node, file)| Action::Delete { node, file }),
        (0..3usize, 0..5usize, 0..5usize).prop_map(|(node, from, to)| Action::Rename { node, from, to }),
        (0..3usize).prop_map(|node| Action::Cycle { node }),
        (0..3usize).prop_map(|node| Action::Cycle { node }),
    ]
}

fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for f in FILES {
        if let Ok(body) = std::fs::read(root.join(f)) {
            out.insert(f.to_string(), body);
        }
    }
    out
}

async fn cycle(store: &Store, bucket: &str, webroot: &Path, state: &Path, id: &str) {
    let table = MountTable::default();
    let exclusions = Exclusions::new(webroot, None, &table, &[]).unwrap();
    let root = Dir::open(webroot).unwrap();
    let state = StateDir::open(state).unwrap();
    let mut options = SyncOptions::default();
    options.settle = std::time::Duration::ZERO;
    options.max_delete_count = u64::MAX;
    options.max_delete_percent = 100;
    let node = Node {
        store,
        bucket,
        root: &root,
        exclusions: &exclusions,
        table: &table,
        state_dir: &state,
        id,
    };
    run_cycle(&node, &options).await.unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn random_operations_end_with_identical_webroots(actions in proptest::collection::vec(action(), 1..25)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let ids = ["p-a", "p-b", "p-c"];
        let nodes: Vec<(PathBuf, PathBuf)> = ids
            .iter()
            .map(|id| {
                let w = base.join(id).join("html");
                std::fs::create_dir_all(&w).unwrap();
                (w, base.join(id).join("state"))
            })
            .collect();
        let store = Store::in_memory();
        let bucket = "sync";
        for a in actions {
            match a {
                Action::Write { node, file, body } => {
                    let p = nodes[node].0.join(FILES[file]);
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(p, format!("{body} from {node}")).unwrap();
                }
                Action::Delete { node, file } => {
                    let _ = std::fs::remove_file(nodes[node].0.join(FILES[file]));
                }
                Action::Rename { node, from, to } => {
                    let to = nodes[node].0.join(FILES[to]);
                    if to.parent().unwrap().is_dir() {
                        let _ = std::fs::rename(nodes[node].0.join(FILES[from]), to);
                    }
                }
                Action::Cycle { node } => rt.block_on(cycle(&store, bucket, &nodes[node].0, &nodes[node].1, ids[node])),
            }
        }
        for _ in 0..3 {
            for (i, (w, s)) in nodes.iter().enumerate() {
                rt.block_on(cycle(&store, bucket, w, s, ids[i]));
            }
        }
        let first = files(&nodes[0].0);
        prop_assert_eq!(&files(&nodes[1].0), &first);
        prop_assert_eq!(&files(&nodes[2].0), &first);
    }
}
