//! Every word the console shows, English and Korean side by side, so a missing
//! translation is a compile error rather than a blank on screen. Numbers and
//! times inside a sentence are locale text the shell makes with `Intl`: they
//! come in as text, or through a [`CountText`].

use crate::config::{
    ConfigIssue, ConfigIssueKind, ConfigKey, ConfigSource, MAX_INTERVAL_SECS, MIN_INTERVAL_SECS,
};
use crate::format::format_decimal;
pub use crate::lang::Lang;
use crate::problem::{reason_phrase, Failure, Unreadable, MAX_BODY_BYTES};
use crate::request::form::FormIssue;
use allocation_contract::{
    problem_type, Allocation, Event, EventKind, FieldIssue, Thresholds, UsageLevel, NOTE_MAX_CHARS,
    OWNER_MAX_CHARS, TTL_SECONDS_MAX, WAIT_SECONDS_MAX,
};

/// A count as the reader's language writes it: `ui::intl::count`
/// (`Intl.NumberFormat`) on screen; plain digits will do in tests.
pub type CountText = fn(Lang, u64) -> String;

/// Fixed UI text. Parameterised messages are functions below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    AppTitle,
    UsageHeading,
    AllocationsHeading,
    RequestHeading,
    Available,
    LevelOk,
    LevelWarning,
    LevelCritical,
    ColumnId,
    ColumnPool,
    ColumnAmount,
    ColumnOwner,
    ColumnResources,
    ColumnCreated,
    ColumnExpires,
    QueueHeading,
    LeaveLine,
    ConfirmLeaveLine,
    ColumnPosition,
    ColumnWaitingSince,
    ColumnEstimate,
    /// A ticket whose grant depends on an allocation without an expiry.
    NoEstimate,
    /// Heading of the column of row buttons (visually hidden).
    ColumnActions,
    SparklineLabel,
    /// The right end of a sparkline's time axis.
    SparklineNow,
    Extend,
    /// Beside an own allocation that expires within 10 minutes.
    ExpiresSoon,
    /// The button that asks for notification permission.
    NotifyMe,
    NotificationsOn,
    NotificationsBlocked,
    /// Before a limit: `at most 4`.
    AtMost,
    Pages,
    PreviousPage,
    NextPage,
    /// After a count of table rows.
    Rows,
    /// No expiry.
    Never,
    Expired,
    FilterPool,
    AllPools,
    FilterOwner,
    Release,
    ConfirmRelease,
    Cancel,
    FieldPool,
    FieldAmount,
    FieldOwner,
    FieldDuration,
    FieldNote,
    /// The label of the choice how long to wait in line.
    FieldWait,
    Request,
    Requesting,
    /// The wait choice that answers at once (a `409` when full).
    DontWait,
    Duration15Minutes,
    Duration1Hour,
    Duration8Hours,
    Duration1Day,
    Duration1Week,
    DurationNoLimit,
    AlreadyGranted,
    /// Instead of a percentage, for a pool of capacity 0.
    NoCapacity,
    /// Before the fields that need fixing, when the form's checks refuse a request.
    FixFields,
    Refresh,
    /// The compact card's link to the whole console.
    OpenFullConsole,
    /// The kiosk's wall clock, for screen readers.
    CurrentTime,
    /// An embedding element that cannot hold a shadow root.
    EmbedElementUnsupported,
    UpdatedJustNow,
    Stale,
    Loading,
    /// While the full view's form, table and queue (a chunk of their own) load.
    WorkLoading,
    /// The form, table and queue's chunk could not be loaded.
    WorkUnavailable,
    TryAgain,
    NoAllocations,
    ConfigProblem,
    NetworkError,
    Timeout,
    PausedHidden,
    BackOnline,
    Unauthorized,
    /// A `403`: the server refused this reader this action.
    Forbidden,
    /// The table filter: only the reader's own allocations.
    FilterMine,
    /// The label of the token field the console shows on a `401`.
    TokenLabel,
    TokenHint,
    /// A typed token that cannot be sent (not visible ASCII).
    TokenInvalid,
    SignIn,
    NotFound,
    ServerBusy,
    RequestInFlight,
    /// A renewal of a released or expired allocation (`409`).
    AllocationEnded,
}

