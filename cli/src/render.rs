//! The readable forms of the commands' results (the `--json` forms are the
//! contract's own types). Every function returns text; nothing prints here.

use std::time::SystemTime;

use allocation_contract::{Allocation, AllocationStatus, Pool};
use comfy_table::{presets, CellAlignment, ColumnConstraint, Table, Width};

use crate::text::{printable, relative_time};
use crate::watch::{percent_used, Crossing, Level};

const BAR_WIDTH: usize = 20;

/// `████████░░░░` for `allocated` of `capacity`, `width` cells.
pub fn bar(allocated: u64, capacity: u64, width: usize) -> String {
    let filled = if capacity == 0 {
        if allocated > 0 {
            width
        } else {
            0
        }
    } else {
        let exact = allocated.min(capacity) as u128 * width as u128;
        // Round up, so any use shows and only a full pool fills the bar.
        exact.div_ceil(capacity as u128) as usize
    };
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

/// A table's text without the trailing blanks of its padding.
fn text_of(table: &Table) -> String {
    table
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_header(header.to_vec());
    table
}

/// `alloc pools`: one row a pool with a bar, the level in words, what is
/// free and what is waited for.
pub fn pools_table(pools: &[Pool]) -> String {
    if pools.is_empty() {
        return "The server has no pools.".to_owned();
    }
    let mut table = table(&["POOL", "NAME", "USE", "", "LEVEL", "FREE", "WAITING"]);
    for pool in pools {
        table.add_row(vec![
            printable(&pool.id).into_owned(),
            printable(&pool.name).into_owned(),
            bar(pool.allocated, pool.capacity, BAR_WIDTH),
            format!(
                "{}/{} {} ({}%)",
                pool.allocated,
                pool.capacity,
                printable(&pool.unit),
                percent_used(pool)
            ),
            Level::of(pool).to_string(),
            pool.available().to_string(),
            match pool.waiting {
                0 => String::new(),
                units => format!("{units} {}", printable(&pool.unit)),
            },
        ]);
    }
    if let Some(column) = table.column_mut(5) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    text_of(&table)
}

/// `alloc ls`: the allocations, newest first as the server lists them.
pub fn allocations_table(allocations: &[Allocation], now: SystemTime) -> String {
    if allocations.is_empty() {
        return "No active allocations.".to_owned();
    }
    let mut table = table(&[
        "ID",
        "POOL",
        "AMOUNT",
        "OWNER",
        "EXPIRES",
        "RESOURCES",
        "NOTE",
    ]);
    for allocation in allocations {
        table.add_row(vec![
            printable(&allocation.id).into_owned(),
            printable(&allocation.pool).into_owned(),
            allocation.amount.to_string(),
            printable(&allocation.owner).into_owned(),
            expiry(allocation, now),
            resources(allocation),
            printable(allocation.note.as_deref().unwrap_or("")).into_owned(),
        ]);
    }
    if let Some(column) = table.column_mut(5) {
        column.set_constraint(ColumnConstraint::UpperBoundary(Width::Fixed(48)));
    }
    text_of(&table)
}

fn resources(allocation: &Allocation) -> String {
    printable(&allocation.resources.join(", ")).into_owned()
}

fn expiry(allocation: &Allocation, now: SystemTime) -> String {
    match &allocation.expires_at {
        Some(at) => relative_time(at, now),
        None => "never".to_owned(),
    }
}

fn status_word(status: AllocationStatus) -> &'static str {
    match status {
        AllocationStatus::Active => "active",
        AllocationStatus::Released => "released",
        AllocationStatus::Expired => "expired",
        AllocationStatus::Unknown => "unknown",
    }
}

/// `alloc request`: what was granted, in a sentence.
pub fn granted(allocation: &Allocation, now: SystemTime) -> String {
    format!(
        "Granted {} ({} {} for {}, expires {}): {}",
        printable(&allocation.id),
        allocation.amount,
        printable(&allocation.pool),
        printable(&allocation.owner),
        expiry(allocation, now),
        resources(allocation)
    )
}

