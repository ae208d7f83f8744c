//! An image archive holding exactly a [`FinalStage`]'s files and config, in
//! the layout `docker save` writes since Docker 25: an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/...`) that `ctr images import`
//! and `podman load` read, and beside it the older `manifest.json` that
//! `docker load` reads, naming the same blobs. One uncompressed layer holds
//! the files. The same inputs give the same bytes (fixed times, root-owned,
//! fixed order, JSON keys sorted). Pure: the files' bytes come in, the
//! archive's bytes go out.

use super::dockerfile::FinalStage;
use super::tar::{self, Entry};
use anyhow::{Context, Result, bail, ensure};
use oci_spec::image::{
    ANNOTATION_REF_NAME, Arch, ConfigBuilder, Descriptor, DescriptorBuilder, Digest,
    HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder, ImageIndex, ImageIndexBuilder,
    ImageManifest, ImageManifestBuilder, MediaType, OciLayout, OciLayoutBuilder, Os,
    PlatformBuilder, RootFsBuilder,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The default `PATH` of an image, as Docker sets it.
const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The annotation containerd names an imported image by.
const CONTAINERD_IMAGE_NAME: &str = "io.containerd.image.name";

/// The image layout version the archives declare.
const LAYOUT_VERSION: &str = "1.0.0";

/// The creation time written everywhere, so builds repeat byte for byte.
const CREATED: &str = "1970-01-01T00:00:00Z";

/// A file to put in the image: its bytes and permission bits.
#[derive(Clone, Debug)]
pub struct FileData {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Permission bits (e.g. 0o755).
    pub mode: u32,
}

/// One image of `manifest.json`, the list `docker load` reads.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifest {
    /// The config blob's path in the archive.
    config: String,
    /// The image's names.
    repo_tags: Vec<String>,
    /// The layer blobs' paths in the archive.
    layers: Vec<String>,
}

/// Writes the archive of `stage` tagged `tag`; `sources` maps each COPY's
/// source (as written in the Dockerfile) to its content. A COPY without a
/// source, or a source no COPY uses, is an error, and so is a tag without
/// a registry host and a tag (`localhost/app:1`): importers would each
/// complete it differently.
pub fn build(
    stage: &FinalStage,
    tag: &str,
    sources: &BTreeMap<String, FileData>,
) -> Result<Vec<u8>> {
    check_tag(tag)?;
    let layer = tar::write(&layer_entries(stage, sources)?)?;
    let layer_digest = sha256(&layer)?;
    let config = json(&config(stage, &layer_digest)?)?;
    let config_digest = sha256(&config)?;
    let manifest = json(
        &ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(Descriptor::new(
                MediaType::ImageConfig,
                config.len() as u64,
                config_digest.clone(),
            ))
            .layers(vec![Descriptor::new(
                MediaType::ImageLayer,
                layer.len() as u64,
                layer_digest.clone(),
            )])
            .build()?,
    )?;
    let manifest_digest = sha256(&manifest)?;
    let index = json(&index(tag, &manifest, manifest_digest.clone())?)?;
    let docker_manifest = json(&[DockerManifest {
        config: blob_path(&config_digest),
        repo_tags: vec![tag.to_owned()],
        layers: vec![blob_path(&layer_digest)],
    }])?;
    let layout = json(
        &OciLayoutBuilder::default()
            .image_layout_version(LAYOUT_VERSION)
            .build()?,
    )?;
    tar::write(&[
        Entry::dir("blobs"),
        Entry::dir("blobs/sha256"),
        Entry::file(&blob_path(&config_digest), 0o644, config),
        Entry::file(&blob_path(&layer_digest), 0o644, layer),
        Entry::file(&blob_path(&manifest_digest), 0o644, manifest),
        Entry::file("index.json", 0o644, index),
        Entry::file("manifest.json", 0o644, docker_manifest),
        Entry::file("oci-layout", 0o644, layout),
    ])
}

