//! The authorisation policy: one table, consulted for every command on every transport.
//!
//! A row names a command kind and, per role allowed to run it, how the role's scope is checked against
//! the command's *subject* (the region of the record it touches, and its team where there is one):
//! - [`Scope::Region`]: one of the actor's regions covers the subject's region;
//! - [`Scope::Team`]: the subject's team is one of the actor's teams.
//!
//! Integration partners are not in the table: they may run a command when their `grants` name its kind
//! and their regions cover the subject. Auditors and supervisors never write records (supervisors write
//! findings only). Anything not in the table is refused.
//!
//! Reads open to every role within its scope (events, reports) are scoped where they are answered. Reads
//! reserved to some roles are [`Permission`]s in a second table, [`READ_POLICY`], with the same scope
//! rules ([`holds`], [`authorize_read`]); partners hold one when their `grants` name it.

use domain::ids::{RegionCode, TeamId};

use crate::actor::{Actor, Role};
use crate::error::AppError;

/// How a role's scope is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Region,
    Team,
}

/// What a command touches, for the scope check and the event metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub region: RegionCode,
    pub team: Option<TeamId>,
}

macro_rules! command_kinds {
    ($($kind:ident),+ $(,)?) => {
        /// Every command the service accepts.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum CommandKind { $($kind),+ }

        impl CommandKind {
            pub const ALL: &'static [CommandKind] = &[$(CommandKind::$kind),+];

            /// The stable name (used in grants, metadata and metrics).
            pub fn name(self) -> &'static str {
                match self { $(CommandKind::$kind => stringify!($kind)),+ }
            }
        }
    };
}

command_kinds!(
    DefineRegion,
    RetireRegion,
    RecordResidentPopulation,
    DefineCampaign,
    AmendCampaignRules,
    RegisterHostUnit,
    AssignDesignatedManager,
    EndManagerAssignment,
    RegisterTeam,
    AmendTeam,
    SuspendTeam,
    ReinstateTeam,
    DissolveTeam,
    RegisterVolunteer,
    JoinTeam,
    LeaveTeam,
    RecordTraining,
    RecordQualification,
    RequestCorrection,
    ResolveCorrection,
    EraseVolunteer,
    RecordActivity,
    CorrectActivity,
    VoidActivity,
    IssueCertificate,
    DraftSummary,
    ReviseSummary,
    SubmitForApproval,
    ApproveSummary,
    ReturnSummary,
    SubmitToCity,
    AcceptSummary,
    ReturnToCounty,
    NominateCase,
    WithdrawNomination,
    SelectCase,
    ForwardToProvince,
    RecordEvaluation,
    RecordSupervisionFinding,
    RespondToFinding,
    CloseFinding,
    IssueDispatch,
    CloseDispatch,
    DeployToGrid,
    EndDeployment,
    RegisterMedicineBox,
    RecordDonation,
    RecordDispensing,
    PostNeed,
    VerifyNeed,
    RejectNeed,
    TakeNeed,
    FulfilNeed,
);

use CommandKind as K;
use Role::{CityCdc, CountyCdc, HealthBureauApprover, Supervisor, TeamLeader, YouthLeague};
use Scope::{Region, Team};

const CDC: &[(Role, Scope)] = &[(CityCdc, Region), (CountyCdc, Region)];
const CITY: &[(Role, Scope)] = &[(CityCdc, Region)];
const COUNTY: &[(Role, Scope)] = &[(CountyCdc, Region)];
const RECORDERS: &[(Role, Scope)] = &[
    (CityCdc, Region),
    (CountyCdc, Region),
    (TeamLeader, Team),
    (YouthLeague, Team),
];
const ORGANISERS: &[(Role, Scope)] = &[(CityCdc, Region), (CountyCdc, Region), (TeamLeader, Team)];