/// The text in the language; one arm per key, both languages together.
pub fn tr(lang: Lang, text: Text) -> &'static str {
    let (en, ko) = match text {
        Text::AppTitle => ("Allocation console", "할당 콘솔"),
        Text::UsageHeading => ("Usage", "사용량"),
        Text::AllocationsHeading => ("Allocations", "할당 목록"),
        Text::RequestHeading => ("Request resources", "자원 요청"),
        Text::Available => ("available", "사용 가능"),
        Text::LevelOk => ("OK", "정상"),
        Text::LevelWarning => ("Warning", "주의"),
        Text::LevelCritical => ("Critical", "위험"),
        Text::ColumnId => ("ID", "ID"),
        Text::ColumnPool => ("Pool", "풀"),
        Text::ColumnAmount => ("Amount", "수량"),
        Text::ColumnOwner => ("Owner", "소유자"),
        Text::ColumnResources => ("Resources", "자원"),
        Text::ColumnCreated => ("Created", "생성 시각"),
        Text::ColumnExpires => ("Expires in", "만료까지"),
        Text::ColumnActions => ("Actions", "작업"),
        Text::QueueHeading => ("Queue", "대기열"),
        Text::LeaveLine => ("Leave the line", "대기 취소"),
        Text::ConfirmLeaveLine => ("Confirm leaving", "대기 취소 확인"),
        Text::ColumnPosition => ("Place", "순서"),
        Text::ColumnWaitingSince => ("Waiting since", "대기 시작"),
        Text::ColumnEstimate => ("Expected by", "예상 시각"),
        Text::NoEstimate => ("no estimate", "예상 불가"),
        Text::SparklineLabel => (
            "Usage over time (at most the last 24 hours)",
            "시간별 사용량 (최근 최대 24시간)",
        ),
        Text::SparklineNow => ("now", "현재"),
        Text::Extend => ("Extend", "연장"),
        Text::ExpiresSoon => ("expires soon", "곧 만료"),
        Text::NotifyMe => (
            "Notify me when a pool crosses a threshold",
            "풀이 임계값을 넘으면 알림 받기",
        ),
        Text::NotificationsOn => (
            "Notifications on for threshold crossings",
            "임계값 알림이 켜져 있습니다",
        ),
        Text::NotificationsBlocked => (
            "Notifications are blocked for this page",
            "이 페이지의 알림이 차단되어 있습니다",
        ),
        Text::AtMost => ("at most", "최대"),
        Text::Pages => ("Pages", "페이지"),
        Text::PreviousPage => ("Previous", "이전"),
        Text::NextPage => ("Next", "다음"),
        Text::Rows => ("rows", "행"),
        Text::Never => ("never", "만료 없음"),
        Text::Expired => ("expired", "만료됨"),
        Text::FilterPool => ("Filter by pool", "풀로 필터링"),
        Text::AllPools => ("All pools", "모든 풀"),
        Text::FilterOwner => ("Filter by owner", "소유자로 필터링"),
        Text::Release => ("Release", "반납"),
        Text::ConfirmRelease => ("Confirm release", "반납 확인"),
        Text::Cancel => ("Cancel", "취소"),
        Text::FieldPool => ("Pool", "풀"),
        Text::FieldAmount => ("Amount", "수량"),
        Text::FieldOwner => ("Owner", "소유자"),
        Text::FieldDuration => ("Duration", "사용 기간"),
        Text::FieldNote => ("Note", "메모"),
        Text::FieldWait => ("Wait in line for up to", "대기열에서 최대 대기 시간"),
        Text::Request => ("Request", "요청"),
        Text::Requesting => ("Requesting…", "요청 중…"),
        Text::DontWait => ("Don't wait", "기다리지 않음"),
        Text::Duration15Minutes => ("15 minutes", "15분"),
        Text::Duration1Hour => ("1 hour", "1시간"),
        Text::Duration8Hours => ("8 hours", "8시간"),
        Text::Duration1Day => ("1 day", "1일"),
        Text::Duration1Week => ("1 week", "1주"),
        Text::DurationNoLimit => ("No limit", "제한 없음"),
        Text::AlreadyGranted => (
            "This request had already been granted; nothing was allocated twice.",
            "이미 처리된 요청입니다. 중복으로 할당되지 않았습니다.",
        ),
        Text::NoCapacity => ("no capacity", "용량 없음"),
        Text::FixFields => ("Please fix:", "다음을 고치세요:"),
        Text::Refresh => ("Refresh", "새로 고침"),
        Text::OpenFullConsole => ("Open the full console", "전체 콘솔 열기"),
        Text::CurrentTime => ("Current time", "현재 시각"),
        Text::EmbedElementUnsupported => (
            "The allocation console cannot be shown in this element: use a <div> or <allocation-console>.",
            "이 요소에는 할당 콘솔을 표시할 수 없습니다. <div> 또는 <allocation-console>을 사용하세요.",
        ),
        Text::UpdatedJustNow => ("Updated just now", "방금 업데이트됨"),
        Text::Stale => ("Stale", "오래된 데이터"),
        Text::Loading => ("Loading…", "불러오는 중…"),
        Text::WorkLoading => (
            "Loading the request form and the tables…",
            "요청 양식과 표를 불러오는 중…",
        ),
        Text::WorkUnavailable => (
            "The request form and the tables could not be loaded: check the connection.",
            "요청 양식과 표를 불러오지 못했습니다. 연결을 확인하세요.",
        ),
        Text::TryAgain => ("Try again", "다시 시도"),
        Text::NoAllocations => ("No allocations", "할당된 항목이 없습니다"),
        Text::ConfigProblem => ("Configuration problem", "설정 문제"),
        Text::NetworkError => (
            "Network error: could not reach the server",
            "네트워크 오류: 서버에 연결할 수 없습니다",
        ),
        Text::Timeout => (
            "The server took too long to answer",
            "서버 응답 시간이 초과되었습니다",
        ),
        Text::PausedHidden => (
            "Paused while the page is hidden",
            "페이지가 숨겨져 있는 동안 일시 중지됨",
        ),
        Text::BackOnline => ("Back online", "다시 연결되었습니다"),
        Text::Unauthorized => (
            "Not authorised: the server needs a valid token",
            "인증 실패: 서버에 유효한 토큰이 필요합니다",
        ),
        Text::Forbidden => (
            "Not allowed: you may only request and release for yourself",
            "허용되지 않음: 본인 명의로만 요청하고 해제할 수 있습니다",
        ),
        Text::FilterMine => ("Mine only", "내 것만"),
        Text::TokenLabel => ("Access token", "액세스 토큰"),
        Text::TokenHint => (
            "The server needs a token. It is kept in this page's memory only, and forgotten when the page closes.",
            "서버에 토큰이 필요합니다. 토큰은 이 페이지의 메모리에만 보관되며 페이지를 닫으면 사라집니다.",
        ),
        Text::TokenInvalid => (
            "A token is letters, digits and symbols only, without spaces",
            "토큰은 공백 없이 문자, 숫자, 기호로만 이루어집니다",
        ),
        Text::SignIn => ("Sign in", "로그인"),
        Text::NotFound => ("Not found", "찾을 수 없습니다"),
        Text::ServerBusy => (
            "The server is busy; try again shortly",
            "서버가 혼잡합니다. 잠시 후 다시 시도하세요",
        ),
        Text::RequestInFlight => (
            "The same request is still being processed",
            "같은 요청을 아직 처리하는 중입니다",
        ),
        Text::AllocationEnded => (
            "This allocation has already ended; it cannot be extended",
            "이미 끝난 할당이라 연장할 수 없습니다",
        ),
    };
    match lang {
        Lang::En => en,
        Lang::Ko => ko,
    }
}

/// `Updated just now` under 5 s, else `Updated 12 seconds ago` / `12초 전
/// 업데이트됨`; `ago` is the relative time (`Intl.RelativeTimeFormat`).
pub fn updated_ago(lang: Lang, secs: u64, ago: &str) -> String {
    if secs < 5 {
        return tr(lang, Text::UpdatedJustNow).to_owned();
    }
    match lang {
        Lang::En => format!("Updated {ago}"),
        Lang::Ko => format!("{ago} 업데이트됨"),
    }
}

/// The "expires in" cell: the duration left (`12 min` / `12분`), or `expired`
/// once past, or `never`.
pub fn expires_in(
    lang: Lang,
    secs_left: Option<i64>,
    duration: impl FnOnce(i64) -> String,
) -> String {
    match secs_left {
        None => tr(lang, Text::Never).to_owned(),
        Some(secs) if secs <= 0 => tr(lang, Text::Expired).to_owned(),
        Some(secs) => duration(secs),
    }
}

/// Under a pool's card: `Full in about 3 hr at the current rate`; `when` is
/// a duration (`3 hr`).
pub fn forecast_text(lang: Lang, when: &str) -> String {
    match lang {
        Lang::En => format!("Full in about {when} at the current rate"),
        Lang::Ko => format!("현재 추세라면 약 {when} 후 가득 참"),
    }
}

/// A sparkline's text equivalent: `Last 3 hr: peak 15 of 16 GPU`.
pub fn sparkline_summary(
    lang: Lang,
    span: &str,
    peak: u64,
    capacity: u64,
    unit: &str,
    count: CountText,
) -> String {
    let (peak, capacity) = (count(lang, peak), count(lang, capacity));
    match lang {
        Lang::En => format!("Last {span}: peak {peak} of {capacity} {unit}"),
        Lang::Ko => format!("최근 {span}: 최대 {capacity} {unit} 중 {peak}"),
    }
}

/// The Extend button's accessible name: `Extend al_7Q2k by 1 hr`.
pub fn extend_label(lang: Lang, id: &str, by: &str) -> String {
    match lang {
        Lang::En => format!("Extend {id} by {by}"),
        Lang::Ko => format!("{id} {by} 연장"),
    }
}

/// Announced after a renewal: `Extended al_7Q2k: expires in 1 hr`.
pub fn extended_message(lang: Lang, id: &str, expires_in: &str) -> String {
    match lang {
        Lang::En => format!("Extended {id}: expires in {expires_in}"),
        Lang::Ko => format!("{id} 연장됨: {expires_in} 후 만료"),
    }
}

/// The page title while a pool is past a threshold: `✖ Critical · Allocation console`.
pub fn alert_title(lang: Lang, icon: &str, level: Text) -> String {
    format!("{icon} {} · {}", tr(lang, level), tr(lang, Text::AppTitle))
}

/// The page title: news the reader has not seen yet first (`Your 2 GPU on
/// A100 GPU are ready · Allocation console`), else a pool past a threshold
/// (`alert`: its level's icon and word, as [`alert_title`]), else the name.
pub fn page_title(lang: Lang, news: Option<&str>, alert: Option<(&str, Text)>) -> String {
    match (news, alert) {
        (Some(news), _) => format!("{news} · {}", tr(lang, Text::AppTitle)),
        (None, Some((icon, level))) => alert_title(lang, icon, level),
        (None, None) => tr(lang, Text::AppTitle).to_owned(),
    }
}