/// A tag must name its registry host and its tag, so that every importer
/// files the image under the name the pods ask for.
fn check_tag(tag: &str) -> Result<()> {
    let (host, rest) = tag
        .split_once('/')
        .with_context(|| format!("the tag {tag} names no registry host (e.g. localhost/{tag})"))?;
    ensure!(
        host == "localhost" || host.contains('.') || host.contains(':'),
        "the tag {tag} names no registry host (e.g. localhost/{tag})"
    );
    let last = rest.rsplit('/').next().unwrap_or(rest);
    ensure!(
        last.contains(':') && !tag.contains('@'),
        "the tag {tag} has no tag after the name (e.g. {tag}:1)"
    );
    Ok(())
}

/// The layer's entries: each COPY's file, after the directories above it.
fn layer_entries(stage: &FinalStage, sources: &BTreeMap<String, FileData>) -> Result<Vec<Entry>> {
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
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            parent.push_str(part);
            parent.push('/');
            if dirs.insert(parent.clone()) {
                entries.push(Entry::dir(&parent));
            }
        }
        entries.push(Entry::file(path, file.mode, file.bytes.clone()));
    }
    Ok(entries)
}

/// The image config: the stage's run-time settings, and the one layer.
fn config(stage: &FinalStage, layer_digest: &Digest) -> Result<ImageConfiguration> {
    let mut env = vec![PATH.to_owned()];
    env.extend(
        stage
            .env
            .iter()
            .map(|(key, value)| format!("{key}={value}")),
    );
    let exposed: Vec<String> = stage
        .exposed
        .iter()
        .map(|port| {
            if port.contains('/') {
                port.clone()
            } else {
                format!("{port}/tcp")
            }
        })
        .collect();
    let labels: HashMap<String, String> = stage
        .labels
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let mut run = ConfigBuilder::default()
        .env(env)
        .entrypoint(stage.entrypoint.clone())
        .labels(labels)
        .exposed_ports(exposed)
        .working_dir("/");
    if !stage.cmd.is_empty() {
        run = run.cmd(stage.cmd.clone());
    }
    if let Some(user) = &stage.user {
        run = run.user(user.clone());
    }
    Ok(ImageConfigurationBuilder::default()
        .architecture(Arch::Amd64)
        .os(Os::Linux)
        .created(CREATED)
        .config(run.build()?)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![layer_digest.to_string()])
                .build()?,
        )
        .history(vec![
            HistoryBuilder::default()
                .created(CREATED)
                .created_by("tests/src/bin/mkimage.rs")
                .build()?,
        ])
        .build()?)
}

/// `index.json`: the one manifest, named for containerd and for podman.
fn index(tag: &str, manifest: &[u8], manifest_digest: Digest) -> Result<ImageIndex> {
    let names = HashMap::from([
        (CONTAINERD_IMAGE_NAME.to_owned(), tag.to_owned()),
        (ANNOTATION_REF_NAME.to_owned(), tag.to_owned()),
    ]);
    let platform = PlatformBuilder::default()
        .architecture(Arch::Amd64)
        .os(Os::Linux)
        .build()?;
    let descriptor = DescriptorBuilder::default()
        .media_type(MediaType::ImageManifest)
        .digest(manifest_digest)
        .size(manifest.len() as u64)
        .annotations(names)
        .platform(platform)
        .build()?;
    Ok(ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![descriptor])
        .build()?)
}

/// The JSON of `value` with every object's keys sorted: the OCI types keep
/// labels and annotations in hash maps, whose order changes run to run.
fn json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&serde_json::to_value(value)?)?)
}

fn sha256(bytes: &[u8]) -> Result<Digest> {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(format!("sha256:{hex}").parse()?)
}

/// Where a blob lies in the layout.
fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.digest())
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

