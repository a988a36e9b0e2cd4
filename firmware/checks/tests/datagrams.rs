//! PING_CHECK, UDP_CHECK and DNS_CHECK, one probe at a time, against servers on 127.0.0.1
//! (and, for a host that does not answer, in a network namespace of the test's own).
//! PING_CHECK's raw sockets need root, as the balancer has.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checks::outcome::Unreachable;
use checks::{
    CheckSpec, DnsCheck, DnsType, Failure, Passed, ProbeResult, Prober, ReplyPattern, UdpCheck,
};
use common::PATIENCE;
use tokio::net::UdpSocket;

const SHORT: Duration = Duration::from_millis(300);

async fn probe(mut spec: CheckSpec) -> ProbeResult {
    spec.timing.connect_timeout = SHORT;
    spec.validate().expect("a valid spec");
    tokio::time::timeout(PATIENCE, Prober::new().run(&spec, None))
        .await
        .expect("a probe always ends within its own deadlines")
}

/// A UDP server on 127.0.0.1 answering each datagram with what `answer` makes of it
/// (nothing for `None`); the datagrams it got land in the returned list.
async fn udp_server<F>(
    answer: F,
) -> (
    SocketAddr,
    Arc<Mutex<Vec<Vec<u8>>>>,
    tokio::task::JoinHandle<()>,
)
where
    F: Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static,
{
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        let mut buffer = [0u8; 2048];
        while let Ok((len, from)) = socket.recv_from(&mut buffer).await {
            log.lock().unwrap().push(buffer[..len].to_vec());
            for reply in answer(&buffer[..len]) {
                let _ = socket.send_to(&reply, from).await;
            }
        }
    });
    (addr, seen, task)
}

async fn closed_udp_port() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.local_addr().unwrap()
}

#[tokio::test]
async fn ping_check_passes_on_loopback_in_both_families() {
    for to in ["127.0.0.1", "::1"] {
        let to: IpAddr = to.parse().unwrap();
        assert_eq!(
            probe(CheckSpec::ping(to)).await,
            ProbeResult::Passed(Passed::Echo),
            "{to}"
        );
    }
}

#[test]
fn ping_check_fails_when_the_host_does_not_answer() {
    // 10.9.9.2 would be on the link of a veth whose other end has no address: its ARP
    // requests go unanswered, like those for a host that is down.
    let lonely_link = [
        "link add v0 type veth peer name v1",
        "addr add 10.9.9.1/24 dev v0",
        "link set v0 up",
        "link set v1 up",
    ];
    let result = common::in_new_netns(&lonely_link, || async {
        probe(CheckSpec::ping("10.9.9.2".parse().unwrap())).await
    });
    assert_eq!(result, ProbeResult::Failed(Failure::NoReply(SHORT)));
}

#[tokio::test]
async fn udp_check_without_require_reply_passes_on_silence_and_fails_on_port_unreachable() {
    let (silent, seen, _task) = udp_server(|_| Vec::new()).await;
    assert_eq!(
        probe(CheckSpec::udp(silent, UdpCheck::default())).await,
        ProbeResult::Passed(Passed::NoError)
    );
    // keepalived's default payload is 32 bytes of its own text; ours says who sent it.
    assert_eq!(
        *seen.lock().unwrap(),
        [b"lvsfw UDP_CHECK lvsfw UDP_CHECK ".to_vec()]
    );
    let closed = closed_udp_port().await;
    assert_eq!(
        probe(CheckSpec::udp(closed, UdpCheck::default())).await,
        ProbeResult::Failed(Failure::Unreachable(Unreachable { v6: false, code: 3 }))
    );
}