/// `Retrying in 8 seconds` / `8초 후 다시 시도합니다`; `when` is the relative
/// time (`in 8 seconds` / `8초 후`).
pub fn retrying_in(lang: Lang, when: &str) -> String {
    match lang {
        Lang::En => format!("Retrying {when}"),
        Lang::Ko => format!("{when} 다시 시도합니다"),
    }
}

/// The release button's accessible name: `Release al_7Q2k` / `al_7Q2k 반납`.
pub fn release_label(lang: Lang, id: &str) -> String {
    match lang {
        Lang::En => format!("Release {id}"),
        Lang::Ko => format!("{id} 반납"),
    }
}

/// Under a pool's card while anyone waits: `3 waiting · 5 GPU` (tickets and
/// the units they ask for) / `3명 대기 · 5 GPU`; `5 GPU waiting` when only the
/// units are known (the pool's `waiting`, without the queue); `None` when
/// nobody waits.
pub fn waiting_line(
    lang: Lang,
    tickets: Option<u64>,
    units: u64,
    unit: &str,
    count: CountText,
) -> Option<String> {
    if units == 0 && tickets.unwrap_or(0) == 0 {
        return None;
    }
    let amount = count(lang, units);
    Some(match (lang, tickets) {
        (Lang::En, Some(n)) => format!("{} waiting · {amount} {unit}", count(lang, n)),
        (Lang::Ko, Some(n)) => format!("{}명 대기 · {amount} {unit}", count(lang, n)),
        (Lang::En, None) => format!("{amount} {unit} waiting"),
        (Lang::Ko, None) => format!("{amount} {unit} 대기 중"),
    })
}

/// A place in line: `1st`, `2nd`, `3rd`, `11th`, `22nd` / `1번째`.
pub fn ordinal(lang: Lang, n: u64) -> String {
    match lang {
        Lang::Ko => format!("{n}번째"),
        Lang::En => {
            let suffix = match (n % 10, n % 100) {
                (_, 11..=13) => "th",
                (1, _) => "st",
                (2, _) => "nd",
                (3, _) => "rd",
                _ => "th",
            };
            format!("{n}{suffix}")
        }
    }
}

/// After a `202`: `You are 2nd in line for 2 GPU on A100 GPU, expected by
/// 14:10`; `by` is the estimated grant as a time of day, `None` when an
/// allocation ahead has no expiry.
pub fn queued_message(
    lang: Lang,
    position: u64,
    amount: u64,
    unit: &str,
    pool: &str,
    by: Option<&str>,
    count: CountText,
) -> String {
    let (place, n) = (ordinal(lang, position), count(lang, amount));
    match (lang, by) {
        (Lang::En, Some(by)) => {
            format!("You are {place} in line for {n} {unit} on {pool}, expected by {by}")
        }
        (Lang::En, None) => format!(
            "You are {place} in line for {n} {unit} on {pool}; no estimate: an allocation ahead has no expiry"
        ),
        (Lang::Ko, Some(by)) => {
            format!("{pool}의 {n} {unit} 대기열에서 {place}입니다. 예상 시각 {by}")
        }
        (Lang::Ko, None) => format!(
            "{pool}의 {n} {unit} 대기열에서 {place}입니다. 예상 시각 없음: 앞선 할당에 만료가 없습니다"
        ),
    }
}

/// Announced when a waiting ticket is granted: `Your 2 GPU on A100 GPU are ready`.
pub fn ticket_ready_message(
    lang: Lang,
    amount: u64,
    unit: &str,
    pool: &str,
    count: CountText,
) -> String {
    let n = count(lang, amount);
    match lang {
        Lang::En => format!("Your {n} {unit} on {pool} are ready"),
        Lang::Ko => format!("{pool}의 {n} {unit}이(가) 준비되었습니다"),
    }
}

/// The "Leave the line" button's accessible name: `Leave the line tk_1`.
pub fn leave_line_label(lang: Lang, id: &str) -> String {
    match lang {
        Lang::En => format!("Leave the line {id}"),
        Lang::Ko => format!("{id} 대기 취소"),
    }
}

/// Announced after leaving the line: `Left the line: tk_1`.
pub fn left_line_message(lang: Lang, id: &str) -> String {
    match lang {
        Lang::En => format!("Left the line: {id}"),
        Lang::Ko => format!("{id} 대기 취소됨"),
    }
}

/// A piece of a pool's usage figures, in the language's word order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Figure {
    Allocated,
    Capacity,
    Words(String),
}

/// `10 of 16 GPU allocated` / `16 GPU 중 10 할당됨`, as pieces so the card can
/// mark up its numbers; [`usage_summary`] is the same as one sentence.
pub fn usage_figures(lang: Lang, unit: &str) -> [Figure; 4] {
    use Figure::*;
    match lang {
        Lang::En => [
            Allocated,
            Words(" of ".into()),
            Capacity,
            Words(format!(" {unit} allocated")),
        ],
        Lang::Ko => [
            Capacity,
            Words(format!(" {unit} 중 ")),
            Allocated,
            Words(" 할당됨".into()),
        ],
    }
}

/// [`usage_figures`] as text, with the counts written by `count`.
pub fn usage_summary(
    lang: Lang,
    allocated: u64,
    capacity: u64,
    unit: &str,
    count: CountText,
) -> String {
    usage_figures(lang, unit)
        .into_iter()
        .map(|figure| match figure {
            Figure::Allocated => count(lang, allocated),
            Figure::Capacity => count(lang, capacity),
            Figure::Words(words) => words,
        })
        .collect()
}

/// Resources listed in full in the success line; more are counted.
const GRANTED_RESOURCES_SHOWN: usize = 5;

/// The success line after a grant: `Granted 2 from gpu-a100: gpu-a100-03,
/// gpu-a100-04 (al_7Q2k)`; a long resource list is cut with "and 3 more". A
/// replayed grant (`Idempotent-Replayed: true`) says it was granted before.
pub fn granted_message(
    lang: Lang,
    allocation: &Allocation,
    replayed: bool,
    count: CountText,
) -> String {
    let n = count(lang, allocation.amount);
    let pool = &allocation.pool;
    let id = &allocation.id;
    let mut resources = allocation
        .resources
        .iter()
        .take(GRANTED_RESOURCES_SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let more = allocation
        .resources
        .len()
        .saturating_sub(GRANTED_RESOURCES_SHOWN);
    if more > 0 {
        let more = count(lang, more as u64);
        resources.push_str(&match lang {
            Lang::En => format!(" and {more} more"),
            Lang::Ko => format!(" 외 {more}개"),
        });
    }
    let granted = match lang {
        Lang::En => format!("Granted {n} from {pool}: {resources} ({id})"),
        Lang::Ko => format!("할당 완료: {pool}에서 {n}개 — {resources} ({id})"),
    };
    if replayed {
        format!("{} {granted}", tr(lang, Text::AlreadyGranted))
    } else {
        granted
    }
}

/// Announced after a release: `Released al_7Q2k` / `al_7Q2k 반납 완료`.
pub fn released_message(lang: Lang, id: &str) -> String {
    match lang {
        Lang::En => format!("Released {id}"),
        Lang::Ko => format!("{id} 반납 완료"),
    }
}

/// What polling saw change in the list (others' grants, releases, expiries);
/// `None` when nothing did.
pub fn allocations_changed(
    lang: Lang,
    granted: usize,
    ended: usize,
    count: CountText,
) -> Option<String> {
    let (g, e) = (count(lang, granted as u64), count(lang, ended as u64));
    Some(match (lang, granted, ended) {
        (_, 0, 0) => return None,
        (Lang::En, _, 0) => format!("New allocations: {g}"),
        (Lang::En, 0, _) => format!("Allocations ended: {e}"),
        (Lang::En, _, _) => format!("New allocations: {g}; ended: {e}"),
        (Lang::Ko, _, 0) => format!("새 할당 {g}건"),
        (Lang::Ko, 0, _) => format!("끝난 할당 {e}건"),
        (Lang::Ko, _, _) => format!("새 할당 {g}건, 끝난 할당 {e}건"),
    })
}

/// The request form's duration choices, the first the default.
pub const DURATION_CHOICES: [(Option<i64>, Text); 5] = [
    (Some(3_600), Text::Duration1Hour),
    (Some(8 * 3_600), Text::Duration8Hours),
    (Some(86_400), Text::Duration1Day),
    (Some(7 * 86_400), Text::Duration1Week),
    (None, Text::DurationNoLimit),
];

/// How long a request may wait in line (`wait_seconds`). Waiting is chosen,
/// never assumed: the default (the first) answers at once.
pub const WAIT_CHOICES: [(Option<i64>, Text); 5] = [
    (None, Text::DontWait),
    (Some(15 * 60), Text::Duration15Minutes),
    (Some(3_600), Text::Duration1Hour),
    (Some(8 * 3_600), Text::Duration8Hours),
    (Some(86_400), Text::Duration1Day),
];

/// The Activity section's fixed words (its own list: only the full view's
/// work area, a chunk of its own, uses them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivityText {
    Heading,
    /// The label of the person filter (owner or whoever acted).
    FilterPerson,
    Everyone,
    ShowOlder,
    /// Marks the reader's own events.
    You,
    NoActivity,
    /// A server without `GET /events`.
    NoLog,
}

