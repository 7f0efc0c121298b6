use super::*;

fn manifest(dir: &str, commit: &str, t: u64) -> Manifest {
    Manifest {
        command: "run".into(),
        experiment: "quick".into(),
        config_hash: config_hash("name = \"quick\""),
        commit: commit.into(),
        dirty: false,
        machine: "test x2".into(),
        seeds: "1,2".into(),
        written_unix_s: t,
        results_dir: dir.into(),
    }
}

fn rows(p50_us: f64) -> Vec<ResultRow> {
    let mut out = Vec::new();
    for (variant, seed) in [("multi", 1), ("multi", 2), ("fast", 1), ("fast", 2)] {
        let mut r = crate::results::tests::sample_row();
        r.experiment = "quick".into();
        r.variant = variant.into();
        r.protocol = variant.into();
        r.seed = seed;
        r.p50_us = Some(p50_us + seed as f64);
        r.p99_us = Some(p50_us + 100.0);
        out.push(r);
    }
    out
}

#[test]
fn an_append_reads_back_and_the_same_directory_is_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sub/history.db");
    let mut h = History::open(&db).unwrap();
    let id = h
        .append(&manifest("out/a", "abc", 10), &rows(800.0))
        .unwrap();
    assert!(id.is_some());
    assert_eq!(
        h.append(&manifest("out/a", "abc", 10), &rows(800.0))
            .unwrap(),
        None
    );
    let runs = h.runs(&Filter::default()).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].manifest, manifest("out/a", "abc", 10));
    assert_eq!(runs[0].rows.len(), 4);
    assert_eq!(runs[0].rows[1].p50_us, Some(802.0));
    assert_eq!(runs[0].rows[2].variant, "fast");
    assert_eq!(h.integrity().unwrap(), "ok");
}

#[test]
fn filters_pick_config_variant_and_commit_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(&dir.path().join("h.db")).unwrap();
    for (i, c) in ["c1", "c2", "c3", "c4"].iter().enumerate() {
        h.append(&manifest(&format!("out/{c}"), c, i as u64), &rows(800.0))
            .unwrap();
    }
    let mut other = manifest("out/x", "c9", 99);
    other.experiment = "default".into();
    other.config_hash = config_hash("other");
    h.append(&other, &rows(1.0)).unwrap();
    let f = Filter {
        config: Some("quick".into()),
        variant: Some("fast".into()),
        commits: Some(Filter::parse_commits("c2..c3").unwrap()),
    };
    let runs = h.runs(&f).unwrap();
    let commits: Vec<&str> = runs.iter().map(|r| r.manifest.commit.as_str()).collect();
    assert_eq!(commits, ["c2", "c3"]);
    assert!(runs
        .iter()
        .all(|r| r.rows.len() == 2 && r.rows.iter().all(|x| x.variant == "fast")));
    let by_hash = Filter {
        config: Some(config_hash("other")[..6].to_string()),
        ..Filter::default()
    };
    assert_eq!(h.runs(&by_hash).unwrap().len(), 1);
    assert!(Filter::parse_commits("c2").is_err());
}

/// Two writers at once, each on its own connection, as two runs finishing together would be: every run and
/// every row arrives, and the file stays sound.
#[test]
fn concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    History::open(&db).unwrap();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut h = History::open(&db).unwrap();
                for i in 0..30 {
                    let m = manifest(&format!("out/w{w}-{i}"), &format!("w{w}"), i);
                    h.append(&m, &rows(i as f64)).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let h = History::open(&db).unwrap();
    let runs = h.runs(&Filter::default()).unwrap();
    assert_eq!(runs.len(), 60);
    assert!(runs.iter().all(|r| r.rows.len() == 4));
    assert_eq!(h.integrity().unwrap(), "ok");
}

#[test]
fn a_newer_schema_is_refused_and_a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA user_version = 9").unwrap();
    }
    let err = History::open(&db).err().unwrap().to_string();
    assert!(err.contains("schema version 9"), "{err}");
    let err = History::open_existing(&dir.path().join("none.db"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("none.db does not exist"), "{err}");
    // Not a database at all.
    let junk = dir.path().join("junk.db");
    std::fs::write(
        &junk,
        b"this is not sqlite, just text that is long enough to have a header",
    )
    .unwrap();
    assert!(History::open(&junk).is_err());
}

#[test]
fn the_trend_has_a_point_per_commit_and_a_band_per_variant() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(&dir.path().join("h.db")).unwrap();
    for (i, c) in ["c1", "c1", "c2", "c3"].iter().enumerate() {
        h.append(
            &manifest(&format!("out/{i}"), c, i as u64),
            &rows(800.0 + 10.0 * i as f64),
        )
        .unwrap();
    }
    let runs = h.runs(&Filter::default()).unwrap();
    let figs = trend::figures(&runs, "quick", &trend::Pick::default());
    let stems: Vec<&str> = figs.iter().map(|f| f.stem.as_str()).collect();
    assert_eq!(stems, ["trend-p50", "trend-p99", "trend-ops"][..figs.len()]);
    assert!(
        figs[0].caption.contains("3 commits, 4 recorded runs"),
        "{}",
        figs[0].caption
    );
    let prev = &runs[2];
    let cur = &runs[3];
    let s = trend::against_previous(prev, cur, 0.001).unwrap();
    assert!(s.contains("commit c2") && s.contains("p50 +1.2%"), "{s}");
}
