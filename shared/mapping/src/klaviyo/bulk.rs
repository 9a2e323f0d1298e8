//! Packing events and profiles into Klaviyo's bulk jobs (revision 2026-07-15):
//!
//! - `POST /api/event-bulk-create-jobs` (`bulk_create_events`): "up to 1,000 events per request.
//!   The maximum allowed payload size is 5MB", events grouped per profile as
//!   `event-bulk-create` entries. A `unique_id` repeated for the same profile and metric makes
//!   "the request … fail and no events will be processed" (SPEC
//!   `BaseEventCreateQueryBulkEntryResourceObject.unique_id`), unlike a single create, which
//!   keeps the first. So a job never holds two events with the same metric and `unique_id`:
//!   identical repeats are dropped, differing ones go to a later job. The key leaves the
//!   profile out on purpose: Klaviyo may resolve two differently written profiles (one with a
//!   phone, one without) to the same person, and the key must hold whatever it resolves.
//! - `POST /api/profile-bulk-import-jobs` (`bulk_import_profiles`): "up to 10,000 profiles per
//!   request. The maximum allowed payload size is 5MB. The maximum allowed payload size
//!   per-profile is 100KB." No two profiles of a job share an email, phone number or
//!   external id, for the same reason.
//!
//! Sizes are the exact bytes of the compact JSON body. "5MB" and "100KB" are read as
//! 5,000,000 and 100,000 bytes, the smaller of the decimal and binary readings. What cannot
//! fit any job (one event or profile over the limits by itself) comes back as a single
//! request, so everything put in comes out exactly once.

use super::request::{
    EventBulkJob, EventRequest, KlaviyoRequest, Profile, ProfileBulkJob, ProfileImport,
};
use super::wire::sizes;
use std::collections::{HashMap, HashSet};

/// Limits of one bulk job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkLimits {
    /// Events or profiles per job.
    pub max_items: usize,
    /// Bytes of the whole body.
    pub max_bytes: usize,
    /// Bytes of one event or profile inside the body.
    pub max_item_bytes: usize,
}

impl BulkLimits {
    /// `POST /api/event-bulk-create-jobs`.
    pub const EVENTS: BulkLimits = BulkLimits {
        max_items: 1_000,
        max_bytes: 5_000_000,
        max_item_bytes: 5_000_000,
    };
    /// `POST /api/profile-bulk-import-jobs`.
    pub const PROFILES: BulkLimits = BulkLimits {
        max_items: 10_000,
        max_bytes: 5_000_000,
        max_item_bytes: 100_000,
    };
}

/// Event bulk jobs for `events` within [`BulkLimits::EVENTS`], in input order as far as the
/// limits allow; events no job can hold come last as single creates.
pub fn pack_events(events: impl IntoIterator<Item = EventRequest>) -> Vec<KlaviyoRequest> {
    pack_events_within(events, BulkLimits::EVENTS)
}

/// Profile bulk jobs for `profiles` within [`BulkLimits::PROFILES`]; profiles no job can hold
/// (or that Klaviyo could not identify) come last as single imports.
pub fn pack_profiles(profiles: impl IntoIterator<Item = Profile>) -> Vec<KlaviyoRequest> {
    pack_profiles_within(profiles, BulkLimits::PROFILES)
}

struct EventJob {
    entries: Vec<Vec<EventRequest>>,
    /// Entry index by the profile's JSON.
    by_profile: HashMap<String, usize>,
    keys: HashSet<String>,
    count: usize,
    bytes: usize,
}

impl EventJob {
    fn into_request(self) -> KlaviyoRequest {
        KlaviyoRequest::BulkCreateEvents(EventBulkJob {
            entries: self.entries,
            bytes: self.bytes,
        })
    }
}

/// [`pack_events`] with other limits (tests use small ones to reach every boundary).
pub fn pack_events_within(
    events: impl IntoIterator<Item = EventRequest>,
    limits: BulkLimits,
) -> Vec<KlaviyoRequest> {
    let mut packer = EventPacker::new(limits);
    events.into_iter().for_each(|e| packer.push(e));
    packer.finish()
}