#[tokio::test]
async fn udp_check_sends_its_payload_and_judges_the_required_reply() {
    let (echo, seen, _task) = udp_server(|datagram| vec![datagram.to_vec()]).await;
    let check = UdpCheck {
        payload: Some(vec![0x12, 0x34, 0x56]),
        require_reply: true,
        // require_reply 12 3x
        reply: ReplyPattern::new(vec![0x12, 0x30], vec![0, 0x0f]).unwrap(),
        ..UdpCheck::default()
    };
    assert_eq!(
        probe(CheckSpec::udp(echo, check.clone())).await,
        ProbeResult::Passed(Passed::Reply { len: 3 })
    );
    assert_eq!(*seen.lock().unwrap(), [vec![0x12, 0x34, 0x56]]);
    let wrong = UdpCheck {
        payload: Some(vec![0x12, 0x44]),
        ..check.clone()
    };
    assert_eq!(
        probe(CheckSpec::udp(echo, wrong)).await,
        ProbeResult::Failed(Failure::ReplyMismatch { at: 1 })
    );
    let too_long = UdpCheck {
        max_reply_length: 2,
        ..check.clone()
    };
    assert_eq!(
        probe(CheckSpec::udp(echo, too_long)).await,
        ProbeResult::Failed(Failure::ReplyLength {
            got: 3,
            min: 0,
            max: 2
        })
    );
    let (silent, _, _silent_task) = udp_server(|_| Vec::new()).await;
    assert_eq!(
        probe(CheckSpec::udp(silent, check)).await,
        ProbeResult::Failed(Failure::NoReply(SHORT))
    );
}

/// A DNS server that first answers with a wrong id (to be ignored), then with the query's
/// id, QR set and `rcode`.
fn dns_answer(rcode: u8) -> impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static {
    move |query| {
        if query.len() < 12 {
            return Vec::new();
        }
        let mut right = query.to_vec();
        // QR, RD as asked, RA, the RCODE.
        right[2] = 0x80 | (query[2] & 0x01);
        right[3] = 0x80 | rcode;
        let mut wrong = right.clone();
        wrong[0] ^= 0xff;
        let mut not_a_response = query.to_vec();
        not_a_response[3] = 0;
        vec![wrong, not_a_response, b"short".to_vec(), right]
    }
}

#[tokio::test]
async fn dns_check_asks_keepalived_s_default_question_and_passes_on_rcode_0() {
    let (server, seen, _task) = udp_server(dns_answer(0)).await;
    assert_eq!(
        probe(CheckSpec::dns(server, DnsCheck::default())).await,
        ProbeResult::Passed(Passed::Dns)
    );
    let query = seen.lock().unwrap()[0].clone();
    // RD set, one question: the root, type SOA, class IN.
    assert_eq!(&query[2..], &[1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1]);
    // Each probe carries an id of its own (random: five alike would be a 2^-64 chance).
    for _ in 0..4 {
        probe(CheckSpec::dns(server, DnsCheck::default())).await;
    }
    let ids: Vec<[u8; 2]> = seen.lock().unwrap().iter().map(|q| [q[0], q[1]]).collect();
    assert_eq!(ids.len(), 5);
    assert!(ids.iter().any(|id| *id != ids[0]), "{ids:?}");
    let check = DnsCheck {
        qtype: DnsType::A,
        name: "www.example.com".into(),
    };
    probe(CheckSpec::dns(server, check)).await;
    let query = seen.lock().unwrap()[5].clone();
    assert_eq!(
        &query[12..],
        b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"
    );
}

#[tokio::test]
async fn dns_check_fails_on_an_error_rcode_silence_and_a_closed_port() {
    let (nxdomain, _, _a) = udp_server(dns_answer(3)).await;
    assert_eq!(
        probe(CheckSpec::dns(nxdomain, DnsCheck::default())).await,
        ProbeResult::Failed(Failure::DnsRcode(3))
    );
    let (silent, _, _b) = udp_server(|_| Vec::new()).await;
    assert_eq!(
        probe(CheckSpec::dns(silent, DnsCheck::default())).await,
        ProbeResult::Failed(Failure::NoReply(SHORT))
    );
    assert_eq!(
        probe(CheckSpec::dns(closed_udp_port().await, DnsCheck::default())).await,
        ProbeResult::Failed(Failure::Unreachable(Unreachable { v6: false, code: 3 }))
    );
}
