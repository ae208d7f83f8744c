//! The POSIX ustar format, as much as image layers and archives need:
//! regular files and directories, owned by root, with a fixed time, so the
//! same inputs give the same bytes. Pure: bytes in, bytes out.

use anyhow::{Context, Result, bail, ensure};

const BLOCK: usize = 512;

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
    let mut out = Vec::new();
    for entry in entries {
        out.extend_from_slice(&header(entry)?);
        out.extend_from_slice(&entry.data);
        let pad = (BLOCK - entry.data.len() % BLOCK) % BLOCK;
        out.resize(out.len() + pad, 0);
    }
    out.resize(out.len() + 2 * BLOCK, 0);
    Ok(out)
}

fn header(entry: &Entry) -> Result<[u8; BLOCK]> {
    let mut h = [0u8; BLOCK];
    let name = entry.path.as_bytes();
    // Long names would need the prefix field or PAX headers; paths in
    // images and archives here are short.
    ensure!(
        name.len() <= 100,
        "tar path longer than 100 bytes: {}",
        entry.path
    );
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], u64::from(entry.mode));
    octal(&mut h[108..116], u64::from(entry.uid));
    octal(&mut h[116..124], u64::from(entry.uid));
    octal(&mut h[124..136], entry.data.len() as u64);
    octal(&mut h[136..148], 0);
    h[156] = if entry.is_dir() { b'5' } else { b'0' };
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    octal(&mut h[148..155], u64::from(sum));
    Ok(h)
}

/// Writes `value` as zero-padded octal, NUL-terminated, filling `field`.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

/// Reads a tar stream back (regular files and directories; other types
/// are an error, so a surprise in an image shows).
pub fn read(bytes: &[u8]) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut at = 0;
    while at + BLOCK <= bytes.len() {
        let h = &bytes[at..at + BLOCK];
        if h.iter().all(|&b| b == 0) {
            return Ok(entries);
        }
        let path = text(&h[..100])?;
        let mode = parse_octal(&h[100..108]).context("tar mode")? as u32;
        let uid = parse_octal(&h[108..116]).context("tar uid")? as u32;
        let size = usize::try_from(parse_octal(&h[124..136]).context("tar size")?)?;
        let data_start = at + BLOCK;
        let Some(data) = bytes.get(data_start..data_start + size) else {
            bail!("tar entry {path} is cut short");
        };
        match h[156] {
            b'0' | 0 | b'5' => {}
            other => bail!(
                "tar entry {path} has type {:?}, not a file or directory",
                other as char
            ),
        }
        entries.push(Entry {
            path,
            mode,
            uid,
            data: data.to_vec(),
        });
        at = data_start + size.div_ceil(BLOCK) * BLOCK;
    }
    bail!("tar stream has no end marker")
}

fn text(field: &[u8]) -> Result<String> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    Ok(std::str::from_utf8(&field[..end])
        .context("tar path is not UTF-8")?
        .to_owned())
}

fn parse_octal(field: &[u8]) -> Result<u64> {
    let digits = text(field)?;
    let digits = digits.trim_matches(|c: char| c == ' ' || c == '\0');
    if digits.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(digits, 8).with_context(|| format!("not an octal number: {digits:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn header_checksum_is_what_tar_expects() {
        let bytes = write(&[Entry::file("a", 0o644, b"x".to_vec())]).expect("no error");
        let stored = parse_octal(&bytes[148..156]).expect("no error");
        let mut header = bytes[..BLOCK].to_vec();
        header[148..156].fill(b' ');
        let sum: u64 = header.iter().map(|&b| u64::from(b)).sum();
        assert_eq!(stored, sum);
    }

    #[test]
    fn a_too_long_path_is_refused_by_name() {
        let error =
            write(&[Entry::file(&"a".repeat(101), 0o644, Vec::new())]).expect_err("an error");
        assert!(error.to_string().contains("longer than 100"), "{error}");
    }

    #[test]
    fn a_cut_stream_is_an_error() {
        let bytes = write(&[Entry::file("a", 0o644, vec![1; 600])]).expect("no error");
        assert!(read(&bytes[..700]).is_err());
    }
}
