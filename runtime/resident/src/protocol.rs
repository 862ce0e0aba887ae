//! The control protocol: one JSON object per line each way, a request then its reply.
//!
//! ```text
//! → {"cmd":"status","name":"temp"}
//! ← {"ok":true,"status":{"name":"temp","state":"running",...}}
//! → {"cmd":"stop","name":"nope"}
//! ← {"ok":false,"error":"no driver named \"nope\""}
//! ```
//! Commands: `list`, `status`, `start`, `stop`, `restart` (with `name`), `reload`,
//! `update` (`name`, `module`: a path the host can read), `invoke` (`name`, optional
//! `args` replacing the configured ones).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The longest request line the host reads.
pub const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    List,
    Status {
        name: String,
    },
    Start {
        name: String,
    },
    Stop {
        name: String,
    },
    Restart {
        name: String,
    },
    Reload,
    Update {
        name: String,
        module: PathBuf,
    },
    Invoke {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        args: Option<Vec<String>>,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A one-line summary of what was done (`start`, `stop`, `reload`, `update`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drivers: Option<Vec<DriverStatus>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DriverStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunResult>,
}

impl Reply {
    pub fn error(msg: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            error: Some(msg.into()),
            ..Reply::default()
        }
    }

    pub fn message(msg: impl Into<String>) -> Reply {
        Reply {
            ok: true,
            message: Some(msg.into()),
            ..Reply::default()
        }
    }
}

/// What `invoke` returns: the run's output and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub stdout: String,
    pub stderr: String,
    /// The exit code; `None` when the run trapped or was stopped (`trap` says why).
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trap: Option<String>,
    /// Instantiate + run, as the host measured it.
    pub micros: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriverStatus {
    pub name: String,
    /// `running`, `waiting` (scheduled, between runs), `backoff` (restart pending),
    /// `stopped`, `exited`, `failed`.
    pub state: String,
    pub module: String,
    /// SHA-256 of the module file now in use.
    pub digest: String,
    /// Instances started (all runs, restarts and updates included).
    pub runs: u64,
    /// Restarts after an instance ended by itself (not counting scheduled runs).
    pub restarts: u64,
    /// How the last instance ended: `exit 0`, `exit 3`, `trap: ...`, `timed out ...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<String>,
    /// Milliseconds since the running instance started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_ms: Option<u64>,
    pub buses: Vec<BusStatus>,
    /// USB devices the driver has open or keeps between instances.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usb: Vec<UsbDeviceStatus>,
    /// Across the last update: the old instance's last bus transaction → the new one's
    /// first, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_gap_us: Option<u64>,
    /// Recent updates, rollbacks and failures, oldest first.
    pub events: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BusStatus {
    pub name: String,
    pub transactions: u64,
    /// Begun but not completed (a bus left mid-transaction would show here).
    pub in_flight: u64,
    pub failed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The bus's device node is gone (or is another device now): the driver's descriptor
    /// is dead until the driver is set up again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lost: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsbDeviceStatus {
    /// `VID:PID bus B port P`.
    pub device: String,
    /// `in use`, `kept` (between instances) or `lost` (gone from the bus).
    pub state: String,
    /// Times its open handle and claims went from one instance to the next.
    pub handoffs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_objects() {
        let r: Request =
            serde_json::from_str(r#"{"cmd":"update","name":"t","module":"/x.aot"}"#).unwrap();
        assert_eq!(
            r,
            Request::Update {
                name: "t".into(),
                module: "/x.aot".into()
            }
        );
        assert_eq!(
            serde_json::to_string(&Request::Invoke {
                name: "t".into(),
                args: None
            })
            .unwrap(),
            r#"{"cmd":"invoke","name":"t"}"#
        );
        for bad in [
            r#"{"cmd":"explode"}"#,
            r#"{"cmd":"stop"}"#,
            r#"{"cmd":"status","name":"t","extra":1}"#,
            "not json",
        ] {
            assert!(serde_json::from_str::<Request>(bad).is_err(), "{bad}");
        }
    }
}