pub fn activity_text(lang: Lang, text: ActivityText) -> &'static str {
    let (en, ko) = match text {
        ActivityText::Heading => ("Activity", "활동"),
        ActivityText::FilterPerson => ("Filter by person", "사람으로 필터링"),
        ActivityText::Everyone => ("Everyone", "모두"),
        ActivityText::ShowOlder => ("Show older", "이전 활동 보기"),
        ActivityText::You => ("You", "나"),
        ActivityText::NoActivity => ("No activity to show", "표시할 활동이 없습니다"),
        ActivityText::NoLog => (
            "This server keeps no activity log",
            "이 서버에는 활동 기록이 없습니다",
        ),
    };
    match lang {
        Lang::En => en,
        Lang::Ko => ko,
    }
}

/// One event in words: `alice released 2 GPU on A100 GPU`. `pool` is the
/// pool's name and unit from usage (`None`: the pool's id, no unit).
pub fn event_sentence(
    lang: Lang,
    event: &Event,
    pool: Option<(&str, &str)>,
    count: CountText,
) -> String {
    let (place, unit) = pool.unwrap_or((&event.pool, ""));
    let what = match event.amount {
        Some(n) => format!("{} {unit}", count(lang, n)).trim_end().to_owned(),
        None => unit.to_owned(),
    };
    let owner = event.owner.as_deref();
    let who = person(lang, event.actor.as_deref().or(owner));
    let whose = person(lang, owner);
    // "of bob" when someone else acted on bob's allocation.
    let of = owner
        .filter(|&owner| event.actor.as_deref().is_some_and(|actor| actor != owner))
        .map(|owner| match lang {
            Lang::En => format!(" (of {owner})"),
            Lang::Ko => format!(" ({owner}님 몫)"),
        })
        .unwrap_or_default();
    let level = tr(lang, level_text(event.level.unwrap_or(UsageLevel::Ok)));
    let units = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| count(lang, n));
    let (before, after) = (units(event.previous_capacity), units(event.capacity));
    match (lang, event.kind) {
        (Lang::En, EventKind::Allocated) => format!("{who} allocated {what} on {place}{of}"),
        (Lang::En, EventKind::Released) => format!("{who} released {what} on {place}{of}"),
        (Lang::En, EventKind::Renewed) => format!("{who} extended {what} on {place}{of}"),
        (Lang::En, EventKind::Expired) => format!("{whose}: {what} on {place} expired"),
        (Lang::En, EventKind::Queued) => format!("{who} joined the line for {what} on {place}"),
        (Lang::En, EventKind::Granted) => {
            format!("{whose} was granted {what} on {place} from the line")
        }
        (Lang::En, EventKind::Cancelled) => format!("{who} left the line for {what} on {place}"),
        (Lang::En, EventKind::TimedOut) => {
            format!("{whose}: the wait for {what} on {place} timed out")
        }
        (Lang::En, EventKind::Expiring) => format!("{whose}: {what} on {place} ends in 10 minutes"),
        (Lang::En, EventKind::LevelChanged) => format!("{place} is now at level {level}"),
        (Lang::En, EventKind::CapacityChanged) => {
            format!("{place}'s capacity changed from {before} to {after}")
        }
        (Lang::En, EventKind::Unknown) => format!("A change on {place}"),
        (Lang::Ko, EventKind::Allocated) => format!("{who}이(가) {place}에서 {what} 할당{of}"),
        (Lang::Ko, EventKind::Released) => format!("{who}이(가) {place}의 {what} 반납{of}"),
        (Lang::Ko, EventKind::Renewed) => format!("{who}이(가) {place}의 {what} 연장{of}"),
        (Lang::Ko, EventKind::Expired) => format!("{whose}: {place}의 {what} 만료"),
        (Lang::Ko, EventKind::Queued) => format!("{who}이(가) {place}의 {what} 대기열에 들어감"),
        (Lang::Ko, EventKind::Granted) => format!("{whose}: 대기열에서 {place}의 {what} 할당됨"),
        (Lang::Ko, EventKind::Cancelled) => format!("{who}이(가) {place}의 {what} 대기열에서 나감"),
        (Lang::Ko, EventKind::TimedOut) => format!("{whose}: {place}의 {what} 대기 시간 초과"),
        (Lang::Ko, EventKind::Expiring) => format!("{whose}: {place}의 {what} 10분 후 만료"),
        (Lang::Ko, EventKind::LevelChanged) => format!("{place}의 수준이 이제 {level}"),
        (Lang::Ko, EventKind::CapacityChanged) => {
            format!("{place}의 용량이 {before}에서 {after}(으)로 바뀜")
        }
        (Lang::Ko, EventKind::Unknown) => format!("{place}에 변경 사항"),
    }
}

/// A usage level's word (`Warning`).
fn level_text(level: UsageLevel) -> Text {
    match level {
        UsageLevel::Ok => Text::LevelOk,
        UsageLevel::Warn => Text::LevelWarning,
        UsageLevel::Critical => Text::LevelCritical,
    }
}

/// A person as the subject of a sentence; nobody is the server itself.
fn person(lang: Lang, name: Option<&str>) -> String {
    match (lang, name) {
        (_, Some(name)) => name.to_owned(),
        (Lang::En, None) => "The server".to_owned(),
        (Lang::Ko, None) => "서버".to_owned(),
    }
}

