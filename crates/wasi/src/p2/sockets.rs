//! `wasi:sockets`: every interface is present, so programs built for `wasi:cli/command`
//! link, and none grants anything. Creating a TCP or UDP socket and resolving a name fail
//! with `access-denied` (`not-supported` when the embedder asked for the network with
//! `WasiCtxBuilder::allow_network`, which is not implemented beyond this refusal), so no
//! socket, datagram stream or resolution stream ever exists: their types are uninhabited,
//! and their methods, reached only with a handle the table refuses, cannot run. The one
//! value a program can hold is the `network` capability, which opens nothing.
use super::io::{InputStream, IoError, OutputStream, Pollable};
use super::{Host, Interface, WasiView};
use kiln::component::{Linker, Resource};

kiln::component_enum! {
    /// `wasi:sockets/network.error-code`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum ErrorCode {
        Unknown, AccessDenied, NotSupported, InvalidArgument, OutOfMemory, Timeout,
        ConcurrencyConflict, NotInProgress, WouldBlock, InvalidState, NewSocketLimit,
        AddressNotBindable, AddressInUse, RemoteUnreachable, ConnectionRefused, ConnectionReset,
        ConnectionAborted, DatagramTooLarge, NameUnresolvable, TemporaryResolverFailure,
        PermanentResolverFailure,
    }
}

kiln::component_enum! {
    /// `ip-address-family`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum IpAddressFamily { Ipv4, Ipv6 }
}

type Ipv4Address = (u8, u8, u8, u8);
type Ipv6Address = (u16, u16, u16, u16, u16, u16, u16, u16);

kiln::component_variant! {
    /// `ip-address`.
    pub(crate) enum IpAddress { Ipv4(Ipv4Address), Ipv6(Ipv6Address) }
}

kiln::component_record! {
    /// `ipv4-socket-address`.
    pub(crate) struct Ipv4SocketAddress { pub port: u16, pub address: Ipv4Address }
}

kiln::component_record! {
    /// `ipv6-socket-address`.
    pub(crate) struct Ipv6SocketAddress { pub port: u16, pub flow_info: u32, pub address: Ipv6Address, pub scope_id: u32 }
}

kiln::component_variant! {
    /// `ip-socket-address`.
    pub(crate) enum IpSocketAddress { Ipv4(Ipv4SocketAddress), Ipv6(Ipv6SocketAddress) }
}

kiln::component_enum! {
    /// `wasi:sockets/tcp.shutdown-type`.
    pub(crate) enum ShutdownType { Receive, Send, Both }
}

kiln::component_record! {
    /// `wasi:sockets/udp.incoming-datagram`.
    pub(crate) struct IncomingDatagram { pub data: Vec<u8>, pub remote_address: IpSocketAddress }
}

kiln::component_record! {
    /// `wasi:sockets/udp.outgoing-datagram`.
    pub(crate) struct OutgoingDatagram { pub data: Vec<u8>, pub remote_address: Option<IpSocketAddress> }
}

/// `network`: the capability to use the network, which grants nothing yet.
pub(crate) struct Network;

/// `tcp-socket`, never created.
pub(crate) enum TcpSocket {}
/// `udp-socket`, never created.
pub(crate) enum UdpSocket {}
/// `incoming-datagram-stream`, never created.
pub(crate) enum IncomingDatagramStream {}
/// `outgoing-datagram-stream`, never created.
pub(crate) enum OutgoingDatagramStream {}
/// `resolve-address-stream`, never created.
pub(crate) enum ResolveAddressStream {}

/// A resource type with no values.
trait Uninhabited {
    fn absurd<R>(&self) -> R;
}

macro_rules! uninhabited {
    ($($t:ty),*) => {$(
        impl Uninhabited for $t {
            fn absurd<R>(&self) -> R {
                match *self {}
            }
        }
    )*};
}

uninhabited!(TcpSocket, UdpSocket, IncomingDatagramStream, OutgoingDatagramStream, ResolveAddressStream);

/// A method of a resource that never exists, with no further parameters: the handle
/// cannot be valid, so the table's error is the only outcome.
fn method0<S: Uninhabited + 'static, R>(h: &mut Host<'_>, (s,): (Resource<S>,)) -> kiln::Result<R> {
    Ok(h.table.get(&s)?.absurd())
}

/// As [`method0`], with one more parameter.
fn method1<S: Uninhabited + 'static, A, R>(h: &mut Host<'_>, (s, _): (Resource<S>, A)) -> kiln::Result<R> {
    Ok(h.table.get(&s)?.absurd())
}

