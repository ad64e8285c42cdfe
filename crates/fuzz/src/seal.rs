//! Resealing a Kiln artifact after its bytes changed: the checksum section holds the SHA-256
//! of the file with those 32 bytes zeroed (see `kiln_environ::artifact`), and anyone can
//! recompute it, so the loader must check everything behind it as well. This finds an
//! artifact's sections and writes the checksum its bytes now have.
use kiln_environ::artifact::CHECKSUM_SECTION;
use object::{Object, ObjectSection};
use sha2::Digest;
use std::ops::Range;

/// Where section `name` lies in the ELF file `elf`.
pub fn section_range(elf: &[u8], name: &str) -> Option<Range<usize>> {
    let file = object::File::parse(elf).ok()?;
    let (at, len) = file.section_by_name(name)?.file_range()?;
    let start = usize::try_from(at).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    (end <= elf.len()).then_some(start..end)
}

/// Write into `elf`'s checksum section the checksum of its bytes; false when it has no
/// checksum section of 32 bytes.
pub fn reseal(elf: &mut [u8]) -> bool {
    let Some(hole) = section_range(elf, CHECKSUM_SECTION).filter(|r| r.len() == 32) else { return false };
    let mut h = sha2::Sha256::new();
    h.update(&elf[..hole.start]);
    h.update([0u8; 32]);
    h.update(&elf[hole.end..]);
    let sum: [u8; 32] = h.finalize().into();
    elf[hole].copy_from_slice(&sum);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_environ::artifact::{Artifact, ArtifactError, ENGINE_SECTION};

    #[test]
    fn resealing_makes_a_changed_artifact_pass_its_checksum() {
        let engine = kiln::Engine::default();
        let artifact = engine.precompile_module(b"(module (func (export \"f\")))").unwrap();
        let mut bytes = artifact.clone();
        assert!(reseal(&mut bytes));
        assert_eq!(bytes, artifact, "resealing an intact artifact changes nothing");
        let engine_info = section_range(&bytes, ENGINE_SECTION).unwrap();
        bytes[engine_info.start] ^= 0x20;
        assert!(matches!(Artifact::parse(&bytes), Err(ArtifactError::Corrupted)));
        assert!(reseal(&mut bytes));
        assert!(!matches!(Artifact::parse(&bytes), Err(ArtifactError::Corrupted)));
    }
}