/// Why an answer could not be read, all in the reader's language (the field
/// path is the contract's own name, the same in both).
pub fn unreadable_answer(lang: Lang, reason: &Unreadable) -> String {
    let why = match (lang, reason) {
        (Lang::En, Unreadable::TooLarge) => {
            format!("it is larger than {} MB", MAX_BODY_BYTES >> 20)
        }
        (Lang::Ko, Unreadable::TooLarge) => format!("{} MB보다 큽니다", MAX_BODY_BYTES >> 20),
        (Lang::En, Unreadable::NotJson) => "it is not JSON".to_owned(),
        (Lang::Ko, Unreadable::NotJson) => "JSON이 아닙니다".to_owned(),
        (Lang::En, Unreadable::Field { path }) if path.is_empty() => {
            "the document is not the expected object".to_owned()
        }
        (Lang::Ko, Unreadable::Field { path }) if path.is_empty() => {
            "문서가 예상한 객체가 아닙니다".to_owned()
        }
        (Lang::En, Unreadable::Field { path }) => {
            format!("the field “{path}” is missing or of the wrong type")
        }
        (Lang::Ko, Unreadable::Field { path }) => {
            format!("“{path}” 필드가 없거나 형식이 잘못되었습니다")
        }
    };
    match lang {
        Lang::En => format!("The server's answer could not be read: {why}"),
        Lang::Ko => format!("서버 응답을 읽을 수 없습니다: {why}"),
    }
}

/// Words for any failed request. Problems the contract names are worded in
/// the reader's language; others show the server's own title and detail.
pub fn failure_message(lang: Lang, failure: &Failure, count: CountText) -> String {
    let problem = match failure {
        Failure::Network(_) => return tr(lang, Text::NetworkError).to_owned(),
        Failure::Timeout => return tr(lang, Text::Timeout).to_owned(),
        Failure::Unreadable { reason, .. } => return unreadable_answer(lang, reason),
        Failure::Http(problem) => problem,
    };
    // Our words for the kinds a reader can act on, then always the server's
    // own title and detail (plain text): they say what this server knows.
    let known = if problem.is(problem_type::INSUFFICIENT_CAPACITY) {
        let n = count(lang, problem.available.unwrap_or(0));
        Some(match lang {
            Lang::En => format!("Not enough free units: {n} available"),
            Lang::Ko => format!("여유 수량이 부족합니다: {n}개 사용 가능"),
        })
    } else if problem.is(problem_type::QUOTA_EXCEEDED) {
        let (held, quota) = (
            count(lang, problem.held.unwrap_or(0)),
            count(lang, problem.quota.unwrap_or(0)),
        );
        Some(match lang {
            Lang::En => format!("Over your quota in this pool: you hold {held} of at most {quota}"),
            Lang::Ko => format!("이 풀의 한도를 넘습니다: 최대 {quota}개 중 {held}개 보유 중"),
        })
    } else {
        match problem.status {
            401 => Some(Text::Unauthorized),
            403 => Some(Text::Forbidden),
            404 => Some(Text::NotFound),
            429 | 503 => Some(Text::ServerBusy),
            409 if problem.is(problem_type::IDEMPOTENCY_KEY_IN_FLIGHT) => {
                Some(Text::RequestInFlight)
            }
            409 if problem.is(problem_type::ALLOCATION_ENDED) => Some(Text::AllocationEnded),
            _ => None,
        }
        .map(|text| tr(lang, text).to_owned())
    };
    // A title we made up from the status line adds nothing to our own words.
    let title = Some(problem.title.as_str()).filter(|title| {
        !title.is_empty() && (known.is_none() || *title != reason_phrase(problem.status))
    });
    let server_words = match (title, problem.detail.as_deref()) {
        (Some(title), Some(detail)) => Some(format!("{title}: {detail}")),
        (Some(words), None) | (None, Some(words)) => Some(words.to_owned()),
        (None, None) => None,
    };
    let status = problem.status;
    match (known, server_words) {
        (Some(known), Some(words)) => format!("{known} (HTTP {status}). {words}"),
        (Some(known), None) => format!("{known} (HTTP {status})"),
        (None, Some(words)) => format!("{words} (HTTP {status})"),
        (None, None) => format!("HTTP {status}"),
    }
}

/// "Signed in as alice": who the server takes the reader for.
pub fn signed_in_as(lang: Lang, name: &str) -> String {
    match lang {
        Lang::En => format!("Signed in as {name}"),
        Lang::Ko => format!("{name}(으)로 로그인됨"),
    }
}

/// A contract rule, beside its form field.
pub fn field_issue_message(lang: Lang, issue: FieldIssue) -> String {
    match (lang, issue) {
        (Lang::En, FieldIssue::AmountBelowOne) => "Must be at least 1".to_owned(),
        (Lang::Ko, FieldIssue::AmountBelowOne) => "1 이상이어야 합니다".to_owned(),
        (Lang::En, FieldIssue::AmountOverMax { max }) => format!("At most {max} per request"),
        (Lang::Ko, FieldIssue::AmountOverMax { max }) => {
            format!("요청당 최대 {max}까지 가능합니다")
        }
        (Lang::En, FieldIssue::OwnerEmpty) => "Enter an owner".to_owned(),
        (Lang::Ko, FieldIssue::OwnerEmpty) => "소유자를 입력하세요".to_owned(),
        (Lang::En, FieldIssue::OwnerTooLong) => format!("At most {OWNER_MAX_CHARS} characters"),
        (Lang::Ko, FieldIssue::OwnerTooLong) => {
            format!("최대 {OWNER_MAX_CHARS}자까지 입력할 수 있습니다")
        }
        (Lang::En, FieldIssue::NoteTooLong) => format!("At most {NOTE_MAX_CHARS} characters"),
        (Lang::Ko, FieldIssue::NoteTooLong) => {
            format!("최대 {NOTE_MAX_CHARS}자까지 입력할 수 있습니다")
        }
        (Lang::En, FieldIssue::TtlBelowOne) => "Must be at least 1 second".to_owned(),
        (Lang::Ko, FieldIssue::TtlBelowOne) => "1초 이상이어야 합니다".to_owned(),
        (Lang::En, FieldIssue::TtlOverMax) => {
            format!("At most {} days", TTL_SECONDS_MAX / 86_400)
        }
        (Lang::Ko, FieldIssue::TtlOverMax) => {
            format!("최대 {}일까지 가능합니다", TTL_SECONDS_MAX / 86_400)
        }
        (Lang::En, FieldIssue::OwnerInvisibleCharacters) => {
            "No control, direction or zero-width characters".to_owned()
        }
        (Lang::Ko, FieldIssue::OwnerInvisibleCharacters) => {
            "제어 문자, 방향 문자, 폭 없는 문자는 쓸 수 없습니다".to_owned()
        }
        (Lang::En, FieldIssue::WaitBelowOne) => "Wait at least 1 second".to_owned(),
        (Lang::Ko, FieldIssue::WaitBelowOne) => "1초 이상 기다려야 합니다".to_owned(),
        (Lang::En, FieldIssue::WaitOverMax) => {
            format!("Wait at most {} hours", WAIT_SECONDS_MAX / 3_600)
        }
        (Lang::Ko, FieldIssue::WaitOverMax) => {
            format!(
                "최대 {}시간까지 기다릴 수 있습니다",
                WAIT_SECONDS_MAX / 3_600
            )
        }
    }
}

/// Any issue of the request form, beside its field.
pub fn form_issue_message(lang: Lang, issue: FormIssue, count: CountText) -> String {
    match (lang, issue) {
        (_, FormIssue::Field(issue)) => field_issue_message(lang, issue),
        (Lang::En, FormIssue::AmountNotANumber) => "Enter a whole number".to_owned(),
        (Lang::Ko, FormIssue::AmountNotANumber) => "정수를 입력하세요".to_owned(),
        (Lang::En, FormIssue::AmountOverAvailable { available }) => {
            format!("Only {} available", count(lang, available))
        }
        (Lang::Ko, FormIssue::AmountOverAvailable { available }) => {
            format!("{}개만 사용 가능합니다", count(lang, available))
        }
        (Lang::En, FormIssue::PoolMissing) => "Choose a pool".to_owned(),
        (Lang::Ko, FormIssue::PoolMissing) => "풀을 선택하세요".to_owned(),
        (Lang::En, FormIssue::UnknownPool) => "This pool is no longer offered".to_owned(),
        (Lang::Ko, FormIssue::UnknownPool) => "더 이상 제공되지 않는 풀입니다".to_owned(),
    }
}

