//! The handles a host makes for an export's resource parameters, from the grants:
//! `i2c("BUS")` (or bare `i2c` when one bus is granted) and `delay` for the WASI-I2C
//! resources.

use anyhow::{bail, Result};
use wasi_hw_engine::Instance;
use wasi_hw_i2c::I2cHost;

use crate::types::Resource;
use crate::value::Node;

const I2C: (&str, &str) = ("wasi:i2c/i2c@", "i2c");
const DELAY: (&str, &str) = ("wasi:i2c/delay@", "delay");

fn is(r: &Resource, (interface, name): (&str, &str)) -> bool {
    r.interface.starts_with(interface) && r.name == name
}

/// Makes the handle of resource `r` that `arg` asks for in the instance's I2C table.
pub fn make(instance: &mut Instance, r: &Resource, arg: &Node) -> Result<u32> {
    let Some(host) = instance.extensions_mut().get_mut::<I2cHost>() else {
        bail!("no I2C state on this instance");
    };
    if is(r, I2C) {
        let bus = match arg {
            Node::Label(l, Some(p)) if l == "i2c" => match &**p {
                Node::Str(s) => s.clone(),
                _ => bail!("i2c(...) takes the bus name as a string, e.g. i2c(\"/dev/i2c-1\")"),
            },
            Node::Label(l, None) if l == "i2c" => {
                let names: Vec<&str> = host.bus_names().collect();
                match names.as_slice() {
                    [one] => one.to_string(),
                    _ => bail!(
                        "`i2c` without a bus name needs exactly one granted bus ({} are): \
                         write i2c(\"BUS\")",
                        names.len()
                    ),
                }
            }
            other => bail!("`{other}` for an i2c parameter: write i2c(\"BUS\")"),
        };
        return host.open_i2c(&bus).map_err(|_| {
            anyhow::anyhow!("i2c(\"{bus}\"): the bus is not granted (--i2c) or not available")
        });
    }
    if is(r, DELAY) {
        if !matches!(arg, Node::Label(l, None) if l == "delay") {
            bail!("`{arg}` for a delay parameter: write delay");
        }
        return Ok(host.open_delay()?);
    }
    bail!(
        "cannot make a handle of resource `{}` from `{}` (this host makes wasi:i2c i2c and delay handles)",
        r.name,
        r.interface
    )
}
