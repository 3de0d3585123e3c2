//! The 1-, 2- and 3-core schedules of a vendor program, derived from the
//! task records, the PC tails and the relocation table.
//!
//! What the files show (rknn-toolkit2 2.5.0, rk3588; `docs/npu.md`):
//!
//! * The task array holds the schedules one after another: the 1-core
//!   schedule, then the 2-core one, then the 3-core one.
//! * Each schedule is a run of per-core task lists: core 0's list (every
//!   operation, in order), then core 1's list, then core 2's (only the
//!   operations split over cores). In a list `op_idx` never decreases.
//! * Every relocation entry carries `(1, core)`: the core, within its
//!   schedule, that runs the task whose stream holds the relocated word.
//!   Tasks without such relocations (LUT uploads, whose relocations carry
//!   no pairs) belong to the list around them.
//! * Tasks of one operation on one core are chained by their PC tails;
//!   tasks shared between schedules (a stream used by several task
//!   records) keep the tail of the 1-core schedule, so tails are not
//!   followed across operations.
//!
//! A schedule runs as a sequence of [`Step`]s: one per operation, each
//! with a task range per core that takes part; the next step starts when
//! every core of the previous one is done. Consecutive single-core steps
//! whose tasks are contiguous and chained are merged into one.

use std::collections::HashMap;

use crate::driver::TaskRange;
use crate::model::vendor::{Task, VendorModel};
use crate::model::ModelError;
use crate::platform::Platform;

use super::super::pc;

/// One core's share of a step: schedule-relative core index and tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// Core index inside the schedule (0 = first selected core).
    pub core: u32,
    /// The task records this core runs, chained by their tails.
    pub tasks: TaskRange,
}

/// Work that runs at once on one or more cores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// One part per core taking part, lowest core first.
    pub parts: Vec<Part>,
}

/// The program for one core count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Cores the schedule was compiled for (1, 2 or 3).
    pub cores: u32,
    /// Steps, in order.
    pub steps: Vec<Step>,
}

fn invalid<T>(m: String) -> Result<T, ModelError> {
    Err(ModelError::Invalid(m))
}

/// Whether task `a`'s tail chains to task `b`'s stream.
fn chains(tails: &[pc::Tail], tasks: &[Task], a: usize, b: usize, platform: Platform) -> bool {
    let t = &tails[a];
    t.next == Some(tasks[b].regcmd_addr as u32)
        && t.next_amount == pc::data_amount(tasks[b].regcfg_amount, platform)
}

/// The core each task runs on within its schedule, from the relocation
/// table; `None` for tasks without relocated words.
fn task_cores(model: &VendorModel) -> Result<Vec<Option<u32>>, ModelError> {
    let mut word_core: HashMap<u32, u32> = HashMap::new();
    for r in &model.relocations {
        if r.pairs.is_empty() {
            continue;
        }
        if r.pairs.len() != r.entries.len() {
            return invalid(format!(
                "relocation {}: {} entries but {} core pairs",
                r.name,
                r.entries.len(),
                r.pairs.len()
            ));
        }
        for (e, &(_, core)) in r.entries.iter().zip(&r.pairs) {
            if let Some(old) = word_core.insert(e.word, core) {
                if old != core {
                    return invalid(format!(
                        "regcmd word {} is relocated for cores {old} and {core}",
                        e.word
                    ));
                }
            }
        }
    }
    model
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let first = (t.regcmd_addr / 8) as u32;
            let mut core = None;
            for w in first..first + t.regcfg_amount {
                if let Some(&c) = word_core.get(&w) {
                    if core.is_some_and(|k| k != c) {
                        return invalid(format!(
                            "task {i}: its stream has relocations for cores {} and {c}",
                            core.unwrap_or(0)
                        ));
                    }
                    core = Some(c);
                }
            }
            Ok(core)
        })
        .collect()
}

/// Splits the task array into per-core lists `(core, first..=last)`.
fn core_lists(
    model: &VendorModel,
    tails: &[pc::Tail],
    cores: &[Option<u32>],
    platform: Platform,
) -> Result<Vec<(u32, usize, usize)>, ModelError> {
    let tasks = &model.tasks;
    let mut lists = Vec::new();
    let mut start = 0;
    for i in 1..=tasks.len() {
        let boundary = i == tasks.len()
            || tasks[i].op_idx < tasks[i - 1].op_idx
            || matches!((cores[i - 1], cores[i]), (Some(a), Some(b)) if a != b)
            || (tasks[i].op_idx == tasks[i - 1].op_idx
                && !chains(tails, tasks, i - 1, i, platform));
        if !boundary {
            continue;
        }
        let mut known = cores[start..i].iter().flatten();
        let core = match known.next() {
            Some(&c) => c,
            None => {
                return invalid(format!(
                    "tasks {start}..{i}: no relocated word tells which core runs them"
                ))
            }
        };
        lists.push((core, start, i - 1));
        start = i;
    }
    Ok(lists)
}

