//! `template`: the blank request template.

use anyhow::Result;

use crate::cli::TemplateArgs;
use crate::config::{Config, Overrides};

/// `template`: the blank request template.
pub fn template(config_path: &std::path::Path, args: &TemplateArgs) -> Result<()> {
    let config = Config::load(config_path, &Overrides::default())?;
    let text = crate::template::TemplateText::from_config(&config);
    crate::template::write(&text, &args.out)?;
    println!("Template written to {}", args.out.display());
    Ok(())
}