/// Reads a one-image, one-layer archive as both `ctr` and `docker load`
/// would, checking every digest and size it names, and that the OCI index
/// and `manifest.json` agree.
pub fn read(bytes: &[u8]) -> Result<Image> {
    let entries = tar::read(bytes)?;
    let find = |path: &str| {
        entries
            .iter()
            .find(|entry| entry.path == path)
            .map(|entry| entry.data.as_slice())
            .with_context(|| format!("the archive has no {path}"))
    };
    let blob = |descriptor: &Descriptor| -> Result<&[u8]> {
        let digest = descriptor.digest();
        let data = find(&blob_path(digest))?;
        ensure!(
            data.len() as u64 == descriptor.size(),
            "the blob {digest} has {} bytes, not the {} its descriptor says",
            data.len(),
            descriptor.size()
        );
        ensure!(
            &sha256(data)? == digest,
            "the blob {digest} does not match its digest"
        );
        Ok(data)
    };

    let layout = OciLayout::from_reader(find("oci-layout")?)?;
    ensure!(
        layout.image_layout_version() == LAYOUT_VERSION,
        "oci-layout declares version {}",
        layout.image_layout_version()
    );
    let index = ImageIndex::from_reader(find("index.json")?)?;
    let [manifest_descriptor] = index.manifests().as_slice() else {
        bail!("index.json must list exactly one manifest");
    };
    ensure!(
        manifest_descriptor.media_type() == &MediaType::ImageManifest,
        "index.json lists a {}, not an image manifest",
        manifest_descriptor.media_type()
    );
    let annotation = |key: &str| {
        manifest_descriptor
            .annotations()
            .as_ref()
            .and_then(|annotations| annotations.get(key))
            .with_context(|| format!("index.json has no {key} annotation"))
    };
    let name = annotation(CONTAINERD_IMAGE_NAME)?;
    ensure!(
        annotation(ANNOTATION_REF_NAME)? == name,
        "index.json names the image differently for containerd and podman"
    );
    let manifest = ImageManifest::from_reader(blob(manifest_descriptor)?)?;
    let [layer_descriptor] = manifest.layers().as_slice() else {
        bail!("expected one layer, found {}", manifest.layers().len());
    };
    ensure!(
        layer_descriptor.media_type() == &MediaType::ImageLayer,
        "the layer is a {}, not an uncompressed tar",
        layer_descriptor.media_type()
    );
    ensure!(
        manifest.config().media_type() == &MediaType::ImageConfig,
        "the config is a {}, not an image config",
        manifest.config().media_type()
    );
    let config_bytes = blob(manifest.config())?;
    let layer_bytes = blob(layer_descriptor)?;
    let image_config = ImageConfiguration::from_reader(config_bytes)?;
    ensure!(
        image_config.rootfs().diff_ids() == &[layer_descriptor.digest().to_string()],
        "the layer's digest is not the config's diff_id"
    );

    let docker: Vec<DockerManifest> = serde_json::from_slice(find("manifest.json")?)?;
    let [docker] = docker.as_slice() else {
        bail!("manifest.json must list exactly one image");
    };
    ensure!(
        docker.repo_tags == [name.clone()],
        "manifest.json names the image {:?}, index.json {name}",
        docker.repo_tags
    );
    ensure!(
        docker.config == blob_path(manifest.config().digest())
            && docker.layers == [blob_path(layer_descriptor.digest())],
        "manifest.json names other blobs than the OCI manifest"
    );
    Ok(Image {
        tags: vec![name.clone()],
        config: serde_json::from_slice(config_bytes)?,
        layer: tar::read(layer_bytes)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::dockerfile::parse;
    use serde_json::json;

    fn stage() -> FinalStage {
        parse(
            "FROM scratch\nLABEL a=b\nLABEL c=d e=f g=h\nCOPY --from=build /out/app /usr/local/bin/app\n\
             USER 65532:65532\nEXPOSE 8080 9090 53/udp\nENTRYPOINT [\"/usr/local/bin/app\"]\n",
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

    fn archive_entries() -> Vec<Entry> {
        tar::read(&build(&stage(), "localhost/app:1", &app()).expect("no error")).expect("no error")
    }

    fn file<'a>(entries: &'a [Entry], path: &str) -> &'a [u8] {
        &entries
            .iter()
            .find(|entry| entry.path == path)
            .unwrap_or_else(|| panic!("no {path}"))
            .data
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
        assert!(image.layer.iter().all(|entry| entry.uid == 0));
        assert_eq!(image.layer[0].mode, 0o755);
        assert_eq!(image.layer[3].mode, 0o755);
        assert_eq!(image.layer[3].data, b"binary");
        assert_eq!(image.config["config"]["User"], "65532:65532");
        assert_eq!(
            image.config["config"]["Entrypoint"],
            json!(["/usr/local/bin/app"])
        );
        assert_eq!(
            image.config["config"]["Labels"],
            json!({"a": "b", "c": "d", "e": "f", "g": "h"})
        );
        assert_eq!(
            image.config["config"]["ExposedPorts"],
            json!({"8080/tcp": {}, "9090/tcp": {}, "53/udp": {}})
        );
        assert_eq!(image.config["config"]["WorkingDir"], "/");
        assert_eq!(image.config["architecture"], "amd64");
        assert_eq!(image.config["os"], "linux");
    }

    #[test]
    fn the_archive_is_an_oci_layout_named_for_containerd_and_podman() {
        let entries = archive_entries();
        assert_eq!(
            file(&entries, "oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#
        );
        let index: Value = serde_json::from_slice(file(&entries, "index.json")).expect("JSON");
        assert_eq!(index["schemaVersion"], 2);
        assert_eq!(
            index["mediaType"],
            "application/vnd.oci.image.index.v1+json"
        );
        let manifest = &index["manifests"][0];
        assert_eq!(
            manifest["mediaType"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(
            manifest["annotations"],
            json!({
                "io.containerd.image.name": "localhost/app:1",
                "org.opencontainers.image.ref.name": "localhost/app:1",
            })
        );
        assert_eq!(
            manifest["platform"],
            json!({"architecture": "amd64", "os": "linux"})
        );
        let digest = manifest["digest"].as_str().expect("a digest");
        let blob: Value = serde_json::from_slice(file(
            &entries,
            &format!("blobs/sha256/{}", digest.trim_start_matches("sha256:")),
        ))
        .expect("JSON");
        assert_eq!(
            blob["config"]["mediaType"],
            "application/vnd.oci.image.config.v1+json"
        );
        assert_eq!(
            blob["layers"][0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar"
        );
    }

    #[test]
    fn the_docker_manifest_names_the_same_blobs() {
        let entries = archive_entries();
        let docker: Value = serde_json::from_slice(file(&entries, "manifest.json")).expect("JSON");
        let config = docker[0]["Config"].as_str().expect("a path");
        let layer = docker[0]["Layers"][0].as_str().expect("a path");
        assert_eq!(docker[0]["RepoTags"], json!(["localhost/app:1"]));
        assert!(config.starts_with("blobs/sha256/"), "{config}");
        let config: Value = serde_json::from_slice(file(&entries, config)).expect("JSON");
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            format!("sha256:{}", layer.trim_start_matches("blobs/sha256/"))
        );
        assert!(tar::read(file(&entries, layer)).is_ok());
    }

    #[test]
    fn every_archive_entry_is_owned_by_root() {
        let entries = archive_entries();
        assert!(entries.iter().all(|entry| entry.uid == 0));
        assert_eq!(entries[0].path, "blobs/");
        assert_eq!(entries[1].path, "blobs/sha256/");
    }

    #[test]
    fn the_same_inputs_give_the_same_archive() {
        assert_eq!(
            build(&stage(), "localhost/a:1", &app()).expect("no error"),
            build(&stage(), "localhost/a:1", &app()).expect("no error")
        );
    }

    #[test]
    fn a_changed_blob_is_refused() {
        let mut entries = archive_entries();
        let layer = entries
            .iter_mut()
            .find(|entry| entry.data.len() > 2048 && entry.path.starts_with("blobs/"))
            .expect("the layer");
        layer.data[600] ^= 1;
        let error = read(&tar::write(&entries).expect("no error")).expect_err("an error");
        assert!(
            error.to_string().contains("does not match its digest"),
            "{error}"
        );
    }

    #[test]
    fn a_tag_without_a_registry_host_or_a_tag_is_refused_by_name() {
        for tag in [
            "app:1",
            "library/app:1",
            "localhost/app",
            "localhost/app@sha256:00",
        ] {
            let error = build(&stage(), tag, &app()).expect_err("an error");
            assert!(error.to_string().contains(tag), "{tag}: {error}");
        }
        for tag in [
            "localhost/a/b:1",
            "registry.example:5000/app:v1",
            "localhost:5000/app:1",
        ] {
            assert!(build(&stage(), tag, &app()).is_ok(), "{tag}");
        }
    }

    #[test]
    fn a_copy_without_its_file_is_refused_by_name() {
        let error = build(&stage(), "localhost/a:1", &BTreeMap::new()).expect_err("an error");
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
        let error = build(&stage(), "localhost/a:1", &sources).expect_err("an error");
        assert!(error.to_string().contains("extra"), "{error}");
    }
}