/// The policy table. Keep it in one screen; the matrix test enumerates it.
pub const POLICY: &[(CommandKind, &[(Role, Scope)])] = &[
    (K::DefineRegion, CITY),
    (K::RetireRegion, CITY),
    (K::RecordResidentPopulation, CITY),
    (K::DefineCampaign, CITY),
    (K::AmendCampaignRules, CITY),
    (K::RegisterHostUnit, CDC),
    (K::AssignDesignatedManager, CDC),
    (K::EndManagerAssignment, CDC),
    // Youth League registers student teams (the handler checks the student flag).
    (
        K::RegisterTeam,
        &[
            (CityCdc, Region),
            (CountyCdc, Region),
            (YouthLeague, Region),
        ],
    ),
    (K::AmendTeam, CDC),
    (K::SuspendTeam, CDC),
    (K::ReinstateTeam, CDC),
    (K::DissolveTeam, CDC),
    (K::RegisterVolunteer, CDC),
    (K::JoinTeam, RECORDERS),
    (K::LeaveTeam, RECORDERS),
    (K::RecordTraining, CDC),
    (K::RecordQualification, CDC),
    (K::RequestCorrection, ORGANISERS),
    (K::ResolveCorrection, ORGANISERS),
    (K::EraseVolunteer, CDC),
    (K::RecordActivity, RECORDERS),
    (K::CorrectActivity, RECORDERS),
    (K::VoidActivity, ORGANISERS),
    // 谁记录谁证明: the recording organisation issues (the domain checks the activities are its own).
    (K::IssueCertificate, ORGANISERS),
    (K::DraftSummary, COUNTY),
    (K::ReviseSummary, COUNTY),
    (K::SubmitForApproval, COUNTY),
    (K::ApproveSummary, &[(HealthBureauApprover, Region)]),
    (K::ReturnSummary, &[(HealthBureauApprover, Region)]),
    (K::SubmitToCity, COUNTY),
    (K::AcceptSummary, CITY),
    (K::ReturnToCounty, CITY),
    (K::NominateCase, COUNTY),
    (K::WithdrawNomination, COUNTY),
    (K::SelectCase, CITY),
    (K::ForwardToProvince, CITY),
    (K::RecordEvaluation, CITY),
    (K::RecordSupervisionFinding, &[(Supervisor, Region)]),
    (K::RespondToFinding, ORGANISERS),
    (K::CloseFinding, &[(Supervisor, Region)]),
    (K::IssueDispatch, CDC),
    (K::CloseDispatch, CDC),
    (K::DeployToGrid, CDC),
    (K::EndDeployment, CDC),
    (K::RegisterMedicineBox, CDC),
    (K::RecordDonation, ORGANISERS),
    (K::RecordDispensing, ORGANISERS),
    (K::PostNeed, CDC),
    (K::VerifyNeed, CDC),
    (K::RejectNeed, CDC),
    (K::TakeNeed, ORGANISERS),
    (K::FulfilNeed, ORGANISERS),
];

macro_rules! permissions {
    ($($(#[$meta:meta])* $permission:ident),+ $(,)?) => {
        /// Every read that is not open to all roles by scope alone: held by the roles of
        /// [`READ_POLICY`], or by partners whose `grants` name it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission { $($(#[$meta])* $permission),+ }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$permission),+];

            /// The stable name (used in grants and in `docs/AUTHORIZATION.md`).
            pub fn name(self) -> &'static str {
                match self { $(Permission::$permission => stringify!($permission)),+ }
            }
        }
    };
}

permissions!(
    /// The audit history (A20) of the regions in scope, the notary's checkpoints and the verification
    /// status (`app::audit`).
    ReadAuditHistory,
    /// A volunteer's personal data unmasked, for a stated reason that is recorded in the log first
    /// (`PersonalDataDisclosed`; PIPL, DOMAIN.md: the auditor "unmasks only with a recorded reason").
    UnmaskPersonalData,
);

/// Who holds each [`Permission`], with the scope its rows are restricted to. Auditors read their granted
/// jurisdiction, the civil-affairs supervisor its own (DOMAIN.md, roles).
/// Unmasking is for the staff who keep the records (CDCs) and for those who check them, never for team
/// leaders, the Youth League or the approver; partners only when granted.
pub const READ_POLICY: &[(Permission, &[(Role, Scope)])] = &[
    (
        Permission::ReadAuditHistory,
        &[(Supervisor, Region), (Role::Auditor, Region)],
    ),
    (
        Permission::UnmaskPersonalData,
        &[
            (CityCdc, Region),
            (CountyCdc, Region),
            (Supervisor, Region),
            (Role::Auditor, Region),
        ],
    ),
];

