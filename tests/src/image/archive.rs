//! A docker-archive (the `docker save` layout: `manifest.json`, the image
//! config, one `layer.tar`) holding exactly a [`FinalStage`]'s files and
//! config. `ctr -n k8s.io images import` and `docker load` take it. The same
//! inputs give the same bytes (fixed times, root-owned, fixed order).
//! Pure: the files' bytes come in, the archive's bytes go out.

use super::dockerfile::FinalStage;
use super::tar::{self, Entry};
use anyhow::{Context, Result, bail, ensure};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// The default `PATH` of an image, as Docker sets it.
const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A file to put in the image: its bytes and permission bits.
#[derive(Clone, Debug)]
pub struct FileData {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Permission bits (e.g. 0o755).
    pub mode: u32,
}

/// Writes the archive of `stage` tagged `tag`; `sources` maps each COPY's
/// source (as written in the Dockerfile) to its content. A COPY without a
/// source, or a source no COPY uses, is an error.
pub fn build(
    stage: &FinalStage,
    tag: &str,
    sources: &BTreeMap<String, FileData>,
) -> Result<Vec<u8>> {
    let used: BTreeSet<&str> = stage
        .copies
        .iter()
        .map(|copy| copy.source.as_str())
        .collect();
    if let Some(unused) = sources
        .keys()
        .find(|source| !used.contains(source.as_str()))
    {
        bail!("{unused} is given but no COPY of the final stage uses it");
    }
    let mut entries = Vec::new();
    let mut dirs = BTreeSet::new();
    for copy in &stage.copies {
        let file = sources
            .get(&copy.source)
            .with_context(|| format!("no file given for COPY {} {}", copy.source, copy.dest))?;
        let path = copy.dest.trim_start_matches('/');
        let mut parent = String::new();
        for part in path
            .split('/')
            .rev()
            .skip(1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            parent.push_str(part);
            parent.push('/');
            if dirs.insert(parent.clone()) {
                entries.push(Entry::dir(&parent));
            }
        }
        entries.push(Entry::file(path, file.mode, file.bytes.clone()));
    }
    let layer = tar::write(&entries)?;
    let layer_digest = hex(&Sha256::digest(&layer));
    let config = serde_json::to_vec(&config(stage, &layer_digest))?;
    let config_digest = hex(&Sha256::digest(&config));
    let manifest = serde_json::to_vec(&json!([{
        "Config": format!("{config_digest}.json"),
        "RepoTags": [tag],
        "Layers": [format!("{layer_digest}/layer.tar")],
    }]))?;
    tar::write(&[
        Entry::file(&format!("{config_digest}.json"), 0o644, config),
        Entry::dir(&layer_digest),
        Entry::file(&format!("{layer_digest}/layer.tar"), 0o644, layer),
        Entry::file("manifest.json", 0o644, manifest),
    ])
}

fn config(stage: &FinalStage, layer_digest: &str) -> Value {
    let mut env = vec![PATH.to_owned()];
    env.extend(
        stage
            .env
            .iter()
            .map(|(key, value)| format!("{key}={value}")),
    );
    let exposed: Map<String, Value> = stage
        .exposed
        .iter()
        .map(|port| {
            let port = if port.contains('/') {
                port.clone()
            } else {
                format!("{port}/tcp")
            };
            (port, json!({}))
        })
        .collect();
    let mut run = json!({
        "Env": env,
        "Entrypoint": stage.entrypoint,
        "Labels": stage.labels,
        "ExposedPorts": exposed,
        "WorkingDir": "/",
    });
    if !stage.cmd.is_empty() {
        run["Cmd"] = json!(stage.cmd);
    }
    if let Some(user) = &stage.user {
        run["User"] = json!(user);
    }
    json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": run,
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_digest}")]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "tests/src/bin/mkimage.rs"}],
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// An archive read back: what an importer would see.
#[derive(Debug)]
pub struct Image {
    /// The tags it carries.
    pub tags: Vec<String>,
    /// The image config (`config.User`, `config.Entrypoint`, ...).
    pub config: Value,
    /// The layer's entries.
    pub layer: Vec<Entry>,
}

impl Image {
    /// Paths of the layer's regular files.
    pub fn files(&self) -> Vec<String> {
        self.layer
            .iter()
            .filter(|entry| !entry.is_dir())
            .map(|entry| entry.path.clone())
            .collect()
    }
}

