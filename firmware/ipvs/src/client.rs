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
/// Requests sent together by [`Client::apply_all`]; their acknowledgements fit the
/// socket's default receive buffer many times over.
pub const BATCH: usize = 128;
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
        let (message, what) = op_message(op);
        self.request(message, &what).map(|_| ())
    }

    /// Applies `ops` in order, [`BATCH`] requests to a send, each still acknowledged on
    /// its own; returns the ones the kernel refused, by index. Batching saves a system
    /// call and a wake-up per request, which is most of the cost of a large table.
    pub fn apply_all(&mut self, ops: &[Op]) -> Vec<(usize, Error)> {
        let mut failures = Vec::new();
        for (n, chunk) in ops.chunks(BATCH).enumerate() {
            let base = n * BATCH;
            if let Err(e) = self.apply_batch(chunk, base, &mut failures) {
                // Nothing more can be told of this batch's unanswered requests; the
                // caller sees them failed and reads the kernel again on its next pass.
                let answered: Vec<usize> = failures.iter().map(|(i, _)| *i).collect();
                for i in (base..base + chunk.len()).filter(|i| !answered.contains(i)) {
                    failures.push((i, Error::Io(io::Error::new(e.kind(), e.to_string()))));
                }
            }
        }
        failures
    }

    fn apply_batch(
        &mut self,
        chunk: &[Op],
        base: usize,
        failures: &mut Vec<(usize, Error)>,
    ) -> io::Result<()> {
        let first = self.sequence.wrapping_add(1);
        let mut out = Vec::new();
        for op in chunk {
            let mut payload = GenlMessage::from_payload(op_message(op).0);
            payload.set_resolved_family_id(self.family);
            payload.finalize();
            let mut request = NetlinkMessage::from(payload);
            self.sequence = self.sequence.wrapping_add(1);
            request.header.sequence_number = self.sequence;
            request.header.flags = NLM_F_REQUEST | NLM_F_ACK;
            request.finalize();
            let start = out.len();
            out.resize(start + request.buffer_len(), 0);
            request.serialize(&mut out[start..]);
            // Each message of a batch starts on a 4-byte boundary (NLMSG_ALIGN).
            out.resize(out.len().next_multiple_of(4), 0);
        }
        self.socket.send(&out, 0)?;
        self.requests += chunk.len() as u64;

        let mut answered = vec![false; chunk.len()];
        let mut pending = chunk.len();
        let mut buffer = Vec::with_capacity(RECEIVE_BUFFER);
        while pending > 0 {
            buffer.clear();
            let size = self.socket.recv(&mut buffer, 0)?;
            for (index, refused) in read_acks(&buffer[..size], first, &mut answered)? {
                pending -= 1;
                if let Some(source) = refused {
                    failures.push((
                        base + index,
                        Error::Refused {
                            what: op_message(&chunk[index]).1,
                            source,
                        },
                    ));
                }
            }
        }
        Ok(())
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

/// The acknowledgements in `bytes` for requests numbered from `first`: each newly
/// answered request's index, with the kernel's error if it refused. Replies to other
/// requests, and repeats, are skipped.
fn read_acks(
    bytes: &[u8],
    first: u32,
    answered: &mut [bool],
) -> io::Result<Vec<(usize, Option<io::Error>)>> {
    let mut acks = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let message = NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(&bytes[offset..])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let length = message.header.length as usize;
        if length == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "zero-length message",
            ));
        }
        offset += length.next_multiple_of(4);
        let index = message.header.sequence_number.wrapping_sub(first) as usize;
        if index >= answered.len() || answered[index] {
            continue;
        }
        if let NetlinkPayload::Error(e) = message.payload {
            answered[index] = true;
            acks.push((index, e.code.is_some().then(|| e.to_io())));
        }
    }
    Ok(acks)
}

/// The request for an operation, and how it is named in an error.
fn op_message(op: &Op) -> (IpvsMessage, String) {
    match op {
        Op::AddService(s) => (message::new_service(s), format!("adding service {}", s.key)),
        Op::EditService(s) => (
            message::set_service(s),
            format!("editing service {}", s.key),
        ),
        Op::DelService(k) => (message::del_service(k), format!("removing service {k}")),
        Op::AddDestination(k, d) => (
            message::new_dest(k, d),
            format!(
                "adding {} to {k}",
                std::net::SocketAddr::new(d.addr, d.port)
            ),
        ),
        Op::EditDestination(k, d) => (
            message::set_dest(k, d),
            format!(
                "editing {} of {k}",
                std::net::SocketAddr::new(d.addr, d.port)
            ),
        ),
        Op::DelDestination(k, addr, port) => (
            message::del_dest(k, *addr, *port),
            format!(
                "removing {} from {k}",
                std::net::SocketAddr::new(*addr, *port)
            ),
        ),
    }
}

pub(crate) fn set_receive_timeout(socket: &Socket, timeout: Duration) -> io::Result<()> {
    // SAFETY: the descriptor belongs to `socket`, which outlives this borrow.
    let fd = unsafe { BorrowedFd::borrow_raw(socket.as_raw_fd()) };
    setsockopt(
        &fd,
        sockopt::ReceiveTimeout,
        &TimeVal::new(timeout.as_secs() as _, timeout.subsec_micros() as _),
    )
    .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroI32;

    use netlink_packet_core::{ErrorMessage, NetlinkHeader, NLMSG_ERROR};

    use super::*;

    fn reply(sequence: u32, errno: i32) -> Vec<u8> {
        let mut error = ErrorMessage::default();
        error.code = NonZeroI32::new(-errno);
        error.header = vec![0; 16];
        let mut header = NetlinkHeader::default();
        header.sequence_number = sequence;
        header.message_type = NLMSG_ERROR;
        let mut message =
            NetlinkMessage::<GenlMessage<IpvsMessage>>::new(header, NetlinkPayload::Error(error));
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        bytes
    }

    #[test]
    fn acknowledgements_are_matched_to_requests_by_sequence_number() {
        // Requests numbered u32::MAX - 1, u32::MAX, 0 (the counter wrapped).
        let first = u32::MAX - 1;
        let mut answered = [false; 3];
        let bytes = [
            reply(first.wrapping_add(2), 2), // ENOENT for the third
            reply(7, 0),                     // someone else's request
            reply(first, 0),                 // the first acknowledged
            reply(first, 0),                 // a repeat changes nothing
        ]
        .concat();
        let acks = read_acks(&bytes, first, &mut answered).unwrap();
        assert_eq!(acks.len(), 2);
        assert_eq!(acks[0].0, 2);
        assert_eq!(acks[0].1.as_ref().and_then(|e| e.raw_os_error()), Some(2));
        assert_eq!(acks[1].0, 0);
        assert!(acks[1].1.is_none());
        assert_eq!(answered, [true, false, true]);

        let later = read_acks(&reply(u32::MAX, 17), first, &mut answered).unwrap();
        assert_eq!(later[0].0, 1);
        assert_eq!(later[0].1.as_ref().and_then(|e| e.raw_os_error()), Some(17));
        assert!(read_acks(&[0u8; 16], first, &mut answered).is_err());
    }
}