/// The roles holding `permission`, with their scope rule.
pub fn permission_rule(permission: Permission) -> &'static [(Role, Scope)] {
    READ_POLICY
        .iter()
        .find(|(p, _)| *p == permission)
        .map_or(&[], |(_, roles)| *roles)
}

/// Whether `actor` holds `permission` at all (its role is in [`READ_POLICY`], or it is a partner granted
/// it): the scope rule to apply to what it reads, or `Forbidden`.
pub fn holds(actor: &Actor, permission: Permission) -> Result<Scope, AppError> {
    if actor.role == Role::IntegrationPartner {
        return if actor.grants.iter().any(|g| g == permission.name()) {
            Ok(Scope::Region)
        } else {
            Err(AppError::forbidden(format!(
                "this client is not granted {}",
                permission.name()
            )))
        };
    }
    permission_rule(permission)
        .iter()
        .find(|(role, _)| *role == actor.role)
        .map(|(_, scope)| *scope)
        .ok_or_else(|| {
            AppError::forbidden(format!(
                "role {} does not hold {}",
                actor.role.as_str(),
                permission.name()
            ))
        })
}

/// Allow or refuse `actor` reading, under `permission`, what concerns `subject`.
pub fn authorize_read(
    actor: &Actor,
    permission: Permission,
    subject: &Subject,
) -> Result<(), AppError> {
    let in_scope = match holds(actor, permission)? {
        Scope::Region => actor.covers_region(&subject.region),
        Scope::Team => subject.team.as_ref().is_some_and(|t| actor.has_team(t)),
    };
    if in_scope {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "{} of region {} is outside the actor's scope",
            permission.name(),
            subject.region
        )))
    }
}

/// The roles allowed to run `kind`, with their scope rule.
pub fn rule(kind: CommandKind) -> &'static [(Role, Scope)] {
    POLICY
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[], |(_, roles)| *roles)
}

