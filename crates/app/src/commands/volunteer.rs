//! Volunteers: registration (the one door through which identity data enters), memberships, trainings,
//! qualifications, corrections, erasure, and lookup by identity document.
//!
//! Registration: validate the document (GB 11643 and the other kinds) → claim the person by a keyed hash
//! of the normalised document number (scope `person`; the hash lives only in the mutable claims table,
//! never in events) → authorise → seal name, number and phone with a new per-person key → decide →
//! append with the claim. If the append fails, the new key is forgotten again.
//!
//! Erasure: append `VolunteerErased`, then destroy the key and release the person claim. A retry of the
//! same erasure repeats the last two steps, so a crash between them cannot leave the data readable.

use chrono::NaiveDate;
use domain::Aggregate;
use domain::activity::Activity;
use domain::campaign::{shanghai_date, shanghai_start_of_day};
use domain::identity::{self, DocumentKind};
use domain::ids::{RegionCode, Text, VolunteerId};
use domain::team::Team;
use domain::volunteer::{
    Attestation, RecordQualification, RegisterVolunteer, ReserveTier, Volunteer, VolunteerCommand,
    VolunteerFacts,
};
use personal_data::PersonalRecord;

use crate::actor::Role;
use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::{CommandOutcome, Prepared};
use crate::policy::{CommandKind, Subject, authorize};

/// Claim scope of a person's identity (one registration per person).
pub const PERSON_CLAIM: &str = "person";
const PERSONAL_PURPOSE: &str = "volunteer.personal";
const QUALIFICATION_PURPOSE: &str = "volunteer.qualification";
const MAX_NAME_CHARS: usize = 50;

/// A registration as the caller sends it, with plaintext personal data. `Debug` is redacted.
#[derive(Clone)]
pub struct RegisterVolunteerInput {
    pub volunteer: VolunteerId,
    pub document_kind: DocumentKind,
    pub document_number: String,
    /// Required for documents that do not carry a birth date (passports, old residence cards).
    pub declared_birth_date: Option<NaiveDate>,
    pub name: String,
    pub phone: Option<String>,
    pub home_region: RegionCode,
    pub attestation: Attestation,
    pub skills: Vec<Text>,
    pub reserve_tier: ReserveTier,
    pub registered_on: NaiveDate,
}

impl std::fmt::Debug for RegisterVolunteerInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterVolunteerInput")
            .field("volunteer", &self.volunteer)
            .field("document_kind", &self.document_kind)
            .field("personal", &"[redacted]")
            .field("home_region", &self.home_region)
            .finish_non_exhaustive()
    }
}

/// A qualification as the caller sends it: the certificate reference in plaintext (it is sealed).
#[derive(Clone)]
pub struct RecordQualificationInput {
    pub volunteer: VolunteerId,
    pub role: domain::volunteer::ProfessionalRole,
    pub certificate_reference: String,
    pub valid_from: NaiveDate,
    pub passed_training_on: Option<NaiveDate>,
}

/// Every volunteer command; registration and qualification carry plaintext to be sealed.
#[derive(Debug, Clone)]
pub enum VolunteerInput {
    Register(RegisterVolunteerInput),
    RecordQualification(RecordQualificationInput),
    /// Any other command on an existing volunteer (its `Register` / `RecordQualification` variants are
    /// refused here: they must come through the inputs above so personal data is sealed by the service).
    Other {
        volunteer: VolunteerId,
        command: VolunteerCommand,
    },
}

impl std::fmt::Debug for RecordQualificationInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordQualificationInput")
            .field("volunteer", &self.volunteer)
            .field("role", &self.role)
            .field("certificate_reference", &"[redacted]")
            .finish_non_exhaustive()
    }
}