/// Derives and validates the schedules of `model`; `tails` are the parsed
/// tails of every task's stream.
pub fn derive(
    model: &VendorModel,
    tails: &[pc::Tail],
    platform: Platform,
) -> Result<Vec<Schedule>, ModelError> {
    let tasks = &model.tasks;
    if tasks.is_empty() {
        return invalid("the program has no tasks".into());
    }
    let cores = task_cores(model)?;
    let lists = core_lists(model, tails, &cores, platform)?;
    let max_cores = platform.cores();
    let mut groups: Vec<Vec<(u32, usize, usize)>> = Vec::new();
    for (core, first, last) in lists {
        if core == 0 {
            groups.push(Vec::new());
        }
        let Some(group) = groups.last_mut() else {
            return invalid(format!(
                "tasks {first}..={last} run on core {core} but no core-0 list precedes them"
            ));
        };
        let expected = group.len() as u32;
        if core != expected {
            return invalid(format!(
                "tasks {first}..={last} run on core {core}; expected the list of core {expected}"
            ));
        }
        group.push((core, first, last));
    }
    if groups.len() as u32 > max_cores {
        return invalid(format!(
            "the task array holds {} schedules but {} has {max_cores} core(s)",
            groups.len(),
            platform.name()
        ));
    }
    let mut schedules = Vec::new();
    for (s, group) in groups.iter().enumerate() {
        let n = s as u32 + 1;
        if group.len() as u32 > n {
            return invalid(format!(
                "schedule {s} (for {n} core(s)) has task lists for {} cores",
                group.len()
            ));
        }
        let first_ops: Vec<u32> = group.iter().map(|&(_, a, _)| tasks[a].op_idx).collect();
        if first_ops.iter().any(|&op| op < first_ops[0]) {
            return invalid(format!(
                "schedule {s}: a later core's list starts before core 0's first operation"
            ));
        }
        let mut ops: Vec<u32> = group
            .iter()
            .flat_map(|&(_, a, b)| (a..=b).map(|i| tasks[i].op_idx))
            .collect();
        ops.sort_unstable();
        ops.dedup();
        let mut steps: Vec<Step> = Vec::new();
        for op in ops {
            let mut parts = Vec::new();
            for &(core, a, b) in group {
                let inside: Vec<usize> = (a..=b).filter(|&i| tasks[i].op_idx == op).collect();
                let (Some(&lo), Some(&hi)) = (inside.first(), inside.last()) else {
                    continue;
                };
                for i in lo..hi {
                    if !chains(tails, tasks, i, i + 1, platform) {
                        return invalid(format!(
                            "schedule {s}, operation {op}, core {core}: task {i}'s tail does not \
                             chain to task {}",
                            i + 1
                        ));
                    }
                }
                parts.push(Part {
                    core,
                    tasks: TaskRange {
                        start: lo as u32,
                        count: (hi - lo + 1) as u32,
                    },
                });
            }
            if parts.first().is_none_or(|p| p.core != 0) {
                return invalid(format!(
                    "schedule {s}, operation {op}: core 0 has no task of it"
                ));
            }
            merge_or_push(&mut steps, Step { parts }, tails, tasks, platform);
        }
        schedules.push(Schedule { cores: n, steps });
    }
    Ok(schedules)
}

/// Appends `step`, merged into the last step when both run on core 0
/// alone with contiguous, chained tasks.
fn merge_or_push(
    steps: &mut Vec<Step>,
    step: Step,
    tails: &[pc::Tail],
    tasks: &[Task],
    platform: Platform,
) {
    if let Some(last) = steps.last_mut() {
        if let ([a], [b]) = (last.parts.as_mut_slice(), step.parts.as_slice()) {
            let end = a.tasks.start + a.tasks.count;
            if end == b.tasks.start
                && chains(
                    tails,
                    tasks,
                    end as usize - 1,
                    b.tasks.start as usize,
                    platform,
                )
            {
                a.tasks.count += b.tasks.count;
                return;
            }
        }
    }
    steps.push(step);
}
