//! Builds a container image archive from a Dockerfile's final stage without
//! a registry or a builder: the files its COPY lines name, taken from the
//! given paths, and its config (user, entrypoint, labels, ports).
//!
//! Usage:
//! `mkimage --dockerfile images/sidecar/Dockerfile --tag localhost/portcullis-sidecar:0.1.0
//!  --out sidecar.tar --file /out/portcullis-sidecar=target/.../portcullis-sidecar [--file ...]`
//!
//! `--tag` names the registry host and the tag (`localhost/NAME:TAG`), so
//! that every importer files the image under the name pods ask for.
//! `--file SOURCE=PATH` gives the content of the COPY whose source is
//! SOURCE; every COPY needs one. Executables must be statically linked
//! (the image has no dynamic loader). The archive is an OCI image layout
//! that also carries docker's `manifest.json`. Prints `IMAGE <tag> <out> <bytes>`.

use anyhow::{Context, Result, bail};
use portcullis_e2e::image::archive::{self, FileData};
use portcullis_e2e::image::{dockerfile, elf};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

fn main() -> Result<()> {
    let mut dockerfile_path = None;
    let mut tag = None;
    let mut out = None;
    let mut sources = BTreeMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--dockerfile" => dockerfile_path = Some(PathBuf::from(value()?)),
            "--tag" => tag = Some(value()?),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--file" => {
                let pair = value()?;
                let (source, path) = pair
                    .split_once('=')
                    .with_context(|| format!("--file takes SOURCE=PATH, not {pair}"))?;
                sources.insert(source.to_owned(), read_file(path)?);
            }
            other => bail!(
                "unknown argument {other}; see the usage at the top of tests/src/bin/mkimage.rs"
            ),
        }
    }
    let dockerfile_path = dockerfile_path.context("--dockerfile is required")?;
    let tag = tag.context("--tag is required")?;
    let out = out.context("--out is required")?;
    let text = std::fs::read_to_string(&dockerfile_path)
        .with_context(|| format!("cannot read {}", dockerfile_path.display()))?;
    let stage =
        dockerfile::parse(&text).with_context(|| format!("in {}", dockerfile_path.display()))?;
    let bytes = archive::build(&stage, &tag, &sources)?;
    let partial = out.with_extension("tar.partial");
    std::fs::write(&partial, &bytes)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, &out).with_context(|| format!("cannot write {}", out.display()))?;
    println!("IMAGE {tag} {} {}", out.display(), bytes.len());
    Ok(())
}

/// Reads one file to put in the image; an executable must be static.
fn read_file(path: &str) -> Result<FileData> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if bytes.starts_with(b"\x7fELF") && !elf::is_static(&bytes)? {
        bail!(
            "{path} is dynamically linked; an image without a base needs a static binary (-C target-feature=+crt-static)"
        );
    }
    Ok(FileData { bytes, mode })
}