/// What the key accepts, for an `Invalid` issue.
fn expected(lang: Lang, key: ConfigKey) -> String {
    let (min, max) = (MIN_INTERVAL_SECS, MAX_INTERVAL_SECS);
    let (en, ko) = match key {
        ConfigKey::Endpoint => (
            "a path starting with / or an http(s) URL".to_owned(),
            "/로 시작하는 경로 또는 http(s) URL".to_owned(),
        ),
        ConfigKey::Interval => (
            format!("whole seconds from {min} to {max}"),
            format!("{min}~{max} 사이의 정수(초)"),
        ),
        ConfigKey::Owner => (
            format!("at most {OWNER_MAX_CHARS} characters"),
            format!("최대 {OWNER_MAX_CHARS}자"),
        ),
        ConfigKey::Lang => ("en or ko".to_owned(), "en 또는 ko".to_owned()),
        ConfigKey::Theme => (
            "light, dark or auto".to_owned(),
            "light, dark 또는 auto".to_owned(),
        ),
        ConfigKey::View => (
            "full, compact or kiosk".to_owned(),
            "full, compact 또는 kiosk".to_owned(),
        ),
        ConfigKey::Pools => (
            "pool ids separated by commas".to_owned(),
            "쉼표로 구분한 풀 id".to_owned(),
        ),
        ConfigKey::Warn | ConfigKey::Critical => (
            "a percentage from 0 to 100".to_owned(),
            "0~100 사이의 백분율".to_owned(),
        ),
        ConfigKey::ParentOrigin => (
            "an origin such as https://portal.example, without a path".to_owned(),
            "경로 없는 출처(예: https://portal.example)".to_owned(),
        ),
        ConfigKey::Credentials => (
            "omit, same-origin or include".to_owned(),
            "omit, same-origin 또는 include".to_owned(),
        ),
        ConfigKey::Token => (
            "nothing: a token is not a setting".to_owned(),
            "없음: 토큰은 설정이 아닙니다".to_owned(),
        ),
    };
    match lang {
        Lang::En => en,
        Lang::Ko => ko,
    }
}

/// The default `warn` and `critical`, as the configuration writes them.
fn default_thresholds() -> (String, String) {
    let Thresholds {
        warn_percent,
        critical_percent,
    } = Thresholds::DEFAULT;
    (
        format_decimal(warn_percent),
        format_decimal(critical_percent),
    )
}

