//! A kustomize overlay for one experiment over the shared base in `deploy/kubernetes/base/` (compiled in, so a
//! rendered folder is complete on its own): the cluster file with the replicas' stable StatefulSet names
//! (`paxos-K.paxos:7100`, found through the headless Service), the experiment, both as the ConfigMap
//! `paxos-cluster`, and a patch with the cluster size, the disruption budget (a majority stays), and the load
//! generators' count and shares. `kubectl kustomize DIR` (or `kubectl apply -k DIR`) builds it.

use super::{put, DeployError, Plan};
use std::fmt::Write as _;
use std::path::Path;

/// The base, as committed in `deploy/kubernetes/base/`: (file name, text).
pub const BASE: [(&str, &str); 9] = [
    (
        "kustomization.yaml",
        include_str!("../../../deploy/kubernetes/base/kustomization.yaml"),
    ),
    (
        "service.yaml",
        include_str!("../../../deploy/kubernetes/base/service.yaml"),
    ),
    (
        "statefulset.yaml",
        include_str!("../../../deploy/kubernetes/base/statefulset.yaml"),
    ),
    (
        "pdb.yaml",
        include_str!("../../../deploy/kubernetes/base/pdb.yaml"),
    ),
    (
        "results-pvc.yaml",
        include_str!("../../../deploy/kubernetes/base/results-pvc.yaml"),
    ),
    (
        "loadgen-job.yaml",
        include_str!("../../../deploy/kubernetes/base/loadgen-job.yaml"),
    ),
    (
        "merge-job.yaml",
        include_str!("../../../deploy/kubernetes/base/merge-job.yaml"),
    ),
    (
        "check-job.yaml",
        include_str!("../../../deploy/kubernetes/base/check-job.yaml"),
    ),
    (
        "check-merge-job.yaml",
        include_str!("../../../deploy/kubernetes/base/check-merge-job.yaml"),
    ),
];

/// Where the base's pods mount the cluster file and the keys.
const CLUSTER_DIR: &str = "/etc/paxos/cluster";
const KEYS_DIR: &str = "/etc/paxos/keys";
pub const REPLICA_PORT: u16 = 7100;

