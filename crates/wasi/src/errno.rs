//! `Errno`: WASI preview1's error codes, with the exact numbers of the `wasi_snapshot_preview1`
//! witx, and the mapping from the host's `std::io::Error` (Linux errno values, and cap-std's
//! sandbox refusals, which carry no OS code and become `notcapable`).
use std::fmt;
use std::io;

macro_rules! errnos {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        /// A WASI errno (the `errno` type of preview1; `success` is not an error and is absent).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum Errno {
            $(#[doc = $text] $name = $value,)*
        }

        impl Errno {
            /// The errno's name as the WASI spec spells it.
            pub fn name(self) -> &'static str {
                match self { $(Errno::$name => $text,)* }
            }
        }
    };
}

errnos! {
    TooBig = 1, "2big";
    Acces = 2, "acces";
    AddrInUse = 3, "addrinuse";
    AddrNotAvail = 4, "addrnotavail";
    AfNoSupport = 5, "afnosupport";
    Again = 6, "again";
    Already = 7, "already";
    Badf = 8, "badf";
    BadMsg = 9, "badmsg";
    Busy = 10, "busy";
    Canceled = 11, "canceled";
    Child = 12, "child";
    ConnAborted = 13, "connaborted";
    ConnRefused = 14, "connrefused";
    ConnReset = 15, "connreset";
    Deadlk = 16, "deadlk";
    DestAddrReq = 17, "destaddrreq";
    Dom = 18, "dom";
    Dquot = 19, "dquot";
    Exist = 20, "exist";
    Fault = 21, "fault";
    Fbig = 22, "fbig";
    HostUnreach = 23, "hostunreach";
    Idrm = 24, "idrm";
    Ilseq = 25, "ilseq";
    InProgress = 26, "inprogress";
    Intr = 27, "intr";
    Inval = 28, "inval";
    Io = 29, "io";
    IsConn = 30, "isconn";
    IsDir = 31, "isdir";
    Loop = 32, "loop";
    Mfile = 33, "mfile";
    Mlink = 34, "mlink";
    MsgSize = 35, "msgsize";
    Multihop = 36, "multihop";
    NameTooLong = 37, "nametoolong";
    NetDown = 38, "netdown";
    NetReset = 39, "netreset";
    NetUnreach = 40, "netunreach";
    Nfile = 41, "nfile";
    NoBufs = 42, "nobufs";
    NoDev = 43, "nodev";
    NoEnt = 44, "noent";
    NoExec = 45, "noexec";
    NoLck = 46, "nolck";
    NoLink = 47, "nolink";
    NoMem = 48, "nomem";
    NoMsg = 49, "nomsg";
    NoProtoOpt = 50, "noprotoopt";
    NoSpc = 51, "nospc";
    NoSys = 52, "nosys";
    NotConn = 53, "notconn";
    NotDir = 54, "notdir";
    NotEmpty = 55, "notempty";
    NotRecoverable = 56, "notrecoverable";
    NotSock = 57, "notsock";
    NotSup = 58, "notsup";
    NoTty = 59, "notty";
    Nxio = 60, "nxio";
    Overflow = 61, "overflow";
    OwnerDead = 62, "ownerdead";
    Perm = 63, "perm";
    Pipe = 64, "pipe";
    Proto = 65, "proto";
    ProtoNoSupport = 66, "protonosupport";
    ProtoType = 67, "prototype";
    Range = 68, "range";
    Rofs = 69, "rofs";
    Spipe = 70, "spipe";
    Srch = 71, "srch";
    Stale = 72, "stale";
    TimedOut = 73, "timedout";
    TxtBsy = 74, "txtbsy";
    Xdev = 75, "xdev";
    NotCapable = 76, "notcapable";
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "errno {} ({})", *self as u16, self.name())
    }
}

impl std::error::Error for Errno {}