/// Packs events as they arrive, so a long import never holds all of them: [`push`] each
/// event, send what [`take_ready`] hands back whenever convenient, and [`finish`] at the end.
/// Every job keeps the limits and never holds a repeated key. An identical repeat is dropped
/// while the job holding the first is still in the packer; after that job was taken it goes
/// into a new job, which Klaviyo then keeps once by `unique_id`.
///
/// [`push`]: EventPacker::push
/// [`take_ready`]: EventPacker::take_ready
/// [`finish`]: EventPacker::finish
pub struct EventPacker {
    limits: BulkLimits,
    shell: usize,
    /// Jobs by number; `None` once taken.
    jobs: Vec<Option<EventJob>>,
    /// Where each dedup key sits in the jobs still held, as (job, entry, index).
    placed: HashMap<String, Vec<(usize, usize, usize)>>,
    entry_shells: HashMap<String, usize>,
    singles: Vec<KlaviyoRequest>,
    /// Jobs before this one are full or taken.
    first_open: usize,
    /// The smallest event seen, in bytes: a job with less room than that is done.
    smallest: usize,
}

impl EventPacker {
    pub fn new(limits: BulkLimits) -> Self {
        EventPacker {
            limits,
            shell: sizes::event_job_shell(),
            jobs: Vec::new(),
            placed: HashMap::new(),
            entry_shells: HashMap::new(),
            singles: Vec::new(),
            first_open: 0,
            smallest: usize::MAX,
        }
    }

    pub fn push(&mut self, event: EventRequest) {
        let limits = self.limits;
        let key = dedup_key(&event);
        let jobs = &self.jobs;
        let repeat = self.placed.get(&key).is_some_and(|at| {
            at.iter().any(|&(j, e, i)| {
                jobs[j]
                    .as_ref()
                    .is_some_and(|job| job.entries[e][i] == event)
            })
        });
        if repeat {
            return;
        }
        let profile_key = serde_json::to_string(&*event.profile).unwrap_or_default();
        let entry_shell = *self
            .entry_shells
            .entry(profile_key.clone())
            .or_insert_with(|| sizes::entry_shell(&event.profile));
        let event_len = sizes::event(&event);
        if event_len > limits.max_item_bytes
            || self.shell + entry_shell + event_len > limits.max_bytes
            || limits.max_items == 0
        {
            let request = KlaviyoRequest::CreateEvent(event);
            if !self.singles.contains(&request) {
                self.singles.push(request);
            }
            return;
        }
        self.smallest = self.smallest.min(event_len + 1);
        while self
            .jobs
            .get(self.first_open)
            .is_some_and(|job| job.as_ref().is_none_or(|j| j.count >= limits.max_items))
        {
            self.first_open += 1;
        }
        let fits = |job: &EventJob| {
            if job.count >= limits.max_items || job.keys.contains(&key) {
                return None;
            }
            let added = if job.by_profile.contains_key(&profile_key) {
                event_len + 1
            } else {
                entry_shell + event_len + usize::from(!job.entries.is_empty())
            };
            (job.bytes + added <= limits.max_bytes).then_some(added)
        };
        let found = (self.first_open..self.jobs.len()).find_map(|j| {
            let added = fits(self.jobs[j].as_ref()?)?;
            Some((j, added))
        });
        let (j, added) = match found {
            Some(found) => found,
            None => {
                self.jobs.push(Some(EventJob {
                    entries: Vec::new(),
                    by_profile: HashMap::new(),
                    keys: HashSet::new(),
                    count: 0,
                    bytes: self.shell,
                }));
                (self.jobs.len() - 1, entry_shell + event_len)
            }
        };
        let Some(job) = self.jobs[j].as_mut() else {
            return;
        };
        let e = match job.by_profile.get(&profile_key) {
            Some(&e) => e,
            None => {
                job.entries.push(Vec::new());
                job.by_profile.insert(profile_key, job.entries.len() - 1);
                job.entries.len() - 1
            }
        };
        self.placed
            .entry(key.clone())
            .or_default()
            .push((j, e, job.entries[e].len()));
        job.keys.insert(key);
        job.entries[e].push(event);
        job.count += 1;
        job.bytes += added;
    }

