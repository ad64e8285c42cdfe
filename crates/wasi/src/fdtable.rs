//! The descriptor table: what each fd a program holds refers to (a standard stream, a file or
//! a directory), with its rights and, for preopened directories, the guest path. A descriptor
//! exists only if the context was given it or the program opened it through one it had.
use crate::Errno;
use crate::stdio::{InputStream, OutputStream};
use std::collections::BTreeMap;

/// What an fd refers to.
pub(crate) enum Kind {
    Input(InputStream),
    Output(OutputStream),
    File(cap_std::fs::File),
    Dir(cap_std::fs::Dir),
}

/// One open descriptor.
pub(crate) struct Descriptor {
    pub kind: Kind,
    /// What this descriptor may be used for.
    pub base: u64,
    /// What descriptors opened through it may be given.
    pub inheriting: u64,
    /// The guest path, for a preopened directory.
    pub preopen: Option<String>,
    /// A directory's listing in progress (see `fd_readdir`).
    pub listing: Option<Vec<crate::readdir::DirEntry>>,
}

impl Descriptor {
    /// Refuse with `notcapable` unless the descriptor has every right in `needed`.
    pub fn need(&self, needed: u64) -> Result<(), Errno> {
        if self.base & needed == needed { Ok(()) } else { Err(Errno::NotCapable) }
    }

    pub fn dir(&self) -> Result<&cap_std::fs::Dir, Errno> {
        match &self.kind {
            Kind::Dir(d) => Ok(d),
            _ => Err(Errno::NotDir),
        }
    }

    pub fn file(&self) -> Result<&cap_std::fs::File, Errno> {
        match &self.kind {
            Kind::File(f) => Ok(f),
            Kind::Dir(_) => Err(Errno::IsDir),
            _ => Err(Errno::Badf),
        }
    }
}

/// Every open descriptor of a program.
#[derive(Default)]
pub(crate) struct FdTable {
    entries: BTreeMap<u32, Descriptor>,
}

/// The most descriptors a program may hold open at once.
const MAX_FDS: usize = 1 << 16;

impl FdTable {
    pub fn get(&self, fd: u32) -> Result<&Descriptor, Errno> {
        self.entries.get(&fd).ok_or(Errno::Badf)
    }

    pub fn get_mut(&mut self, fd: u32) -> Result<&mut Descriptor, Errno> {
        self.entries.get_mut(&fd).ok_or(Errno::Badf)
    }

    /// The directory behind `fd`, which must have the rights `needed`.
    pub fn dir(&self, fd: u32, needed: u64) -> Result<&cap_std::fs::Dir, Errno> {
        let d = self.get(fd)?;
        let dir = d.dir()?;
        d.need(needed)?;
        Ok(dir)
    }

    /// Insert `d` at the lowest free fd.
    pub fn push(&mut self, d: Descriptor) -> Result<u32, Errno> {
        if self.entries.len() >= MAX_FDS {
            return Err(Errno::Mfile);
        }
        let mut fd = 0;
        for &used in self.entries.keys() {
            if used != fd {
                break;
            }
            fd += 1;
        }
        self.entries.insert(fd, d);
        Ok(fd)
    }

    pub fn insert_at(&mut self, fd: u32, d: Descriptor) {
        self.entries.insert(fd, d);
    }

    pub fn has_preopens(&self) -> bool {
        self.entries.values().any(|d| d.preopen.is_some())
    }

    /// The preopened descriptors, by fd, with their guest paths.
    pub fn preopens(&self) -> impl Iterator<Item = (&str, &Descriptor)> {
        self.entries.values().filter_map(|d| Some((d.preopen.as_deref()?, d)))
    }

    pub fn remove(&mut self, fd: u32) -> Result<Descriptor, Errno> {
        self.entries.remove(&fd).ok_or(Errno::Badf)
    }
}
