//! A fast webhook receiver for the benchmarks: answers every POST 200 at
//! once and notes when each order id arrived.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A fast receiver: answers every POST 200 at once (keep-alive) and notes
/// when each order id arrived.
pub struct Receiver {
    pub port: u16,
    pub arrivals: Arc<Mutex<HashMap<String, Instant>>>,
    pub count: Arc<std::sync::atomic::AtomicUsize>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let port = listener.local_addr().unwrap().port();
        let arrivals = Arc::new(Mutex::new(HashMap::new()));
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (a, n) = (arrivals.clone(), count.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (a, n) = (a.clone(), n.clone());
                std::thread::spawn(move || serve(stream, &a, &n));
            }
        });
        Receiver { port, arrivals, count }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub fn received(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::Acquire)
    }
}

fn serve(stream: TcpStream, arrivals: &Mutex<HashMap<String, Instant>>, count: &std::sync::atomic::AtomicUsize) {
    let mut out = stream.try_clone().expect("clone the stream");
    let mut r = BufReader::new(stream);
    loop {
        let mut len = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let at = Instant::now();
        // The order id without parsing the body: a receiver elsewhere costs this machine nothing.
        const KEY: &[u8] = b"\"order_id\":\"";
        if let Some(i) = body.windows(KEY.len()).position(|w| w == KEY) {
            let rest = &body[i + KEY.len()..];
            if let Some(end) = rest.iter().position(|b| *b == b'"') {
                let order = String::from_utf8_lossy(&rest[..end]).into_owned();
                arrivals.lock().unwrap().entry(order).or_insert(at);
            }
        }
        count.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        if out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").is_err() {
            return;
        }
    }
}

/// Waits until `rx` has received `n` deliveries; the time it took from `start`.
pub fn drained(rx: &Receiver, n: usize, start: Instant) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(600);
    while rx.received() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}