/// As [`method0`], with two more parameters.
fn method2<S: Uninhabited + 'static, A, B, R>(h: &mut Host<'_>, (s, _, _): (Resource<S>, A, B)) -> kiln::Result<R> {
    Ok(h.table.get(&s)?.absurd())
}

/// Why the network refuses: not granted, or (when asked for) not implemented.
fn refusal(h: &Host<'_>) -> ErrorCode {
    if h.ctx.network { ErrorCode::NotSupported } else { ErrorCode::AccessDenied }
}

type Unit = (Result<(), ErrorCode>,);
type Of<T> = (Result<T, ErrorCode>,);
type N = Resource<Network>;

pub(super) fn add_to_linker<T: 'static>(linker: &mut Linker<T>, view: WasiView<T>) -> kiln::Result<()> {
    let mut network = Interface::new(linker, view, "wasi:sockets/network")?;
    network.resource::<IoError>("error")?;
    network.resource::<Network>("network")?;
    network.func("network-error-code", |h, (e,): (Resource<IoError>,)| {
        h.table.get(&e)?;
        Ok((None::<ErrorCode>,))
    })?;

    let mut instance = Interface::new(linker, view, "wasi:sockets/instance-network")?;
    instance.resource::<Network>("network")?;
    instance.func("instance-network", |h, ()| Ok((h.table.push(Network)?,)))?;

    let mut lookup = Interface::new(linker, view, "wasi:sockets/ip-name-lookup")?;
    lookup.resource::<Pollable>("pollable")?;
    lookup.resource::<Network>("network")?;
    lookup.resource::<ResolveAddressStream>("resolve-address-stream")?;
    lookup.func("resolve-addresses", |h, (n, _name): (N, String)| {
        h.table.get(&n)?;
        Ok((Err::<Resource<ResolveAddressStream>, _>(refusal(h)),))
    })?;
    let r = |m: &str| format!("[method]resolve-address-stream.{m}");
    lookup.func(&r("resolve-next-address"), method0::<ResolveAddressStream, Of<Option<IpAddress>>>)?;
    lookup.func(&r("subscribe"), method0::<ResolveAddressStream, (Resource<Pollable>,)>)?;

    add_tcp(linker, view)?;
    add_udp(linker, view)
}

fn add_tcp<T: 'static>(linker: &mut Linker<T>, view: WasiView<T>) -> kiln::Result<()> {
    type S = TcpSocket;
    let mut tcp = Interface::new(linker, view, "wasi:sockets/tcp")?;
    tcp.resource::<InputStream>("input-stream")?;
    tcp.resource::<OutputStream>("output-stream")?;
    tcp.resource::<Pollable>("pollable")?;
    tcp.resource::<Network>("network")?;
    tcp.resource::<TcpSocket>("tcp-socket")?;
    let m = |name: &str| format!("[method]tcp-socket.{name}");
    tcp.func(&m("start-bind"), method2::<S, N, IpSocketAddress, Unit>)?;
    tcp.func(&m("finish-bind"), method0::<S, Unit>)?;
    tcp.func(&m("start-connect"), method2::<S, N, IpSocketAddress, Unit>)?;
    tcp.func(&m("finish-connect"), method0::<S, Of<(Resource<InputStream>, Resource<OutputStream>)>>)?;
    tcp.func(&m("start-listen"), method0::<S, Unit>)?;
    tcp.func(&m("finish-listen"), method0::<S, Unit>)?;
    tcp.func(&m("accept"), method0::<S, Of<(Resource<S>, Resource<InputStream>, Resource<OutputStream>)>>)?;
    tcp.func(&m("local-address"), method0::<S, Of<IpSocketAddress>>)?;
    tcp.func(&m("remote-address"), method0::<S, Of<IpSocketAddress>>)?;
    tcp.func(&m("is-listening"), method0::<S, (bool,)>)?;
    tcp.func(&m("address-family"), method0::<S, (IpAddressFamily,)>)?;
    tcp.func(&m("set-listen-backlog-size"), method1::<S, u64, Unit>)?;
    tcp.func(&m("keep-alive-enabled"), method0::<S, Of<bool>>)?;
    tcp.func(&m("set-keep-alive-enabled"), method1::<S, bool, Unit>)?;
    tcp.func(&m("keep-alive-idle-time"), method0::<S, Of<u64>>)?;
    tcp.func(&m("set-keep-alive-idle-time"), method1::<S, u64, Unit>)?;
    tcp.func(&m("keep-alive-interval"), method0::<S, Of<u64>>)?;
    tcp.func(&m("set-keep-alive-interval"), method1::<S, u64, Unit>)?;
    tcp.func(&m("keep-alive-count"), method0::<S, Of<u32>>)?;
    tcp.func(&m("set-keep-alive-count"), method1::<S, u32, Unit>)?;
    tcp.func(&m("hop-limit"), method0::<S, Of<u8>>)?;
    tcp.func(&m("set-hop-limit"), method1::<S, u8, Unit>)?;
    tcp.func(&m("receive-buffer-size"), method0::<S, Of<u64>>)?;
    tcp.func(&m("set-receive-buffer-size"), method1::<S, u64, Unit>)?;
    tcp.func(&m("send-buffer-size"), method0::<S, Of<u64>>)?;
    tcp.func(&m("set-send-buffer-size"), method1::<S, u64, Unit>)?;
    tcp.func(&m("subscribe"), method0::<S, (Resource<Pollable>,)>)?;
    tcp.func(&m("shutdown"), method1::<S, ShutdownType, Unit>)?;

    let mut create = Interface::new(linker, view, "wasi:sockets/tcp-create-socket")?;
    create.resource::<Network>("network")?;
    create.resource::<TcpSocket>("tcp-socket")?;
    create
        .func("create-tcp-socket", |h, (_family,): (IpAddressFamily,)| Ok((Err::<Resource<TcpSocket>, _>(refusal(h)),)))
}