fn kind_of(command: &VolunteerCommand) -> CommandKind {
    match command {
        VolunteerCommand::Register(_) => CommandKind::RegisterVolunteer,
        VolunteerCommand::JoinTeam(_) => CommandKind::JoinTeam,
        VolunteerCommand::LeaveTeam(_) => CommandKind::LeaveTeam,
        VolunteerCommand::RecordTraining(_) => CommandKind::RecordTraining,
        VolunteerCommand::RecordQualification(_) => CommandKind::RecordQualification,
        VolunteerCommand::RequestCorrection(_) => CommandKind::RequestCorrection,
        VolunteerCommand::ResolveCorrection(_) => CommandKind::ResolveCorrection,
        VolunteerCommand::Erase(_) => CommandKind::EraseVolunteer,
    }
}

fn validate_name(name: &str) -> Result<(), AppError> {
    let n = name.trim().chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters without control characters"),
        ));
    }
    Ok(())
}

fn validate_phone(phone: Option<&str>) -> Result<(), AppError> {
    if let Some(p) = phone {
        let digits = p.strip_prefix('+').unwrap_or(p);
        if digits.len() < 5
            || digits.len() > 20
            || !digits.chars().all(|c| c.is_ascii_digit() || c == '-')
        {
            return Err(AppError::invalid(
                "phone",
                "must be 5 to 20 digits (a leading + and '-' allowed)",
            ));
        }
    }
    Ok(())
}

impl Ledger {
    /// The keyed hash that identifies a person by document number (hex), as held in the claims table.
    fn person_claim_key(&self, normalized_number: &str) -> String {
        hex::encode(self.hasher().dedup_key(normalized_number))
    }

    /// Run a volunteer command.
    pub async fn volunteer(
        &self,
        ctx: &CommandContext,
        input: VolunteerInput,
    ) -> Result<CommandOutcome, AppError> {
        match input {
            VolunteerInput::Register(i) => self.register_volunteer(ctx, i).await,
            VolunteerInput::RecordQualification(i) => self.record_qualification(ctx, i).await,
            VolunteerInput::Other { volunteer, command } => {
                self.volunteer_command(ctx, volunteer, command).await
            }
        }
    }

