//! The report a run leaves behind: plots (PNG and SVG) and `index.html` / `README.md`, built from the result
//! files alone (`paxos-bench report DIR` rebuilds them anywhere), plus the baseline comparison of
//! `paxos-bench compare`.
//!
//! - [`data`]: reading a results directory back.
//! - [`figures`]: which figures a run gets and their data; [`plots`]: drawing them; [`palette`]: colours.
//! - [`page`]: the HTML and markdown pages; [`environment`]: the machine the figures come from.

pub mod data;
pub mod environment;
pub mod figures;
pub mod findings;
pub mod page;
pub mod palette;
pub mod plots;

use crate::results::write_atomic;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReportError {
    #[error("{dir} holds no results.csv: it is not a paxos-bench results directory")]
    NotAResultsDir { dir: PathBuf },
    // The I/O error is in the message and deliberately not a `source`, so it is not printed twice.
    #[error("cannot read {path}: {err}")]
    Read { path: PathBuf, err: std::io::Error },
    #[error("{path}: {detail}")]
    Malformed { path: PathBuf, detail: String },
    #[error("figure `{stem}`: {detail}")]
    Plot { stem: String, detail: String },
    #[error("cannot write {path}: {err}")]
    Write { path: PathBuf, err: std::io::Error },
}

/// What a built report holds.
pub struct Built {
    pub index: PathBuf,
    pub figures: Vec<String>,
}

/// Builds the plots and both pages of `dir` from its result files.
pub fn build(dir: &Path) -> Result<Built, ReportError> {
    build_with_history(dir, None)
}

/// A p50 move against the previous run of the same config smaller than this is not called a move (the
/// simulator is exact, so any move there is real; measured rows move by noise).
const HISTORY_NOISE: f64 = 0.001;

/// As [`build`], and when `history` holds this run with earlier runs of the same config: the trend figures
/// and a finding on how the run moved against the previous one.
pub fn build_with_history(dir: &Path, history: Option<&Path>) -> Result<Built, ReportError> {
    let data = data::load(dir)?;
    let mut figs = figures::all(&data);
    let mut extra = Vec::new();
    let earlier = match history {
        Some(db) => crate::history::same_config(db, dir).map_err(|e| ReportError::Malformed {
            path: db.to_path_buf(),
            detail: e.to_string(),
        })?,
        None => None,
    };
    if let Some(runs) = earlier.filter(|r| r.len() >= 2) {
        let name = runs[runs.len() - 1].manifest.experiment.clone();
        figs.extend(crate::history::trend::figures(
            &runs,
            &name,
            &crate::history::trend::Pick::default(),
        ));
        let (prev, cur) = (&runs[runs.len() - 2], &runs[runs.len() - 1]);
        extra.extend(crate::history::trend::against_previous(
            prev,
            cur,
            HISTORY_NOISE,
        ));
    }
    let plots_dir = dir.join("plots");
    for f in &figs {
        plots::save(f.chart.as_ref(), &plots_dir, &f.stem).map_err(|detail| ReportError::Plot {
            stem: f.stem.clone(),
            detail,
        })?;
    }
    let points = figures::points(&data.results);
    let experiments: Vec<String> = {
        let mut e: Vec<String> = Vec::new();
        for r in &data.results {
            if !e.contains(&r.experiment) {
                e.push(r.experiment.clone());
            }
        }
        e
    };
    let page = page::Page {
        title: format!("paxos-bench: {}", experiments.join(", ")),
        findings: findings::findings(&data.results, &extra),
        points: &points,
        figures: figs
            .iter()
            .map(|f| page::PageFigure {
                stem: f.stem.clone(),
                title: f.title.clone(),
                caption: f.caption.clone(),
            })
            .collect(),
        config_text: data.config_text.as_deref(),
        notes: &data.notes,
        environment: data.environment.as_ref(),
    };
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        write_atomic(&path, text.as_bytes()).map_err(|err| ReportError::Write { path, err })
    };
    write("README.md", page.markdown())?;
    write("index.html", page.html())?;
    Ok(Built {
        index: dir.join("index.html"),
        figures: figs.into_iter().map(|f| f.stem).collect(),
    })
}
