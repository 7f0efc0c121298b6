use super::*;
use paxos_variants::ReadPath;

const GOOD: &str = r#"
name = "t"
mode = "sim"
duration_s = 2
warmup_s = 0.5
seeds = [1, 2]
[cluster]
replicas = ["a", "a", "b"]
clients = ["a"]
[network]
local_ms = 0.1
[[network.link]]
between = ["a", "b"]
ms = 10.0
[load]
mode = "closed"
clients = [1, 4]
[[variant]]
name = "multi"
"#;

fn parse_str(text: &str) -> Result<Experiment, ConfigError> {
    parse(text, Path::new("t.toml"))
}

fn err(text: &str) -> String {
    parse_str(text).unwrap_err().to_string()
}

#[test]
fn a_good_config_parses_with_defaults() {
    let e = parse_str(GOOD).unwrap();
    assert_eq!(e.topology.n(), 3);
    assert_eq!(e.topology.regions, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(e.network.delay[0][1], Duration::from_millis(10));
    assert_eq!(e.network.delay[1][0], Duration::from_millis(10));
    assert_eq!(e.network.delay[1][1], Duration::from_micros(100));
    assert_eq!(e.variants[0].quorums, QuorumSystem::Majority { n: 3 });
    assert_eq!(e.load.payload_bytes, 64);
    assert_eq!(e.client_counts, vec![1, 4]);
    assert_eq!(e.topology.leader, 0);
}

#[test]
fn an_unknown_key_names_the_key_and_file() {
    let e = err(&GOOD.replace("local_ms = 0.1", "local_ms = 0.1\nlatency = 3"));
    assert!(
        e.contains("t.toml") && e.contains("network") && e.contains("latency"),
        "{e}"
    );
}

#[test]
fn a_missing_key_names_it() {
    let e = err(&GOOD.replace("duration_s = 2\n", ""));
    assert!(e.contains("t.toml") && e.contains("duration_s"), "{e}");
    let e = err(&GOOD.replace("clients = [\"a\"]\n", ""));
    assert!(e.contains("cluster") && e.contains("clients"), "{e}");
}

#[test]
fn a_region_without_a_link_is_refused() {
    let e = err(&GOOD.replace(
        "replicas = [\"a\", \"a\", \"b\"]",
        "replicas = [\"a\", \"c\", \"b\"]",
    ));
    assert!(
        e.contains("network.link") && e.contains("`a`") && e.contains("`c`"),
        "{e}"
    );
}

#[test]
fn a_link_to_an_unknown_region_is_refused() {
    let e = err(&GOOD.replace("between = [\"a\", \"b\"]", "between = [\"a\", \"z\"]"));
    assert!(
        e.contains("network.link[0].between") && e.contains("unknown region `z`"),
        "{e}"
    );
}

#[test]
fn an_unsafe_quorum_is_refused_with_both_sizes() {
    let e = err(&GOOD.replace("name = \"multi\"", "name = \"flexible\"\nq1 = 1\nq2 = 2"));
    assert!(
        e.contains("variant[0].q1") && e.contains("q1 + q2 = 3 must exceed n = 3"),
        "{e}"
    );
}

#[test]
fn multi_is_majority_only_and_flexible_needs_its_quorums() {
    let e = err(&GOOD.replace("name = \"multi\"", "name = \"multi\"\nq1 = 3\nq2 = 1"));
    assert!(
        e.contains("variant[0].q1") && e.contains("name = \"flexible\""),
        "{e}"
    );
    let e = err(&GOOD.replace("name = \"multi\"", "name = \"flexible\""));
    assert!(
        e.contains("variant[0].name") && e.contains("q1 and q2"),
        "{e}"
    );
    let ok = parse_str(&GOOD.replace("name = \"multi\"", "name = \"flexible\"\nq1 = 3\nq2 = 1"))
        .unwrap();
    assert_eq!(ok.variants[0].quorums.q2_size(), 1);
}

#[test]
fn bad_numbers_are_refused() {
    for (from, to, key) in [
        ("duration_s = 2", "duration_s = 0", "duration_s"),
        ("warmup_s = 0.5", "warmup_s = 5", "warmup_s"),
        ("local_ms = 0.1", "local_ms = -1", "network.local_ms"),
        ("ms = 10.0", "ms = -3.0", "network.link[0].ms"),
        ("clients = [1, 4]", "clients = [0]", "load.clients"),
        ("seeds = [1, 2]", "seeds = []", "seeds"),
        ("seeds = [1, 2]", "seeds = [1, 1]", "seeds"),
        (
            "local_ms = 0.1",
            "local_ms = 0.1\nloss = 1.5",
            "network.loss",
        ),
        (
            "clients = [1, 4]",
            "clients = [1, 4]\ncas_fraction = -0.1",
            "load.cas_fraction",
        ),
        (
            "clients = [1, 4]",
            "clients = [1, 4]\nwrite_fraction = 0.8\ncas_fraction = 0.3",
            "load.cas_fraction",
        ),
    ] {
        let e = err(&GOOD.replace(from, to));
        assert!(e.contains(&format!("`{key}`")), "{to}: {e}");
    }
}

#[test]
fn unknown_variant_and_mode_are_refused() {
    let e = err(&GOOD.replace("name = \"multi\"", "name = \"zab\""));
    assert!(
        e.contains("unknown variant `zab`") && e.contains("basic"),
        "{e}"
    );
    let e = err(&GOOD.replace("mode = \"sim\"", "mode = \"carrier-pigeon\""));
    assert!(e.contains("mode"), "{e}");
    let quic = GOOD.replace("mode = \"sim\"", "mode = \"quic\"");
    let e = err(&quic.replace("clients = [1, 4]", "clients = [1, 5000]"));
    assert!(
        e.contains("load.clients") && e.contains("at most 1024"),
        "{e}"
    );
}

#[test]
fn a_leader_outside_the_cluster_is_refused() {
    let e = err(&GOOD.replace("clients = [\"a\"]", "clients = [\"a\"]\nleader = 3"));
    assert!(e.contains("cluster.leader"), "{e}");
}

#[test]
fn faults_are_parsed_and_checked() {
    let ok =
        format!("{GOOD}\n[[fault]]\nat_s = 1.0\ncrash = 2\n[[fault]]\nat_s = 1.5\nrestart = 2\n");
    let e = parse_str(&ok).unwrap();
    assert_eq!(e.faults[0].action, FaultAction::Crash(2));
    let bad = format!("{GOOD}\n[[fault]]\nat_s = 1.0\ncrash = 9\n");
    assert!(err(&bad).contains("fault[0].crash"));
    let late = format!("{GOOD}\n[[fault]]\nat_s = 9.0\ncrash = 1\n");
    assert!(err(&late).contains("fault[0].at_s"));
}

#[test]
fn a_syntax_error_names_the_file() {
    let e = err("name = ");
    assert!(e.contains("t.toml"), "{e}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let e = load(Path::new("/nonexistent/x.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/x.toml") && e.contains("cannot read"),
        "{e}"
    );
}

#[test]
fn the_shipped_configs_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-configs");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            load(&path).unwrap_or_else(|e| panic!("{e}"));
            let text = std::fs::read_to_string(&path).unwrap();
            if text.contains("\n[tune]") {
                crate::tune::spec::load(&path).unwrap_or_else(|e| panic!("{e}"));
            }
            seen += 1;
        }
    }
    assert!(
        seen >= 2,
        "expected the shipped bench-configs, found {seen}"
    );
    parse(crate::jobs::DEFAULT_CONFIG, Path::new("default")).unwrap();
}

