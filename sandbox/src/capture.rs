//! A standard stream captured through a pipe, kept bounded: its head and its tail.
//!
//! A stream written to a file counts against `RLIMIT_FSIZE` (the output limit) and fills a disk;
//! one captured here does neither. The judge drains the pipe while the program runs, so a program
//! that floods it is never blocked nor killed for it: it runs on until another limit ends it, and
//! only the first and last bytes are kept (the first error and the summary matter most). Written by
//! hand because it is one buffer and one ring, driven by the sandbox's own poll loop.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// What a captured stream held: the first and the last bytes, and how many there were in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The first bytes written (up to three quarters of the capture's bound).
    pub head: Vec<u8>,
    /// The last bytes written after the head was full (up to a quarter of the bound).
    pub tail: Vec<u8>,
    /// Bytes written in all.
    pub total: u64,
}

impl Captured {
    /// Whether bytes were dropped between head and tail.
    pub fn is_cut(&self) -> bool {
        self.total > (self.head.len() + self.tail.len()) as u64
    }

    /// The stream as text (lossy UTF-8), with a marker where bytes were cut.
    pub fn text(&self) -> String {
        let head = String::from_utf8_lossy(&self.head);
        let tail = String::from_utf8_lossy(&self.tail);
        if self.is_cut() {
            let cut = self.total - (self.head.len() + self.tail.len()) as u64;
            format!("{head}\n… ({cut} bytes cut) …\n{tail}")
        } else {
            format!("{head}{tail}")
        }
    }
}

/// The read end of a capture pipe and what was read from it so far.
pub(crate) struct Capture {
    read: OwnedFd,
    /// Taken (and closed by the caller once handed to the zygote).
    write: Option<OwnedFd>,
    head_limit: usize,
    tail_limit: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
    eof: bool,
}

impl Capture {
    /// A pipe keeping at most `keep` bytes (three quarters head, one quarter tail).
    pub(crate) fn new(keep: usize) -> io::Result<Capture> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 into a local array; the result is checked.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and belong to nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // The read end only: the program's end stays blocking, as a terminal or file would be.
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(read.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(read.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        let head_limit = keep * 3 / 4;
        Ok(Capture {
            read,
            write: Some(write),
            head_limit,
            tail_limit: keep - head_limit,
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
            eof: false,
        })
    }

    /// The program's end of the pipe, until [`close_write`](Self::close_write).
    pub(crate) fn write_fd(&self) -> Option<i32> {
        self.write.as_ref().map(|w| w.as_raw_fd())
    }

    /// Drops our copy of the program's end, so that the pipe ends when the program's copies do.
    pub(crate) fn close_write(&mut self) {
        self.write = None;
    }

    /// The descriptor to poll, or `-1` (ignored by poll) once the pipe has ended.
    pub(crate) fn poll_fd(&self) -> i32 {
        if self.eof {
            -1
        } else {
            self.read.as_raw_fd()
        }
    }

    /// Reads whatever is waiting, without blocking. Returns whether the pipe has ended.
    pub(crate) fn drain(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; 64 * 1024];
        while !self.eof {
            // SAFETY: read into a local buffer of the given length.
            let n = unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::WouldBlock => break,
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(e),
                }
            }
            if n == 0 {
                self.eof = true;
                break;
            }
            self.keep(&buf[..n as usize]);
        }
        Ok(self.eof)
    }

    fn keep(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.head_limit - self.head.len();
        let to_head = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..to_head]);
        bytes = &bytes[to_head..];
        if bytes.len() >= self.tail_limit {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.tail_limit..]);
        } else {
            let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.tail_limit);
            self.tail.drain(..overflow);
            self.tail.extend(bytes);
        }
    }

    /// What was captured.
    pub(crate) fn finish(self) -> Captured {
        Captured {
            head: self.head,
            tail: self.tail.into_iter().collect(),
            total: self.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured_of(writes: &[&[u8]], keep: usize) -> Captured {
        let mut c = Capture::new(keep).expect("pipe");
        for w in writes {
            c.keep(w);
        }
        c.finish()
    }

    #[test]
    fn short_streams_are_kept_whole() {
        let c = captured_of(&[b"hello ", b"world"], 100);
        assert_eq!(c.text(), "hello world");
        assert!(!c.is_cut());
    }

    #[test]
    fn long_streams_keep_their_start_and_end() {
        let mut writes: Vec<Vec<u8>> = vec![b"first error\n".to_vec()];
        writes.extend((0..1000).map(|_| vec![b'x'; 1000]));
        writes.push(b"\nsummary".to_vec());
        let refs: Vec<&[u8]> = writes.iter().map(Vec::as_slice).collect();
        let c = captured_of(&refs, 400);
        assert_eq!(c.total, 12 + 1_000_000 + 8);
        assert_eq!(c.head.len(), 300);
        assert_eq!(c.tail.len(), 100);
        let text = c.text();
        assert!(text.starts_with("first error\n"), "{text}");
        assert!(text.ends_with("x\nsummary"), "{text}");
        assert!(text.contains("bytes cut"), "{text}");
    }
}
