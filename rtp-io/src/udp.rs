//! A thin UDP driver for RTP/RTCP (outside the sans-IO core).
//!
//! # What
//! [`UdpTransport`] owns the sockets of one RTP session: one socket with rtcp-mux (RFC 5761), or an RTP
//! socket plus an RTCP socket on the next port (RFC 3550 §11). It sends from and receives into caller
//! buffers, stamps each received datagram with its arrival time in µs (the time input of the sans-IO
//! state machines) and says whether it is RTP or RTCP ([`Channel`]).
//!
//! # How
//! `std::net::UdpSocket` only. Without rtcp-mux both sockets are non-blocking and
//! [`UdpTransport::recv`] polls them, sleeping `poll_interval` between empty rounds until the deadline;
//! with rtcp-mux one blocking socket with a read timeout is used and [`crate::classify`] separates RTP
//! from RTCP. Arrival times are `Instant`s relative to the transport's creation.
//!
//! # Real-time safety
//! Sockets make syscalls, so this runs on an I/O thread, never on the audio thread; it does not allocate
//! per packet.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::demux::{classify, PacketKind};
use crate::error::RtpError;

/// Which stream a datagram belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// RTP media.
    Rtp,
    /// RTCP control.
    Rtcp,
}

/// One received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes written into the caller's buffer.
    pub len: usize,
    /// Sender address.
    pub from: SocketAddr,
    /// Arrival time in µs since the transport was created.
    pub time_us: u64,
    /// RTP or RTCP.
    pub channel: Channel,
}

/// UDP sockets of one RTP session.
#[derive(Debug)]
pub struct UdpTransport {
    rtp: UdpSocket,
    rtcp: Option<UdpSocket>,
    epoch: Instant,
    poll_interval: Duration,
}

fn io(context: &'static str) -> impl Fn(std::io::Error) -> RtpError {
    move |e| RtpError::io(context, &e)
}

impl UdpTransport {
    /// Binds the RTP socket at `local` and, unless `rtcp_mux`, the RTCP socket at the next port. With
    /// port 0, an even RTP port whose successor is free is chosen (up to 64 attempts).
    ///
    /// # Errors
    /// [`RtpError::Io`] when binding fails.
    pub fn bind(local: SocketAddr, rtcp_mux: bool) -> Result<Self, RtpError> {
        let (rtp, rtcp) = if rtcp_mux {
            (
                UdpSocket::bind(local).map_err(io("binding the RTP socket"))?,
                None,
            )
        } else if local.port() != 0 {
            let rtp = UdpSocket::bind(local).map_err(io("binding the RTP socket"))?;
            let mut l2 = local;
            l2.set_port(local.port().wrapping_add(1));
            (
                rtp,
                Some(UdpSocket::bind(l2).map_err(io("binding the RTCP socket"))?),
            )
        } else {
            let mut pair = None;
            for _ in 0..64 {
                let rtp = UdpSocket::bind(local).map_err(io("binding the RTP socket"))?;
                let p = rtp.local_addr().map_err(io("reading the RTP port"))?.port();
                if p % 2 != 0 || p == u16::MAX {
                    continue;
                }
                let mut l2 = local;
                l2.set_port(p + 1);
                if let Ok(r) = UdpSocket::bind(l2) {
                    pair = Some((rtp, Some(r)));
                    break;
                }
            }
            pair.ok_or(RtpError::Io {
                context: "finding a free RTP/RTCP port pair",
                kind: ErrorKind::AddrInUse,
            })?
        };
        if let Some(r) = &rtcp {
            rtp.set_nonblocking(true)
                .map_err(io("configuring the RTP socket"))?;
            r.set_nonblocking(true)
                .map_err(io("configuring the RTCP socket"))?;
        }
        Ok(Self {
            rtp,
            rtcp,
            epoch: Instant::now(),
            poll_interval: Duration::from_millis(1),
        })
    }

    /// Sets the sleep between empty polling rounds (two-socket mode; default 1 ms).
    pub fn set_poll_interval(&mut self, d: Duration) {
        self.poll_interval = d.max(Duration::from_micros(50));
    }

    /// True with rtcp-mux.
    pub fn is_muxed(&self) -> bool {
        self.rtcp.is_none()
    }

    /// Local RTP address.
    ///
    /// # Errors
    /// [`RtpError::Io`].
    pub fn local_addr(&self) -> Result<SocketAddr, RtpError> {
        self.rtp.local_addr().map_err(io("reading the local address"))
    }