#[test]
fn fast_paxos_quorums_are_validated_and_only_fast_has_them() {
    let fast = GOOD.replace("name = \"multi\"", "name = \"fast\"");
    let e = parse_str(&fast).unwrap();
    assert_eq!(
        e.variants[0].quorums,
        QuorumSystem::Fast {
            n: 3,
            classic: 2,
            fast: 3
        }
    );
    let e = err(&fast.replace("name = \"fast\"", "name = \"fast\"\nfast_quorum = 2"));
    assert!(
        e.contains("variant[0].fast_quorum")
            && e.contains("fast_quorum = 2")
            && e.contains("n = 3"),
        "{e}"
    );
    let e = err(&GOOD.replace("name = \"multi\"", "name = \"multi\"\nfast_quorum = 3"));
    assert!(
        e.contains("variant[0].fast_quorum") && e.contains("only Fast Paxos"),
        "{e}"
    );
    let e = err(&fast.replace("name = \"fast\"", "name = \"fast\"\nq1 = 2\nq2 = 2"));
    assert!(
        e.contains("variant[0].q1") && e.contains("fast_quorum and classic_quorum"),
        "{e}"
    );
}

#[test]
fn a_jitter_sweep_is_validated() {
    let e = parse_str(&format!("{GOOD}\n[sweep]\njitter_ms = [0.0, 2.0]\n")).unwrap();
    assert_eq!(
        e.jitter_sweep,
        vec![Duration::ZERO, Duration::from_millis(2)]
    );
    let e = err(&format!("{GOOD}\n[sweep]\njitter_ms = [1.0, -2.0]\n"));
    assert!(e.contains("sweep.jitter_ms[1]"), "{e}");
    let e = err(&format!("{GOOD}\n[sweep]\njitter_ms = [1.0, 1.0]\n"));
    assert!(e.contains("listed twice"), "{e}");
}

