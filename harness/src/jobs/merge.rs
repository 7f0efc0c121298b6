//! `paxos-bench merge`: what several machines or pods measured, added into one result. The inputs say what
//! they are: check summaries (a `.json` file, or a directory holding `check-summary.json`) are added by
//! [`super::check::merge_summaries`].

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn merge(inputs: &[PathBuf], out: Option<&Path>) -> Result<ExitCode> {
    let is_summary = |p: &Path| {
        p.extension().is_some_and(|e| e == "json")
            || p.join(crate::check::summary::FILE_NAME).is_file()
    };
    let summaries = inputs.iter().filter(|p| is_summary(p)).count();
    if summaries == inputs.len() {
        return super::check::merge_summaries(inputs, out);
    }
    if summaries > 0 {
        bail!("the inputs mix check summaries and other files; merge one kind at a time");
    }
    let other = inputs
        .iter()
        .find(|p| !is_summary(p))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    bail!(
        "{other} is neither a check summary (FILE.json, or a directory with {}) nor a load generator's \
         output directory",
        crate::check::summary::FILE_NAME
    )
}
