//! Events as persisted facts: explicit type strings and schema versions, encoded as JSON payloads.
//!
//! Policy: an event type string and the meaning of a schema version never change. A changed shape gets
//! schema version n+1; decoding an older version goes through an upcaster registered in the event enum's
//! `upcast` hook (see [`domain_events!`]). Payloads contain no floats (hashes must be reproducible) and no
//! plaintext personal data.

/// Encoding/decoding failure of a stored event.
#[derive(Debug, thiserror::Error)]
pub enum EventCodecError {
    #[error("unknown event type {event_type:?}")]
    UnknownType { event_type: String },
    #[error(
        "event type {event_type:?} has no schema version {schema_version} (current is {current})"
    )]
    UnknownVersion {
        event_type: String,
        schema_version: u32,
        current: u32,
    },
    #[error("payload of {event_type:?} v{schema_version} does not decode: {source}")]
    Payload {
        event_type: String,
        schema_version: u32,
        #[source]
        source: serde_json::Error,
    },
}

/// An event enum of one aggregate. Implemented by [`domain_events!`].
pub trait DomainEvent: Sized {
    /// Every `(type, current schema version)` this enum can produce.
    const TYPES: &'static [(&'static str, u32)];
    fn event_type(&self) -> &'static str;
    fn schema_version(&self) -> u32;
    /// The payload as exact JSON text (no floats).
    fn to_payload(&self) -> Result<String, EventCodecError>;
    /// Decode a stored payload, upcasting older schema versions.
    fn from_payload(
        event_type: &str,
        schema_version: u32,
        payload: &str,
    ) -> Result<Self, EventCodecError>;
}

/// Declare an aggregate's event enum with a type string and schema version per variant.
///
/// ```text
/// domain_events! {
///     /// Events of a team.
///     pub enum TeamEvent {
///         Registered(TeamRegistered) = ("TeamRegistered", 1),
///         Suspended(TeamSuspended) = ("TeamSuspended", 1),
///     }
/// }
/// ```
/// Each payload type must be `Serialize + DeserializeOwned`. Older schema versions are rejected with
/// [`EventCodecError::UnknownVersion`] until an upcaster is added to the enum's `upcast` arm.
#[macro_export]
macro_rules! domain_events {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident($payload:ty) = ($ty:literal, $ver:literal) ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant($payload) ),+
        }

        impl $crate::event::DomainEvent for $name {
            const TYPES: &'static [(&'static str, u32)] = &[ $( ($ty, $ver) ),+ ];

            fn event_type(&self) -> &'static str {
                match self { $( Self::$variant(_) => $ty ),+ }
            }

            fn schema_version(&self) -> u32 {
                match self { $( Self::$variant(_) => $ver ),+ }
            }

            fn to_payload(&self) -> Result<String, $crate::event::EventCodecError> {
                match self {
                    $( Self::$variant(p) => serde_json::to_string(p).map_err(|source| {
                        $crate::event::EventCodecError::Payload { event_type: $ty.to_owned(), schema_version: $ver, source }
                    }) ),+
                }
            }

            fn from_payload(
                event_type: &str,
                schema_version: u32,
                payload: &str,
            ) -> Result<Self, $crate::event::EventCodecError> {
                match event_type {
                    $( $ty => {
                        if schema_version != $ver {
                            return Err($crate::event::EventCodecError::UnknownVersion {
                                event_type: event_type.to_owned(), schema_version, current: $ver,
                            });
                        }
                        serde_json::from_str::<$payload>(payload).map(Self::$variant).map_err(|source| {
                            $crate::event::EventCodecError::Payload { event_type: $ty.to_owned(), schema_version, source }
                        })
                    } )+
                    other => Err($crate::event::EventCodecError::UnknownType { event_type: other.to_owned() }),
                }
            }
        }
    };
}