#[test]
fn cheap_paxos_auxiliaries_are_validated() {
    let cheap = GOOD.replace("name = \"multi\"", "name = \"cheap\"");
    let e = parse_str(&cheap).unwrap();
    assert_eq!(e.variants[0].quorums.q2_size(), 2, "two mains of three");
    let e = parse_str(&cheap.replace("name = \"cheap\"", "name = \"cheap\"\nauxiliaries = [0]"))
        .unwrap();
    assert!(matches!(e.variants[0].quorums, QuorumSystem::Cheap { mains, .. } if mains.0 == 0b110));
    let e = err(&cheap.replace("name = \"cheap\"", "name = \"cheap\"\nauxiliary = 2"));
    assert!(
        e.contains("variant[0].auxiliary") && e.contains("2 auxiliary replicas of n = 3"),
        "{e}"
    );
    let e = err(&cheap.replace("name = \"cheap\"", "name = \"cheap\"\nauxiliaries = [5]"));
    assert!(
        e.contains("variant[0].auxiliaries") && e.contains("5 is not in 0..3"),
        "{e}"
    );
    let e = err(&GOOD.replace("name = \"multi\"", "name = \"multi\"\nauxiliary = 1"));
    assert!(e.contains("only Cheap Paxos"), "{e}");
}

#[test]
fn a_variant_may_run_on_a_prefix_of_the_cluster() {
    let five = GOOD
        .replace(
            "replicas = [\"a\", \"a\", \"b\"]",
            "replicas = [\"a\", \"a\", \"b\", \"b\", \"a\"]",
        )
        .replace(
            "name = \"multi\"",
            "name = \"flexible\"\nreplicas = 3\nq1 = 2\nq2 = 2",
        );
    let e = parse_str(&five).unwrap();
    assert_eq!(e.variants[0].replicas, 3);
    assert_eq!(e.topology_for(&e.variants[0]).n(), 3);
    // q1 + q2 = 4 is safe for the variant's 3 replicas, not for the cluster's 5.
    assert_eq!(e.variants[0].quorums.n(), 3);
    let e = err(&five.replace("replicas = 3", "replicas = 6"));
    assert!(
        e.contains("variant[0].replicas") && e.contains("between 1 and the 5"),
        "{e}"
    );
    let e = err(&five.replace("[cluster]", "[cluster]\nleader = 4"));
    assert!(
        e.contains("variant[0].replicas") && e.contains("replica 4"),
        "{e}"
    );
}

mod hostile {
    //! The parser against arbitrary and corrupted input: it must answer every text with a config or an error,
    //! never a panic, and an error must name the file.
    use super::*;
    use proptest::prelude::*;

