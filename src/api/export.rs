//! Exports: every record of one kind, oldest first, as CSV (RFC 4180, a header row of
//! the JSON field names) or as JSON lines, read from the store and written a page at a
//! time, so an export of any size holds one page in memory.
//!
//! A row is the record's JSON view, as REST answers it; in CSV a list is joined with
//! `;` and a nested object (an event's `data`) is its JSON text. Shared by
//! `GET /api/export/{kind}.{format}` and `mentorq export`.

use crate::api::views::{event_data, value, ChunkJson, FeedbackJson, SessionJson, TicketJson, UserView};
use crate::domain::board::TicketView;
use crate::domain::event::Event;
use crate::domain::feedback::Feedback;
use crate::domain::schedule::{Chunk, Session};
use crate::domain::ticket::Ticket;
use crate::domain::user::{Oversight, User};
use crate::store::{Record, Store, StoreError};
use bytes::Bytes;
use serde_json::{json, Map, Value};

/// Rows per page written at once.
const PAGE: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tickets,
    Feedback,
    Sessions,
    Availability,
    Events,
    Users,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Tickets,
        Kind::Feedback,
        Kind::Sessions,
        Kind::Availability,
        Kind::Events,
        Kind::Users,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Tickets => "tickets",
            Kind::Feedback => "feedback",
            Kind::Sessions => "sessions",
            Kind::Availability => "availability",
            Kind::Events => "events",
            Kind::Users => "users",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// What exporting this kind is, for [`may_oversee`](crate::domain::user::may_oversee):
    /// the accounts are people's details, the rest the event's records.
    pub fn oversight(self) -> Oversight {
        if self == Kind::Users {
            Oversight::ExportPeople
        } else {
            Oversight::Export
        }
    }

    /// The CSV header: the JSON view's field names, as its schema lists them.
    fn columns(self) -> Vec<String> {
        fn of<T: utoipa::ToSchema>() -> Vec<String> {
            let schema = serde_json::to_value(T::schema()).expect("a schema serialises");
            schema["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default()
        }
        match self {
            Kind::Tickets => of::<TicketJson>(),
            Kind::Feedback => of::<FeedbackJson>(),
            Kind::Sessions => of::<SessionJson>(),
            Kind::Availability => of::<ChunkJson>(),
            Kind::Events => ["seq", "at", "kind", "by", "data"].map(String::from).to_vec(),
            Kind::Users => of::<UserView>(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "csv" => Some(Format::Csv),
            "jsonl" => Some(Format::Jsonl),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/jsonl; charset=utf-8",
        }
    }
}

type Rows = Box<dyn Iterator<Item = Result<Value, StoreError>> + Send>;

fn rows_of<R: Record + 'static>(store: &Store, view: impl Fn(R) -> Value + Send + 'static) -> Rows {
    Box::new(store.records::<R>().map(move |r| r.map(&view)))
}

/// The rows of `kind`, as JSON objects with absolute URLs under `base`.
fn rows(store: &Store, kind: Kind, base: String) -> Rows {
    match kind {
        Kind::Tickets => rows_of::<Ticket>(store, move |ticket| {
            let view = TicketView {
                ticket,
                position: None,
                estimated_wait_seconds: None,
                matching_mentors: None,
            };
            value(TicketJson::new(&view, &base))
        }),
        Kind::Feedback => rows_of::<Feedback>(store, move |f| value(FeedbackJson::new(&f, &base))),
        Kind::Sessions => rows_of::<Session>(store, move |s| value(SessionJson::from(&s))),
        Kind::Availability => rows_of::<Chunk>(store, move |c| value(ChunkJson::from(&c))),
        Kind::Events => rows_of::<Event>(store, move |e| event_row(&e, &base)),
        Kind::Users => rows_of::<User>(store, move |u| value(UserView::from(&u))),
    }
}

/// An event as the events export and the audit trail show it: `by` is who caused it,
/// `null` for a change made by time.
pub fn event_row(e: &Event, base: &str) -> Value {
    json!({"seq": e.seq, "at": crate::api::views::ts(&e.at), "kind": e.body.kind(),
           "by": e.by.map(|u| u.0), "data": event_data(&e.body, base)})
}

/// A CSV cell: text as it is, a list joined with `;`, an object as its JSON text.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(";"),
        Some(other) => other.to_string(),
    }
}

fn csv_line(cells: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer
        .write_record(cells.into_iter().collect::<Vec<_>>())
        .expect("writing to memory cannot fail");
    writer.into_inner().expect("writing to memory cannot fail")
}

/// The export of `kind` as pages of bytes: the CSV header first, then rows.
pub fn pages(
    store: &Store,
    kind: Kind,
    format: Format,
    base: String,
) -> impl Iterator<Item = Result<Bytes, StoreError>> + Send {
    let columns = kind.columns();
    let header = (format == Format::Csv).then(|| Ok(Bytes::from(csv_line(columns.clone()))));
    let mut rows = rows(store, kind, base);
    let body = std::iter::from_fn(move || {
        let mut page = Vec::new();
        for _ in 0..PAGE {
            let row = match rows.next() {
                None => break,
                Some(Ok(Value::Object(row))) => row,
                Some(Ok(other)) => {
                    let mut wrapped = Map::new();
                    wrapped.insert("value".into(), other);
                    wrapped
                }
                Some(Err(error)) => return Some(Err(error)),
            };
            match format {
                Format::Jsonl => {
                    page.extend(serde_json::to_vec(&row).expect("a JSON object serialises"));
                    page.push(b'\n');
                }
                Format::Csv => page.extend(csv_line(columns.iter().map(|c| cell(row.get(c))))),
            }
            if page.len() > 64 * 1024 {
                break;
            }
        }
        (!page.is_empty()).then(|| Ok(Bytes::from(page)))
    });
    header.into_iter().chain(body)
}
