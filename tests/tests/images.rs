//! The image archives `make images` writes hold exactly what their
//! Dockerfile's final stage would: the same files at the same paths, the
//! same user, entrypoint, labels and ports. The binaries are static (the
//! images have no dynamic loader), the user is not root, and there is no
//! shell. Run `make images` first; a missing archive fails the test.

use anyhow::{Context, Result, ensure};
use portcullis_e2e::cluster::images::{IMAGES, archive};
use portcullis_e2e::image::{archive as image_archive, dockerfile, elf};
use portcullis_e2e::process::repo_root;
use serde_json::json;

fn check(name: &str, tag: &str) -> Result<()> {
    let dockerfile_path = repo_root().join(format!("images/{name}/Dockerfile"));
    let stage = dockerfile::parse(&std::fs::read_to_string(&dockerfile_path)?)
        .with_context(|| format!("{}", dockerfile_path.display()))?;
    let path = archive(name)?;
    let bytes = std::fs::read(&path)?;
    let image = image_archive::read(&bytes).with_context(|| format!("{}", path.display()))?;
    eprintln!(
        "{name}: {} bytes ({:.1} MiB)",
        bytes.len(),
        bytes.len() as f64 / 1048576.0
    );

    assert_eq!(image.tags, [tag], "{name}");
    assert_eq!(
        image.files(),
        stage.files(),
        "{name}: the files differ from the final stage's COPY lines"
    );
    let config = &image.config["config"];
    assert_eq!(config["User"], json!(stage.user), "{name}");
    assert_eq!(config["Entrypoint"], json!(stage.entrypoint), "{name}");
    assert_eq!(config["Labels"], json!(stage.labels), "{name}");
    let user = stage
        .user
        .as_deref()
        .context("the final stage sets no USER")?;
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap_or_default()
        .parse()
        .context("USER is not numeric")?;
    ensure!(uid != 0, "{name} runs as root");
    for label in ["title", "description", "licenses", "version"] {
        ensure!(
            config["Labels"][format!("org.opencontainers.image.{label}")].is_string(),
            "{name} has no org.opencontainers.image.{label} label"
        );
    }
    ensure!(
        !image
            .files()
            .iter()
            .any(|file| file.ends_with("/sh") || file.ends_with("busybox")),
        "{name} has a shell"
    );
    for entry in image.layer.iter().filter(|entry| !entry.is_dir()) {
        ensure!(
            elf::is_static(&entry.data)?,
            "{name}: {} is not static",
            entry.path
        );
        ensure!(
            entry.mode & 0o111 != 0,
            "{name}: {} is not executable",
            entry.path
        );
    }
    ensure!(image.config["rootfs"]["diff_ids"].as_array().map(Vec::len) == Some(1));
    ensure!(
        config["Entrypoint"][0]
            .as_str()
            .map(|entry| entry.trim_start_matches('/').to_owned())
            .is_some_and(|entry| image.files().contains(&entry)),
        "{name}: the entrypoint is not in the image"
    );
    Ok(())
}

#[test]
fn each_image_archive_holds_exactly_its_dockerfile_final_stage() -> Result<()> {
    for (name, tag) in IMAGES {
        check(name, tag)?;
    }
    Ok(())
}

#[test]
fn every_dockerfile_under_images_is_built_by_make_images() -> Result<()> {
    let mut folders: Vec<String> = std::fs::read_dir(repo_root().join("images"))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Dockerfile").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut built: Vec<String> = IMAGES.iter().map(|(name, _)| (*name).to_owned()).collect();
    built.sort();
    assert_eq!(folders, built);
    Ok(())
}