/// Allow or refuse `actor` running `kind` on `subject`.
pub fn authorize(actor: &Actor, kind: CommandKind, subject: &Subject) -> Result<(), AppError> {
    if actor.role == Role::IntegrationPartner {
        return if actor.grants.iter().any(|g| g == kind.name())
            && actor.covers_region(&subject.region)
        {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "this client is not granted {} for region {}",
                kind.name(),
                subject.region
            )))
        };
    }
    let Some((_, scope)) = rule(kind).iter().find(|(role, _)| *role == actor.role) else {
        return Err(AppError::forbidden(format!(
            "role {} may not {}",
            actor.role.as_str(),
            kind.name()
        )));
    };
    let in_scope = match scope {
        Scope::Region => actor.covers_region(&subject.region),
        Scope::Team => subject.team.as_ref().is_some_and(|t| actor.has_team(t)),
    };
    if in_scope {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "{} of role {} is outside the actor's scope (region {})",
            kind.name(),
            actor.role.as_str(),
            subject.region
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_kind_has_exactly_one_policy_row() {
        for kind in CommandKind::ALL {
            assert_eq!(
                POLICY.iter().filter(|(k, _)| k == kind).count(),
                1,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn auditors_never_write_and_supervisors_write_only_findings() {
        for (kind, roles) in POLICY {
            assert!(roles.iter().all(|(r, _)| *r != Role::Auditor), "{kind:?}");
            let supervisor = roles.iter().any(|(r, _)| *r == Role::Supervisor);
            assert_eq!(
                supervisor,
                matches!(kind, K::RecordSupervisionFinding | K::CloseFinding),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn a19_cdcs_implement_and_the_city_cdc_evaluates_and_selects() {
        assert_eq!(rule(K::RecordEvaluation), CITY);
        assert_eq!(rule(K::SelectCase), CITY);
        for kind in [K::RecordActivity, K::RegisterVolunteer, K::RegisterTeam] {
            assert!(rule(kind).contains(&(CountyCdc, Region)), "{kind:?}");
        }
    }

    #[test]
    fn a21_the_youth_league_registers_student_teams_and_records_their_activities_only() {
        let allowed: Vec<CommandKind> = POLICY
            .iter()
            .filter(|(_, roles)| roles.iter().any(|(r, _)| *r == YouthLeague))
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(
            allowed,
            vec![
                K::RegisterTeam,
                K::JoinTeam,
                K::LeaveTeam,
                K::RecordActivity,
                K::CorrectActivity
            ]
        );
        assert!(
            rule(K::RecordActivity).contains(&(YouthLeague, Team)),
            "scoped to its own teams"
        );
    }

    #[test]
    fn a16_only_the_health_bureau_approves_or_returns_a_summary() {
        for kind in [K::ApproveSummary, K::ReturnSummary] {
            assert_eq!(rule(kind), &[(HealthBureauApprover, Region)]);
        }
    }
}

/// The policy as a Markdown table (commands × roles): `region` / `team` = allowed within that scope,
/// `grant` = partners with the command's grant, `—` = refused. `docs/AUTHORIZATION.md` holds this
/// table; a test fails when the two differ, so every policy change is reviewed as a diff of that page.
pub fn matrix_markdown() -> String {
    let mut out = String::from("| command |");
    for role in Role::ALL {
        out.push_str(&format!(" {} |", role.as_str()));
    }
    out.push_str("\n|---|");
    for _ in Role::ALL {
        out.push_str("---|");
    }
    out.push('\n');
    for kind in CommandKind::ALL {
        out.push_str(&format!("| {} |", kind.name()));
        for role in Role::ALL {
            let cell = if role == Role::IntegrationPartner {
                "grant"
            } else {
                match rule(*kind).iter().find(|(r, _)| *r == role) {
                    Some((_, Scope::Region)) => "region",
                    Some((_, Scope::Team)) => "team",
                    None => "—",
                }
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out.push_str("\n| read permission |");
    for role in Role::ALL {
        out.push_str(&format!(" {} |", role.as_str()));
    }
    out.push_str("\n|---|");
    for _ in Role::ALL {
        out.push_str("---|");
    }
    out.push('\n');
    for permission in Permission::ALL {
        out.push_str(&format!("| {} |", permission.name()));
        for role in Role::ALL {
            let cell = if role == Role::IntegrationPartner {
                "grant"
            } else {
                match permission_rule(*permission)
                    .iter()
                    .find(|(r, _)| *r == role)
                {
                    Some((_, Scope::Region)) => "region",
                    Some((_, Scope::Team)) => "team",
                    None => "—",
                }
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod matrix {
    use super::*;
    use domain::ids::{RegionCode, TeamId};

    /// The reviewed matrix: the table between the markers of `docs/AUTHORIZATION.md`.
    fn reviewed() -> &'static str {
        let page = include_str!("../../../docs/AUTHORIZATION.md");
        let start = page.find("<!-- matrix:start -->").unwrap() + "<!-- matrix:start -->".len();
        let end = page.find("<!-- matrix:end -->").unwrap();
        page[start..end].trim()
    }

    /// The commands table of the reviewed matrix, and the read permissions table after it.
    fn tables() -> (&'static str, &'static str) {
        let (commands, permissions) = reviewed().split_once("\n\n").unwrap();
        (commands.trim(), permissions.trim())
    }

    fn header_roles(table: &str) -> Vec<&str> {
        table
            .lines()
            .next()
            .unwrap()
            .split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .skip(1)
            .collect()
    }

    #[test]
    fn the_policy_table_equals_the_reviewed_matrix_in_docs_authorization() {
        assert_eq!(
            matrix_markdown().trim(),
            reviewed(),
            "app::policy and docs/AUTHORIZATION.md differ: review the change and update the page"
        );
    }

    fn actor(role: Role, grants: Vec<String>) -> Actor {
        Actor {
            subject: format!("matrix-{}", role.as_str()),
            role,
            regions: vec![RegionCode::parse("r", "330602").unwrap()],
            teams: vec![TeamId(uuid::Uuid::from_u128(1))],
            grants,
        }
    }

    /// Every role × every command × in scope / out of scope is allowed or refused exactly as the
    /// reviewed matrix says (out of scope: another county and another team).
    #[test]
    fn every_role_and_command_in_and_out_of_scope_is_decided_as_the_matrix_says() {
        let inside = Subject {
            region: RegionCode::parse("r", "330602").unwrap(),
            team: Some(TeamId(uuid::Uuid::from_u128(1))),
        };
        let outside = Subject {
            region: RegionCode::parse("r", "330603").unwrap(),
            team: Some(TeamId(uuid::Uuid::from_u128(2))),
        };
        let roles = header_roles(tables().0);
        let mut checked = 0;
        for line in tables().0.lines().skip(2) {
            let cells: Vec<&str> = line
                .split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            let kind = *CommandKind::ALL
                .iter()
                .find(|k| k.name() == cells[0])
                .unwrap();
            for (role_name, cell) in roles.iter().zip(&cells[1..]) {
                let role = *Role::ALL.iter().find(|r| r.as_str() == *role_name).unwrap();
                let granted = actor(role, vec![kind.name().to_owned()]);
                let ungranted = actor(role, vec![]);
                let (expect_in, expect_out) = match *cell {
                    "region" => (true, false),
                    "team" => (true, false),
                    "grant" => (true, false),
                    "—" => (false, false),
                    other => panic!("unknown cell {other:?}"),
                };
                assert_eq!(
                    authorize(&granted, kind, &inside).is_ok(),
                    expect_in,
                    "{role_name} {kind:?} in scope"
                );
                assert_eq!(
                    authorize(&granted, kind, &outside).is_ok(),
                    expect_out,
                    "{role_name} {kind:?} out of scope"
                );
                if *cell == "grant" {
                    assert!(
                        authorize(&ungranted, kind, &inside).is_err(),
                        "{kind:?} without grant"
                    );
                }
                if *cell == "team" {
                    let other_team_same_region = Subject {
                        team: Some(TeamId(uuid::Uuid::from_u128(2))),
                        ..inside.clone()
                    };
                    assert!(
                        authorize(&granted, kind, &other_team_same_region).is_err(),
                        "{role_name} {kind:?} other team"
                    );
                }
                if *cell == "region" {
                    let city = actor(role, vec![]);
                    let city = Actor {
                        regions: vec![RegionCode::parse("r", "330600").unwrap()],
                        ..city
                    };
                    assert!(
                        authorize(&city, kind, &inside).is_ok(),
                        "{role_name} {kind:?}: a city scope covers its counties"
                    );
                }
                for refused in [authorize(&granted, kind, &outside)] {
                    if let Err(e) = refused {
                        assert_eq!(e.code, crate::error::ErrorCode::Forbidden);
                    }
                }
                checked += 1;
            }
        }
        assert_eq!(checked, CommandKind::ALL.len() * Role::ALL.len());
    }
    /// Every role × every read permission × in scope / out of scope, as the reviewed matrix says.
    #[test]
    fn every_role_and_read_permission_in_and_out_of_scope_is_decided_as_the_matrix_says() {
        let inside = Subject {
            region: RegionCode::parse("r", "330602").unwrap(),
            team: None,
        };
        let outside = Subject {
            region: RegionCode::parse("r", "330603").unwrap(),
            team: None,
        };
        let (_, table) = tables();
        let roles = header_roles(table);
        let mut checked = 0;
        for line in table.lines().skip(2) {
            let cells: Vec<&str> = line
                .split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            let permission = *Permission::ALL
                .iter()
                .find(|p| p.name() == cells[0])
                .unwrap();
            for (role_name, cell) in roles.iter().zip(&cells[1..]) {
                let role = *Role::ALL.iter().find(|r| r.as_str() == *role_name).unwrap();
                let granted = actor(role, vec![permission.name().to_owned()]);
                let expect_in = match *cell {
                    "region" | "grant" => true,
                    "—" => false,
                    other => panic!("unknown cell {other:?}"),
                };
                assert_eq!(
                    authorize_read(&granted, permission, &inside).is_ok(),
                    expect_in,
                    "{role_name} {permission:?} in scope"
                );
                let refused = authorize_read(&granted, permission, &outside).unwrap_err();
                assert_eq!(refused.code, crate::error::ErrorCode::Forbidden);
                if *cell == "grant" {
                    assert!(
                        authorize_read(&actor(role, vec![]), permission, &inside).is_err(),
                        "{permission:?} without grant"
                    );
                }
                checked += 1;
            }
        }
        assert_eq!(checked, Permission::ALL.len() * Role::ALL.len());
    }

    #[test]
    fn a20_auditors_and_supervisors_read_the_audit_history_and_no_other_role_does() {
        let holders: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| holds(&actor(*r, vec![]), Permission::ReadAuditHistory).is_ok())
            .collect();
        assert_eq!(holders, vec![Role::Supervisor, Role::Auditor]);
    }
}
