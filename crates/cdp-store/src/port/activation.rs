//! The activation ports: destinations, the outbox, runs of scheduled work.

use super::{done, done_all, page, Res};
use crate::repo::outbox;
use crate::AnyConnection;
use cdp_app::store::{self as app, Page};

impl app::OutboxStore for AnyConnection {
    fn enqueue(&mut self, facts: &[app::Fact], now: i64) -> Res<usize> {
        done(outbox::enqueue(self, facts, now))
    }
    fn add_destination(&mut self, row: &app::DestinationRow) -> Res<()> {
        done(outbox::add_destination(self, &row.into()))
    }
    fn destination(&mut self, id: &str) -> Res<app::DestinationRow> {
        done(outbox::destination(self, id))
    }
    fn destinations(&mut self) -> Res<Vec<app::DestinationRow>> {
        done_all(outbox::destinations(self))
    }
    fn save_destination(&mut self, row: &app::DestinationRow) -> Res<()> {
        done(outbox::save_destination(self, &row.into()))
    }
    fn remove_destination(&mut self, id: &str) -> Res<()> {
        done(outbox::remove_destination(self, id))
    }
    fn claim(&mut self, destination: &str, now: i64, lease_until: i64, limit: i64) -> Res<Vec<app::DeliveryRow>> {
        done_all(outbox::claim(self, destination, now, lease_until, limit))
    }
    fn has_due(&mut self, destination: &str, now: i64) -> Res<bool> {
        done(outbox::has_due(self, destination, now))
    }
    fn record_attempts(&mut self, attempts: &[app::Attempted]) -> Res<usize> {
        done(outbox::record_attempts(self, attempts))
    }
    fn release(&mut self, leases: &[(String, i64)], now: i64) -> Res<usize> {
        done(outbox::release(self, leases, now))
    }
    fn subjects(&mut self, profiles: &[String]) -> Res<std::collections::HashMap<String, app::Subject>> {
        done(crate::repo::profiles::subjects(self, profiles))
    }
    fn commit_lazily(&mut self) -> Res<()> {
        done(outbox::commit_lazily(self))
    }
    fn deliveries(
        &mut self,
        destination: &str,
        status: Option<&str>,
        before: Option<(i64, String)>,
        limit: i64,
    ) -> Res<Page<app::DeliveryRow>> {
        outbox::list(self, destination, status, before, limit).map(page).map_err(Into::into)
    }
    fn requeue(&mut self, destination: &str, from: i64, to: i64, status: Option<&str>, now: i64) -> Res<usize> {
        done(outbox::requeue(self, destination, from, to, status, now))
    }
}

impl app::JobStore for AnyConnection {
    fn run_for(&mut self, job: &str, slot: i64) -> Res<Option<app::JobRunRow>> {
        outbox::run_for(self, job, slot).map(|r| r.map(Into::into)).map_err(Into::into)
    }
    fn start_run(&mut self, row: &app::JobRunRow) -> Res<bool> {
        done(outbox::start_run(self, &row.into()))
    }
    fn finish_run(&mut self, row: &app::JobRunRow) -> Res<()> {
        done(outbox::finish_run(self, &row.into()))
    }
    fn runs(&mut self, job: Option<&str>, limit: i64) -> Res<Vec<app::JobRunRow>> {
        done_all(outbox::runs(self, job, limit))
    }
}
