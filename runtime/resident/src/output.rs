//! Drivers' stdout and stderr: each line tagged with the driver's name, to the host's own
//! stdout/stderr or to syslog; or captured whole for `ctl invoke`.

use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use anyhow::{Context, Result};

use crate::config::LogTarget;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What a driver reports besides its output: published, never printed (events are in the
/// host's log already).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// An update, rollback, roll-out or failure.
    Event,
    /// A change of state (`running`, `exited`...).
    State,
}

/// Publishes a message under the host's topic: (`DRIVER/KIND` suffix, JSON payload,
/// retained). The MQTT publisher, which queues and never blocks.
pub type Publish = Box<dyn Fn(&str, Vec<u8>, bool) + Send>;

/// Lines waiting for the writer; beyond this, new lines are dropped (and counted) rather
/// than blocking the driver that writes them.
const QUEUE: usize = 4096;

/// Where tagged lines go: a queue drained by one writer thread, so a host stdout that
/// nobody reads (or a stalled syslog) never blocks a driver inside a WASI write, where no
/// stop request could reach it.
#[derive(Clone)]
pub struct Sink {
    queue: mpsc::SyncSender<Queued>,
    dropped: Arc<AtomicUsize>,
    /// Statuses are queued only when something publishes them.
    publishing: bool,
}

enum Queued {
    Line(Arc<str>, Stream, String),
    Status(Arc<str>, Status, String),
    /// Answered once every line queued before it is written.
    Flush(mpsc::SyncSender<()>),
}