    fn never_panics(text: &str) {
        match parse(text, Path::new("fuzz.toml")) {
            Ok(_) => {}
            Err(e) => assert!(e.to_string().contains("fuzz.toml"), "{e}"),
        }
        let _ = parse_cpu_profile(text, Path::new("fuzz.toml"));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        #[test]
        fn arbitrary_text(text in "\\PC{0,400}") {
            never_panics(&text);
        }

        /// A valid config with bytes replaced, inserted or removed, so most inputs get deep into validation.
        #[test]
        fn corrupted_valid_config(edits in proptest::collection::vec((0usize..400, any::<u8>(), 0u8..3), 1..6)) {
            let mut bytes = GOOD.as_bytes().to_vec();
            for (at, b, op) in edits {
                let at = at % (bytes.len() + 1);
                match op {
                    0 if at < bytes.len() => bytes[at] = b,
                    1 => bytes.insert(at, b),
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            never_panics(&String::from_utf8_lossy(&bytes));
        }

        /// Numbers of every size and sign in every numeric field.
        #[test]
        fn extreme_numbers(v in prop_oneof![
            Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), Just(0.0), Just(1e300), Just(-1e-300), any::<f64>()
        ], field in 0usize..6) {
            let keys = ["duration_s = 2", "warmup_s = 0.5", "local_ms = 0.1", "ms = 10.0", "clients = [1, 4]", "seeds = [1, 2]"];
            let key = keys[field];
            let name = key.split(" = ").next().unwrap_or_default();
            let value = if name == "clients" || name == "seeds" { format!("[{v}]") } else { format!("{v}") };
            let text = GOOD.replacen(key, &format!("{name} = {value}"), 1);
            never_panics(&text);
        }
    }
}

#[test]
fn labels_that_share_a_file_name_and_absurd_quantities_are_refused() {
    let text = GOOD.replace(
        "[[variant]]\nname = \"multi\"",
        "[[variant]]\nname = \"multi\"\nlabel = \"x.1\"\n\n[[variant]]\nname = \"basic\"\nlabel = \"x_1\"",
    );
    let e = err(&text);
    assert!(
        e.contains("variant[1].label") && e.contains("x.1") && e.contains("x_1"),
        "{e}"
    );
    let e = err(&GOOD.replace("duration_s = 2", "duration_s = 1e30"));
    assert!(e.contains("duration_s"), "{e}");
    let e = err(&format!("{GOOD}\n[sim]\ncpu_us_per_msg = 1e30\n"));
    assert!(e.contains("sim.cpu_us_per_msg"), "{e}");
    let e = parse_cpu_profile("[multi]\naccept = 1e30\n", Path::new("p.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("multi.accept"), "{e}");
}

fn with_reads(reads: &str, variants: &str) -> String {
    GOOD.replace("[cluster]", &format!("{reads}\n[cluster]"))
        .replace("[[variant]]\nname = \"multi\"\n", variants)
}

#[test]
fn each_variant_runs_once_per_read_path_it_offers_and_the_others_are_noted() {
    let variants = "[[variant]]\nname = \"multi\"\n[[variant]]\nname = \"fast\"\n[[variant]]\nname = \"cheap\"\n";
    let text = with_reads(
        "[reads]\npath = [\"log\", \"lease\", \"quorum\"]\nlease_ms = 800\nclock_drift = 0.01",
        variants,
    );
    let e = parse_str(&text).unwrap();
    let runs: Vec<(&str, ReadPath)> = e
        .variants
        .iter()
        .map(|v| (v.label.as_str(), v.reads.path))
        .collect();
    assert_eq!(
        runs,
        vec![
            ("multi", ReadPath::Log),
            ("multi+lease", ReadPath::Lease),
            ("multi+quorum", ReadPath::Quorum),
            ("fast", ReadPath::Log),
            ("cheap", ReadPath::Log),
            ("cheap+lease", ReadPath::Lease),
        ]
    );
    assert!(e
        .variants
        .iter()
        .all(|v| v.reads.lease == Duration::from_millis(800) && v.reads.drift_ppm == 10_000));
    // Fast Paxos offers neither, Cheap Paxos no quorum reads: each is said once, with the reason.
    assert_eq!(e.notes.len(), 3, "{:?}", e.notes);
    assert!(e.notes.iter().any(|n| n.starts_with("fast: lease")));
    assert!(e.notes.iter().any(|n| n.starts_with("cheap: quorum")));
}

#[test]
fn without_a_reads_section_everything_reads_through_the_log_and_labels_stay() {
    let e = parse_str(GOOD).unwrap();
    assert_eq!(e.variants.len(), 1);
    assert_eq!(e.variants[0].label, "multi");
    assert_eq!(e.variants[0].reads, paxos_variants::Reads::log());
    // A path no variant offers leaves each reading through the log, once.
    let e = parse_str(&with_reads(
        "[reads]\npath = \"quorum\"",
        "[[variant]]\nname = \"basic\"\n",
    ))
    .unwrap();
    assert_eq!(e.variants.len(), 1);
    assert_eq!(e.variants[0].reads.path, ReadPath::Log);
}

#[test]
fn a_label_that_a_read_path_would_repeat_is_refused() {
    let text = with_reads(
        "[reads]\npath = [\"log\", \"lease\"]",
        "[[variant]]\nname = \"multi\"\n[[variant]]\nname = \"multi\"\nlabel = \"multi+lease\"\n",
    );
    assert!(err(&text).contains("twice"), "{}", err(&text));
}

#[test]
fn history_and_inject_sections_parse_and_bad_values_are_named() {
    let e = parse_str(&format!(
        "{GOOD}[history]\ndb = \"runs.db\"\n[inject]\nwork_us_per_msg = 2.5\n"
    ))
    .unwrap();
    assert_eq!(e.history_db, Some(PathBuf::from("runs.db")));
    assert_eq!(e.injected_work, Duration::from_nanos(2_500));
    assert_eq!(parse_str(GOOD).unwrap().injected_work, Duration::ZERO);
    let bad = err(&format!("{GOOD}[inject]\nwork_us_per_msg = -1.0\n"));
    assert!(bad.contains("inject.work_us_per_msg"), "{bad}");
    let bad = err(&format!("{GOOD}[inject]\nwork_us_per_msg = 500000.0\n"));
    assert!(bad.contains("would stall every run"), "{bad}");
    let bad = err(&format!("{GOOD}[history]\npath = \"x.db\"\n"));
    assert!(bad.contains("path"), "{bad}");
}
