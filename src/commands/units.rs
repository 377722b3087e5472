//! `units import` / `units list`: the registry.

use std::io::Read;

use anyhow::{Context, Result, bail};

use crate::cli::UnitsCommand;
use crate::config::{Config, Overrides};
use crate::units::{Changes, MAX_REGISTRY_BYTES, Registry};

/// The most problems `units import` prints (it counts the rest).
const MAX_PRINTED_PROBLEMS: usize = 500;

/// `units import` / `units list`.
pub fn units(config_path: &std::path::Path, command: &UnitsCommand) -> Result<()> {
    let config = Config::load(config_path, &Overrides::default())?;
    match command {
        UnitsCommand::List => {
            let registry = Registry::load(&config.units.file)?;
            for u in registry.units() {
                println!("{}\t{}\t{}\t{}", u.code, u.name, u.kind, u.emails.join(";"));
            }
            eprintln!(
                "{} units in {}",
                registry.units().len(),
                config.units.file.display()
            );
        }
        UnitsCommand::Import { file, force } => import(&config, file, *force)?,
    }
    Ok(())
}

/// Checks `file` and installs it as the configured registry (the file a running daemon and desk
/// reload when it changes), printing the units added, changed and removed. Nothing is written
/// when the file has a problem (all are printed, with their lines) or would remove more than
/// half of the units registered now, unless `force`.
fn import(config: &Config, file: &std::path::Path, force: bool) -> Result<()> {
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .take(MAX_REGISTRY_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", file.display()))?;
    if bytes.len() as u64 > MAX_REGISTRY_BYTES {
        bail!(
            "{} is larger than {} MiB: not a units registry; nothing written",
            file.display(),
            MAX_REGISTRY_BYTES >> 20
        );
    }
    let new = match Registry::parse_import(&bytes) {
        Ok(r) => r,
        Err(problems) => {
            for p in problems.iter().take(MAX_PRINTED_PROBLEMS) {
                eprintln!("{}: {p}", file.display());
            }
            if problems.len() > MAX_PRINTED_PROBLEMS {
                eprintln!(
                    "... and {} more problems",
                    problems.len() - MAX_PRINTED_PROBLEMS
                );
            }
            bail!(
                "{} problem(s) in {}; nothing written",
                problems.len(),
                file.display()
            );
        }
    };
    let target = &config.units.file;
    let old = if target.exists() {
        Registry::load(target).unwrap_or_else(|e| {
            eprintln!("warning: the registry installed now cannot be read ({e:#}); replacing it");
            Registry::default()
        })
    } else {
        Registry::default()
    };
    let changes = Changes::between(&old, &new);
    if changes.removed.len() * 2 > old.units().len() && !force {
        bail!(
            "{} would remove {} of the {} units in {} ({}); nothing written. Check the file, \
             or run again with --force if that is meant",
            file.display(),
            changes.removed.len(),
            old.units().len(),
            target.display(),
            changes.removed.join(", ")
        );
    }
    for code in &changes.added {
        println!("added {code}");
    }
    for (code, fields) in &changes.changed {
        println!("changed {code} ({})", fields.join(", "));
    }
    for code in &changes.removed {
        println!("removed {code}");
    }
    new.save(target)?;
    println!(
        "Imported {} units into {}: {} added, {} changed, {} removed",
        new.units().len(),
        target.display(),
        changes.added.len(),
        changes.changed.len(),
        changes.removed.len()
    );
    Ok(())
}
