//! The subscription report: users and usage per subscription and profile.
//!
//! The billing rule: a user is counted once per identity source, however many
//! profiles or subscriptions of that source they use. A person signing in
//! through two identity sources is two users, since the sources are separate
//! directories and nothing proves the two subjects are one person.

use super::directory::Directory;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Requests of one user through one profile on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub day: String,
    pub issuer: String,
    pub subject: String,
    pub username: String,
    pub profile: String,
    pub requests: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// First and last day counted (inclusive), when the report was limited.
    pub since: Option<String>,
    pub until: Option<String>,
    /// Billable users: distinct users summed over identity sources.
    pub billable_users: usize,
    pub identity_sources: Vec<SourceUsers>,
    pub subscriptions: Vec<SubscriptionUsage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceUsers {
    pub issuer: String,
    pub users: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionUsage {
    pub id: String,
    pub name: String,
    pub issuer: String,
    /// Distinct users of this subscription (one identity source, so one count each).
    pub users: usize,
    pub requests: i64,
    pub profiles: Vec<ProfileUsage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileUsage {
    pub id: String,
    pub name: String,
    pub region: String,
    pub users: usize,
    pub requests: i64,
}

/// Builds the report from the usage rows of the period. Profiles removed
/// since keep their usage under their id; every profile of a subscription is
/// listed, used or not.
pub fn build(
    directory: &Directory,
    rows: &[UsageRow],
    since: Option<&str>,
    until: Option<&str>,
    only_subscription: Option<&str>,
) -> Report {
    let in_period = |row: &&UsageRow| {
        since.is_none_or(|since| row.day.as_str() >= since)
            && until.is_none_or(|until| row.day.as_str() <= until)
    };
    let subscription_of = |profile: &str| {
        directory
            .profiles
            .get(profile)
            .map(|p| p.subscription.as_str())
    };
    let rows: Vec<&UsageRow> = rows
        .iter()
        .filter(in_period)
        .filter(|row| {
            only_subscription.is_none_or(|only| subscription_of(&row.profile) == Some(only))
        })
        .collect();

    let mut by_source: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for row in &rows {
        by_source
            .entry(row.issuer.trim_end_matches('/'))
            .or_default()
            .insert(row.subject.as_str());
    }
    let identity_sources: Vec<SourceUsers> = by_source
        .iter()
        .map(|(issuer, users)| SourceUsers {
            issuer: issuer.to_string(),
            users: users.len(),
        })
        .collect();
    let billable_users = identity_sources.iter().map(|s| s.users).sum();

    let subscriptions = directory
        .subscriptions
        .values()
        .filter(|s| only_subscription.is_none_or(|only| s.id == only))
        .map(|subscription| {
            let own: Vec<&&UsageRow> = rows
                .iter()
                .filter(|row| subscription_of(&row.profile) == Some(subscription.id.as_str()))
                .collect();
            let profiles = directory
                .profiles
                .values()
                .filter(|p| p.subscription == subscription.id)
                .map(|profile| {
                    let used: Vec<&&&UsageRow> =
                        own.iter().filter(|row| row.profile == profile.id).collect();
                    ProfileUsage {
                        id: profile.id.clone(),
                        name: profile.name.clone(),
                        region: profile.region.clone(),
                        users: distinct_users(
                            used.iter()
                                .map(|row| (row.issuer.as_str(), row.subject.as_str())),
                        ),
                        requests: used.iter().map(|row| row.requests).sum(),
                    }
                })
                .collect();
            SubscriptionUsage {
                id: subscription.id.clone(),
                name: subscription.name.clone(),
                issuer: subscription.issuer.clone(),
                users: distinct_users(
                    own.iter()
                        .map(|row| (row.issuer.as_str(), row.subject.as_str())),
                ),
                requests: own.iter().map(|row| row.requests).sum(),
                profiles,
            }
        })
        .collect();
    Report {
        since: since.map(str::to_string),
        until: until.map(str::to_string),
        billable_users,
        identity_sources,
        subscriptions,
    }
}

fn distinct_users<'a>(users: impl Iterator<Item = (&'a str, &'a str)>) -> usize {
    users
        .map(|(issuer, subject)| (issuer.trim_end_matches('/'), subject))
        .collect::<BTreeSet<_>>()
        .len()
}

/// Days are `YYYY-MM-DD`; anything else would compare wrongly as text.
pub fn check_day(what: &str, day: &str) -> Result<(), super::directory::DirectoryError> {
    let bytes = day.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    let month = day.get(5..7).and_then(|m| m.parse::<u8>().ok());
    let date = day.get(8..10).and_then(|d| d.parse::<u8>().ok());
    if shaped && matches!(month, Some(1..=12)) && matches!(date, Some(1..=31)) {
        Ok(())
    } else {
        Err(super::directory::DirectoryError::Invalid(format!(
            "{what} “{}” is not a date such as 2026-11-01",
            day.chars().take(20).collect::<String>()
        )))
    }
}