    async fn register_volunteer(
        &self,
        ctx: &CommandContext,
        input: RegisterVolunteerInput,
    ) -> Result<CommandOutcome, AppError> {
        let kind = CommandKind::RegisterVolunteer;
        let plaintext = format!(
            "{:?}|{}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            input.document_kind,
            input.document_number,
            input.declared_birth_date,
            input.name,
            input.phone,
            input.home_region,
            input.attestation,
            input.skills,
            input.reserve_tier,
            (input.volunteer, input.registered_on),
        );
        let fingerprint = self.fingerprint(kind, &plaintext);
        if let Some(done) = self.replayed(ctx, fingerprint).await? {
            return Ok(done);
        }
        let subject = Subject {
            region: input.home_region,
            team: None,
        };
        authorize(&ctx.actor, kind, &subject)?;
        let today = shanghai_date(self.now());
        let verified = identity::verify(
            input.document_kind,
            &input.document_number,
            input.declared_birth_date,
            today,
        )
        .map_err(|e| AppError::from(e.within("document")))?;
        validate_name(&input.name)?;
        validate_phone(input.phone.as_deref())?;
        let claim_key = self.person_claim_key(&verified.normalized_number);
        if let Some(holder) = self.store().claim_holder(PERSON_CLAIM, &claim_key).await? {
            return Err(AppError {
                code: crate::ErrorCode::AlreadyExists,
                rule: None,
                field: Some("document.number".into()),
                message: format!("a volunteer with this document is already registered ({holder})"),
            });
        }
        let loaded = self.load::<Volunteer>(&input.volunteer.to_string()).await?;
        if loaded.version > 0 {
            return Err(AppError::from(domain::DomainError::already_exists(
                "volunteer",
                "this volunteer id is registered already",
            )));
        }
        let record = PersonalRecord {
            name: input.name.trim().to_owned(),
            id_number: Some(verified.normalized_number.clone()),
            phone: input.phone.clone(),
        };
        let stream_id = loaded.stream_id.clone();
        let sealed = self
            .seal_personal(&stream_id, PERSONAL_PURPOSE, &record)
            .await?;
        let command = VolunteerCommand::Register(RegisterVolunteer {
            volunteer: input.volunteer,
            document_kind: verified.kind,
            birth_date: verified.birth_date,
            personal: sealed,
            home_region: input.home_region,
            attestation: input.attestation,
            skills: input.skills,
            reserve_tier: input.reserve_tier,
            registered_on: input.registered_on,
        });
        let result = self
            .commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject,
                    command: &command,
                    facts: &VolunteerFacts::default(),
                    fingerprint,
                    claims: vec![eventstore::Claim {
                        scope: PERSON_CLAIM.into(),
                        key: claim_key,
                    }],
                    occurred_at: shanghai_start_of_day(input.registered_on),
                },
            )
            .await;
        if result.is_err() && self.store().current_version(&stream_id).await.unwrap_or(1) == 0 {
            // Nothing was appended: the new key protects nothing. (A failure here leaves an orphan key,
            // which holds no data and is removed by the next attempt's creation path or by hand.)
            if let Err(e) = self.vault().forget(&stream_id).await {
                tracing::warn!(error = %e, "could not forget an unused data key");
            }
        }
        result
    }

    async fn record_qualification(
        &self,
        ctx: &CommandContext,
        input: RecordQualificationInput,
    ) -> Result<CommandOutcome, AppError> {
        let kind = CommandKind::RecordQualification;
        let reference = input.certificate_reference.trim();
        if reference.is_empty() || reference.chars().count() > 100 {
            return Err(AppError::invalid(
                "certificate_reference",
                "must be 1 to 100 characters",
            ));
        }
        let plaintext = format!(
            "{}|{:?}|{reference}|{}|{:?}",
            input.volunteer, input.role, input.valid_from, input.passed_training_on
        );
        let fingerprint = self.fingerprint(kind, &plaintext);
        if let Some(done) = self.replayed(ctx, fingerprint).await? {
            return Ok(done);
        }
        let loaded = self.load_registered(input.volunteer).await?;
        let subject = Subject {
            region: home_region(&loaded.state)?,
            team: None,
        };
        authorize(&ctx.actor, kind, &subject)?;
        let certificate = self
            .seal_text(&loaded.stream_id, QUALIFICATION_PURPOSE, reference)
            .await?;
        let command = VolunteerCommand::RecordQualification(RecordQualification {
            role: input.role,
            certificate,
            valid_from: input.valid_from,
            passed_training_on: input.passed_training_on,
        });
        self.commit(
            ctx,
            Prepared {
                kind,
                loaded,
                subject,
                command: &command,
                facts: &VolunteerFacts::default(),
                fingerprint,
                claims: vec![],
                occurred_at: shanghai_start_of_day(input.valid_from),
            },
        )
        .await
    }

    async fn volunteer_command(
        &self,
        ctx: &CommandContext,
        volunteer: VolunteerId,
        command: VolunteerCommand,
    ) -> Result<CommandOutcome, AppError> {
        let kind = kind_of(&command);
        if matches!(
            command,
            VolunteerCommand::Register(_) | VolunteerCommand::RecordQualification(_)
        ) {
            return Err(AppError::invalid(
                "command",
                "registration and qualifications carry personal data: send them as their plaintext inputs",
            ));
        }
        let fingerprint = self.fingerprint(kind, &(volunteer, &command));
        if let Some(done) = self.replayed(ctx, fingerprint).await? {
            if kind == CommandKind::EraseVolunteer {
                self.shred(&Volunteer::stream_id(&volunteer.to_string()))
                    .await?;
            }
            return Ok(done);
        }
        let loaded = self.load_registered(volunteer).await?;
        let mut facts = VolunteerFacts::default();
        let mut subject = Subject {
            region: home_region(&loaded.state)?,
            team: None,
        };
        let mut occurred_at = None;
        match &command {
            VolunteerCommand::JoinTeam(j) => {
                let team = self.load::<Team>(&j.team.to_string()).await?;
                subject = Subject {
                    region: team.state.region().unwrap_or(subject.region),
                    team: Some(j.team),
                };
                facts.team = team.state.is_registered().then_some(team.state);
                occurred_at = shanghai_start_of_day(j.joined_on);
            }
            VolunteerCommand::LeaveTeam(l) => {
                let team = self.load::<Team>(&l.team.to_string()).await?;
                subject = Subject {
                    region: team.state.region().unwrap_or(subject.region),
                    team: Some(l.team),
                };
                occurred_at = shanghai_start_of_day(l.left_on);
            }
            VolunteerCommand::RecordTraining(t) => occurred_at = shanghai_start_of_day(t.on),
            _ => {}
        }
        // Corrections are handled by the organisation that recorded the activity (谁记录谁证明): its team
        // is the subject's team, so team leaders can act on their own activities' records.
        let corrected = match &command {
            VolunteerCommand::RequestCorrection(r) => Some(r.activity),
            VolunteerCommand::ResolveCorrection(r) => loaded
                .state
                .corrections()
                .get(&r.correction)
                .map(|c| c.activity),
            _ => None,
        };
        if let Some(activity) = corrected {
            let activity = self.load::<Activity>(&activity.to_string()).await?;
            subject.team = activity.state.team();
        }
        let stream_id = loaded.stream_id.clone();
        let outcome = self
            .commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject,
                    command: &command,
                    facts: &facts,
                    fingerprint,
                    claims: vec![],
                    occurred_at,
                },
            )
            .await?;
        if kind == CommandKind::EraseVolunteer {
            self.shred(&stream_id).await?;
        }
        Ok(outcome)
    }

    /// Destroy the person's key and release their identity claim (idempotent).
    async fn shred(&self, stream_id: &str) -> Result<(), AppError> {
        self.vault()
            .destroy(stream_id, self.now())
            .await
            .map_err(|e| AppError::internal("destroying a data key", &e))?;
        self.store()
            .release_claims_of(PERSON_CLAIM, stream_id)
            .await?;
        Ok(())
    }

    async fn load_registered(
        &self,
        volunteer: VolunteerId,
    ) -> Result<crate::pipeline::Loaded<Volunteer>, AppError> {
        let loaded = self.load::<Volunteer>(&volunteer.to_string()).await?;
        if !loaded.state.is_registered() {
            return Err(AppError::not_found(
                "volunteer",
                format!("volunteer {volunteer} is not registered"),
            ));
        }
        Ok(loaded)
    }

    /// Find the volunteer registered with an identity document. Only the CDC roles may look people up,
    /// and only for volunteers whose home region they cover. The document number is hashed, never stored.
    pub async fn find_volunteer_by_document(
        &self,
        actor: &crate::Actor,
        kind: DocumentKind,
        number: &str,
        declared_birth_date: Option<NaiveDate>,
    ) -> Result<Option<VolunteerId>, AppError> {
        if !matches!(actor.role, Role::CityCdc | Role::CountyCdc) {
            return Err(AppError::forbidden(
                "only CDC staff may look volunteers up by identity document",
            ));
        }
        let verified =
            identity::verify(kind, number, declared_birth_date, shanghai_date(self.now()))
                .map_err(|e| AppError::from(e.within("document")))?;
        let Some(stream_id) = self
            .store()
            .claim_holder(
                PERSON_CLAIM,
                &self.person_claim_key(&verified.normalized_number),
            )
            .await?
        else {
            return Ok(None);
        };
        let id = stream_id.strip_prefix("volunteer-").unwrap_or(&stream_id);
        let volunteer = VolunteerId::parse("volunteer", id)
            .map_err(|e| AppError::internal("person claim", &e))?;
        let loaded = self.load_registered(volunteer).await?;
        if !actor.covers_region(&home_region(&loaded.state)?) {
            return Ok(None);
        }
        Ok(Some(volunteer))
    }
}

fn home_region(v: &Volunteer) -> Result<RegionCode, AppError> {
    v.home_region().ok_or_else(|| {
        AppError::internal(
            "volunteer state",
            &"registered volunteer without a home region",
        )
    })
}
