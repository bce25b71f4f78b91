//! A TCP stream whose reads also say when the kernel received the data
//! (`SO_TIMESTAMPNS`). A broadcast delivery's latency is then measured up to
//! its arrival at this machine's socket, not up to when the load generator,
//! busy with the other receivers, got round to reading it.

use std::io::{self, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use smol::io::{AsyncRead, AsyncWrite};
use smol::Async;

pub struct StampedStream {
    socket: Arc<Async<TcpStream>>,
    /// Nanoseconds since the Unix epoch at which the last read's data came
    /// in; 0 when the kernel gave no time.
    received_ns: Arc<AtomicU64>,
}

impl StampedStream {
    /// Asks the kernel to time incoming data. Without that (not Linux, say)
    /// the stream still works and gives no times.
    pub fn new(socket: Arc<Async<TcpStream>>) -> StampedStream {
        let on: libc::c_int = 1;
        // SAFETY: a valid socket and a pointer to a live c_int with its size.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        StampedStream {
            socket,
            received_ns: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Where the time of the last read is kept.
    pub fn received_ns(&self) -> Arc<AtomicU64> {
        self.received_ns.clone()
    }
}

/// One `recvmsg`: the bytes, and the kernel's receive time if it gave one.
fn recv_stamped(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<u64>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for a timespec control message, aligned for cmsghdr.
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg points at live buffers of the sizes it states.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the CMSG_* walk stays inside the control buffer the kernel
    // filled; the timespec is read unaligned from its data.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                stamp = Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, stamp))
}

impl AsyncRead for StampedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            match recv_stamped(self.socket.as_raw_fd(), buf) {
                Ok((n, stamp)) => {
                    self.received_ns
                        .store(stamp.unwrap_or(0), Ordering::Relaxed);
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.socket.poll_readable(cx))?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for StampedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.socket.get_ref().write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.socket.poll_writable(cx))?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return Poll::Ready(result),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.socket.get_ref().shutdown(std::net::Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::time::{SystemTime, UNIX_EPOCH};

    use smol::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn now_ns() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    }

    #[test]
    fn reads_come_with_the_kernels_receive_time() {
        smol::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            let mut stamped = StampedStream::new(Arc::new(Async::new(client).unwrap()));
            let mut server = Async::new(server).unwrap();
            // The kernel turns timestamping on a moment after it is asked.
            for _ in 0..50 {
                let before = now_ns();
                server.write_all(b"hello").await.unwrap();
                let mut buf = [0; 16];
                let n = stamped.read(&mut buf).await.unwrap();
                let after = now_ns();
                assert_eq!(&buf[..n], b"hello");
                let at = stamped.received_ns().load(Ordering::Relaxed);
                if at != 0 {
                    assert!(before <= at && at <= after, "{before} <= {at} <= {after}");
                    return;
                }
                smol::Timer::after(std::time::Duration::from_millis(10)).await;
            }
            panic!("no receive time in 50 reads");
        });
    }
}
