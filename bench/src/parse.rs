//! Parsing what the measured programs print.
//!
//! Every measured program reports on stdout with one line of space-separated `key=value`
//! words (e.g. `phase=aot init_us=41.2 load_us=60.0 ...` from `bench-engine`, or
//! `bench=i2c-read ops=10000 ... elapsed_ns=...` from the bench drivers); other lines (the
//! driver's own output) are ignored.

use std::collections::BTreeMap;

/// One `key=value` line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub fields: BTreeMap<String, String>,
}

impl Record {
    /// Parses the `key=value` words of a line; words without `=` are skipped. `None` if the
    /// line has no such word.
    pub fn parse(line: &str) -> Option<Record> {
        let fields: BTreeMap<String, String> = line
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (!fields.is_empty()).then_some(Record { fields })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    pub fn f64(&self, key: &str) -> Option<f64> {
        self.get(key)?.parse().ok().filter(|x: &f64| x.is_finite())
    }

    pub fn u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.parse().ok()
    }
}

/// The first line of `output` with `key=value` among its words.
pub fn find_record(output: &str, key: &str, value: &str) -> Option<Record> {
    output
        .lines()
        .filter_map(Record::parse)
        .find(|r| r.get(key) == Some(value))
}

/// Nanoseconds per operation of a bench driver's line (`elapsed_ns / ops`).
pub fn ns_per_op(r: &Record) -> Option<f64> {
    let ops = r.u64("ops")?;
    let ns = r.u64("elapsed_ns")?;
    (ops > 0).then(|| ns as f64 / ops as f64)
}

/// Throughput of a bench driver's line in MiB/s (`bytes / elapsed_ns`).
pub fn mib_per_s(r: &Record) -> Option<f64> {
    let bytes = r.u64("bytes")?;
    let ns = r.u64("elapsed_ns")?;
    (ns > 0).then(|| bytes as f64 / (1024.0 * 1024.0) / (ns as f64 * 1e-9))
}

/// The total instruction count valgrind's callgrind reports on stderr
/// (`==PID== Collected : 2233379`).
pub fn callgrind_collected(stderr: &str) -> Option<u64> {
    stderr.lines().find_map(|l| {
        let rest = l.split_once("Collected :")?.1;
        rest.trim().replace(',', "").parse().ok()
    })
}

/// The `(inclusive count, function)` lines of `callgrind_annotate --inclusive=yes`, e.g.
/// `1,413,563 (63.29%)  ???:wasi_hw_engine::module::Module::new [/path/bin]`. The
/// function name is what follows the source file (which has no `:`) up to the object.
pub fn callgrind_inclusive(annotate: &str) -> Vec<(u64, String)> {
    annotate
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let (count, rest) = l.split_once(' ')?;
            let count: u64 = count.replace(',', "").parse().ok()?;
            let rest = rest.trim_start();
            let rest = rest.strip_prefix('(')?.split_once(')')?.1.trim_start();
            let (_file, func) = rest.split_once(':')?;
            let func = match func.rfind(" [") {
                Some(i) => &func[..i],
                None => func,
            };
            Some((count, func.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let out = "temperature: 23.50 C\nphase=aot init_us=41.5 load_us=60 junk\nbench=i2c-read ops=4 bytes=8 elapsed_ns=1000 checksum=7\n";
        let p = find_record(out, "phase", "aot").unwrap();
        assert_eq!(p.f64("init_us"), Some(41.5));
        assert_eq!(p.f64("load_us"), Some(60.0));
        assert_eq!(p.f64("missing"), None);
        let b = find_record(out, "bench", "i2c-read").unwrap();
        assert_eq!(ns_per_op(&b), Some(250.0));
        assert!((mib_per_s(&b).unwrap() - 8.0 / 1048576.0 / 1e-6).abs() < 1e-9);
        assert!(find_record(out, "bench", "usb-rtt").is_none());
        assert_eq!(Record::parse("no pairs here"), None);
        assert_eq!(Record::parse("=x"), None);
        assert_eq!(Record::parse("a=nan").unwrap().f64("a"), None);
    }

    #[test]
    fn zero_ops_has_no_rate() {
        let r = Record::parse("bench=x ops=0 bytes=0 elapsed_ns=0").unwrap();
        assert_eq!(ns_per_op(&r), None);
        assert_eq!(mib_per_s(&r), None);
    }

    #[test]
    fn callgrind_outputs() {
        let err = "==15500== Events    : Ir\n==15500== Collected : 2233379\n==15500==\n";
        assert_eq!(callgrind_collected(err), Some(2233379));
        assert_eq!(callgrind_collected("nothing"), None);
        let ann = "--------\n2,233,379 (100.0%)  PROGRAM TOTALS\n\
            1,413,563 (63.29%)  ???:wasi_hw_engine::module::Module::new [/w/bench-engine]\n\
              304,068 (13.61%)  ./elf/./elf/rtld.c:_dl_start [/usr/lib/ld-linux-x86-64.so.2]\n\
            Ir                  file:function\n";
        assert_eq!(
            callgrind_inclusive(ann),
            vec![
                (1413563, "wasi_hw_engine::module::Module::new".to_string()),
                (304068, "_dl_start".to_string())
            ]
        );
    }
}
