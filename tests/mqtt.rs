//! `[host.mqtt]` end to end: Debian's mosquitto broker on loopback (persistence on, as a
//! gateway's broker keeps sessions), mosquitto_sub as the subscriber (a persistent QoS 1
//! session, so it gets what was queued for it across a restart; tests/common/mqtt.rs), and
//! `wasi-hw serve` publishing. Installed by scripts/setup.sh.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::mqtt::{Broker, Subscriber};
use common::serve::Serve;

fn sensor() -> String {
    common::guest_path("temp-sensor", "aot")
        .display()
        .to_string()
}

fn mqtt_config(broker: &Broker, topic: &str, extra: &str) -> String {
    format!(
        "[host.mqtt]\nbroker = {:?}\ntopic = {topic:?}\nclient_id = \"host-{}\"\n{extra}\n",
        broker.broker(),
        topic.replace('/', "-")
    )
}

#[test]
fn output_and_states_are_published_and_a_broker_restart_loses_nothing() {
    let mut broker = Broker::start();
    let topic = "wasi-hw/test-restart";
    let sub = Subscriber::start(&broker, topic);
    let lines = 300;
    let serve = Serve::start(&format!(
        "{}\n[[driver]]\nname = \"temp\"\nmodule = {:?}\n\
         args = [\"--bus\", \"sim\", \"--count\", \"{lines}\", \"--interval-ms\", \"10\"]\n\
         i2c = [\"sim:0x48\"]\nrestart = \"never\"\n",
        mqtt_config(&broker, topic, ""),
        sensor()
    ));
    let stdout = format!("{topic}/temp/stdout");
    sub.wait_for("the first lines", |s| s.by_seq(&stdout).len() >= 30);
    broker.down();
    std::thread::sleep(Duration::from_millis(800));
    broker.up();
    serve.wait_for("the driver to end", |s| {
        s.status("temp")["state"] == "exited"
    });
    sub.wait_for("every line", |s| s.by_seq(&stdout).len() == lines);
    let got = sub.by_seq(&stdout);
    assert_eq!(
        got.keys().copied().collect::<Vec<_>>(),
        (0..lines as u64).collect::<Vec<_>>()
    );
    assert!(got
        .values()
        .all(|p| p["line"].as_str().unwrap().starts_with("temperature: ")));
    let states = format!("{topic}/temp/state");
    sub.wait_for("the exit", |s| {
        s.by_seq(&states).values().any(|p| p["state"] == "exited")
    });
    let states: BTreeSet<String> = sub
        .by_seq(&states)
        .values()
        .map(|p| p["state"].as_str().unwrap().to_string())
        .collect();
    assert!(states.contains("running"), "{states:?}");
    assert_eq!(sub.dropped(&format!("{topic}/host")), 0);
    serve.stop();
}

#[test]
fn while_the_broker_is_away_the_oldest_messages_are_dropped_and_counted() {
    let mut broker = Broker::start();
    let topic = "wasi-hw/test-bound";
    let sub = Subscriber::start(&broker, topic);
    let lines = 200;
    let serve = Serve::start(&format!(
        "{}\n[[driver]]\nname = \"probe\"\nmodule = {sensor:?}\nargs = [\"--bus\", \"sim\"]\n\
         i2c = [\"sim:0x48\"]\nrestart = \"never\"\n\n\
         [[driver]]\nname = \"temp\"\nmodule = {sensor:?}\n\
         args = [\"--bus\", \"sim\", \"--count\", \"{lines}\", \"--interval-ms\", \"1\"]\n\
         i2c = [\"sim:0x48\"]\nrestart = \"never\"\nautostart = false\n",
        mqtt_config(&broker, topic, "buffer = 20"),
        sensor = sensor()
    ));
    // Connected once the probe driver's line arrives.
    sub.wait_for("the probe", |s| {
        s.by_seq(&format!("{topic}/probe/stdout")).len() == 1
    });
    broker.down();
    serve.ok(&["start", "temp"]);
    serve.wait_for("the driver to end", |s| {
        s.status("temp")["state"] == "exited"
    });
    broker.up();
    let stdout = format!("{topic}/temp/stdout");
    let host = format!("{topic}/host");
    sub.wait_for("the newest line and the drop count", |s| {
        s.by_seq(&stdout).contains_key(&(lines as u64 - 1)) && s.dropped(&host) > 0
    });
    // The newest `buffer` messages came through; every other one came through or was
    // counted: the two state changes and the lines published while the broker was away.
    std::thread::sleep(Duration::from_millis(500));
    let got = sub.by_seq(&stdout);
    let states = sub.by_seq(&format!("{topic}/temp/state")).len() as u64;
    let dropped = sub.dropped(&host);
    assert!(
        (lines as u64 - 19..lines as u64).all(|seq| got.contains_key(&seq)),
        "{:?}",
        got.keys()
    );
    assert_eq!(
        got.len() as u64 + states + dropped,
        lines as u64 + 2,
        "{got:?} {states} {dropped}"
    );
    // What the client itself held besides the queue: at most its in-flight window and
    // channel (16 + 2 x 16) and the message in hand.
    assert!(got.len() as u64 + states <= 20 + 49, "{}", got.len());
    serve.stop();
}

#[test]
fn a_bad_mqtt_table_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("drivers.toml");
    for (table, error) in [
        ("broker = \"b:1883\"\ntopic = \"a/#\"\n", "wildcards"),
        (
            "broker = \"b:1883\"\nbuffer = 0\n",
            "buffer must be at least 1",
        ),
        ("broker = \"b:1883\"\nqos = 2\n", "unknown field"),
    ] {
        std::fs::write(&config, format!("[host.mqtt]\n{table}")).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_wasi-hw"))
            .args(["serve", "--check", "--config"])
            .arg(Path::new(&config))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(error), "{table}: {err}");
    }
}