    /// The jobs that are done (at the event limit, or with less room than the smallest event
    /// seen) and the single creates so far, removed from the packer.
    pub fn take_ready(&mut self) -> Vec<KlaviyoRequest> {
        let limits = self.limits;
        let smallest = self.smallest;
        let mut out = Vec::new();
        for j in 0..self.jobs.len() {
            let done = self.jobs[j].as_ref().is_some_and(|job| {
                job.count >= limits.max_items
                    || limits.max_bytes.saturating_sub(job.bytes) < smallest
            });
            if done && let Some(job) = self.jobs[j].take() {
                self.forget(j, &job);
                out.push(job.into_request());
            }
        }
        out.append(&mut self.singles);
        out
    }

    /// Every job left, then the single creates.
    pub fn finish(self) -> Vec<KlaviyoRequest> {
        self.jobs
            .into_iter()
            .flatten()
            .map(EventJob::into_request)
            .chain(self.singles)
            .collect()
    }

    fn forget(&mut self, j: usize, job: &EventJob) {
        for key in &job.keys {
            if let Some(at) = self.placed.get_mut(key) {
                at.retain(|&(job, _, _)| job != j);
                if at.is_empty() {
                    self.placed.remove(key);
                }
            }
        }
    }
}

/// Metric and `unique_id`; without one Klaviyo keys on the time to the second (and on the
/// receive time when there is no time), so the time stands in.
fn dedup_key(event: &EventRequest) -> String {
    match (&event.unique_id, &event.time) {
        (Some(unique), _) => [event.metric.as_str(), "\0id\0", unique].concat(),
        (None, Some(time)) => [event.metric.as_str(), "\0time\0", whole_seconds(time)].concat(),
        (None, None) => [event.metric.as_str(), "\0now"].concat(),
    }
}

/// An RFC 3339 time up to its seconds (Klaviyo truncates to the second).
fn whole_seconds(time: &str) -> &str {
    time.find('.').map_or(time, |dot| &time[..dot])
}

struct ProfileJob {
    profiles: Vec<Profile>,
    ids: HashSet<String>,
    bytes: usize,
}

impl ProfileJob {
    fn into_request(self) -> KlaviyoRequest {
        KlaviyoRequest::BulkImportProfiles(ProfileBulkJob {
            profiles: self.profiles,
            bytes: self.bytes,
        })
    }
}

/// [`pack_profiles`] with other limits.
pub fn pack_profiles_within(
    profiles: impl IntoIterator<Item = Profile>,
    limits: BulkLimits,
) -> Vec<KlaviyoRequest> {
    let mut packer = ProfilePacker::new(limits);
    profiles.into_iter().for_each(|p| packer.push(p));
    packer.finish()
}

/// Packs profiles as they arrive, like [`EventPacker`]: no job holds two profiles sharing an
/// identifier, and an identical repeat is dropped while the job holding the first is held.
pub struct ProfilePacker {
    limits: BulkLimits,
    shell: usize,
    /// Jobs by number; `None` once taken.
    jobs: Vec<Option<ProfileJob>>,
    /// Where each identifier sits in the jobs still held, as (job, index).
    placed: HashMap<String, Vec<(usize, usize)>>,
    singles: Vec<KlaviyoRequest>,
    first_open: usize,
    smallest: usize,
}

impl ProfilePacker {
    pub fn new(limits: BulkLimits) -> Self {
        ProfilePacker {
            limits,
            shell: sizes::profile_job_shell(),
            jobs: Vec::new(),
            placed: HashMap::new(),
            singles: Vec::new(),
            first_open: 0,
            smallest: usize::MAX,
        }
    }

