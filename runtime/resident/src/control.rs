//! The control socket: a Unix stream socket only root and the host's own user may use
//! (file mode 0600 and the peer's credentials checked on every connection), one thread per
//! client, [`crate::protocol`] on the wire.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::host::ResidentHost;
use crate::protocol::{Reply, Request, MAX_REQUEST};

/// A bound control socket; the file is removed when this is dropped.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Binds `path` (mode 0600). A leftover socket file of a host that is gone is replaced;
    /// one a live host answers on is an error.
    pub fn bind(path: &Path) -> Result<ControlSocket> {
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                bail!(
                    "{}: another wasi-hw serve is answering on this socket",
                    path.display()
                );
            }
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
        }
        let listener = UnixListener::bind(path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
        Ok(ControlSocket {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// Accepts clients until the process ends. Threads wait in `accept` ahead of time
    /// (a request does not pay for a thread start); when the last idle one takes a
    /// client, another is started, so a slow or stuck client never blocks the others.
    pub fn serve(self, host: Arc<ResidentHost>) -> Result<()> {
        let pool = Arc::new(Pool {
            listener: self.listener.try_clone().context("control socket")?,
            host,
            idle: AtomicUsize::new(0),
            me: rustix::process::geteuid(),
        });
        for _ in 0..2 {
            Pool::spawn(&pool)?;
        }
        // This thread only keeps the socket file until the process ends.
        loop {
            std::thread::park();
        }
    }
}

/// The threads answering on the control socket.
struct Pool {
    listener: UnixListener,
    host: Arc<ResidentHost>,
    /// Threads waiting in `accept`.
    idle: AtomicUsize,
    me: rustix::process::Uid,
}

impl Pool {
    fn spawn(pool: &Arc<Pool>) -> Result<()> {
        let pool = Arc::clone(pool);
        pool.idle.fetch_add(1, Ordering::SeqCst);
        std::thread::Builder::new()
            .name("ctl-client".into())
            .stack_size(256 * 1024)
            .spawn(move || pool.work())
            .map(drop)
            .map_err(|e| {
                log::warn!("control socket: cannot start a client thread: {e}");
                anyhow::Error::new(e)
            })
    }

    fn work(self: Arc<Self>) {
        loop {
            let conn = self.listener.accept();
            if self.idle.fetch_sub(1, Ordering::SeqCst) == 1 {
                // The last one waiting: start another before serving this client.
                let _ = Pool::spawn(&self);
            }
            match conn {
                Ok((stream, _)) => {
                    if let Err(e) = client(stream, &self.host, self.me) {
                        log::debug!("control client: {e:#}");
                    }
                }
                Err(e) => log::warn!("control socket: accept failed: {e}"),
            }
            // Keep a couple of threads waiting; let the extra ones end.
            if self.idle.fetch_add(1, Ordering::SeqCst) >= 2 {
                self.idle.fetch_sub(1, Ordering::SeqCst);
                return;
            }
        }
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn client(stream: UnixStream, host: &ResidentHost, me: rustix::process::Uid) -> Result<()> {
    let peer = rustix::net::sockopt::socket_peercred(&stream).context("peer credentials")?;
    let mut writer = stream.try_clone()?;
    if !(peer.uid.is_root() || peer.uid == me) {
        log::warn!(
            "control socket: refused uid {} (pid {})",
            peer.uid.as_raw(),
            peer.pid.as_raw_nonzero()
        );
        let reply = Reply::error("permission denied: only root and the host's user may control it");
        return send(&mut writer, &reply);
    }
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = Vec::new();
        // One byte more than allowed, to tell a too-long line from one that just fits.
        let n = (&mut reader)
            .take(MAX_REQUEST as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(()); // the client closed the connection
        }
        if line.last() != Some(&b'\n') {
            let reply = if line.len() > MAX_REQUEST {
                Reply::error(format!("request longer than {MAX_REQUEST} bytes"))
            } else {
                Reply::error("incomplete request (no newline before the connection closed)")
            };
            return send(&mut writer, &reply);
        }
        let reply = match serde_json::from_slice::<Request>(&line) {
            Ok(request) => {
                log::debug!("control: {request:?}");
                host.handle(request)
            }
            Err(e) => Reply::error(format!("bad request: {e}")),
        };
        // A client that went away mid-request only loses its reply.
        send(&mut writer, &reply)?;
    }
}

fn send(w: &mut UnixStream, reply: &Reply) -> Result<()> {
    let mut line = serde_json::to_vec(reply)?;
    line.push(b'\n');
    w.write_all(&line)?;
    Ok(())
}

/// Sends one request and reads its reply (what `wasi-hw ctl` does).
pub fn request(socket: &Path, request: &Request) -> Result<Reply> {
    let mut stream = UnixStream::connect(socket).with_context(|| {
        format!(
            "cannot connect to {} (is `wasi-hw serve` running?)",
            socket.display()
        )
    })?;
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .context("reading the reply")?;
    if reply.is_empty() {
        bail!("the host closed the connection without a reply");
    }
    serde_json::from_str(&reply).with_context(|| format!("bad reply from the host: {reply:?}"))
}
