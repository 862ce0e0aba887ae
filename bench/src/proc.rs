//! Runs one measured process: wall time from spawn to exit, its peak RSS (`wait4`'s
//! rusage), exit status and output.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// What one run of a process gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// From just before spawn until `wait4` returned.
    pub wall_ns: u64,
    /// Peak resident set size of the child, KiB (`ru_maxrss`).
    pub max_rss_kib: u64,
    /// Exit code, or `-signal` if killed by a signal.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

/// Output files reused across runs: a file (unlike a pipe) never blocks a chatty child,
/// and the parent does not have to read while the child runs.
pub struct Runner {
    out: File,
    err: File,
}

fn scratch(name: &str) -> Result<File> {
    let path = std::env::temp_dir().join(format!("wasi-hw-bench-{}-{name}", std::process::id()));
    let f = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    // Unlinked right away: the open handle keeps it alive, nothing is left behind.
    let _ = std::fs::remove_file(&path);
    Ok(f)
}

fn read_all(f: &mut File) -> Result<String> {
    f.seek(SeekFrom::Start(0))?;
    let mut s = String::new();
    f.read_to_string(&mut s)?;
    f.set_len(0)?;
    f.seek(SeekFrom::Start(0))?;
    Ok(s)
}

impl Runner {
    pub fn new() -> Result<Runner> {
        Ok(Runner {
            out: scratch("stdout")?,
            err: scratch("stderr")?,
        })
    }

    /// Runs `cmd` to completion (stdin closed).
    pub fn run(&mut self, cmd: &mut Command) -> Result<Outcome> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(self.out.try_clone()?))
            .stderr(Stdio::from(self.err.try_clone()?));
        let start = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
        let pid = child.id() as libc::pid_t;
        let mut status: libc::c_int = 0;
        let mut usage: libc::rusage = unsafe_zeroed_rusage();
        loop {
            // SAFETY: `pid` is our own child, not yet reaped (we never call child.wait());
            // `status` and `usage` are valid, writable locals.
            let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            if r == pid {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                bail!("wait4({pid}): {err}");
            }
        }
        let wall_ns = start.elapsed().as_nanos() as u64;
        // The Child handle is dropped without waiting: the process is already reaped.
        drop(child);
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -libc::WTERMSIG(status)
        };
        Ok(Outcome {
            wall_ns,
            // Linux reports ru_maxrss in KiB.
            max_rss_kib: usage.ru_maxrss.max(0) as u64,
            status: code,
            stdout: read_all(&mut self.out)?,
            stderr: read_all(&mut self.err)?,
        })
    }
}

fn unsafe_zeroed_rusage() -> libc::rusage {
    // SAFETY: rusage is a plain C struct of integers and timevals; all-zero is valid.
    unsafe { std::mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_status_output_and_rss() {
        let mut r = Runner::new().unwrap();
        let o = r
            .run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]))
            .unwrap();
        assert_eq!(o.status, 3);
        assert_eq!(o.stdout, "out\n");
        assert_eq!(o.stderr, "err\n");
        assert!(o.max_rss_kib > 0);
        // Files are reset between runs.
        let o = r.run(&mut Command::new("true")).unwrap();
        assert!(o.success());
        assert_eq!(o.stdout, "");
        let o = r
            .run(Command::new("sh").args(["-c", "kill -9 $$"]))
            .unwrap();
        assert_eq!(o.status, -9);
        assert!(r.run(&mut Command::new("/nonexistent/program")).is_err());
    }
}