/// The overlay's files: (name, text). `base` is the path of the base from the overlay's folder.
pub fn overlay(plan: &Plan, base: &str) -> Vec<(String, String)> {
    let n = plan.replicas;
    let k = plan.load_generators;
    // The config's file name: an overlay folder holds its experiment beside it.
    let source = plan.file.file_name().map_or_else(
        || plan.file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let kustomization = format!(
        "# Rendered by `paxos-bench deploy render {source}`: {n} replicas of {label}, {k} load generators for {c} \
         clients.\n# Build with `kubectl kustomize .`, apply with `kubectl apply -k .` (docs/DEPLOY.md).\n\
         bases:\n  - {base}\nconfigMapGenerator:\n  - name: paxos-cluster\n    files:\n      - cluster.toml\n      \
         - experiment.toml\npatchesStrategicMerge:\n  - patch.yaml\n",
        label = plan.label(),
        c = plan.clients
    );
    let mut cluster = format!(
        "# Rendered by `paxos-bench deploy render {source}`: replica K is pod paxos-K of the StatefulSet, named\n\
         # through the headless Service `paxos` (a name is looked up again on every dial, so a rescheduled pod is\n\
         # found at its new address).\nexperiment = \"experiment.toml\"\nvariant = \"{}\"\nca = \"{KEYS_DIR}/ca.crt\"\n\
         client_keys = \"{KEYS_DIR}\"\n",
        plan.label()
    );
    for id in 0..n {
        let _ = write!(
            cluster,
            "\n[[replica]]\nid = {id}\naddr = \"paxos-{id}.paxos:{REPLICA_PORT}\"\ncert = \"{KEYS_DIR}/replica-{id}.crt\"\n\
             key = \"{KEYS_DIR}/replica-{id}.key\"\nwal = \"/data/replica-{id}.wal\"\n"
        );
    }
    let args = |items: &[String]| -> String {
        items
            .iter()
            .map(|a| format!("            - \"{a}\"\n"))
            .collect()
    };
    let load = args(&[
        "run".into(),
        format!("{CLUSTER_DIR}/experiment.toml"),
        "--cluster".into(),
        format!("{CLUSTER_DIR}/cluster.toml"),
        "--client-share".into(),
        format!("$(SHARD)/{k}"),
        "--out".into(),
        "/results/share-$(SHARD)".into(),
    ]);
    let mut merge = vec!["merge".to_string()];
    merge.extend((0..k).map(|i| format!("/results/share-{i}")));
    merge.extend([
        "--cluster".into(),
        format!("{CLUSTER_DIR}/cluster.toml"),
        "--client".into(),
        plan.control_client().to_string(),
        "--out".into(),
        "/results/merged".into(),
    ]);
    let merge = args(&merge);
    let patch = format!(
        "# Rendered by `paxos-bench deploy render {source}`.\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  \
         name: paxos\nspec:\n  replicas: {n}\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  \
         name: paxos\nspec:\n  minAvailable: {majority}\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: \
         paxos-load\nspec:\n  completions: {k}\n  parallelism: {k}\n  template:\n    spec:\n      containers:\n        \
         - name: load\n          args:\n{load}---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: paxos-merge\n\
         spec:\n  template:\n    spec:\n      containers:\n        - name: merge\n          args:\n{merge}",
        majority = n / 2 + 1
    );
    vec![
        ("kustomization.yaml".into(), kustomization),
        ("cluster.toml".into(), cluster),
        ("experiment.toml".into(), plan.text.clone()),
        ("patch.yaml".into(), patch),
    ]
}

/// Writes `out/base/` (the compiled-in base) and the overlay beside it, in `out/`; returns the files written.
pub fn render(plan: &Plan, out: &Path) -> Result<usize, DeployError> {
    for (name, text) in BASE {
        put(&out.join("base").join(name), text.as_bytes())?;
    }
    let files = overlay(plan, "base");
    for (name, text) in &files {
        put(&out.join(name), text.as_bytes())?;
    }
    Ok(BASE.len() + files.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// The committed overlays are what rendering their experiment gives: they cannot drift from the renderer.
    #[test]
    fn the_committed_overlays_are_rendered_from_their_experiments() {
        for (dir, replicas) in [("replicas-3", 3), ("replicas-5", 5)] {
            let overlay_dir = repo().join("deploy/kubernetes/overlays").join(dir);
            let plan = Plan::load(&overlay_dir.join("experiment.toml"), None, 2).unwrap();
            assert_eq!(plan.replicas, replicas);
            for (name, text) in overlay(&plan, "../../base") {
                let committed = std::fs::read_to_string(overlay_dir.join(&name)).unwrap();
                assert_eq!(
                    committed, text,
                    "{dir}/{name} differs from its rendering: run `paxos-bench deploy overlay` on its experiment.toml (docs/DEPLOY.md)"
                );
            }
        }
    }

    #[test]
    fn the_compiled_in_base_is_the_committed_one() {
        for (name, text) in BASE {
            let committed =
                std::fs::read_to_string(repo().join("deploy/kubernetes/base").join(name)).unwrap();
            assert_eq!(committed, text, "{name}");
        }
        let listed =
            std::fs::read_to_string(repo().join("deploy/kubernetes/base/kustomization.yaml"))
                .unwrap();
        for (name, _) in &BASE[1..] {
            assert!(
                listed.contains(&format!("- {name}")),
                "{name} is not listed"
            );
        }
    }

    #[test]
    fn the_patch_sets_size_majority_and_shares() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.toml");
        std::fs::write(
            &path,
            "name = \"e\"\nmode = \"quic\"\nduration_s = 5\nseeds = [1]\n[cluster]\nreplicas = [\"a\", \"a\", \"a\", \
             \"a\", \"a\", \"a\", \"a\"]\nclients = [\"a\"]\nleader = 0\n[network]\nlocal_ms = 0.2\n[load]\nmode = \
             \"closed\"\nclients = [9]\n[[variant]]\nname = \"raft\"\n",
        )
        .unwrap();
        let plan = Plan::load(&path, None, 3).unwrap();
        let files = overlay(&plan, "base");
        let patch = &files.iter().find(|(n, _)| n == "patch.yaml").unwrap().1;
        assert!(patch.contains("replicas: 7\n"), "{patch}");
        assert!(patch.contains("minAvailable: 4\n"), "{patch}");
        assert!(
            patch.contains("completions: 3\n") && patch.contains("\"$(SHARD)/3\""),
            "{patch}"
        );
        assert!(
            patch.contains("\"/results/share-2\"")
                && patch.contains("\"--client\"\n            - \"9\"")
        );
        let cluster = &files.iter().find(|(n, _)| n == "cluster.toml").unwrap().1;
        assert!(
            cluster.contains("addr = \"paxos-6.paxos:7100\""),
            "{cluster}"
        );
        assert_eq!(cluster.matches("[[replica]]").count(), 7);
    }
}
