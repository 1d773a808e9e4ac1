//! Newtypes for identifiers, so a ticket id can never be passed where a user id is
//! expected. Ids are positive and never reused; the store hands them out.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A user account.
    UserId
);
id_type!(
    /// A help ticket.
    TicketId
);
id_type!(
    /// A device session: one login on one device, holding one refresh token.
    DeviceSessionId
);
id_type!(
    /// A one-on-one mentoring session.
    SessionId
);
id_type!(
    /// A 30-minute chunk of a mentor's availability.
    ChunkId
);
id_type!(
    /// A help queue (a desk: "Help", "Hardware lab"). Queue 1 always exists.
    QueueId
);
