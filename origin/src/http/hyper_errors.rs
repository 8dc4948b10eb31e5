//! hyper's own error answers in the contract's JSON shape.
//!
//! When a request cannot even be parsed (a malformed request line or header, a target or head
//! beyond the limits), hyper answers by itself, before any handler runs, with an empty body:
//! `HTTP/1.1 400|414|431 …\r\nconnection: close\r\ncontent-length: 0\r\n…`. Invariant: every
//! answer of the origin, these included, is `{"error_code","message","detail"}` with a stable
//! code, so clients and monitoring never meet a bare status. This connection wrapper recognises
//! exactly that head (a status hyper generates, `connection: close` right after the status line,
//! an empty body; no handler of ours answers so) and writes the same head with the JSON body.
//! Everything else passes through untouched, byte for byte.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use usso_edge::http::Response;
use usso_shared::{Error, ErrorCode};

/// A connection whose hyper-generated error answers carry the JSON error body.
pub struct JsonErrors<S> {
    inner: S,
    pending: Vec<u8>,
    written: usize,
}

impl<S> JsonErrors<S> {
    /// Wraps a connection.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// The head hyper writes for a request it could not parse, rewritten with a JSON body; `None`
/// for anything else.
pub fn rewrite(buf: &[u8]) -> Option<Vec<u8>> {
    // Every answer passes here: look at the status line before reading the whole write.
    if !buf.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let text = std::str::from_utf8(buf).ok()?;
    let rest = text.strip_prefix("HTTP/1.1 ")?;
    let (code, detail) = match rest.get(..4)? {
        "400 " => (ErrorCode::BadRequest, "the request could not be parsed"),
        "414 " => (ErrorCode::UriTooLong, "the request target is too long"),
        "431 " => (
            ErrorCode::HeadersTooLarge,
            "the request headers are too large",
        ),
        _ => return None,
    };
    let (status_line, headers) = text.split_once("\r\n")?;
    let headers = headers.strip_prefix("connection: close\r\ncontent-length: 0\r\n")?;
    // The whole head and nothing after it: an empty body.
    if !text.ends_with("\r\n\r\n") {
        return None;
    }
    let body = Response::error(&Error::new(code, detail)).body;
    let mut out = format!(
        "{status_line}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{headers}",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl<S: AsyncWrite + Unpin> JsonErrors<S> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(rewritten) = rewrite(buf) {
            self.pending = rewritten;
            // Taken whole; poll_flush (which hyper always calls) writes what is left.
            let _ = self.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_error_heads_are_rewritten() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 21:33:14 GMT\r\n\r\n";
        let out = String::from_utf8(rewrite(head).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "));
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error_code"], "headers_too_large");
        for other in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"[..],
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            b"not http",
        ] {
            assert!(rewrite(other).is_none(), "{}", String::from_utf8_lossy(other));
        }
        let bad =
            rewrite(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
        assert!(String::from_utf8(bad).unwrap().contains("\"bad_request\""));
    }
}
