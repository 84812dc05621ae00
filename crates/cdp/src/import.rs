//! `cdp import`: a CSV file into the database, with a progress bar on a
//! terminal and plain progress lines otherwise, then one summary line.

use crate::BoxError;
use cdp_app::imports::{ImportOptions, ImportStart};
use cdp_app::store::ImportErrorRow;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Refused rows printed on stderr; `--errors FILE` keeps them all.
const SHOWN_ERRORS: usize = 20;

pub fn run(app: &cdp_app::App, file: &Path, opts: &ImportOptions, errors_to: Option<&Path>, out: &mut dyn Write) -> Result<(), BoxError> {
    let f = std::fs::File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let size = f.metadata()?.len();
    let terminal = std::io::stderr().is_terminal();
    let bar = if terminal {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut input = bar.wrap_read(f);
    let mut report = match errors_to {
        Some(p) => {
            let mut w = std::io::BufWriter::new(std::fs::File::create(p).map_err(|e| format!("cannot write {}: {e}", p.display()))?);
            writeln!(w, "row,field,code,message")?;
            Some(w)
        }
        None => None,
    };
    let (mut shown, mut refused, mut last) = (0usize, 0usize, None::<Instant>);
    let mut write_err: Option<std::io::Error> = None;
    let totals = app.import_csv(&mut input, opts, ImportStart::default(), &mut |p| {
        for e in &p.errors {
            refused += 1;
            if shown < SHOWN_ERRORS {
                shown += 1;
                bar.suspend(|| eprintln!("row {}: {} {}: {}", e.row, e.field, e.code, e.message));
            }
            if let Some(w) = report.as_mut() {
                if let Err(err) = writeln!(w, "{}", csv_line(e)) {
                    write_err.get_or_insert(err);
                }
            }
        }
        let line = format!("rows {}: imported {}, duplicates {}, rejected {}", p.rows_read, p.imported, p.duplicates, p.rejected);
        if terminal {
            bar.set_message(line);
        } else if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            last = Some(Instant::now());
            eprintln!("{line}");
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    if let Some(e) = write_err {
        return Err(format!("writing the error report: {e}").into());
    }
    if let Some(mut w) = report {
        w.flush()?;
    }
    if refused > shown {
        let hint = if errors_to.is_some() { "" } else { " (--errors FILE writes them all)" };
        eprintln!("… and {} more refused rows{hint}", refused - shown);
    }
    writeln!(out, "imported {}, duplicates {}, rejected {}", totals.imported, totals.duplicates, totals.rejected)?;
    Ok(())
}

fn csv_line(e: &ImportErrorRow) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    format!("{},{},{},{}", e.row, quote(&e.field), quote(&e.code), quote(&e.message))
}
