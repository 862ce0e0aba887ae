//! Status and readings to an MQTT broker (`[host.mqtt]`): each driver's stdout lines, its
//! events (updates, rollbacks, roll-outs, failures) and its state changes are published
//! with QoS 1 under `TOPIC/DRIVER/stdout`, `TOPIC/DRIVER/event` and `TOPIC/DRIVER/state`
//! (retained), as JSON with a per-driver, per-kind sequence number so that a subscriber can
//! tell a gap from a duplicate (QoS 1 is at-least-once).
//!
//! Nothing here may block a driver: messages go into a bounded queue of `buffer` messages;
//! while the broker is away the oldest are dropped and counted, and the count is published
//! to `TOPIC/host` once it is back. Besides the queue, the client (rumqttc) holds up to
//! [`INFLIGHT`] unacknowledged and [`CHANNEL`] queued messages; it sends them again after
//! a reconnect if the broker kept the session (a fixed client id, clean session off, and a
//! broker that keeps sessions across its restarts: mosquitto's `persistence true`). A
//! broker that forgets sessions loses those (at most `INFLIGHT + 2 * CHANNEL`).
//! Reconnects back off from 0.5 s to 30 s.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use crate::config::MqttConfig;

/// Unacknowledged QoS 1 messages the client keeps in flight.
pub const INFLIGHT: u16 = 16;
/// The client's own request queue.
pub const CHANNEL: usize = 16;
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

struct Message {
    topic: String,
    payload: Vec<u8>,
    retain: bool,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Message>,
    dropped: u64,
    closed: bool,
}

/// The publisher: a bounded queue, a thread that feeds the client from it, and one that
/// drives the connection.
pub struct Mqtt {
    topic: String,
    buffer: usize,
    queue: Arc<(Mutex<Queue>, Condvar)>,
}

impl Mqtt {
    pub fn start(config: &MqttConfig) -> Result<Mqtt> {
        let (host, port) = match config.broker.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_start_matches('[').trim_end_matches(']').to_string(),
                p.parse::<u16>()
                    .with_context(|| format!("[host.mqtt] broker {:?}: bad port", config.broker))?,
            ),
            None => (config.broker.clone(), 1883),
        };
        let hostname = gateway_name();
        let client_id = config
            .client_id
            .clone()
            .unwrap_or_else(|| format!("wasi-hw-{hostname}"));
        let mut options = MqttOptions::new(client_id, host, port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_session(false)
            .set_inflight(INFLIGHT);
        if let Some(user) = &config.username {
            let password = match &config.password_file {
                Some(f) => std::fs::read_to_string(f)
                    .with_context(|| format!("[host.mqtt] password_file {}", f.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
                None => String::new(),
            };
            options.set_credentials(user, password);
        } else if config.password_file.is_some() {
            bail!("[host.mqtt] password_file without username");
        }
        let (client, mut connection) = Client::new(options, CHANNEL);
        let queue = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
        let topic = config
            .topic
            .clone()
            .unwrap_or_else(|| format!("wasi-hw/{hostname}"));
        let broker = config.broker.clone();
        std::thread::Builder::new()
            .name("mqtt-net".into())
            .spawn(move || {
                let mut backoff = BACKOFF_MIN;
                let mut down = false;
                loop {
                    match connection.recv() {
                        Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) => {
                            log::info!(
                                "mqtt: connected to {broker} (session {})",
                                if ack.session_present {
                                    "resumed"
                                } else {
                                    "new"
                                }
                            );
                            backoff = BACKOFF_MIN;
                            down = false;
                        }
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            if !down {
                                log::warn!("mqtt: {broker}: {e}; reconnecting");
                                down = true;
                            }
                            std::thread::sleep(backoff);
                            backoff = (backoff * 2).min(BACKOFF_MAX);
                        }
                        Err(_) => return, // the publisher is gone
                    }
                }
            })
            .context("cannot start the MQTT thread")?;
        std::thread::Builder::new()
            .name("mqtt-publish".into())
            .spawn({
                let queue = Arc::clone(&queue);
                let host_topic = format!("{topic}/host");
                move || feed(&client, &queue, &host_topic)
            })
            .context("cannot start the MQTT thread")?;
        Ok(Mqtt {
            topic,
            buffer: config.buffer.max(1),
            queue,
        })
    }

    /// Queues a message for `TOPIC/SUFFIX`, dropping the oldest one if the queue is full.
    pub fn publish(&self, suffix: &str, payload: Vec<u8>, retain: bool) {
        let (lock, ready) = &*self.queue;
        let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
        if q.items.len() >= self.buffer {
            q.items.pop_front();
            q.dropped += 1;
        }
        q.items.push_back(Message {
            topic: format!("{}/{suffix}", self.topic),
            payload,
            retain,
        });
        ready.notify_one();
    }
}

impl Drop for Mqtt {
    fn drop(&mut self) {
        let (lock, ready) = &*self.queue;
        lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        ready.notify_all();
    }
}

/// Moves queued messages to the client (blocking there while its own queue is full, as it
/// is while the broker is away), first the count of those dropped meanwhile.
fn feed(client: &Client, queue: &(Mutex<Queue>, Condvar), host_topic: &str) {
    loop {
        let (message, dropped) = {
            let (lock, ready) = queue;
            let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
            while q.items.is_empty() && !q.closed {
                q = ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            if q.items.is_empty() {
                return; // closed and drained
            }
            (
                q.items.pop_front().expect("not empty"),
                std::mem::take(&mut q.dropped),
            )
        };
        if dropped > 0 {
            log::warn!("mqtt: {dropped} messages dropped while the broker was away");
            let note = serde_json::json!({ "dropped": dropped }).to_string();
            if client
                .publish(host_topic, QoS::AtLeastOnce, false, note.into_bytes())
                .is_err()
            {
                return;
            }
        }
        if client
            .publish(
                message.topic,
                QoS::AtLeastOnce,
                message.retain,
                message.payload,
            )
            .is_err()
        {
            return;
        }
    }
}

/// This gateway's name for topics and the client id: the kernel's host name.
fn gateway_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "gateway".into())
        .replace(['/', '+', '#'], "_")
}
