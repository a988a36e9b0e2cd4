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
