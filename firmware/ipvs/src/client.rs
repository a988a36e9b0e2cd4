//! A blocking client for the kernel's IPVS family. Each call is one request and its
//! replies; the socket has a receive timeout so that no call can wait forever.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use netlink_packet_core::{
    NetlinkDeserializable, NetlinkMessage, NetlinkPayload, NetlinkSerializable, NLM_F_ACK,
    NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlFamily, GenlMessage};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};
use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;

use crate::message::{self, IpvsMessage};
use crate::model::*;
use crate::reconcile::{Op, Table};

const RECEIVE_TIMEOUT: Duration = Duration::from_secs(5);
const RECEIVE_BUFFER: usize = 64 * 1024;
/// A dump of more replies than this is cut off as an error (1,000,000 destinations).
const MAX_REPLIES: usize = 1_000_000;

#[derive(Debug)]
pub enum Error {
    /// The kernel has no IPVS (module not loaded, or no such kernel).
    Unavailable,
    /// The kernel refused a request: what it was, and errno.
    Refused {
        what: String,
        source: io::Error,
    },
    Io(io::Error),
    Decode(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unavailable => f.write_str("the kernel has no IPVS (is ip_vs loaded?)"),
            Error::Refused { what, source } => write!(f, "{what}: {source}"),
            Error::Io(e) => write!(f, "netlink: {e}"),
            Error::Decode(e) => write!(f, "netlink reply: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

pub struct Client {
    socket: Socket,
    family: u16,
    sequence: u32,
    /// Requests sent since the client was made, for benchmarks.
    pub requests: u64,
}

impl Client {
    /// Opens a generic-netlink socket and looks up the IPVS family.
    pub fn connect() -> Result<Client, Error> {
        let mut socket = Socket::new(NETLINK_GENERIC)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        set_receive_timeout(&socket, RECEIVE_TIMEOUT)?;
        let mut client = Client {
            socket,
            family: 0,
            sequence: 0,
            requests: 0,
        };
        client.family = client.resolve_family()?;
        Ok(client)
    }

    fn resolve_family(&mut self) -> Result<u16, Error> {
        let request = GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(IpvsMessage::family_name().into())],
        };
        let replies =
            match self.transact(GenlMessage::from_payload(request), false, "looking up IPVS") {
                Err(Error::Refused { source, .. })
                    if source.raw_os_error() == Some(nix::errno::Errno::ENOENT as i32) =>
                {
                    return Err(Error::Unavailable)
                }
                other => other?,
            };
        replies
            .iter()
            .flat_map(|r: &GenlCtrl| &r.nlas)
            .find_map(|nla| match nla {
                GenlCtrlAttrs::FamilyId(id) => Some(*id),
                _ => None,
            })
            .ok_or(Error::Unavailable)
    }

    fn transact<F>(
        &mut self,
        mut payload: GenlMessage<F>,
        dump: bool,
        what: &str,
    ) -> Result<Vec<F>, Error>
    where
        F: GenlFamily + fmt::Debug,
        GenlMessage<F>: NetlinkSerializable + NetlinkDeserializable,
    {
        if self.family != 0 {
            payload.set_resolved_family_id(self.family);
        }
        payload.finalize();
        let mut request = NetlinkMessage::from(payload);
        self.sequence = self.sequence.wrapping_add(1);
        request.header.sequence_number = self.sequence;
        request.header.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { NLM_F_ACK };
        request.finalize();
        let mut out = vec![0u8; request.buffer_len()];
        request.serialize(&mut out);
        self.socket.send(&out, 0)?;
        self.requests += 1;

        let mut replies = Vec::new();
        let mut buffer = Vec::with_capacity(RECEIVE_BUFFER);
        loop {
            buffer.clear();
            let size = self.socket.recv(&mut buffer, 0)?;
            let mut offset = 0;
            while offset < size {
                let message = NetlinkMessage::<GenlMessage<F>>::deserialize(&buffer[offset..size])
                    .map_err(|e| Error::Decode(e.to_string()))?;
                let length = message.header.length as usize;
                if length == 0 {
                    return Err(Error::Decode("zero-length message".into()));
                }
                offset += length.next_multiple_of(4);
                if message.header.sequence_number != self.sequence {
                    continue;
                }
                match message.payload {
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::Error(e) if e.code.is_none() => return Ok(replies),
                    NetlinkPayload::Error(e) => {
                        return Err(Error::Refused {
                            what: what.to_string(),
                            source: e.to_io(),
                        })
                    }
                    NetlinkPayload::InnerMessage(m) => {
                        if replies.len() >= MAX_REPLIES {
                            return Err(Error::Decode(format!("more than {MAX_REPLIES} replies")));
                        }
                        replies.push(m.payload);
                    }
                    _ => {}
                }
            }
        }
    }

    fn request(&mut self, message: IpvsMessage, what: &str) -> Result<Vec<IpvsMessage>, Error> {
        self.transact(GenlMessage::from_payload(message), false, what)
    }

    fn dump(&mut self, message: IpvsMessage, what: &str) -> Result<Vec<IpvsMessage>, Error> {
        self.transact(GenlMessage::from_payload(message), true, what)
    }

    pub fn info(&mut self) -> Result<Info, Error> {
        let replies = self.request(message::get_info(), "reading IPVS info")?;
        let reply = replies
            .first()
            .ok_or_else(|| Error::Decode("no info reply".into()))?;
        message::decode_info(reply).map_err(|e| Error::Decode(e.to_string()))
    }

    pub fn services(&mut self) -> Result<Vec<ServiceStatus>, Error> {
        let replies = self.dump(message::get_services(), "listing services")?;
        replies
            .iter()
            .map(|m| message::decode_service(m).map_err(|e| Error::Decode(e.to_string())))
            .collect()
    }

    pub fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<DestinationStatus>, Error> {
        let replies = self.dump(
            message::get_dests(key),
            &format!("listing destinations of {key}"),
        )?;
        replies
            .iter()
            .map(|m| {
                message::decode_dest(m, key.is_ipv6()).map_err(|e| Error::Decode(e.to_string()))
            })
            .collect()
    }

    /// The kernel's whole table, with statistics.
    pub fn status(&mut self) -> Result<Vec<(ServiceStatus, Vec<DestinationStatus>)>, Error> {
        let services = self.services()?;
        let mut table = Vec::with_capacity(services.len());
        for service in services {
            let dests = self.destinations(&service.service.key)?;
            table.push((service, dests));
        }
        Ok(table)
    }

    /// The kernel's table without statistics, as reconcile compares it.
    pub fn table(&mut self) -> Result<Table, Error> {
        let mut table = Table::default();
        for (service, dests) in self.status()? {
            let key = service.service.key;
            table.insert_service(service.service);
            for d in dests {
                table.insert_destination(&key, d.destination);
            }
        }
        Ok(table)
    }

    pub fn apply(&mut self, op: &Op) -> Result<(), Error> {
        let (message, what) = match op {
            Op::AddService(s) => (message::new_service(s), format!("adding service {}", s.key)),
            Op::EditService(s) => (
                message::set_service(s),
                format!("editing service {}", s.key),
            ),
            Op::DelService(k) => (message::del_service(k), format!("removing service {k}")),
            Op::AddDestination(k, d) => (
                message::new_dest(k, d),
                format!("adding {}:{} to {k}", d.addr, d.port),
            ),
            Op::EditDestination(k, d) => (
                message::set_dest(k, d),
                format!("editing {}:{} of {k}", d.addr, d.port),
            ),
            Op::DelDestination(k, addr, port) => (
                message::del_dest(k, *addr, *port),
                format!("removing {addr}:{port} from {k}"),
            ),
        };
        self.request(message, &what).map(|_| ())
    }

    pub fn flush(&mut self) -> Result<(), Error> {
        self.request(message::flush(), "flushing IPVS").map(|_| ())
    }

    pub fn zero(&mut self) -> Result<(), Error> {
        self.request(message::zero(), "zeroing counters")
            .map(|_| ())
    }

    pub fn timeouts(&mut self) -> Result<Timeouts, Error> {
        let replies = self.request(message::get_config(), "reading timeouts")?;
        let reply = replies
            .first()
            .ok_or_else(|| Error::Decode("no config reply".into()))?;
        message::decode_config(reply).map_err(|e| Error::Decode(e.to_string()))
    }

    pub fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), Error> {
        self.request(message::set_config(timeouts), "setting timeouts")
            .map(|_| ())
    }

    pub fn start_sync_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), Error> {
        self.request(message::new_daemon(daemon), "starting the sync daemon")
            .map(|_| ())
    }

    pub fn stop_sync_daemon(&mut self, state: SyncState) -> Result<(), Error> {
        self.request(message::del_daemon(state), "stopping the sync daemon")
            .map(|_| ())
    }

    pub fn sync_daemons(&mut self) -> Result<Vec<SyncDaemon>, Error> {
        let replies = self.dump(message::get_daemons(), "listing sync daemons")?;
        replies
            .iter()
            .map(|m| message::decode_daemon(m).map_err(|e| Error::Decode(e.to_string())))
            .collect()
    }
}

fn set_receive_timeout(socket: &Socket, timeout: Duration) -> io::Result<()> {
    // SAFETY: the descriptor belongs to `socket`, which outlives this borrow.
    let fd = unsafe { BorrowedFd::borrow_raw(socket.as_raw_fd()) };
    setsockopt(
        &fd,
        sockopt::ReceiveTimeout,
        &TimeVal::new(timeout.as_secs() as _, timeout.subsec_micros() as _),
    )
    .map_err(io::Error::from)
}
