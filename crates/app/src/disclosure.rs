//! Unmasking a volunteer's personal data, for a stated reason that is recorded first (PIPL; DOMAIN.md:
//! "log who viewed unmasked data"; the auditor "unmasks personal data only with a recorded reason").
//!
//! Policy of this module:
//! - **Permission, not command.** Unmasking is authorised by [`Permission::UnmaskPersonalData`] (the
//!   CDCs, the supervisor and the auditor of the volunteer's home region; partners only when granted),
//!   checked against the volunteer's home region.
//! - **Recorded before shown.** The decision (`domain::disclosure`: a reason of 4–500 characters, named
//!   fields, a readable person) is appended to the person's `disclosure-<id>` stream, with the actor in
//!   the metadata like any command; only after the append has committed is the sealed record opened.
//!   If anything fails, nothing is shown.
//! - **Only the fields asked for** are returned; the others stay `None`. A retried request (same
//!   idempotency key) is recorded once and shows the data again.
//! - Nothing here logs the plaintext.

use domain::aggregate::{Aggregate, Decision};
use domain::disclosure::{DisclosedField, DisclosureFacts, Disclosures, RecordDisclosure};
use domain::error::DomainError;
use domain::ids::VolunteerId;
use domain::volunteer::Volunteer;
use eventstore::Token;

use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::Append;
use crate::policy::{Permission, Subject, authorize_read, holds};

/// What an unmasking showed, and where it was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosed {
    pub volunteer: VolunteerId,
    /// The fields shown, sorted, each once.
    pub fields: Vec<DisclosedField>,
    pub name: Option<String>,
    pub document_number: Option<String>,
    pub phone: Option<String>,
    /// The disclosure record's token in the log.
    pub recorded_at_token: Option<Token>,
}

fn erased() -> AppError {
    DomainError::lifecycle(
        "volunteer",
        "this person's data was erased; there is nothing to show",
    )
    .into()
}

impl Ledger {
    /// Show `command.fields` of a volunteer in clear after recording who asked, what and why.
    #[tracing::instrument(name = "command.disclose_personal_data", skip_all)]
    pub async fn disclose_volunteer(
        &self,
        ctx: &CommandContext,
        command: RecordDisclosure,
    ) -> Result<Disclosed, AppError> {
        let name = Permission::UnmaskPersonalData.name();
        let fingerprint = self
            .hasher()
            .fingerprint(name, format!("{command:?}").as_bytes());
        // The role first: who may not unmask at all learns nothing, not even whether the id exists.
        holds(&ctx.actor, Permission::UnmaskPersonalData)?;
        let volunteer = self
            .load::<Volunteer>(&command.volunteer.to_string())
            .await?;
        let v = &volunteer.state;
        let Some(home_region) = v.home_region().filter(|_| v.is_registered()) else {
            return Err(AppError::not_found(
                "volunteer",
                format!("volunteer {} is not registered", command.volunteer),
            ));
        };
        let subject = Subject {
            region: home_region,
            team: None,
        };
        authorize_read(&ctx.actor, Permission::UnmaskPersonalData, &subject)?;
        let facts = DisclosureFacts {
            registered: true,
            erased: v.is_erased(),
        };
        let loaded = self
            .load::<Disclosures>(&command.volunteer.to_string())
            .await?;
        let received_at = self.now();
        let recorded: Result<_, AppError> = async {
            let events = loaded
                .state
                .decide(&command, &facts, &Decision { received_at })?;
            let append = Append {
                command_name: name,
                stream_id: loaded.stream_id.clone(),
                version: loaded.version,
                subject: &subject,
                fingerprint,
                claims: vec![],
                occurred_at: received_at,
            };
            self.append_decided(ctx, append, &events).await
        }
        .await;
        let outcome = self.or_replayed(ctx, fingerprint, recorded).await?;
        let Some(sealed) = v.personal().filter(|_| !v.is_erased()) else {
            return Err(erased());
        };
        let Some(record) = self
            .open_personal(&volunteer.stream_id, "volunteer.personal", sealed)
            .await?
        else {
            return Err(erased());
        };
        let mut fields = command.fields;
        fields.sort_unstable();
        fields.dedup();
        let shown = |f: DisclosedField| fields.contains(&f);
        Ok(Disclosed {
            volunteer: command.volunteer,
            name: shown(DisclosedField::Name).then(|| record.name.clone()),
            document_number: shown(DisclosedField::DocumentNumber)
                .then(|| record.id_number.clone())
                .flatten(),
            phone: shown(DisclosedField::Phone)
                .then(|| record.phone.clone())
                .flatten(),
            fields,
            recorded_at_token: outcome.token,
        })
    }
}
