//! The `-W` option group, spelled as wasmtime spells it: the controls on a guest. `fuel=N`
//! compiles code that consumes fuel and gives the store N units; `timeout=DURATION` compiles
//! code with epoch checks and stops the guest once DURATION has passed; `max-*` and
//! `trap-on-grow-failure` bound what the guest may allocate (a `StoreLimits`);
//! `max-wasm-stack` is the engine setting of that name (also `-O max-wasm-stack`), and
//! `consume-fuel` and `epoch-interruption` turn the instrumentation on by itself. Several
//! keys may share one `-W`, separated by commas; a yes/no key alone means yes.
use anyhow::{Result, anyhow, bail};
use kiln::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use kiln_environ::settings;
use std::time::Duration;

/// The keys of the store (the engine's are in `kiln_environ::settings`), each with its
/// value's form and what it does (for messages).
const KEYS: &[(&str, &str)] = &[
    ("fuel", "N: run with N units of fuel, then trap"),
    ("timeout", "DURATION (500ms, 2s, 1m): trap once it has passed"),
    ("max-memory-size", "BYTES: the most bytes one memory may have"),
    ("max-table-elements", "N: the most elements one table may have"),
    ("max-instances", "N: the most instances"),
    ("max-tables", "N: the most tables"),
    ("max-memories", "N: the most memories"),
    ("trap-on-grow-failure", "y|n: a refused memory.grow or table.grow traps instead of returning -1"),
];

/// What `-W` asked for.
#[derive(Default)]
pub struct WasmOptions {
    /// Engine settings, as `Config::set` keys and values.
    engine: Vec<(String, String)>,
    fuel: Option<u64>,
    timeout: Option<Duration>,
    limits: Option<StoreLimitsBuilder>,
}

impl WasmOptions {
    /// Parse every `-W` option.
    pub fn parse(options: &[String]) -> Result<WasmOptions> {
        let mut w = WasmOptions::default();
        for (key, value) in crate::items(options) {
            w.set(key, value).map_err(|e| anyhow!("-W {key}={value}: {e}"))?;
        }
        Ok(w)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let number = || value.parse::<usize>().map_err(|_| anyhow!("expected a number, got `{value}`"));
        let bytes = || -> Result<usize> {
            let n = kiln::parse_bytes(key, value).map_err(|e| anyhow!("{e}"))?;
            usize::try_from(n).map_err(|_| anyhow!("`{value}` is too large"))
        };
        let limits = self.limits.take().unwrap_or_default();
        self.limits = Some(match key {
            "fuel" => {
                self.fuel = Some(value.parse().map_err(|_| anyhow!("expected a number of units, got `{value}`"))?);
                self.engine.push(("consume-fuel".into(), "y".into()));
                limits
            }
            "timeout" => {
                self.timeout = Some(parse_duration(value)?);
                self.engine.push(("epoch-interruption".into(), "y".into()));
                limits
            }
            _ if settings::setting(key).is_some_and(|s| s.group == settings::Group::Wasm) => {
                self.engine.push((key.into(), value.into()));
                limits
            }
            "max-memory-size" => limits.memory_size(bytes()?),
            "max-table-elements" => limits.table_elements(number()?),
            "max-instances" => limits.instances(number()?),
            "max-tables" => limits.tables(number()?),
            "max-memories" => limits.memories(number()?),
            "trap-on-grow-failure" => {
                limits.trap_on_grow_failure(kiln::parse_bool(key, value).map_err(|e| anyhow!("{e}"))?)
            }
            _ => bail!("unknown option; the known ones are:\n{}", help()),
        });
        Ok(())
    }

    /// Apply the engine settings to `config`.
    pub fn configure(&self, config: &mut Config) -> Result<()> {
        for (key, value) in &self.engine {
            config.set(key, value).map_err(|e| anyhow!("-W {key}={value}: {e}"))?;
        }
        Ok(())
    }

    /// The store's limits (the defaults where none were asked for).
    pub fn limits(&self) -> StoreLimits {
        self.limits.clone().unwrap_or_default().build()
    }

    /// Give `store` its fuel, and start the clock of its timeout: a thread that advances
    /// the engine's epoch past the store's deadline once the timeout has passed.
    pub fn start<T>(&self, engine: &Engine, store: &mut Store<T>) -> Result<()> {
        if let Some(fuel) = self.fuel {
            store.set_fuel(fuel)?;
        }
        if let Some(timeout) = self.timeout {
            store.set_epoch_deadline(1);
            let engine = engine.clone();
            std::thread::Builder::new().name("kiln-timeout".into()).spawn(move || {
                std::thread::sleep(timeout);
                engine.increment_epoch();
            })?;
        }
        // Epoch checks (`-W epoch-interruption`) without a timeout keep the deadline at 0, as
        // in wasmtime: the guest stops at its first check.
        Ok(())
    }
}

/// The `-W` keys: the store's, then the engine's.
pub fn help() -> String {
    format!("-W: what wasm may do\n{}{}", crate::key_help(KEYS), settings::help(settings::Group::Wasm))
}

/// `500ms`, `2s`, `1m`, `1h`, `100us`, `10ns`; a bare number is seconds.
fn parse_duration(text: &str) -> Result<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().map_err(|_| anyhow!("expected a duration such as 500ms, 2s or 1m, got `{text}`"))?;
    let seconds = match unit {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" => n / 1e6,
        "ns" => n / 1e9,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("unknown unit `{unit}` in `{text}` (known: ns, us, ms, s, m, h)"),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| anyhow!("`{text}` is not a duration Kiln can wait"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_keys_parse() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("2 weeks").is_err());
        assert!(parse_duration("ms").is_err());
        let w = WasmOptions::parse(&["fuel=10,max-memory-size=64k".into(), "trap-on-grow-failure".into()]).unwrap();
        assert_eq!(w.fuel, Some(10));
        assert_eq!(w.engine, vec![("consume-fuel".to_string(), "y".to_string())]);
        assert_eq!(
            format!("{:?}", w.limits()),
            format!("{:?}", StoreLimitsBuilder::new().memory_size(65536).trap_on_grow_failure(true).build())
        );
        let e = WasmOptions::parse(&["fule=1".into()]).err().unwrap().to_string();
        assert!(e.starts_with("-W fule=1: unknown option; the known ones are:\n-W: what wasm may do\n  fuel=N"), "{e}");
        assert!(WasmOptions::parse(&["max-instances=lots".into()]).is_err());
    }
}
