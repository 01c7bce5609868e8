//! Who is calling: the authenticated principal with its role and scope (from a verified token; the
//! adapters verify, this layer decides).

use domain::ids::{RegionCode, TeamId};
use serde::{Deserialize, Serialize};

/// The roles of DOMAIN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    CityCdc,
    CountyCdc,
    HealthBureauApprover,
    Supervisor,
    YouthLeague,
    TeamLeader,
    Auditor,
    IntegrationPartner,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::CityCdc,
        Role::CountyCdc,
        Role::HealthBureauApprover,
        Role::Supervisor,
        Role::YouthLeague,
        Role::TeamLeader,
        Role::Auditor,
        Role::IntegrationPartner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::CityCdc => "city_cdc",
            Role::CountyCdc => "county_cdc",
            Role::HealthBureauApprover => "health_bureau_approver",
            Role::Supervisor => "supervisor",
            Role::YouthLeague => "youth_league",
            Role::TeamLeader => "team_leader",
            Role::Auditor => "auditor",
            Role::IntegrationPartner => "integration_partner",
        }
    }
}

/// An authenticated caller: `{sub, role, regions[], teams[], grants[]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Stable subject id from the identity provider (not personal data: an account id).
    pub subject: String,
    pub role: Role,
    /// Regions the actor acts for; a city or province code covers the regions below it.
    pub regions: Vec<RegionCode>,
    /// Teams the actor acts for (team leaders, Youth League).
    pub teams: Vec<TeamId>,
    /// For integration partners: the command kinds granted (e.g. `"RecordActivity"`).
    pub grants: Vec<String>,
}

impl Actor {
    /// Whether one of the actor's regions covers `region` (itself, or a city/province above it).
    pub fn covers_region(&self, region: &RegionCode) -> bool {
        self.regions.iter().any(|mine| covers(mine, region))
    }

    pub fn has_team(&self, team: &TeamId) -> bool {
        self.teams.contains(team)
    }
}

/// `outer` covers `inner`: equal, or `outer` is the city (`xxxx00`) or province (`xx0000`) of `inner`.
pub fn covers(outer: &RegionCode, inner: &RegionCode) -> bool {
    if outer == inner {
        return true;
    }
    let o = outer.as_str();
    if o.ends_with("0000") {
        return inner.province() == *outer;
    }
    if o.ends_with("00") {
        return inner.city() == *outer;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> RegionCode {
        RegionCode::parse("r", s).unwrap()
    }

    #[test]
    fn a_city_covers_its_counties_a_county_only_itself() {
        assert!(covers(&r("330600"), &r("330602")));
        assert!(covers(&r("330000"), &r("330602")));
        assert!(covers(&r("330602"), &r("330602")));
        assert!(!covers(&r("330602"), &r("330603")));
        assert!(
            !covers(&r("330602"), &r("330600")),
            "a county does not cover its city"
        );
        assert!(
            !covers(&r("330600"), &r("320102")),
            "Shaoxing does not cover Nanjing"
        );
    }
}