impl From<rustix::io::Errno> for Errno {
    fn from(e: rustix::io::Errno) -> Errno {
        use rustix::io::Errno as E;
        match e {
            E::TOOBIG => Errno::TooBig,
            E::ACCESS => Errno::Acces,
            E::ADDRINUSE => Errno::AddrInUse,
            E::ADDRNOTAVAIL => Errno::AddrNotAvail,
            E::AFNOSUPPORT => Errno::AfNoSupport,
            E::AGAIN => Errno::Again,
            E::ALREADY => Errno::Already,
            E::BADF => Errno::Badf,
            E::BADMSG => Errno::BadMsg,
            E::BUSY => Errno::Busy,
            E::CANCELED => Errno::Canceled,
            E::CHILD => Errno::Child,
            E::CONNABORTED => Errno::ConnAborted,
            E::CONNREFUSED => Errno::ConnRefused,
            E::CONNRESET => Errno::ConnReset,
            E::DEADLK => Errno::Deadlk,
            E::DESTADDRREQ => Errno::DestAddrReq,
            E::DOM => Errno::Dom,
            E::DQUOT => Errno::Dquot,
            E::EXIST => Errno::Exist,
            E::FAULT => Errno::Fault,
            E::FBIG => Errno::Fbig,
            E::HOSTUNREACH => Errno::HostUnreach,
            E::IDRM => Errno::Idrm,
            E::ILSEQ => Errno::Ilseq,
            E::INPROGRESS => Errno::InProgress,
            E::INTR => Errno::Intr,
            E::INVAL => Errno::Inval,
            E::IO => Errno::Io,
            E::ISCONN => Errno::IsConn,
            E::ISDIR => Errno::IsDir,
            E::LOOP => Errno::Loop,
            E::MFILE => Errno::Mfile,
            E::MLINK => Errno::Mlink,
            E::MSGSIZE => Errno::MsgSize,
            E::MULTIHOP => Errno::Multihop,
            E::NAMETOOLONG => Errno::NameTooLong,
            E::NETDOWN => Errno::NetDown,
            E::NETRESET => Errno::NetReset,
            E::NETUNREACH => Errno::NetUnreach,
            E::NFILE => Errno::Nfile,
            E::NOBUFS => Errno::NoBufs,
            E::NODEV => Errno::NoDev,
            E::NOENT => Errno::NoEnt,
            E::NOEXEC => Errno::NoExec,
            E::NOLCK => Errno::NoLck,
            E::NOLINK => Errno::NoLink,
            E::NOMEM => Errno::NoMem,
            E::NOMSG => Errno::NoMsg,
            E::NOPROTOOPT => Errno::NoProtoOpt,
            E::NOSPC => Errno::NoSpc,
            E::NOSYS => Errno::NoSys,
            E::NOTCONN => Errno::NotConn,
            E::NOTDIR => Errno::NotDir,
            E::NOTEMPTY => Errno::NotEmpty,
            E::NOTRECOVERABLE => Errno::NotRecoverable,
            E::NOTSOCK => Errno::NotSock,
            E::NOTSUP => Errno::NotSup,
            E::NOTTY => Errno::NoTty,
            E::NXIO => Errno::Nxio,
            E::OVERFLOW => Errno::Overflow,
            E::OWNERDEAD => Errno::OwnerDead,
            E::PERM => Errno::Perm,
            E::PIPE => Errno::Pipe,
            E::PROTO => Errno::Proto,
            E::PROTONOSUPPORT => Errno::ProtoNoSupport,
            E::PROTOTYPE => Errno::ProtoType,
            E::RANGE => Errno::Range,
            E::ROFS => Errno::Rofs,
            E::SPIPE => Errno::Spipe,
            E::SRCH => Errno::Srch,
            E::STALE => Errno::Stale,
            E::TIMEDOUT => Errno::TimedOut,
            E::TXTBSY => Errno::TxtBsy,
            E::XDEV => Errno::Xdev,
            _ => Errno::Io,
        }
    }
}

impl From<io::Error> for Errno {
    fn from(e: io::Error) -> Errno {
        match e.raw_os_error() {
            Some(code) => rustix::io::Errno::from_raw_os_error(code).into(),
            // cap-std refuses paths that would leave the sandbox without an OS error code.
            None if e.kind() == io::ErrorKind::PermissionDenied => Errno::NotCapable,
            None => match e.kind() {
                io::ErrorKind::NotFound => Errno::NoEnt,
                io::ErrorKind::AlreadyExists => Errno::Exist,
                io::ErrorKind::InvalidInput => Errno::Inval,
                io::ErrorKind::Unsupported => Errno::NotSup,
                io::ErrorKind::NotADirectory => Errno::NotDir,
                io::ErrorKind::IsADirectory => Errno::IsDir,
                io::ErrorKind::DirectoryNotEmpty => Errno::NotEmpty,
                io::ErrorKind::InvalidFilename => Errno::Inval,
                _ => Errno::Io,
            },
        }
    }
}