    /// Local RTCP address (the RTP address with rtcp-mux).
    ///
    /// # Errors
    /// [`RtpError::Io`].
    pub fn rtcp_local_addr(&self) -> Result<SocketAddr, RtpError> {
        self.rtcp
            .as_ref()
            .unwrap_or(&self.rtp)
            .local_addr()
            .map_err(io("reading the local address"))
    }

    /// The RTCP address of a peer whose RTP address is `rtp` (same with rtcp-mux, else port + 1).
    pub fn rtcp_peer(&self, rtp: SocketAddr) -> SocketAddr {
        let mut a = rtp;
        if !self.is_muxed() {
            a.set_port(rtp.port().wrapping_add(1));
        }
        a
    }

    /// µs since the transport was created: the clock to feed the sans-IO state machines.
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// The transport's time origin.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Sends an RTP packet to `to`.
    ///
    /// # Errors
    /// [`RtpError::Io`].
    pub fn send_rtp(&self, packet: &[u8], to: SocketAddr) -> Result<(), RtpError> {
        self.rtp
            .send_to(packet, to)
            .map(|_| ())
            .map_err(io("sending RTP"))
    }

    /// Sends an RTCP packet to `to` (a peer RTCP address, see [`UdpTransport::rtcp_peer`]).
    ///
    /// # Errors
    /// [`RtpError::Io`].
    pub fn send_rtcp(&self, packet: &[u8], to: SocketAddr) -> Result<(), RtpError> {
        self.rtcp
            .as_ref()
            .unwrap_or(&self.rtp)
            .send_to(packet, to)
            .map(|_| ())
            .map_err(io("sending RTCP"))
    }

    /// Receives one datagram into `buf`, waiting at most `timeout`; `None` on timeout.
    ///
    /// # Errors
    /// [`RtpError::Io`] for socket errors other than timeouts.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> Result<Option<Received>, RtpError> {
        let deadline = Instant::now() + timeout;
        match &self.rtcp {
            None => {
                self.rtp
                    .set_read_timeout(Some(timeout.max(Duration::from_micros(1))))
                    .map_err(io("setting the read timeout"))?;
                match self.rtp.recv_from(buf) {
                    Ok((len, from)) => {
                        let channel = if classify(&buf[..len]) == PacketKind::Rtcp {
                            Channel::Rtcp
                        } else {
                            Channel::Rtp
                        };
                        Ok(Some(Received {
                            len,
                            from,
                            time_us: self.now_us(),
                            channel,
                        }))
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(None),
                    Err(e) => Err(RtpError::io("receiving", &e)),
                }
            }
            Some(rtcp) => loop {
                for (sock, channel) in [(&self.rtp, Channel::Rtp), (rtcp, Channel::Rtcp)] {
                    match sock.recv_from(buf) {
                        Ok((len, from)) => {
                            return Ok(Some(Received {
                                len,
                                from,
                                time_us: self.now_us(),
                                channel,
                            }))
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {} // ICMP from an earlier send
                        Err(e) => return Err(RtpError::io("receiving", &e)),
                    }
                }
                let now = Instant::now();
                if now >= deadline {
                    return Ok(None);
                }
                std::thread::sleep(self.poll_interval.min(deadline - now));
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_pair_and_mux() {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let a = UdpTransport::bind(any, false).unwrap();
        let b = UdpTransport::bind(any, false).unwrap();
        let a_rtp = a.local_addr().unwrap();
        assert_eq!(a_rtp.port() % 2, 0);
        assert_eq!(a.rtcp_local_addr().unwrap().port(), a_rtp.port() + 1);
        b.send_rtp(&[0x80, 0, 0, 1], a_rtp).unwrap();
        b.send_rtcp(&[0x80, 201, 0, 1, 0, 0, 0, 9], b.rtcp_peer(a_rtp))
            .unwrap();
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while got.len() < 2 {
            let r = a
                .recv(&mut buf, Duration::from_secs(5))
                .unwrap()
                .expect("datagram within 5 s");
            got.push((r.channel, r.len));
        }
        got.sort_by_key(|g| g.1);
        assert_eq!(got, vec![(Channel::Rtp, 4), (Channel::Rtcp, 8)]);

        let m = UdpTransport::bind(any, true).unwrap();
        let to = m.local_addr().unwrap();
        b.send_rtp(&[0x80, 200, 0, 0], to).unwrap();
        let r = m.recv(&mut buf, Duration::from_secs(5)).unwrap().unwrap();
        assert_eq!(r.channel, Channel::Rtcp);
        assert!(m.recv(&mut buf, Duration::from_millis(5)).unwrap().is_none());
    }
}
