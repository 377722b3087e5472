//! `remind`: write a reminder into the outbox for each unit with no accepted list or no matching
//! paper copy, from N days before the deadline, at most once a day per unit; then deliver the
//! outbox as `run` does (.eml files when no SMTP server is configured).

use anyhow::Result;

use crate::cli::RemindArgs;
use crate::config::Config;
use crate::daemon::Intake;
use crate::remind::{self, Reason};
use crate::wording as w;

/// `remind`: remind the units that need it today.
pub fn remind(config_path: &std::path::Path, args: &RemindArgs) -> Result<()> {
    let config = Config::load(config_path, &args.paths.overrides())?;
    let deadline = config.campaign.deadline;
    let today = args.today.unwrap_or_else(|| {
        chrono::Utc::now()
            .with_timezone(&deadline.timezone())
            .date_naive()
    });
    let first = remind::first_day(deadline, args.days);
    if today < first {
        println!(
            "{}",
            w::remind_not_yet(
                &first.format("%d/%m/%Y").to_string(),
                &deadline.format("%H:%M ngày %d/%m/%Y").to_string()
            )
        );
        return Ok(());
    }
    let day = today.format("%Y-%m-%d").to_string();
    let mut intake = Intake::open(config)?;
    let rec = crate::report::build(&intake.store, &intake.registry, &intake.config)?;
    let mut written = 0;
    for due in remind::due(&rec) {
        let unit = format!("{} ({})", due.unit_code, due.unit_name);
        let no_list = due.reason == Reason::NoList;
        let to = due.emails.join(", ");
        if due.emails.is_empty() {
            println!(
                "{}",
                w::remind_line(w::REMIND_NO_ADDRESS, &unit, no_list, "-")
            );
            continue;
        }
        if intake.store.reminded_on(&due.unit_code, &day)? {
            println!("{}", w::remind_line(w::REMIND_ALREADY, &unit, no_list, &to));
            continue;
        }
        if args.dry_run {
            println!("{}", w::remind_line(w::REMIND_WOULD, &unit, no_list, &to));
            continue;
        }
        let mail = remind::render(
            &remind::compose(&due, today, &intake.config),
            &intake.config,
        )?;
        if intake
            .store
            .add_reminder(&due.unit_code, &day, due.reason.code(), &mail)?
        {
            written += 1;
            println!("{}", w::remind_line(w::REMIND_WRITTEN, &unit, no_list, &to));
        }
    }
    if !args.dry_run {
        let delivered = intake.deliver()?;
        eprintln!(
            "{written} reminders written; {delivered} outbox mails delivered into {}",
            intake.config.outbox_dir().display()
        );
    }
    Ok(())
}
