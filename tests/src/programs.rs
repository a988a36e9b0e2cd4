//! Small programs the lab runs on its hosts with `python3 -c`, so that tests, benchmarks
//! and the demo share one copy of each.

/// A TCP echo service on port 9000, one thread a connection.
pub const ECHO_SERVER: &str = "
import socket, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('', 9000))
s.listen(16)
def echo(c):
    while True:
        d = c.recv(100)
        if not d:
            return
        c.sendall(d)
while True:
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
";

/// `PEER_ADDRESS PORT`: answers every TCP connection to PORT with the address it came
/// from (`peer ADDRESS`) and closes it: what a real server sees of the client.
pub const PEER_ADDRESS: &str = "
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('', int(sys.argv[1])))
s.listen(16)
while True:
    c, peer = s.accept()
    c.sendall(('peer %s\\n' % peer[0]).encode())
    c.close()
";

/// `LONG_CLIENT ADDRESS FLAG`: one connection to ADDRESS:9000, echoes "one", waits for
/// the file FLAG (at most 300 s), echoes "two" on the same connection. A connection
/// reset in between ends it with a traceback instead of "second two".
pub const LONG_CLIENT: &str = "
import socket, sys, os, time
c = socket.create_connection((sys.argv[1], 9000), timeout=10)
c.sendall(b'one'); print('first', c.recv(100).decode(), flush=True)
for _ in range(3000):
    if os.path.exists(sys.argv[2]):
        break
    time.sleep(0.1)
c.sendall(b'two'); print('second', c.recv(100).decode(), flush=True)
";

/// `PROBER URL STOP`: asks URL every 20 ms (each request bounded by 300 ms) until the
/// file STOP appears or 300 s pass; prints the longest time between two answers
/// ("longest-gap-ms N") and the last ten answers ("answer BODY").
pub const PROBER: &str = r#"
import os, sys, time, urllib.request
url, stop = sys.argv[1], sys.argv[2]
last_ok, longest, answers = None, 0.0, []
end = time.monotonic() + 300
while time.monotonic() < end and not os.path.exists(stop):
    t = time.monotonic()
    try:
        body = urllib.request.urlopen(url, timeout=0.3).read().decode().strip()
        now = time.monotonic()
        if last_ok is not None:
            longest = max(longest, now - last_ok)
        last_ok = now
        answers.append(body)
    except Exception:
        pass
    time.sleep(max(0.0, 0.02 - (time.monotonic() - t)))
print("longest-gap-ms", int(longest * 1000), flush=True)
for a in answers[-10:]:
    print("answer", a, flush=True)
"#;

/// `ROUTER_ADVERT COUNT`: COUNT IPv6 router advertisements (RFC 4861 §4.2) to all nodes
/// on eth0, 0.2 s apart, from the host's link-local address: router lifetime 1800 s and
/// a prefix 2001:db8:21::/64 for autonomous address configuration (§4.6.2). A host that
/// takes them gets a default route and an address in that prefix.
pub const ROUTER_ADVERT: &str = r#"
import socket, struct, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex('eth0'))
prefix = socket.inet_pton(socket.AF_INET6, '2001:db8:21::')
# type 134, code 0, checksum (the kernel fills it), hop limit 64, flags 0, lifetime 1800,
# reachable 0, retrans 0; then a prefix information option: type 3, length 4 (32 bytes),
# prefix length 64, flags L|A, valid 86400, preferred 14400, reserved, prefix.
ra = struct.pack('!BBHBBHII', 134, 0, 0, 64, 0, 1800, 0, 0)
ra += struct.pack('!BBBBIII', 3, 4, 64, 0xc0, 86400, 14400, 0) + prefix
# The link-local source address is usable once duplicate address detection is over.
time.sleep(2)
for _ in range(int(sys.argv[1])):
    s.sendto(ra, ('ff02::1', 0, 0, socket.if_nametoindex('eth0')))
    time.sleep(0.2)