impl Sink {
    pub fn start(target: LogTarget, publish: Option<Publish>) -> Result<Sink> {
        let publishing = publish.is_some();
        let syslog = match target {
            LogTarget::Stdio => None,
            LogTarget::Syslog => match UnixDatagram::unbound().and_then(|s| {
                s.connect("/dev/log")?;
                Ok(s)
            }) {
                Ok(s) => Some(s),
                Err(e) => {
                    log::warn!("cannot reach syslog at /dev/log ({e}); driver output goes to stdout/stderr");
                    None
                }
            },
        };
        let (queue, lines) = mpsc::sync_channel::<Queued>(QUEUE);
        let dropped = Arc::new(AtomicUsize::new(0));
        let lost = Arc::clone(&dropped);
        std::thread::Builder::new()
            .name("output".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                // Per driver and kind: lets a subscriber tell a gap from a QoS 1 duplicate.
                let mut seqs: std::collections::HashMap<(Arc<str>, &'static str), u64> =
                    Default::default();
                let mut publish_json =
                    |driver: &Arc<str>, kind: &'static str, field: &str, value: &str| {
                        if let Some(publish) = &publish {
                            let seq = seqs.entry((Arc::clone(driver), kind)).or_insert(0);
                            let mut payload = serde_json::Map::new();
                            payload.insert("seq".into(), (*seq).into());
                            payload.insert(field.into(), value.into());
                            *seq += 1;
                            let bytes = serde_json::Value::Object(payload).to_string().into_bytes();
                            // A state is retained: a subscriber arriving later sees it.
                            publish(&format!("{driver}/{kind}"), bytes, kind == "state");
                        }
                    };
                for queued in lines {
                    let (driver, stream, line) = match queued {
                        Queued::Line(d, s, l) => (d, s, l),
                        Queued::Status(d, Status::Event, text) => {
                            publish_json(&d, "event", "event", &text);
                            continue;
                        }
                        Queued::Status(d, Status::State, text) => {
                            publish_json(&d, "state", "state", &text);
                            continue;
                        }
                        Queued::Flush(done) => {
                            let _ = done.send(());
                            continue;
                        }
                    };
                    write_line(syslog.as_ref(), &driver, stream, &line);
                    if stream == Stream::Stdout {
                        publish_json(&driver, "stdout", "line", &line);
                    }
                    let n = lost.swap(0, Ordering::Relaxed);
                    if n > 0 {
                        let note = format!("{n} lines of driver output dropped (output blocked)");
                        write_line(syslog.as_ref(), "wasi-hw", Stream::Stderr, &note);
                    }
                }
            })
            .context("cannot start the output thread")?;
        Ok(Sink {
            queue,
            dropped,
            publishing,
        })
    }

    /// Queues a driver's event or state change for publishing (dropped, and counted, like
    /// a line, if the queue is full).
    pub fn status(&self, driver: &Arc<str>, status: Status, text: String) {
        if !self.publishing {
            return;
        }
        if let Err(mpsc::TrySendError::Full(_)) =
            self.queue
                .try_send(Queued::Status(Arc::clone(driver), status, text))
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn line(&self, driver: &Arc<str>, stream: Stream, line: String) {
        if let Err(mpsc::TrySendError::Full(_)) =
            self.queue
                .try_send(Queued::Line(Arc::clone(driver), stream, line))
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits (up to `timeout`) until every line queued so far is written: at exit, so
    /// the last lines of the drivers are not lost.
    pub fn flush(&self, timeout: std::time::Duration) {
        let (done, wait) = mpsc::sync_channel(1);
        if self.queue.send(Queued::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(timeout);
        }
    }
}

fn write_line(syslog: Option<&UnixDatagram>, driver: &str, stream: Stream, line: &str) {
    if let Some(sock) = syslog {
        // RFC 3164 without timestamp (the daemon adds it): facility daemon (3), severity
        // info (6) for stdout, warning (4) for stderr.
        let pri = 3 * 8 + if stream == Stream::Stdout { 6 } else { 4 };
        let msg = format!("<{pri}>wasi-hw[{}]: {driver}: {line}", std::process::id());
        if sock.send(msg.as_bytes()).is_ok() {
            return;
        }
    }
    // One write per line, so lines of different drivers do not interleave.
    let tagged = format!("{driver}: {line}\n");
    let _ = match stream {
        Stream::Stdout => std::io::stdout().lock().write_all(tagged.as_bytes()),
        Stream::Stderr => std::io::stderr().lock().write_all(tagged.as_bytes()),
    };
}

/// A pipe whose read end a thread turns into tagged lines for as long as the driver
/// exists; every instance of the driver writes to the same write end.
pub struct LinePump {
    write: Option<OwnedFd>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LinePump {
    /// Closes the write end, then waits for the reader to pass on what is left.
    fn drop(&mut self) {
        drop(self.write.take());
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl LinePump {
    pub fn start(driver: &str, stream: Stream, sink: Sink) -> Result<LinePump> {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .context("cannot create an output pipe")?;
        let name: Arc<str> = Arc::from(driver);
        let reader = std::thread::Builder::new()
            .name(format!("{driver}-{stream:?}").to_lowercase())
            .stack_size(64 * 1024)
            .spawn(move || {
                // Ends when the last write end closes (the driver is removed).
                let reader = BufReader::new(std::fs::File::from(read));
                for line in reader.split(b'\n') {
                    match line {
                        Ok(bytes) => {
                            sink.line(&name, stream, String::from_utf8_lossy(&bytes).into_owned())
                        }
                        Err(_) => break,
                    }
                }
            })
            .context("cannot start an output thread")?;
        Ok(LinePump {
            write: Some(write),
            reader: Some(reader),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.write.as_ref().map_or(-1, |w| w.as_raw_fd())
    }
}

/// An in-memory file that takes one run's output (never blocks the guest, no thread).
pub struct Capture {
    file: std::fs::File,
}

/// At most this much of a captured stream is returned to a `ctl invoke` client.
pub const MAX_CAPTURE: u64 = 1 << 20;

impl Capture {
    pub fn new(name: &str) -> Result<Capture> {
        let fd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC)
            .context("cannot create an output buffer (memfd)")?;
        Ok(Capture {
            file: std::fs::File::from(fd),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// What was written, up to [`MAX_CAPTURE`] bytes (lossy UTF-8).
    pub fn contents(mut self) -> String {
        let mut bytes = Vec::new();
        if self.file.rewind().is_ok() {
            let _ = (&mut self.file).take(MAX_CAPTURE).read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_returns_what_was_written_to_its_fd() {
        let c = Capture::new("t").unwrap();
        use std::os::fd::AsFd;
        let mut f = std::fs::File::from(rustix::io::dup(c.file.as_fd()).unwrap());
        f.write_all(b"hello\nworld\n").unwrap();
        drop(f);
        assert_eq!(c.contents(), "hello\nworld\n");
    }
}
