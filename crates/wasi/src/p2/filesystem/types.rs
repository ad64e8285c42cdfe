//! The value types of `wasi:filesystem/types` (`error-code`, `descriptor-type`, the flags,
//! `descriptor-stat`, `new-timestamp`, `directory-entry`, `advice`, `metadata-hash-value`)
//! and their conversions from the host's: `error-code` comes from preview1's [`Errno`],
//! the one mapping from host errors, so both ABIs report a failure alike.
use super::super::clocks::Datetime;
use crate::Errno;
use cap_std::fs::{FileType, FileTypeExt, Metadata, MetadataExt};
use kiln::component::{ComponentType, ComponentTypes, InterfaceType, Lower, Val, ValCx};

kiln::component_enum! {
    /// `error-code`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum ErrorCode {
        Access, WouldBlock, Already, BadDescriptor, Busy, Deadlock, Quota, Exist, FileTooLarge,
        IllegalByteSequence, InProgress, Interrupted, Invalid, Io, IsDirectory, Loop, TooManyLinks,
        MessageSize, NameTooLong, NoDevice, NoEntry, NoLock, InsufficientMemory, InsufficientSpace,
        NotDirectory, NotEmpty, NotRecoverable, Unsupported, NoTty, NoSuchDevice, Overflow,
        NotPermitted, Pipe, ReadOnly, InvalidSeek, TextFileBusy, CrossDevice,
    }
}

impl From<Errno> for ErrorCode {
    fn from(e: Errno) -> ErrorCode {
        use ErrorCode as C;
        match e {
            Errno::Acces => C::Access,
            Errno::Again => C::WouldBlock,
            Errno::Already => C::Already,
            Errno::Badf => C::BadDescriptor,
            Errno::Busy => C::Busy,
            Errno::Deadlk => C::Deadlock,
            Errno::Dquot => C::Quota,
            Errno::Exist => C::Exist,
            Errno::Fbig => C::FileTooLarge,
            Errno::Ilseq => C::IllegalByteSequence,
            Errno::InProgress => C::InProgress,
            Errno::Intr => C::Interrupted,
            Errno::Inval => C::Invalid,
            Errno::IsDir => C::IsDirectory,
            Errno::Loop => C::Loop,
            Errno::Mlink => C::TooManyLinks,
            Errno::MsgSize => C::MessageSize,
            Errno::NameTooLong => C::NameTooLong,
            Errno::NoDev => C::NoDevice,
            Errno::NoEnt => C::NoEntry,
            Errno::NoLck => C::NoLock,
            Errno::NoMem => C::InsufficientMemory,
            Errno::NoSpc => C::InsufficientSpace,
            Errno::NotDir => C::NotDirectory,
            Errno::NotEmpty => C::NotEmpty,
            Errno::NotRecoverable => C::NotRecoverable,
            Errno::NotSup | Errno::NoSys => C::Unsupported,
            Errno::NoTty => C::NoTty,
            Errno::Nxio => C::NoSuchDevice,
            Errno::Overflow => C::Overflow,
            // A path that would leave the sandbox (`notcapable` in preview1) is not
            // permitted, as WASI 0.2 says.
            Errno::Perm | Errno::NotCapable => C::NotPermitted,
            Errno::Pipe => C::Pipe,
            Errno::Rofs => C::ReadOnly,
            Errno::Spipe => C::InvalidSeek,
            Errno::TxtBsy => C::TextFileBusy,
            Errno::Xdev => C::CrossDevice,
            _ => C::Io,
        }
    }
}

impl From<std::io::Error> for ErrorCode {
    fn from(e: std::io::Error) -> ErrorCode {
        Errno::from(e).into()
    }
}

impl From<rustix::io::Errno> for ErrorCode {
    fn from(e: rustix::io::Errno) -> ErrorCode {
        Errno::from(e).into()
    }
}

kiln::component_enum! {
    /// `descriptor-type`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum DescriptorType {
        Unknown, BlockDevice, CharacterDevice, Directory, Fifo, SymbolicLink, RegularFile, Socket,
    }
}

impl From<FileType> for DescriptorType {
    fn from(ft: FileType) -> DescriptorType {
        if ft.is_dir() {
            DescriptorType::Directory
        } else if ft.is_file() {
            DescriptorType::RegularFile
        } else if ft.is_symlink() {
            DescriptorType::SymbolicLink
        } else if ft.is_block_device() {
            DescriptorType::BlockDevice
        } else if ft.is_char_device() {
            DescriptorType::CharacterDevice
        } else if ft.is_fifo() {
            DescriptorType::Fifo
        } else if ft.is_socket() {
            DescriptorType::Socket
        } else {
            DescriptorType::Unknown
        }
    }
}

kiln::component_flags! {
    /// `descriptor-flags`.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub(crate) struct DescriptorFlags {
        pub read: bool,
        pub write: bool,
        pub file_integrity_sync: bool,
        pub data_integrity_sync: bool,
        pub requested_write_sync: bool,
        pub mutate_directory: bool,
    }
}

kiln::component_flags! {
    /// `path-flags`.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub(crate) struct PathFlags { pub symlink_follow: bool }
}

kiln::component_flags! {
    /// `open-flags`.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub(crate) struct OpenFlags { pub create: bool, pub directory: bool, pub exclusive: bool, pub truncate: bool }
}

kiln::component_variant! {
    /// `new-timestamp`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum NewTimestamp { NoChange, Now, Timestamp(Datetime) }
}