/// One configuration issue in a sentence that says where, what, and what now.
pub fn config_issue_message(lang: Lang, issue: &ConfigIssue, count: CountText) -> String {
    let source = match (lang, issue.source) {
        (_, ConfigSource::File) => "config.json",
        (Lang::En, ConfigSource::Attribute) => "page attribute",
        (Lang::Ko, ConfigSource::Attribute) => "페이지 속성",
        (_, ConfigSource::Query) => "URL",
    };
    let key = issue.key.map_or("", ConfigKey::name);
    let expected = || issue.key.map(|key| expected(lang, key)).unwrap_or_default();
    let (default_warn, default_critical) = default_thresholds();
    match (lang, &issue.kind) {
        (Lang::En, ConfigIssueKind::Invalid { value }) => format!(
            "{source}: “{value}” is not a valid {key} (expected {}); using the default.",
            expected()
        ),
        (Lang::Ko, ConfigIssueKind::Invalid { value }) => format!(
            "{source}: “{value}”은(는) 올바른 {key} 값이 아닙니다({} 필요). 기본값을 사용합니다.",
            expected()
        ),
        (Lang::En, ConfigIssueKind::WarnNotBelowCritical { warn, critical }) => format!(
            "{source}: warn ({}) must be below critical ({}); using {default_warn} and {default_critical}.",
            format_decimal(*warn),
            format_decimal(*critical)
        ),
        (Lang::Ko, ConfigIssueKind::WarnNotBelowCritical { warn, critical }) => format!(
            "{source}: warn({})은 critical({})보다 작아야 합니다. {default_warn}과 {default_critical}를 사용합니다.",
            format_decimal(*warn),
            format_decimal(*critical)
        ),
        (Lang::En, ConfigIssueKind::TokenInUrlIgnored) => {
            "A token in the URL is ignored: URLs end up in history and logs. Enter it when the console asks for it.".to_owned()
        }
        (Lang::Ko, ConfigIssueKind::TokenInUrlIgnored) => {
            "URL의 토큰은 무시됩니다. URL은 방문 기록과 로그에 남기 때문입니다. 콘솔이 요청할 때 입력하세요.".to_owned()
        }
        (Lang::En, ConfigIssueKind::TokenInAttributeIgnored) => {
            "A token in a page attribute is ignored: anyone who loads the page can read it. Enter it when the console asks for it, or let the embedding page send it.".to_owned()
        }
        (Lang::Ko, ConfigIssueKind::TokenInAttributeIgnored) => {
            "페이지 속성의 토큰은 무시됩니다. 페이지를 여는 누구나 읽을 수 있기 때문입니다. 콘솔이 요청할 때 입력하거나 임베드한 페이지가 보내게 하세요.".to_owned()
        }
        (Lang::En, ConfigIssueKind::TokenInFileIgnored) => {
            "config.json: the token is ignored: this file is served to anyone who loads the page. Enter it when the console asks for it, or let the embedding page send it.".to_owned()
        }
        (Lang::Ko, ConfigIssueKind::TokenInFileIgnored) => {
            "config.json: 토큰은 무시됩니다. 이 파일은 페이지를 여는 누구에게나 제공되기 때문입니다. 콘솔이 요청할 때 입력하거나 임베드한 페이지가 보내게 하세요.".to_owned()
        }
        (Lang::En, ConfigIssueKind::FileUnreadable { failure }) => format!(
            "config.json could not be read ({}); using the other settings.",
            failure_message(lang, failure, count)
        ),
        (Lang::Ko, ConfigIssueKind::FileUnreadable { failure }) => format!(
            "config.json을 읽을 수 없습니다({}). 나머지 설정을 사용합니다.",
            failure_message(lang, failure, count)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::problem_from_text;

    /// Counts as plain digits with thousands commas, as `Intl` writes them in en and ko.
    fn count(_: Lang, n: u64) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    #[test]
    fn text_in_both_languages() {
        assert_eq!(tr(Lang::En, Text::AppTitle), "Allocation console");
        assert_eq!(tr(Lang::Ko, Text::AppTitle), "할당 콘솔");
        assert_eq!(release_label(Lang::En, "al_1"), "Release al_1");
        assert_eq!(release_label(Lang::Ko, "al_1"), "al_1 반납");
    }

    #[test]
    fn the_waiting_line_counts_tickets_and_units_only_when_anyone_waits() {
        let line = |lang, tickets, units| waiting_line(lang, tickets, units, "GPU", count);
        assert_eq!(
            line(Lang::En, Some(3), 5).as_deref(),
            Some("3 waiting · 5 GPU")
        );
        assert_eq!(
            line(Lang::Ko, Some(3), 5).as_deref(),
            Some("3명 대기 · 5 GPU")
        );
        assert_eq!(
            line(Lang::En, None, 1200).as_deref(),
            Some("1,200 GPU waiting")
        );
        assert_eq!(line(Lang::Ko, None, 5).as_deref(), Some("5 GPU 대기 중"));
        assert_eq!(line(Lang::En, None, 0), None);
        assert_eq!(line(Lang::En, Some(0), 0), None);
    }

    #[test]
    fn places_in_line_are_ordinals_in_each_language() {
        let en = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112]
            .map(|n| ordinal(Lang::En, n))
            .join(" ");
        assert_eq!(
            en,
            "1st 2nd 3rd 4th 11th 12th 13th 21st 22nd 23rd 101st 111th 112th"
        );
        assert_eq!(ordinal(Lang::Ko, 2), "2번째");
        assert_eq!(leave_line_label(Lang::En, "tk_1"), "Leave the line tk_1");
        assert_eq!(left_line_message(Lang::Ko, "tk_1"), "tk_1 대기 취소됨");
    }

    #[test]
    fn an_answer_over_the_quota_says_what_is_held_and_allowed() {
        let problem = problem_from_text(
            409,
            "",
            Some("application/problem+json"),
            r#"{"type":"https://allocation-console.dev/problems/quota-exceeded",
                "title":"Over the quota","status":409,"quota":8,"held":6}"#,
        );
        assert_eq!(
            failure_message(Lang::En, &Failure::Http(problem.clone()), count),
            "Over your quota in this pool: you hold 6 of at most 8 (HTTP 409). Over the quota"
        );
        assert!(
            failure_message(Lang::Ko, &Failure::Http(problem), count).starts_with("이 풀의 한도")
        );
    }

    #[test]
    fn a_queued_request_says_its_place_and_when_or_why_not() {
        let queued = |lang, by| queued_message(lang, 2, 2, "GPU", "A100 GPU", by, count);
        assert_eq!(
            queued(Lang::En, Some("14:10")),
            "You are 2nd in line for 2 GPU on A100 GPU, expected by 14:10"
        );
        assert_eq!(
            queued(Lang::En, None),
            "You are 2nd in line for 2 GPU on A100 GPU; no estimate: an allocation ahead has no expiry"
        );
        assert_eq!(
            queued(Lang::Ko, Some("14:10")),
            "A100 GPU의 2 GPU 대기열에서 2번째입니다. 예상 시각 14:10"
        );
        assert!(queued(Lang::Ko, None).contains("만료가 없습니다"));
        assert_eq!(
            ticket_ready_message(Lang::En, 2, "GPU", "A100 GPU", count),
            "Your 2 GPU on A100 GPU are ready"
        );
    }

    #[test]
    fn unseen_news_comes_first_in_the_title() {
        let ready = Some("Your 2 GPU on A100 GPU are ready");
        let critical = Some(("✖", Text::LevelCritical));
        assert_eq!(
            page_title(Lang::En, ready, critical),
            "Your 2 GPU on A100 GPU are ready · Allocation console"
        );
        assert_eq!(
            page_title(Lang::En, None, critical),
            "✖ Critical · Allocation console"
        );
        assert_eq!(page_title(Lang::Ko, None, None), "할당 콘솔");
    }

    #[test]
    fn ages_and_expiry() {
        assert_eq!(
            updated_ago(Lang::En, 2, "2 seconds ago"),
            "Updated just now"
        );
        assert_eq!(
            updated_ago(Lang::En, 12, "12 seconds ago"),
            "Updated 12 seconds ago"
        );
        assert_eq!(updated_ago(Lang::Ko, 180, "3분 전"), "3분 전 업데이트됨");
        let duration = |secs: i64| format!("{secs} s");
        assert_eq!(expires_in(Lang::En, Some(0), duration), "expired");
        assert_eq!(expires_in(Lang::En, Some(5), duration), "5 s");
        assert_eq!(expires_in(Lang::Ko, None, duration), "만료 없음");
        assert_eq!(retrying_in(Lang::Ko, "8초 후"), "8초 후 다시 시도합니다");
        assert_eq!(
            retrying_in(Lang::En, "in 8 seconds"),
            "Retrying in 8 seconds"
        );
    }

    #[test]
    fn usage_figures_follow_each_languages_word_order() {
        assert_eq!(
            usage_summary(Lang::En, 10, 16, "GPU", count),
            "10 of 16 GPU allocated"
        );
        assert_eq!(
            usage_summary(Lang::Ko, 1000, 1200, "IP", count),
            "1,200 IP 중 1,000 할당됨"
        );
        assert_eq!(usage_figures(Lang::Ko, "IP")[0], Figure::Capacity);
    }

    #[test]
    fn grants_and_releases() {
        let allocation: Allocation = serde_json::from_str(
            r#"{"id":"al_7Q2k","pool":"gpu-a100","amount":2,"owner":"alice",
            "resources":["gpu-a100-03","gpu-a100-04"],"status":"active",
            "created_at":"2026-11-26T10:00:00Z","expires_at":null,"note":null}"#,
        )
        .unwrap();
        assert_eq!(
            granted_message(Lang::En, &allocation, false, count),
            "Granted 2 from gpu-a100: gpu-a100-03, gpu-a100-04 (al_7Q2k)"
        );
        let mut many = allocation.clone();
        many.amount = 8;
        many.resources = (1..=8).map(|i| format!("ip-{i}")).collect();
        assert_eq!(
            granted_message(Lang::Ko, &many, false, count),
            "할당 완료: gpu-a100에서 8개 — ip-1, ip-2, ip-3, ip-4, ip-5 외 3개 (al_7Q2k)"
        );
        assert_eq!(released_message(Lang::Ko, "al_1"), "al_1 반납 완료");
        assert_eq!(allocations_changed(Lang::En, 0, 0, count), None);
        assert_eq!(
            allocations_changed(Lang::En, 1200, 0, count).as_deref(),
            Some("New allocations: 1,200")
        );
        assert_eq!(
            allocations_changed(Lang::Ko, 2, 1, count).as_deref(),
            Some("새 할당 2건, 끝난 할당 1건")
        );
        assert_eq!(DURATION_CHOICES[0].0, Some(3_600));
        assert_eq!(tr(Lang::Ko, DURATION_CHOICES[4].1), "제한 없음");
    }

    #[test]
    fn a_replayed_grant_is_told_apart_from_a_new_one() {
        let allocation: Allocation = serde_json::from_str(
            r#"{"id":"al_1","pool":"vm","amount":1,"owner":"bob","resources":["vm-1"],
            "status":"active","created_at":"2026-11-26T10:00:00Z"}"#,
        )
        .unwrap();
        let new = granted_message(Lang::En, &allocation, false, count);
        let replayed = granted_message(Lang::En, &allocation, true, count);
        assert_ne!(new, replayed);
        assert!(
            replayed.starts_with("This request had already been granted"),
            "{replayed}"
        );
        assert!(granted_message(Lang::Ko, &allocation, true, count)
            .starts_with("이미 처리된 요청입니다"));
    }

    #[test]
    fn failures_in_words() {
        let capacity = problem_from_text(
            409,
            "",
            Some("application/problem+json"),
            r#"{"type":"x/insufficient-capacity","title":"Not enough","available":3}"#,
        );
        assert_eq!(
            failure_message(Lang::Ko, &Failure::Http(capacity), count),
            "여유 수량이 부족합니다: 3개 사용 가능 (HTTP 409). Not enough"
        );
        let teapot = problem_from_text(
            418,
            "",
            Some("application/problem+json"),
            r#"{"title":"Pool frozen","detail":"Maintenance until 14:00"}"#,
        );
        assert_eq!(
            failure_message(Lang::En, &Failure::Http(teapot), count),
            "Pool frozen: Maintenance until 14:00 (HTTP 418)"
        );
        let gateway = problem_from_text(502, "", Some("text/html"), "<h1>bad</h1>");
        assert_eq!(
            failure_message(Lang::En, &Failure::Http(gateway), count),
            "Bad Gateway (HTTP 502)"
        );
        let unauthorized = problem_from_text(401, "", None, "");
        assert_eq!(
            failure_message(Lang::En, &Failure::Http(unauthorized), count),
            "Not authorised: the server needs a valid token (HTTP 401)"
        );
        let forbidden = problem_from_text(
            403,
            "",
            Some("application/problem+json"),
            r#"{"type":"https://allocations.example/problems/forbidden","title":"Forbidden","status":403,"detail":"alice may not act for bob"}"#,
        );
        assert_eq!(
            failure_message(Lang::En, &Failure::Http(forbidden.clone()), count),
            "Not allowed: you may only request and release for yourself (HTTP 403). alice may not act for bob"
        );
        assert!(failure_message(Lang::Ko, &Failure::Http(forbidden), count)
            .starts_with("허용되지 않음"));
        assert_eq!(signed_in_as(Lang::En, "alice"), "Signed in as alice");
        assert_eq!(
            failure_message(Lang::En, &Failure::Network("x".into()), count),
            "Network error: could not reach the server"
        );
    }

    /// A Korean sentence carries no English: each reason kind has Korean words.
    #[test]
    fn unreadable_reasons_are_in_the_readers_language() {
        for reason in [
            Unreadable::TooLarge,
            Unreadable::NotJson,
            Unreadable::Field {
                path: String::new(),
            },
            Unreadable::Field {
                path: "pools[0].capacity".into(),
            },
        ] {
            let failure = Failure::Unreadable {
                status: 200,
                reason,
            };
            let ko = failure_message(Lang::Ko, &failure, count);
            let english = ko
                .replace("pools[0].capacity", "")
                .replace("JSON", "")
                .replace("MB", "");
            assert!(
                !english.chars().any(|c| c.is_ascii_alphabetic()),
                "English inside Korean: {ko}"
            );
        }
        let problem = crate::config::ConfigIssue::file_unreadable(Failure::Unreadable {
            status: 200,
            reason: Unreadable::NotJson,
        });
        let ko = config_issue_message(Lang::Ko, &problem, count);
        assert!(ko.contains("JSON이 아닙니다"), "{ko}");
    }

    #[test]
    fn issues_in_words() {
        let (_, issues) = crate::config::resolve_config(
            &[],
            &[],
            &[
                ("interval".into(), "2".into()),
                ("token".into(), "s3cret".into()),
            ],
        );
        let en = config_issue_message(Lang::En, &issues[0], count);
        assert!(
            en.contains("“2”") && en.contains("interval") && en.contains("default"),
            "{en}"
        );
        let ko = config_issue_message(Lang::Ko, &issues[1], count);
        assert!(ko.contains("URL의 토큰") && !ko.contains("s3cret"));
        assert!(en.contains("whole seconds from 5 to 86400"), "{en}");
    }

    #[test]
    fn every_key_says_what_it_expects_with_the_limits_it_checks() {
        let (_, issues) = crate::config::resolve_config(
            &[],
            &[],
            &[
                ("owner".into(), "o".repeat(65)),
                ("warn".into(), "99".into()),
            ],
        );
        let owner = config_issue_message(Lang::En, &issues[0], count);
        assert!(owner.contains("at most 64 characters"), "{owner}");
        let thresholds = config_issue_message(Lang::En, &issues[1], count);
        assert!(thresholds.ends_with("using 80 and 95."), "{thresholds}");
        let ko = config_issue_message(Lang::Ko, &issues[1], count);
        assert!(ko.contains("80과 95를 사용합니다"), "{ko}");
        for key in ConfigKey::ALL {
            assert!(!expected(Lang::En, key).is_empty(), "{key:?}");
        }
        assert!(unreadable_answer(Lang::En, &Unreadable::TooLarge).contains("larger than 16 MB"));
        assert_eq!(
            form_issue_message(
                Lang::Ko,
                FormIssue::AmountOverAvailable { available: 2 },
                count
            ),
            "2개만 사용 가능합니다"
        );
        assert_eq!(
            form_issue_message(
                Lang::En,
                FormIssue::Field(FieldIssue::AmountOverMax { max: 4 }),
                count
            ),
            "At most 4 per request"
        );
    }

    fn spoken(lang: Lang, event: &Event) -> String {
        event_sentence(lang, event, Some(("A100 GPU", "GPU")), count)
    }

    fn gpu_event(kind: allocation_contract::EventKind, owner: &str, actor: Option<&str>) -> Event {
        Event {
            seq: 1,
            at: "2026-11-26T10:00:00.000Z".to_owned(),
            kind,
            pool: "gpu-a100".to_owned(),
            owner: Some(owner.to_owned()),
            amount: Some(2),
            actor: actor.map(str::to_owned),
            allocation: None,
            ticket: None,
            level: None,
            previous: None,
            allocated: None,
            capacity: None,
            previous_capacity: None,
        }
    }

    #[test]
    fn a_pools_level_and_capacity_and_a_lease_about_to_end_are_said() {
        use allocation_contract::EventKind::*;
        let mut level = gpu_event(LevelChanged, "alice", None);
        level.level = Some(UsageLevel::Critical);
        assert_eq!(
            spoken(Lang::En, &level),
            "A100 GPU is now at level Critical"
        );
        let mut capacity = gpu_event(CapacityChanged, "alice", None);
        (capacity.previous_capacity, capacity.capacity) = (Some(16), Some(24));
        assert_eq!(
            spoken(Lang::En, &capacity),
            "A100 GPU's capacity changed from 16 to 24"
        );
        let expiring = gpu_event(Expiring, "alice", None);
        assert_eq!(
            spoken(Lang::En, &expiring),
            "alice: 2 GPU on A100 GPU ends in 10 minutes"
        );
        assert_eq!(spoken(Lang::Ko, &level), "A100 GPU의 수준이 이제 위험");
    }

    #[test]
    fn events_are_said_with_the_pools_name_and_unit() {
        use allocation_contract::EventKind::*;
        let released = gpu_event(Released, "alice", Some("alice"));
        assert_eq!(
            spoken(Lang::En, &released),
            "alice released 2 GPU on A100 GPU"
        );
        assert_eq!(
            spoken(Lang::Ko, &released),
            "alice이(가) A100 GPU의 2 GPU 반납"
        );
        let for_bob = gpu_event(Allocated, "bob", Some("ops"));
        assert_eq!(
            spoken(Lang::En, &for_bob),
            "ops allocated 2 GPU on A100 GPU (of bob)"
        );
        let expired = gpu_event(Expired, "bob", None);
        assert_eq!(spoken(Lang::En, &expired), "bob: 2 GPU on A100 GPU expired");
        let granted = gpu_event(Granted, "carol", None);
        assert_eq!(
            spoken(Lang::En, &granted),
            "carol was granted 2 GPU on A100 GPU from the line"
        );
        let unknown = gpu_event(Unknown, "carol", None);
        assert_eq!(spoken(Lang::Ko, &unknown), "A100 GPU에 변경 사항");
    }

    #[test]
    fn an_event_of_an_unknown_pool_is_said_with_its_id_and_no_actor_is_the_server() {
        let mut queued = gpu_event(allocation_contract::EventKind::Queued, "dave", None);
        queued.owner = None;
        assert_eq!(
            event_sentence(Lang::En, &queued, None, count),
            "The server joined the line for 2 on gpu-a100"
        );
        assert_eq!(
            activity_text(Lang::Ko, ActivityText::ShowOlder),
            "이전 활동 보기"
        );
    }
}
