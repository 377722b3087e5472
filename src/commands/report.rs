//! `report`: the staff workbook and the CSVs.

use anyhow::Result;

use crate::cli::ReportArgs;
use crate::config::Config;
use crate::store::Store;
use crate::units::Registry;

/// `report`: write the workbook, the HTML page and the CSVs.
pub fn report(config_path: &std::path::Path, args: &ReportArgs) -> Result<()> {
    let config = Config::load(config_path, &args.paths.overrides())?;
    let registry = Registry::load(&config.units.file)?;
    let store = Store::open(&config.database_path())?;
    crate::report::rewrite(&store, &registry, &config, &args.out)?;
    println!("Report written to {}", args.out.display());
    Ok(())
}
