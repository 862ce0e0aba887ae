//! Results of the in-VM benchmarks (`scripts/vm/tests/bench.sh`), read back from the VM's
//! console log.
//!
//! The in-VM script prints one line per measured run:
//! `vmbench machine=M experiment=E variant=V round=R key=value...`, where the keys after
//! `round` are `bench-native time`'s (`wall_us`, `max_rss_kib`, `exit`) for cold starts and
//! the bench drivers' (`ops`, `bytes`, `elapsed_ns`, `checksum`) for USB loops. The console
//! log prefixes each line with the host's wall-clock offset, which is skipped.

use crate::parse::{mib_per_s, ns_per_op, Record};
use crate::stats::Summary;

/// Marks a result line on the console.
pub const TAG: &str = "vmbench ";

/// One measured run inside a VM.
#[derive(Debug, Clone, PartialEq)]
pub struct VmSample {
    pub machine: String,
    pub experiment: String,
    pub variant: String,
    pub round: u64,
    pub record: Record,
}

impl VmSample {
    /// The value the report shows: cold start in ms, round trip in µs, throughput in MiB/s.
    pub fn value(&self) -> Option<f64> {
        match self.experiment.as_str() {
            "cold-start" => Some(self.record.f64("wall_us")? / 1000.0),
            "storage-rtt" => Some(ns_per_op(&self.record)? / 1000.0),
            "storage-read" => mib_per_s(&self.record),
            _ => None,
        }
    }
}

/// Every `vmbench` line of a console log (other lines, and result lines missing one of the
/// identifying keys, are ignored).
pub fn parse_console(log: &str) -> Vec<VmSample> {
    log.lines()
        .filter_map(|l| {
            let rec = Record::parse(&l[l.find(TAG)? + TAG.len()..])?;
            Some(VmSample {
                machine: rec.get("machine")?.to_string(),
                experiment: rec.get("experiment")?.to_string(),
                variant: rec.get("variant")?.to_string(),
                round: rec.u64("round")?,
                record: rec,
            })
        })
        .collect()
}

/// The samples of one (machine, experiment, variant), summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct VmSeries {
    pub machine: String,
    pub experiment: String,
    pub variant: String,
    pub value: Summary,
    /// Peak RSS in KiB (cold starts only).
    pub rss_kib: Option<Summary>,
    /// µs per operation (USB loops only).
    pub per_op_us: Option<Summary>,
}

/// Where a variant's row goes within its experiment: the baseline first.
fn variant_rank(v: &str) -> usize {
    ["native", "aot", "interp"]
        .iter()
        .position(|k| *k == v)
        .unwrap_or(usize::MAX)
}

/// One series per (machine, experiment, variant): machines and experiments in order of
/// first appearance, variants native, AOT, interpreter, then any other.
pub fn summarise(samples: &[VmSample]) -> Vec<VmSeries> {
    let mut keys: Vec<(&str, &str, &str)> = Vec::new();
    for s in samples {
        let k = (
            s.machine.as_str(),
            s.experiment.as_str(),
            s.variant.as_str(),
        );
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let appearance = keys.clone();
    let first = |f: &dyn Fn(&(&str, &str, &str)) -> bool| appearance.iter().position(f);
    keys.sort_by_key(|k| {
        (
            first(&|o| o.0 == k.0),
            first(&|o| o.0 == k.0 && o.1 == k.1),
            variant_rank(k.2),
        )
    });
    keys.into_iter()
        .filter_map(|(m, e, v)| {
            let of = |f: &dyn Fn(&VmSample) -> Option<f64>| {
                let xs: Vec<f64> = samples
                    .iter()
                    .filter(|s| {
                        (
                            s.machine.as_str(),
                            s.experiment.as_str(),
                            s.variant.as_str(),
                        ) == (m, e, v)
                    })
                    .filter_map(f)
                    .collect();
                Summary::of(&xs)
            };
            Some(VmSeries {
                machine: m.to_string(),
                experiment: e.to_string(),
                variant: v.to_string(),
                value: of(&VmSample::value)?,
                rss_kib: of(&|s| s.record.f64("max_rss_kib")),
                per_op_us: of(&|s| Some(ns_per_op(&s.record)? / 1000.0)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
[  12.01] VMTEST-CHECK ok   bench-native in the payload
[  12.50] vmbench machine=raspi2b experiment=cold-start variant=aot round=0 wall_us=20000.0 max_rss_kib=2700 exit=0
[  12.90] vmbench machine=raspi2b experiment=cold-start variant=native round=0 wall_us=4000.0 max_rss_kib=1300 exit=0
[  13.30] vmbench machine=raspi2b experiment=cold-start variant=native round=1 wall_us=6000.0 max_rss_kib=1500 exit=0
[  13.40] vmbench machine=raspi2b experiment=cold-start round=2 wall_us=1
[  14.00] vmbench machine=raspi2b experiment=storage-rtt variant=aot round=0 bench=storage-rtt ops=100 bytes=4400 elapsed_ns=8000000 checksum=1
[  14.10] vmbench machine=raspi2b experiment=storage-read variant=aot round=0 bench=storage-read ops=16 bytes=1048576 elapsed_ns=500000000 checksum=7
";

    #[test]
    fn console_lines_become_samples() {
        let s = parse_console(LOG);
        assert_eq!(s.len(), 5, "the line without a variant is skipped");
        assert_eq!(
            (
                s[0].machine.as_str(),
                s[0].experiment.as_str(),
                s[0].variant.as_str(),
                s[0].round
            ),
            ("raspi2b", "cold-start", "aot", 0)
        );
        assert_eq!(s[0].value(), Some(20.0));
        assert_eq!(s[3].value(), Some(80.0), "µs per TEST UNIT READY");
        assert_eq!(s[4].value(), Some(2.0), "1 MiB in 0.5 s");
    }

    #[test]
    fn series_per_machine_experiment_variant() {
        let rows = summarise(&parse_console(LOG));
        let keys: Vec<_> = rows
            .iter()
            .map(|r| format!("{}/{}/{}", r.machine, r.experiment, r.variant))
            .collect();
        assert_eq!(
            keys,
            [
                "raspi2b/cold-start/native",
                "raspi2b/cold-start/aot",
                "raspi2b/storage-rtt/aot",
                "raspi2b/storage-read/aot"
            ]
        );
        assert_eq!((rows[0].value.n, rows[0].value.median), (2, 5.0));
        assert_eq!(rows[0].rss_kib.map(|r| r.median), Some(1400.0));
        assert_eq!(rows[2].rss_kib, None);
        assert_eq!(rows[3].per_op_us.map(|r| r.median), Some(31250.0));
        assert!(summarise(&[]).is_empty());
    }
}