    pub fn push(&mut self, profile: Profile) {
        let limits = self.limits;
        let ids = identifiers(&profile);
        let jobs = &self.jobs;
        let repeat = ids.iter().any(|id| {
            self.placed.get(id).is_some_and(|at| {
                at.iter().any(|&(j, i)| {
                    jobs[j]
                        .as_ref()
                        .is_some_and(|job| job.profiles[i] == profile)
                })
            })
        });
        if repeat {
            return;
        }
        let len = sizes::profile(&profile);
        if ids.is_empty()
            || len > limits.max_item_bytes
            || self.shell + len > limits.max_bytes
            || limits.max_items == 0
        {
            let request = KlaviyoRequest::ImportProfile(ProfileImport { profile });
            if !self.singles.contains(&request) {
                self.singles.push(request);
            }
            return;
        }
        self.smallest = self.smallest.min(len + 1);
        while self.jobs.get(self.first_open).is_some_and(|job| {
            job.as_ref()
                .is_none_or(|j| j.profiles.len() >= limits.max_items)
        }) {
            self.first_open += 1;
        }
        let fits = |job: &ProfileJob| {
            let added = len + usize::from(!job.profiles.is_empty());
            (job.profiles.len() < limits.max_items
                && !ids.iter().any(|id| job.ids.contains(id))
                && job.bytes + added <= limits.max_bytes)
                .then_some(added)
        };
        let found = (self.first_open..self.jobs.len()).find_map(|j| {
            let added = fits(self.jobs[j].as_ref()?)?;
            Some((j, added))
        });
        let (j, added) = match found {
            Some(found) => found,
            None => {
                self.jobs.push(Some(ProfileJob {
                    profiles: Vec::new(),
                    ids: HashSet::new(),
                    bytes: self.shell,
                }));
                (self.jobs.len() - 1, len)
            }
        };
        let Some(job) = self.jobs[j].as_mut() else {
            return;
        };
        for id in ids {
            self.placed
                .entry(id.clone())
                .or_default()
                .push((j, job.profiles.len()));
            job.ids.insert(id);
        }
        job.profiles.push(profile);
        job.bytes += added;
    }

    /// The jobs that are done (at the profile limit, or with less room than the smallest
    /// profile seen) and the single imports so far, removed from the packer.
    pub fn take_ready(&mut self) -> Vec<KlaviyoRequest> {
        let limits = self.limits;
        let smallest = self.smallest;
        let mut out = Vec::new();
        for j in 0..self.jobs.len() {
            let done = self.jobs[j].as_ref().is_some_and(|job| {
                job.profiles.len() >= limits.max_items
                    || limits.max_bytes.saturating_sub(job.bytes) < smallest
            });
            if done && let Some(job) = self.jobs[j].take() {
                for id in &job.ids {
                    if let Some(at) = self.placed.get_mut(id) {
                        at.retain(|&(held, _)| held != j);
                        if at.is_empty() {
                            self.placed.remove(id);
                        }
                    }
                }
                out.push(job.into_request());
            }
        }
        out.append(&mut self.singles);
        out
    }

    /// Every job left, then the single imports.
    pub fn finish(self) -> Vec<KlaviyoRequest> {
        self.jobs
            .into_iter()
            .flatten()
            .map(ProfileJob::into_request)
            .chain(self.singles)
            .collect()
    }
}

/// The identifiers Klaviyo matches a profile on; emails compared without case.
fn identifiers(profile: &Profile) -> Vec<String> {
    let mut ids = Vec::with_capacity(3);
    if let Some(email) = &profile.email {
        ids.push(["email\0", &email.to_lowercase()].concat());
    }
    if let Some(phone) = &profile.phone_number {
        ids.push(["phone\0", phone].concat());
    }
    if let Some(external) = &profile.external_id {
        ids.push(["external\0", external].concat());
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::klaviyo::Properties;

    fn event(metric: &str, unique: &str) -> EventRequest {
        let profile = Profile {
            external_id: Some("salla:1:customer:2".into()),
            ..Profile::default()
        };
        let mut e = EventRequest::new(metric, profile, Properties::new());
        e.unique_id = Some(unique.into());
        e
    }

    #[test]
    fn a_conflicting_repeat_goes_to_a_later_job_and_an_identical_one_is_dropped() {
        let a = event("Placed Order", "u1");
        let mut b = a.clone();
        b.value = Some(5.0);
        let out = pack_events([a.clone(), a.clone(), b.clone()]);
        assert_eq!(out.len(), 2);
        let KlaviyoRequest::BulkCreateEvents(first) = &out[0] else {
            panic!("a job")
        };
        assert_eq!(first.events().collect::<Vec<_>>(), [&a]);
    }

    #[test]
    fn the_time_stands_in_for_a_missing_unique_id() {
        let mut a = event("Logged In", "x");
        a.unique_id = None;
        a.time = Some("2026-01-01T10:00:00.250+03:00".into());
        let mut b = a.clone();
        b.time = Some("2026-01-01T10:00:00.750+03:00".into());
        assert_eq!(dedup_key(&a), dedup_key(&b));
        assert_eq!(pack_events([a, b]).len(), 2);
    }
}