print('sent', flush=True)
"#;

/// `UDP_ECHO PORT`: answers every datagram to PORT with the same bytes.
pub const UDP_ECHO: &str = "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('', int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
";

/// `DNS_RESPONDER RCODE`: a DNS server on UDP port 53 that answers every query with its
/// own question, QR and RA set and the given RCODE (RFC 1035 §4.1.1), and no records:
/// enough for keepalived's DNS_CHECK, which looks at the id, QR and RCODE only.
pub const DNS_RESPONDER: &str = "
import socket, sys
rcode = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('', 53))
while True:
    query, peer = s.recvfrom(512)
    if len(query) < 12 or query[2] & 0x80:
        continue
    flags = bytes([0x80 | (query[2] & 0x79), 0x80 | rcode])
    s.sendto(query[:2] + flags + query[4:6] + bytes(6) + query[12:], peer)
";

/// `STATUS_HTTP FILE`: an HTTP server on port 80 answering every request with the status
/// code written in FILE at that moment (and an empty body).
pub const STATUS_HTTP: &str = "
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = int(open(sys.argv[1]).read().strip())
        self.send_response(code)
        self.send_header('Content-Length', '0')
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(('', 80), Handler).serve_forever()
";

/// `VLAN_TAGGER DEV TAP VID`: a host's port on an 802.1Q VLAN where the host's kernel has
/// no VLAN driver (the lab's machine has none): frames the host sends out of the tap
/// device TAP (made here, untagged for the host's stack) leave DEV tagged with VID, and
/// frames of VID arriving on DEV go to TAP without their tag. The kernel may hand a
/// received tag over as PACKET_AUXDATA instead of in the frame; both are read. Both
/// ends carry a virtio-net header, so that a frame whose checksum a VM left to be
/// filled in (QEMU's offload) reaches the host's stack saying so. Prints "ready" once
/// the tap exists; give TAP an MTU 4 bytes below DEV's for the tag.
pub const VLAN_TAGGER: &str = r#"
import fcntl, os, select, socket, struct, sys
dev, tap_name, vid = sys.argv[1], sys.argv[2], int(sys.argv[3])
SOL_PACKET, PACKET_AUXDATA, PACKET_VNET_HDR = 263, 8, 15
TP_STATUS_VLAN_VALID, PACKET_OUTGOING, NEEDS_CSUM, HDR = 0x10, 4, 1, 10
tap = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(tap, 0x400454ca, struct.pack('16sH', tap_name.encode(), 0x0002 | 0x1000 | 0x4000))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((dev, 0))
s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
print('ready', flush=True)
while True:
    ready, _, _ = select.select([tap, s], [], [])
    if tap in ready:
        f = os.read(tap, 65536)[HDR:]
        s.send(bytes(HDR) + f[:12] + struct.pack('!HH', 0x8100, vid) + f[12:])
    if s in ready:
        data, anc, _, addr = s.recvmsg(65536 + HDR, socket.CMSG_SPACE(20))
        if addr[2] == PACKET_OUTGOING:
            continue
        hdr, frame = bytearray(data[:HDR]), data[HDR:]
        tci = None
        for level, kind, value in anc:
            if level == SOL_PACKET and kind == PACKET_AUXDATA and len(value) >= 20:
                status, _, _, _, _, v, _ = struct.unpack('IIIHHHH', value[:20])
                if status & TP_STATUS_VLAN_VALID:
                    tci = v
        if tci is None and len(frame) >= 18 and frame[12:14] == b'\x81\x00':
            tci = struct.unpack('!H', frame[14:16])[0]
            frame = frame[:12] + frame[16:]
            if hdr[0] & NEEDS_CSUM:
                start = struct.unpack('<H', hdr[6:8])[0] - 4
                hdr[6:8] = struct.pack('<H', start)
        if tci is not None and tci & 0xfff == vid:
            os.write(tap, bytes(hdr) + frame)
"#;