fn add_udp<T: 'static>(linker: &mut Linker<T>, view: WasiView<T>) -> kiln::Result<()> {
    type S = UdpSocket;
    type In = IncomingDatagramStream;
    type Out = OutgoingDatagramStream;
    let mut udp = Interface::new(linker, view, "wasi:sockets/udp")?;
    udp.resource::<Pollable>("pollable")?;
    udp.resource::<Network>("network")?;
    udp.resource::<UdpSocket>("udp-socket")?;
    udp.resource::<In>("incoming-datagram-stream")?;
    udp.resource::<Out>("outgoing-datagram-stream")?;
    let m = |name: &str| format!("[method]udp-socket.{name}");
    udp.func(&m("start-bind"), method2::<S, N, IpSocketAddress, Unit>)?;
    udp.func(&m("finish-bind"), method0::<S, Unit>)?;
    udp.func(&m("stream"), method1::<S, Option<IpSocketAddress>, Of<(Resource<In>, Resource<Out>)>>)?;
    udp.func(&m("local-address"), method0::<S, Of<IpSocketAddress>>)?;
    udp.func(&m("remote-address"), method0::<S, Of<IpSocketAddress>>)?;
    udp.func(&m("address-family"), method0::<S, (IpAddressFamily,)>)?;
    udp.func(&m("unicast-hop-limit"), method0::<S, Of<u8>>)?;
    udp.func(&m("set-unicast-hop-limit"), method1::<S, u8, Unit>)?;
    udp.func(&m("receive-buffer-size"), method0::<S, Of<u64>>)?;
    udp.func(&m("set-receive-buffer-size"), method1::<S, u64, Unit>)?;
    udp.func(&m("send-buffer-size"), method0::<S, Of<u64>>)?;
    udp.func(&m("set-send-buffer-size"), method1::<S, u64, Unit>)?;
    udp.func(&m("subscribe"), method0::<S, (Resource<Pollable>,)>)?;
    let i = |name: &str| format!("[method]incoming-datagram-stream.{name}");
    udp.func(&i("receive"), method1::<In, u64, Of<Vec<IncomingDatagram>>>)?;
    udp.func(&i("subscribe"), method0::<In, (Resource<Pollable>,)>)?;
    let o = |name: &str| format!("[method]outgoing-datagram-stream.{name}");
    udp.func(&o("check-send"), method0::<Out, Of<u64>>)?;
    udp.func(&o("send"), method1::<Out, Vec<OutgoingDatagram>, Of<u64>>)?;
    udp.func(&o("subscribe"), method0::<Out, (Resource<Pollable>,)>)?;

    let mut create = Interface::new(linker, view, "wasi:sockets/udp-create-socket")?;
    create.resource::<Network>("network")?;
    create.resource::<UdpSocket>("udp-socket")?;
    create
        .func("create-udp-socket", |h, (_family,): (IpAddressFamily,)| Ok((Err::<Resource<UdpSocket>, _>(refusal(h)),)))
}