/// Reads a one-image, one-layer archive, checking the digests it names.
pub fn read(bytes: &[u8]) -> Result<Image> {
    let entries = tar::read(bytes)?;
    let find = |path: &str| {
        entries
            .iter()
            .find(|entry| entry.path == path)
            .with_context(|| format!("the archive has no {path}"))
    };
    let manifest: Value = serde_json::from_slice(&find("manifest.json")?.data)?;
    let [image] = manifest
        .as_array()
        .map(Vec::as_slice)
        .context("manifest.json is not a list")?
    else {
        bail!("manifest.json must list exactly one image");
    };
    let text = |key: &str| {
        image[key]
            .as_str()
            .with_context(|| format!("manifest.json has no {key}"))
    };
    let config_path = text("Config")?;
    let config_bytes = &find(config_path)?.data;
    ensure!(
        format!("{}.json", hex(&Sha256::digest(config_bytes))) == config_path,
        "the config's digest does not match its name"
    );
    let layers = image["Layers"]
        .as_array()
        .context("manifest.json has no Layers")?;
    ensure!(
        layers.len() == 1,
        "expected one layer, found {}",
        layers.len()
    );
    let layer_path = layers[0].as_str().context("a layer path is not a string")?;
    let layer_bytes = &find(layer_path)?.data;
    let config: Value = serde_json::from_slice(config_bytes)?;
    ensure!(
        config["rootfs"]["diff_ids"][0]
            == json!(format!("sha256:{}", hex(&Sha256::digest(layer_bytes)))),
        "the layer's digest is not the config's diff_id"
    );
    let tags = image["RepoTags"]
        .as_array()
        .context("manifest.json has no RepoTags")?
        .iter()
        .filter_map(|tag| tag.as_str().map(str::to_owned))
        .collect();
    Ok(Image {
        tags,
        config,
        layer: tar::read(layer_bytes)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::dockerfile::parse;

    fn stage() -> FinalStage {
        parse(
            "FROM scratch\nLABEL a=b\nCOPY --from=build /out/app /usr/local/bin/app\nUSER 65532:65532\n\
             EXPOSE 8080\nENTRYPOINT [\"/usr/local/bin/app\"]\n",
        )
        .expect("no error")
    }

    fn app() -> BTreeMap<String, FileData> {
        BTreeMap::from([(
            "/out/app".to_owned(),
            FileData {
                bytes: b"binary".to_vec(),
                mode: 0o755,
            },
        )])
    }

    #[test]
    fn the_archive_reads_back_with_the_stage_files_and_config() {
        let image =
            read(&build(&stage(), "localhost/app:1", &app()).expect("no error")).expect("no error");
        assert_eq!(image.tags, ["localhost/app:1"]);
        assert_eq!(image.files(), stage().files());
        assert_eq!(
            image
                .layer
                .iter()
                .map(|entry| entry.path.as_str())
                .collect::<Vec<_>>(),
            ["usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/app"]
        );
        assert_eq!(image.layer[3].mode, 0o755);
        assert_eq!(image.layer[3].data, b"binary");
        assert_eq!(image.config["config"]["User"], "65532:65532");
        assert_eq!(
            image.config["config"]["Entrypoint"],
            json!(["/usr/local/bin/app"])
        );
        assert_eq!(image.config["config"]["Labels"]["a"], "b");
        assert_eq!(
            image.config["config"]["ExposedPorts"],
            json!({"8080/tcp": {}})
        );
    }

    #[test]
    fn the_same_inputs_give_the_same_archive() {
        assert_eq!(
            build(&stage(), "a:1", &app()).expect("no error"),
            build(&stage(), "a:1", &app()).expect("no error")
        );
    }

    #[test]
    fn a_copy_without_its_file_is_refused_by_name() {
        let error = build(&stage(), "a:1", &BTreeMap::new()).expect_err("an error");
        assert!(error.to_string().contains("/out/app"), "{error}");
    }

    #[test]
    fn a_file_no_copy_uses_is_refused_by_name() {
        let mut sources = app();
        sources.insert(
            "extra".into(),
            FileData {
                bytes: Vec::new(),
                mode: 0o644,
            },
        );
        let error = build(&stage(), "a:1", &sources).expect_err("an error");
        assert!(error.to_string().contains("extra"), "{error}");
    }
}
