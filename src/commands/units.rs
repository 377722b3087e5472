//! `units import` / `units list`: the registry.

use anyhow::Result;

use crate::cli::UnitsCommand;
use crate::config::{Config, Overrides};
use crate::units::Registry;

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
        UnitsCommand::Import { file } => {
            let new = Registry::load(file)?;
            let old = Registry::load(&config.units.file).unwrap_or_default();
            let (mut added, mut changed, mut removed) = (0, 0, 0);
            for u in new.units() {
                match old.by_code(&u.code) {
                    None => added += 1,
                    Some(o) if o != u => changed += 1,
                    Some(_) => {}
                }
            }
            for u in old.units() {
                if new.by_code(&u.code).is_none() {
                    removed += 1;
                }
            }
            let target = &config.units.file;
            new.save(target)?;
            println!(
                "Imported {} units into {}: {added} added, {changed} changed, {removed} removed",
                new.units().len(),
                target.display()
            );
        }
    }
    Ok(())
}
