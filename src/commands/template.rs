//! `template`: the blank request template.

use anyhow::Result;

use crate::cli::TemplateArgs;
use crate::config::{Config, Overrides};

/// `template`: the blank request template.
pub fn template(config_path: &std::path::Path, args: &TemplateArgs) -> Result<()> {
    let config = Config::load(config_path, &Overrides::default())?;
    let c = &config.campaign;
    let text = crate::template::TemplateText {
        issuer_lines: c.issuer_lines.clone(),
        title: c.title.clone(),
        department_address: c.department_address.clone(),
        paper_copy: format!(
            "{}, trước {}",
            c.paper_room,
            c.deadline.format("%H:%M ngày %d/%m/%Y")
        ),
    };
    crate::template::write(&text, &args.out)?;
    println!("Template written to {}", args.out.display());
    Ok(())
}
