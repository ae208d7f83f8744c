//! Tar streams as image layers and archives need them, written and read with
//! the `tar` crate: regular files and directories in ustar headers, owned by
//! root, with a fixed time, so the same inputs give the same bytes. Pure:
//! bytes in, bytes out.

use anyhow::{Context, Result, bail, ensure};
use std::io::Read;
use tar::{Archive, Builder, EntryType, Header};

/// One entry of a tar stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Relative path; a directory's ends with `/`.
    pub path: String,
    /// Permission bits.
    pub mode: u32,
    /// Owner and group id.
    pub uid: u32,
    /// The file's bytes (empty for a directory).
    pub data: Vec<u8>,
}

impl Entry {
    /// A directory owned by root.
    pub fn dir(path: &str) -> Self {
        let path = if path.ends_with('/') {
            path.to_owned()
        } else {
            format!("{path}/")
        };
        Entry {
            path,
            mode: 0o755,
            uid: 0,
            data: Vec::new(),
        }
    }

    /// A regular file owned by root.
    pub fn file(path: &str, mode: u32, data: Vec<u8>) -> Self {
        Entry {
            path: path.to_owned(),
            mode,
            uid: 0,
            data,
        }
    }

    /// Whether the entry is a directory.
    pub fn is_dir(&self) -> bool {
        self.path.ends_with('/')
    }
}

/// Writes `entries` in order as a tar stream.
pub fn write(entries: &[Entry]) -> Result<Vec<u8>> {
    let mut builder = Builder::new(Vec::new());
    for entry in entries {
        builder
            .append(&header(entry)?, entry.data.as_slice())
            .with_context(|| format!("cannot add {} to the tar stream", entry.path))?;
    }
    Ok(builder.into_inner()?)
}

/// A ustar header: one format for every entry, with no extension records.
/// A path up to 255 bytes fits, split at a `/` into the prefix field.
fn header(entry: &Entry) -> Result<Header> {
    let mut header = Header::new_ustar();
    header
        .set_path(&entry.path)
        .with_context(|| format!("tar path {} cannot be stored in a ustar header", entry.path))?;
    header.set_entry_type(if entry.is_dir() {
        EntryType::Directory
    } else {
        EntryType::Regular
    });
    header.set_mode(entry.mode);
    header.set_uid(u64::from(entry.uid));
    header.set_gid(u64::from(entry.uid));
    header.set_username("root")?;
    header.set_groupname("root")?;
    header.set_size(entry.data.len() as u64);
    header.set_mtime(0);
    header.set_cksum();
    Ok(header)
}

/// Reads a tar stream back (regular files and directories; other types
/// are an error, so a surprise in an image shows).
pub fn read(bytes: &[u8]) -> Result<Vec<Entry>> {
    let mut archive = Archive::new(bytes);
    let mut entries = Vec::new();
    for entry in archive.entries().context("not a tar stream")? {
        let mut entry = entry.context("a tar header cannot be read")?;
        let path =
            String::from_utf8(entry.path_bytes().into_owned()).context("tar path is not UTF-8")?;
        let kind = entry.header().entry_type();
        if !kind.is_file() && !kind.is_dir() {
            bail!("tar entry {path} has type {kind:?}, not a file or directory");
        }
        let mode = entry.header().mode().context("tar mode")?;
        let uid = u32::try_from(entry.header().uid().context("tar uid")?)?;
        let size = entry.size();
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .with_context(|| format!("tar entry {path} cannot be read"))?;
        ensure!(
            data.len() as u64 == size,
            "tar entry {path} is cut short: {} of {size} bytes",
            data.len()
        );
        entries.push(Entry {
            path,
            mode,
            uid,
            data,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: usize = 512;

    #[test]
    fn entries_written_read_back_the_same() {
        let entries = vec![
            Entry::dir("usr"),
            Entry::file("usr/app", 0o755, vec![7; 1000]),
            Entry::file("empty", 0o644, Vec::new()),
        ];
        let bytes = write(&entries).expect("no error");
        assert_eq!(bytes.len() % BLOCK, 0);
        assert_eq!(
            read(&bytes).expect("no error"),
            vec![Entry::dir("usr/"), entries[1].clone(), entries[2].clone()]
        );
    }

    #[test]
    fn same_entries_give_the_same_bytes() {
        let entries = [Entry::file("a", 0o644, b"x".to_vec())];
        assert_eq!(
            write(&entries).expect("no error"),
            write(&entries).expect("no error")
        );
    }

    #[test]
    fn headers_are_ustar_owned_by_root_at_time_zero() {
        let bytes = write(&[Entry::file("a", 0o644, b"x".to_vec())]).expect("no error");
        let mut archive = Archive::new(bytes.as_slice());
        let entry = archive
            .entries()
            .expect("no error")
            .next()
            .expect("one entry")
            .expect("no error");
        let header = entry.header();
        assert!(header.as_ustar().is_some());
        assert_eq!(header.username().expect("no error"), Some("root"));
        assert_eq!(header.groupname().expect("no error"), Some("root"));
        assert_eq!(header.gid().expect("no error"), 0);
        assert_eq!(header.mtime().expect("no error"), 0);
        assert_eq!(header.mode().expect("no error"), 0o644);
    }

    #[test]
    fn a_long_path_is_split_into_the_ustar_prefix() {
        let path = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        let entries = [Entry::file(&path, 0o644, b"x".to_vec())];
        let bytes = write(&entries).expect("no error");
        assert_eq!(read(&bytes).expect("no error"), entries);
    }

    #[test]
    fn a_path_no_ustar_header_can_hold_is_refused_by_name() {
        let long = "a".repeat(101);
        let error = write(&[Entry::file(&long, 0o644, Vec::new())]).expect_err("an error");
        assert!(error.to_string().contains(&long), "{error}");
    }

    #[test]
    fn a_cut_stream_is_an_error() {
        let bytes = write(&[Entry::file("a", 0o644, vec![1; 600])]).expect("no error");
        assert!(read(&bytes[..700]).is_err());
    }

    #[test]
    fn a_symlink_is_refused_by_name() {
        let mut header = Header::new_ustar();
        header.set_entry_type(EntryType::Symlink);
        header.set_size(0);
        let mut builder = Builder::new(Vec::new());
        builder
            .append_link(&mut header, "bin/sh", "busybox")
            .expect("no error");
        let bytes = builder.into_inner().expect("no error");
        let error = read(&bytes).expect_err("an error");
        assert!(error.to_string().contains("bin/sh"), "{error}");
    }
}