/// `alloc show`: every field on its own line.
pub fn allocation_details(allocation: &Allocation, now: SystemTime) -> String {
    let expires = match &allocation.expires_at {
        Some(at) => format!("{} ({})", printable(at), relative_time(at, now)),
        None => "never".to_owned(),
    };
    let lines = [
        ("id", printable(&allocation.id).into_owned()),
        ("status", status_word(allocation.status).to_owned()),
        ("pool", printable(&allocation.pool).into_owned()),
        ("amount", allocation.amount.to_string()),
        ("owner", printable(&allocation.owner).into_owned()),
        ("resources", resources(allocation)),
        ("created", printable(&allocation.created_at).into_owned()),
        ("expires", expires),
        (
            "note",
            printable(allocation.note.as_deref().unwrap_or("")).into_owned(),
        ),
    ];
    lines
        .iter()
        .map(|(key, value)| format!("{key:<10} {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `alloc extend`: the new end.
pub fn extended(allocation: &Allocation, now: SystemTime) -> String {
    format!(
        "{} now expires {}.",
        printable(&allocation.id),
        expiry(allocation, now)
    )
}

/// `alloc watch`: a pool's line.
pub fn watch_line(time: &str, pool: &Pool, changed: bool) -> String {
    format!(
        "{time} {} {}/{} {} {}% {}{}",
        printable(&pool.id),
        pool.allocated,
        pool.capacity,
        printable(&pool.unit),
        percent_used(pool),
        Level::of(pool),
        if changed { "" } else { " (unchanged)" }
    )
}

/// `alloc watch`: a pool that crossed a threshold.
pub fn crossing_line(time: &str, crossing: &Crossing) -> String {
    let direction = if crossing.to > crossing.from {
        "up"
    } else {
        "down"
    };
    format!(
        "{time} {} crossed {direction} from {} to {}",
        printable(&crossing.pool),
        crossing.from,
        crossing.to
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_round_up_and_fill_only_when_full() {
        assert_eq!(bar(0, 16, 4), "░░░░");
        assert_eq!(bar(1, 16, 4), "█░░░");
        assert_eq!(bar(10, 16, 4), "███░");
        assert_eq!(bar(16, 16, 4), "████");
        assert_eq!(bar(20, 16, 4), "████");
        assert_eq!(bar(1, 0, 4), "████");
    }

    #[test]
    fn a_pool_row_has_its_bar_level_and_free_units() {
        // Read as the server sends it (so fields added later need no edit here).
        let pool: Pool = serde_json::from_str(
            r#"{"id":"gpu-a100","name":"A100 GPU","unit":"GPU","capacity":16,"allocated":14,
                "max_per_request":4}"#,
        )
        .unwrap();
        let text = pools_table(&[pool]);
        assert!(text.contains("gpu-a100"), "{text}");
        assert!(text.contains("14/16 GPU (87%)"), "{text}");
        assert!(text.contains("warning"), "{text}");
        assert!(text.contains(&bar(14, 16, BAR_WIDTH)), "{text}");
        assert!(
            !text.contains("WAITING\n") || !text.contains(" GPU\n"),
            "{text}"
        );
    }

    #[test]
    fn units_waited_for_are_shown_beside_the_pool() {
        let pool: Pool = serde_json::from_str(
            r#"{"id":"gpu-a100","name":"A100 GPU","unit":"GPU","capacity":16,"allocated":16,
                "waiting":5}"#,
        )
        .unwrap();
        let text = pools_table(&[pool]);
        let row = text.lines().nth(1).unwrap();
        assert!(row.ends_with("0  5 GPU"), "{text}");
    }

    #[test]
    fn names_from_the_server_cannot_write_escape_sequences() {
        let pool: Pool = serde_json::from_str(
            r#"{"id":"p","name":"evil\u001b[2J","unit":"u","capacity":1,"allocated":0}"#,
        )
        .unwrap();
        assert!(!pools_table(&[pool]).contains('\u{1b}'));
    }
}
