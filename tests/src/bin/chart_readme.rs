//! Writes `charts/portcullis/README.md` from the comments of the chart's
//! `values.yaml`; a test fails while the committed file differs.

use anyhow::Result;
use portcullis_e2e::chart_readme::render;
use portcullis_e2e::process::repo_root;

fn main() -> Result<()> {
    let chart = repo_root().join("charts/portcullis");
    let values = std::fs::read_to_string(chart.join("values.yaml"))?;
    let readme = chart.join("README.md");
    std::fs::write(&readme, render(&values)?)?;
    println!("wrote {}", readme.display());
    Ok(())
}
