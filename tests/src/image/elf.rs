//! Whether an ELF executable needs a dynamic loader. An image `FROM scratch`
//! has none, so a binary that asks for one would fail to start with a
//! puzzling "no such file or directory". Pure: bytes in, answer out.

use anyhow::{Result, ensure};

/// `PT_INTERP`: the program header naming the dynamic loader.
const PT_INTERP: u32 = 3;

/// `Ok(true)` for an ELF64 little-endian file without a `PT_INTERP` header.
pub fn is_static(bytes: &[u8]) -> Result<bool> {
    ensure!(
        bytes.len() >= 64 && bytes[..4] == *b"\x7fELF",
        "not an ELF file"
    );
    ensure!(
        bytes[4] == 2 && bytes[5] == 1,
        "not a 64-bit little-endian ELF file"
    );
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let phoff = usize::try_from(u64::from_le_bytes(bytes[32..40].try_into()?))?;
    let phentsize = usize::from(u16_at(54));
    let phnum = usize::from(u16_at(56));
    for index in 0..phnum {
        let at = phoff + index * phentsize;
        let Some(kind) = bytes.get(at..at + 4) else {
            anyhow::bail!("ELF program headers are cut short");
        };
        if u32::from_le_bytes(kind.try_into()?) == PT_INTERP {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamically_linked_system_binary_is_not_static() {
        let bytes = std::fs::read("/bin/sh").expect("no error");
        assert!(!is_static(&bytes).expect("no error"));
    }

    #[test]
    fn a_text_file_is_not_an_elf_file() {
        assert!(
            is_static(b"#!/bin/sh\necho hello, this is not a binary at all, just text.....\n")
                .is_err()
        );
    }
}
