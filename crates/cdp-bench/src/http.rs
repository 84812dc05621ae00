//! A minimal HTTP/1.1 keep-alive client for the load paths.
//!
//! The load generator shares the machine (2 cores) with the server it
//! measures, so what it spends per request is taken from the server: `ureq`
//! cost ~50–75 µs of CPU per request here (URL parsing, header maps, a
//! `serde_json::Value` per answer), enough to cap the measurements. This
//! client writes one pre-sized buffer per request and reads the answer by its
//! `Content-Length` (or chunks), reusing its buffers; answers are bytes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct Conn {
    addr: String,
    reader: Option<BufReader<TcpStream>>,
    request: Vec<u8>,
    pub body: Vec<u8>,
    line: String,
    timeout: Duration,
}

impl Conn {
    /// A connection to `base` (`http://host:port`), opened on first use.
    pub fn new(base: &str, timeout: Duration) -> Conn {
        let addr = base.strip_prefix("http://").unwrap_or(base).trim_end_matches('/').to_string();
        Conn { addr, reader: None, request: Vec::with_capacity(16 << 10), body: Vec::with_capacity(16 << 10), line: String::new(), timeout }
    }

    fn stream(&mut self) -> std::io::Result<&mut BufReader<TcpStream>> {
        if self.reader.is_none() {
            let s = TcpStream::connect(&self.addr)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(self.timeout))?;
            s.set_write_timeout(Some(self.timeout))?;
            self.reader = Some(BufReader::with_capacity(64 << 10, s));
        }
        Ok(self.reader.as_mut().unwrap())
    }

    /// Sends a request with the `X-Api-Key` header (and a JSON body, if any);
    /// answers the status, the body left in `self.body`. One retry on a fresh
    /// connection if the kept-alive one was closed before any answer.
    pub fn send(&mut self, method: &str, path: &str, key: &str, body: Option<&[u8]>) -> std::io::Result<u16> {
        self.request.clear();
        write!(self.request, "{method} {path} HTTP/1.1\r\nHost: {}\r\nX-Api-Key: {key}\r\n", self.addr)?;
        if let Some(b) = body {
            write!(self.request, "Content-Type: application/json\r\nContent-Length: {}\r\n", b.len())?;
        }
        self.request.extend_from_slice(b"\r\n");
        if let Some(b) = body {
            self.request.extend_from_slice(b);
        }
        let fresh = self.reader.is_none();
        match self.exchange() {
            Ok(status) => Ok(status),
            Err(e)
                if !fresh
                    && matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                    ) =>
            {
                self.reader = None;
                self.exchange()
            }
            Err(e) => {
                self.reader = None;
                Err(e)
            }
        }
    }

    fn exchange(&mut self) -> std::io::Result<u16> {
        let request = std::mem::take(&mut self.request);
        let written = self.stream().and_then(|r| r.get_mut().write_all(&request));
        self.request = request;
        written?;
        let (mut line, mut body) = (std::mem::take(&mut self.line), std::mem::take(&mut self.body));
        let answer = read_answer(self.reader.as_mut().unwrap(), &mut line, &mut body);
        (self.line, self.body) = (line, body);
        let (status, close) = answer?;
        if close {
            self.reader = None;
        }
        Ok(status)
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

fn read_line<'a>(r: &mut BufReader<TcpStream>, line: &'a mut String) -> std::io::Result<&'a str> {
    line.clear();
    if r.read_line(line)? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    Ok(line.trim_end())
}

/// Reads one answer: (status, whether the server closes the connection).
fn read_answer(r: &mut BufReader<TcpStream>, line: &mut String, body: &mut Vec<u8>) -> std::io::Result<(u16, bool)> {
    let status: u16 = read_line(r, line)?.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status line"))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    loop {
        let l = read_line(r, line)?;
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else { return Err(bad("header line")) };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| bad("content-length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    body.clear();
    if chunked {
        loop {
            let size = usize::from_str_radix(read_line(r, line)?.split(';').next().unwrap_or(""), 16).map_err(|_| bad("chunk size"))?;
            let at = body.len();
            body.resize(at + size, 0);
            r.read_exact(&mut body[at..])?;
            read_line(r, line)?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(body)?;
    } else {
        r.read_to_end(body)?;
        close = true;
    }
    Ok((status, close))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server that answers each request on a connection with the canned answers, in turn.
    fn serve(answers: Vec<&'static str>) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s);
            for a in answers {
                // Read one request: headers, then Content-Length bytes.
                let (mut line, mut len) = (String::new(), 0usize);
                loop {
                    line.clear();
                    r.read_line(&mut line).unwrap();
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                }
                let mut b = vec![0; len];
                r.read_exact(&mut b).unwrap();
                r.get_mut().write_all(a.as_bytes()).unwrap();
            }
        });
        format!("http://{addr}")
    }

    #[test]
    fn reads_sized_and_chunked_answers_on_one_connection() {
        let base = serve(vec![
            "HTTP/1.1 202 Accepted\r\ncontent-length: 13\r\n\r\n{\"ok\": true }",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=1\r\nefg\r\n0\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        ]);
        let mut c = Conn::new(&base, Duration::from_secs(5));
        assert_eq!(c.send("POST", "/a", "k", Some(b"{\"x\":1}")).unwrap(), 202);
        assert_eq!(c.body, b"{\"ok\": true }");
        assert_eq!(c.send("GET", "/b", "k", None).unwrap(), 200);
        assert_eq!(c.body, b"abcdefg");
        assert_eq!(c.send("GET", "/c", "k", None).unwrap(), 404);
        assert!(c.body.is_empty());
    }
}
