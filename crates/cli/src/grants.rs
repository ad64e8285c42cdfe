//! What a guest can reach on the host: the directories `--dir` grants it, and whether a path
//! lies inside one of them. Paths are compared by the identity of the directories on the way
//! up (device and inode), not by spelling, so that `..`, symlinks in the path and bind mounts
//! do not hide a grant; a file with more than one hard link is reachable wherever its other
//! names are, so it counts as reachable too. `kiln run` uses this to keep the guest away from
//! the compilation cache and from artifact files it maps.
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The host directories granted to a guest.
pub struct Grants {
    dirs: Vec<(PathBuf, (u64, u64))>,
}

/// A directory's or file's identity.
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// The identities of `path` (if it exists) and of every existing directory above it, with
/// the path each was found at. A path that does not exist yet is judged by the directories
/// that would hold it.
fn ancestry(path: &Path) -> Vec<(PathBuf, (u64, u64))> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut found = Vec::new();
    let mut at = Some(absolute.as_path());
    while let Some(p) = at {
        if let Ok(meta) = std::fs::metadata(p) {
            // From the first one that exists, its real location tells the rest.
            let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            found.push((p.to_path_buf(), identity(&meta)));
            let mut up = real.parent();
            while let Some(q) = up {
                if let Ok(meta) = std::fs::metadata(q) {
                    found.push((q.to_path_buf(), identity(&meta)));
                }
                up = q.parent();
            }
            return found;
        }
        at = p.parent();
    }
    found
}

impl Grants {
    /// The grants of these host directories (ones that do not exist are left out: granting
    /// them fails later, with its own error).
    pub fn new<'a>(hosts: impl IntoIterator<Item = &'a Path>) -> Grants {
        let dirs = hosts
            .into_iter()
            .filter_map(|h| std::fs::metadata(h).ok().map(|m| (h.to_path_buf(), identity(&m))))
            .collect();
        Grants { dirs }
    }

    /// The granted directory that `path` lies in (or is), if there is one.
    pub fn holding(&self, path: &Path) -> Option<&Path> {
        let ancestry = ancestry(path);
        self.dirs.iter().find(|(_, id)| ancestry.iter().any(|(_, a)| a == id)).map(|(p, _)| p.as_path())
    }

    /// The granted directory that lies inside `dir` (or is it), if there is one.
    pub fn inside(&self, dir: &Path) -> Option<&Path> {
        let Ok(meta) = std::fs::metadata(dir) else { return None };
        let id = identity(&meta);
        self.dirs.iter().find(|(p, _)| ancestry(p).iter().any(|(_, a)| *a == id)).map(|(p, _)| p.as_path())
    }

    /// Why the guest could change the file at `path`, if it could: it lies in a granted
    /// directory, or it has hard links that may.
    pub fn reach(&self, path: &Path) -> Option<String> {
        if let Some(dir) = self.holding(path) {
            return Some(format!("it lies in {}, which the guest is granted", dir.display()));
        }
        let links = std::fs::metadata(path).map(|m| m.nlink()).unwrap_or(1);
        (!self.dirs.is_empty() && links > 1).then(|| format!("it has {links} hard links, which the guest may reach"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_judged_by_the_directories_holding_them() {
        let root = std::env::temp_dir().join(format!("kiln-grants-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("granted/sub")).unwrap();
        std::fs::create_dir_all(root.join("other")).unwrap();
        std::os::unix::fs::symlink(root.join("granted"), root.join("other/link")).unwrap();
        let grants = Grants::new([root.join("granted").as_path()]);
        assert!(grants.holding(&root.join("granted/sub/not-yet/file")).is_some());
        assert!(grants.holding(&root.join("other/link/sub")).is_some(), "through a symlink");
        assert!(grants.holding(&root.join("other/../granted/x")).is_some(), "through `..`");
        assert!(grants.holding(&root.join("other/file")).is_none());
        assert!(grants.inside(&root).is_some());
        assert!(grants.inside(&root.join("other")).is_none());
        std::fs::write(root.join("other/file"), b"").unwrap();
        assert!(grants.reach(&root.join("other/file")).is_none());
        std::fs::hard_link(root.join("other/file"), root.join("granted/alias")).unwrap();
        assert!(grants.reach(&root.join("other/file")).unwrap().contains("2 hard links"));
    }
}
