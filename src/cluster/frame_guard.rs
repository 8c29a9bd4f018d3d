//! Fluvio's framing followed as the bytes arrive (a big-endian i32 length, then that many
//! bytes), so that a reply whose length no Fluvio peer sends is refused at its length
//! prefix, before any reader sets out to buffer it: an HTTP server's `HTTP` reads as
//! 1.2 GB, a TLS record as hundreds of MB, and a length near `i32::MAX` makes the socket's
//! own codec overflow.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::io::AsyncRead;

/// A reader that fails the read bringing a frame length outside `4..=max` (a reply holds
/// at least its correlation id), with the error `refuse` makes of the 4 length bytes.
pub struct FrameGuard<R> {
    inner: R,
    max: usize,
    refuse: fn([u8; 4]) -> std::io::Error,
    header: [u8; 4],
    have: usize,
    remaining: usize,
}

impl<R> FrameGuard<R> {
    pub fn new(inner: R, max: usize, refuse: fn([u8; 4]) -> std::io::Error) -> Self {
        FrameGuard {
            inner,
            max,
            refuse,
            header: [0; 4],
            have: 0,
            remaining: 0,
        }
    }

    /// Follows `bytes`, the next bytes of the stream.
    fn follow(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let take = self.remaining.min(bytes.len());
                self.remaining -= take;
                bytes = &bytes[take..];
                continue;
            }
            let take = (4 - self.have).min(bytes.len());
            self.header[self.have..self.have + take].copy_from_slice(&bytes[..take]);
            self.have += take;
            bytes = &bytes[take..];
            if self.have == 4 {
                self.have = 0;
                match usize::try_from(i32::from_be_bytes(self.header)) {
                    Ok(len) if (4..=self.max).contains(&len) => self.remaining = len,
                    _ => return Err((self.refuse)(self.header)),
                }
            }
        }
        Ok(())
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for FrameGuard<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let read = std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        this.follow(&buf[..read])?;
        Poll::Ready(Ok(read))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refuse(head: [u8; 4]) -> std::io::Error {
        std::io::Error::other(format!("refused {}", i32::from_be_bytes(head)))
    }

    /// A guard over nothing: only `follow` is exercised.
    fn guard(max: usize) -> FrameGuard<futures_util::io::Empty> {
        FrameGuard::new(futures_util::io::empty(), max, refuse)
    }

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as i32).to_be_bytes().to_vec();
        out.extend(body);
        out
    }

    #[test]
    fn frames_split_anywhere_are_followed_and_lengths_no_peer_sends_refused() {
        let mut stream = frame(b"abcd");
        stream.extend(frame(&[7; 300]));
        stream.extend(frame(b"wxyz"));
        for cut in 0..=stream.len() {
            let mut g = guard(300);
            g.follow(&stream[..cut]).unwrap();
            g.follow(&stream[cut..]).unwrap();
            assert_eq!((g.have, g.remaining), (0, 0), "cut at {cut}");
        }
        let bad = |len: i32| {
            let mut bytes = frame(b"okay");
            bytes.extend(len.to_be_bytes());
            guard(300).follow(&bytes).expect_err("refused").to_string()
        };
        for len in [301, i32::MAX, 3, 0, -1, i32::MIN] {
            assert_eq!(bad(len), format!("refused {len}"));
        }
        guard(300)
            .follow(&300i32.to_be_bytes())
            .expect("the longest frame");
    }
}