impl NewTimestamp {
    /// The time to set, as cap-std takes it (`None`: leave it); `invalid` for a time the
    /// host cannot represent.
    pub fn spec(self) -> Result<Option<cap_fs_ext::SystemTimeSpec>, ErrorCode> {
        Ok(match self {
            NewTimestamp::NoChange => None,
            NewTimestamp::Now => Some(cap_fs_ext::SystemTimeSpec::SymbolicNow),
            NewTimestamp::Timestamp(t) => {
                if t.nanoseconds >= 1_000_000_000 {
                    return Err(ErrorCode::Invalid);
                }
                let d = std::time::Duration::new(t.seconds, t.nanoseconds);
                let t = std::time::UNIX_EPOCH.checked_add(d).ok_or(ErrorCode::Invalid)?;
                Some(cap_fs_ext::SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(t)))
            }
        })
    }
}

kiln::component_enum! {
    /// `advice`, in preview1's order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Advice { Normal, Sequential, Random, WillNeed, DontNeed, NoReuse }
}

kiln::component_record! {
    /// `metadata-hash-value`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct MetadataHashValue { pub lower: u64, pub upper: u64 }
}

impl MetadataHashValue {
    /// A hash of what changes when a file is modified or replaced: its device, inode, size
    /// and times.
    pub fn of(m: &Metadata) -> MetadataHashValue {
        use std::hash::{Hash, Hasher};
        let half = |salt: u64| {
            let mut h = std::hash::DefaultHasher::new();
            (salt, m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec()).hash(&mut h);
            h.finish()
        };
        MetadataHashValue { lower: half(0), upper: half(1) }
    }
}

/// `descriptor-stat`. (Written out rather than with `component_record!`, which cannot name
/// a field `type`.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DescriptorStat {
    pub ty: DescriptorType,
    pub link_count: u64,
    pub size: u64,
    pub data_access_timestamp: Option<Datetime>,
    pub data_modification_timestamp: Option<Datetime>,
    pub status_change_timestamp: Option<Datetime>,
}

impl DescriptorStat {
    pub fn of(m: &Metadata) -> DescriptorStat {
        // Times before the epoch cannot be a `datetime`.
        let time = |secs: i64, nsecs: i64| {
            Some(Datetime { seconds: u64::try_from(secs).ok()?, nanoseconds: u32::try_from(nsecs).ok()? })
        };
        DescriptorStat {
            ty: m.file_type().into(),
            link_count: m.nlink(),
            size: m.size(),
            data_access_timestamp: time(m.atime(), m.atime_nsec()),
            data_modification_timestamp: time(m.mtime(), m.mtime_nsec()),
            status_change_timestamp: time(m.ctime(), m.ctime_nsec()),
        }
    }
}

/// `directory-entry`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DirectoryEntry {
    pub ty: DescriptorType,
    pub name: String,
}

/// Check that `ty` is a record with exactly these fields, each checked by its function.
fn check_record(ty: InterfaceType, types: &ComponentTypes, name: &str, fields: &[(&str, Check)]) -> kiln::Result<()> {
    let mismatch = || kiln::Error::Link(format!("type mismatch: expected record {name}, found {ty:?}"));
    let InterfaceType::Record(i) = ty else { return Err(mismatch()) };
    let found = &types.records[i].fields;
    if found.len() != fields.len() {
        return Err(mismatch());
    }
    for ((n, t), (want, check)) in found.iter().zip(fields) {
        if n != want {
            return Err(mismatch());
        }
        check(*t, types)?;
    }
    Ok(())
}

type Check = fn(InterfaceType, &ComponentTypes) -> kiln::Result<()>;

impl ComponentType for DescriptorStat {
    fn typecheck(ty: InterfaceType, types: &ComponentTypes) -> kiln::Result<()> {
        check_record(
            ty,
            types,
            "descriptor-stat",
            &[
                ("type", DescriptorType::typecheck),
                ("link-count", u64::typecheck),
                ("size", u64::typecheck),
                ("data-access-timestamp", Option::<Datetime>::typecheck),
                ("data-modification-timestamp", Option::<Datetime>::typecheck),
                ("status-change-timestamp", Option::<Datetime>::typecheck),
            ],
        )
    }
}

impl Lower for DescriptorStat {
    fn lower_val(&self, cx: &mut ValCx<'_>) -> kiln::Result<Val> {
        Ok(Val::Record(vec![
            ("type".into(), self.ty.lower_val(cx)?),
            ("link-count".into(), self.link_count.lower_val(cx)?),
            ("size".into(), self.size.lower_val(cx)?),
            ("data-access-timestamp".into(), self.data_access_timestamp.lower_val(cx)?),
            ("data-modification-timestamp".into(), self.data_modification_timestamp.lower_val(cx)?),
            ("status-change-timestamp".into(), self.status_change_timestamp.lower_val(cx)?),
        ]))
    }
}

impl ComponentType for DirectoryEntry {
    fn typecheck(ty: InterfaceType, types: &ComponentTypes) -> kiln::Result<()> {
        check_record(ty, types, "directory-entry", &[("type", DescriptorType::typecheck), ("name", String::typecheck)])
    }
}

impl Lower for DirectoryEntry {
    fn lower_val(&self, cx: &mut ValCx<'_>) -> kiln::Result<Val> {
        Ok(Val::Record(vec![("type".into(), self.ty.lower_val(cx)?), ("name".into(), self.name.lower_val(cx)?)]))
    }
}
