//! # access — who is calling
//!
//! Policy of this crate:
//! - **Verify, don't decide.** A bearer JWT is checked (signature, algorithm, expiry, issuer, audience)
//!   and its claims become an [`app::Actor`]. What the actor may do is decided once, in `app::policy`.
//! - **Keys come from configuration.** Production verifies with the identity provider's Ed25519 public key
//!   (EdDSA, PEM) or a shared HS256 secret; the service never needs a private key to verify.
//! - **Development tokens** ([`DevIssuer`]) are minted with a throwaway random HS256 secret that lives only
//!   in the process; the binary refuses them under production configuration.
//! - Every failure is `Unauthenticated` with a reason that names the claim, never the token itself.
//! - **A verified token is remembered until its `exp`** (exactly that text; at most
//!   [`REMEMBERED_TOKENS`], forgotten all at once when full), so a client that sends the same token on
//!   every call pays for one signature check and one claims parse, not one per call. Nothing but `exp`
//!   can change the verdict on an unchanged token (the keys are fixed for the process's life, `nbf` is
//!   not used); a remembered token is never accepted after its `exp` (no leeway), then it is verified
//!   afresh.
//!
//! Uses the `jsonwebtoken` crate (RustCrypto backend): algorithm pinning, `exp`/`nbf` with leeway,
//! issuer and audience checks are its well-tested job, not ours (`docs/adr/0006-api-adapters.md`).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use app::{Actor, AppError, ErrorCode, Role};
use domain::ids::{RegionCode, TeamId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The token's claims. `regions`, `teams` and `grants` are the actor's scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub grants: Vec<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// A configuration error (at start-up; names what is wrong).
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("{what}: {reason}")]
    BadKey { what: &'static str, reason: String },
    #[error("could not sign a development token: {0}")]
    Sign(String),
}

/// Most verified tokens remembered at once.
pub const REMEMBERED_TOKENS: usize = 10_000;

/// Verifies bearer tokens. Cheap to share behind an `Arc`.
pub struct Authenticator {
    key: DecodingKey,
    validation: Validation,
    /// Tokens verified before (by their text): the actor and the `exp` claim.
    verified: Mutex<HashMap<Box<str>, (Actor, i64)>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

fn validation(algorithm: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut v = Validation::new(algorithm);
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.leeway = 30;
    v
}

impl Authenticator {
    /// Verify HS256 tokens signed with `secret` (at least 32 bytes).
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Result<Self, AccessError> {
        if secret.len() < 32 {
            return Err(AccessError::BadKey {
                what: "HS256 secret",
                reason: format!("must be at least 32 bytes, got {}", secret.len()),
            });
        }
        Ok(Self {
            key: DecodingKey::from_secret(secret),
            validation: validation(Algorithm::HS256, issuer, audience),
            verified: Mutex::default(),
        })
    }

    /// Verify EdDSA (Ed25519) tokens with the identity provider's public key in PEM.
    pub fn ed25519_pem(
        public_key_pem: &[u8],
        issuer: &str,
        audience: &str,
    ) -> Result<Self, AccessError> {
        let key = DecodingKey::from_ed_pem(public_key_pem).map_err(|e| AccessError::BadKey {
            what: "Ed25519 public key",
            reason: e.to_string(),
        })?;
        Ok(Self {
            key,
            validation: validation(Algorithm::EdDSA, issuer, audience),
            verified: Mutex::default(),
        })
    }

    /// The actor of an `Authorization` header value (`Bearer <jwt>`), or `Unauthenticated`.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Actor, AppError> {
        let Some(header) = authorization else {
            return Err(unauthenticated(
                "missing bearer token (Authorization: Bearer <jwt>)",
            ));
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <jwt>`"))?;
        let now = chrono::Utc::now().timestamp();
        if let Some(actor) = self.remembered(token, now) {
            return Ok(actor);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| unauthenticated(&format!("invalid token: {}", reason(&e))))?;
        let exp = data.claims.exp;
        let actor = actor_of(data.claims)?;
        self.remember(token, &actor, exp);
        Ok(actor)
    }

    /// The actor of a token verified before, while `now` (seconds) is before its `exp`.
    fn remembered(&self, token: &str, now: i64) -> Option<Actor> {
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        match verified.get(token) {
            Some((actor, exp)) if now < *exp => Some(actor.clone()),
            Some(_) => {
                verified.remove(token);
                None
            }
            None => None,
        }
    }

    fn remember(&self, token: &str, actor: &Actor, exp: i64) {
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= REMEMBERED_TOKENS {
            verified.clear();
        }
        verified.insert(token.into(), (actor.clone(), exp));
    }
}

fn reason(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => "expired".into(),
        K::InvalidSignature => "bad signature".into(),
        K::InvalidAlgorithm => "algorithm not accepted".into(),
        K::InvalidIssuer => "wrong issuer".into(),
        K::InvalidAudience => "wrong audience".into(),
        K::ImmatureSignature => "not valid yet".into(),
        K::MissingRequiredClaim(c) => format!("claim {c} missing"),
        K::Json(_) => "claims malformed (sub, role, regions, teams, grants)".into(),
        _ => "malformed".into(),
    }
}

fn unauthenticated(message: &str) -> AppError {
    AppError {
        code: ErrorCode::Unauthenticated,
        rule: None,
        field: Some("authorization".into()),
        message: message.to_owned(),
    }
}

fn actor_of(claims: Claims) -> Result<Actor, AppError> {
    if claims.sub.trim().is_empty() {
        return Err(unauthenticated("invalid token: claim sub is empty"));
    }
    let regions = claims
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| {
            RegionCode::parse("regions", r).map_err(|e| {
                unauthenticated(&format!("invalid token: claim regions[{i}]: {}", e.reason))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let teams = claims
        .teams
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.parse::<uuid::Uuid>().map(TeamId).map_err(|_| {
                unauthenticated(&format!("invalid token: claim teams[{i}] is not a uuid"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Actor {
        subject: claims.sub,
        role: claims.role,
        regions,
        teams,
        grants: claims.grants,
    })
}

/// Mints development tokens with a throwaway secret; pair it with [`DevIssuer::authenticator`].
pub struct DevIssuer {
    secret: Zeroizing<Vec<u8>>,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// A new random 32-byte secret.
    pub fn random(issuer: &str, audience: &str) -> Result<Self, AccessError> {
        let mut secret = Zeroizing::new(vec![0u8; 32]);
        getrandom::fill(&mut secret).map_err(|e| AccessError::Sign(e.to_string()))?;
        Ok(Self::with_secret(secret.to_vec(), issuer, audience))
    }

    /// A fixed secret (tests that mint tokens for a configured service).
    pub fn with_secret(secret: Vec<u8>, issuer: &str, audience: &str) -> Self {
        Self {
            secret: Zeroizing::new(secret),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        }
    }

    pub fn authenticator(&self) -> Result<Authenticator, AccessError> {
        Authenticator::hs256(&self.secret, &self.issuer, &self.audience)
    }

    /// A signed token for `actor`, valid for `ttl_seconds` from `now` (unix seconds).
    pub fn mint(&self, actor: &Actor, now: i64, ttl_seconds: i64) -> Result<String, AccessError> {
        let claims = Claims {
            sub: actor.subject.clone(),
            role: actor.role,
            regions: actor.regions.iter().map(ToString::to_string).collect(),
            teams: actor.teams.iter().map(ToString::to_string).collect(),
            grants: actor.grants.clone(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + ttl_seconds,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .map_err(|e| AccessError::Sign(e.to_string()))
    }
}

/// The development actors of the demo, one per role: city-wide roles over Shaoxing (330600), county roles
/// over 越城区 (330602), team roles for its county team, and a partner granted every command.
pub fn demo_actors() -> Result<Vec<Actor>, AppError> {
    let city = RegionCode::parse("regions", "330600")?;
    let county = RegionCode::parse("regions", "330602")?;
    let team = app::demo::demo_team(1);
    let actor =
        |role: Role, regions: Vec<RegionCode>, teams: Vec<TeamId>, grants: Vec<String>| Actor {
            subject: format!("dev-{}", role.as_str()),
            role,
            regions,
            teams,
            grants,
        };
    Ok(vec![
        actor(Role::CityCdc, vec![city], vec![], vec![]),
        actor(Role::CountyCdc, vec![county], vec![], vec![]),
        actor(Role::HealthBureauApprover, vec![county], vec![], vec![]),
        actor(Role::Supervisor, vec![city], vec![], vec![]),
        actor(Role::YouthLeague, vec![county], vec![team], vec![]),
        actor(Role::TeamLeader, vec![county], vec![team], vec![]),
        actor(Role::Auditor, vec![city], vec![], vec![]),
        actor(
            Role::IntegrationPartner,
            vec![city],
            vec![],
            app::CommandKind::ALL
                .iter()
                .map(|k| k.name().to_owned())
                .chain(["ReadVolunteers".to_owned(), "SubscribeEvents".to_owned()])
                .collect(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "volunteer-ledger-test";
    const AUD: &str = "ledger-api";

    fn partner() -> Actor {
        Actor {
            subject: "p-1".into(),
            role: Role::IntegrationPartner,
            regions: vec![RegionCode::parse("r", "330600").unwrap()],
            teams: vec![],
            grants: vec!["RecordActivity".into()],
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn a_remembered_token_is_not_accepted_from_its_exp_on() {
        let issuer = DevIssuer::random(ISS, AUD).unwrap();
        let issued = now();
        let token = issuer.mint(&partner(), issued, 600).unwrap();
        let auth = issuer.authenticator().unwrap();
        assert!(
            auth.remembered(&token, issued).is_none(),
            "not verified yet"
        );
        auth.authenticate(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(auth.remembered(&token, issued + 599), Some(partner()));
        assert_eq!(auth.remembered(&token, issued + 600), None, "exp reached");
        assert_eq!(auth.remembered(&token, issued), None, "and forgotten");
    }

    #[test]
    fn a_tampered_copy_of_a_remembered_token_is_verified_and_refused() {
        let issuer = DevIssuer::random(ISS, AUD).unwrap();
        let token = issuer.mint(&partner(), now(), 600).unwrap();
        let auth = issuer.authenticator().unwrap();
        auth.authenticate(Some(&format!("Bearer {token}"))).unwrap();
        let (head, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{head}.{flipped}{}", &signature[1..]);
        let refused = auth
            .authenticate(Some(&format!("Bearer {tampered}")))
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::Unauthenticated, "{refused:?}");
        assert!(auth.remembered(&tampered, now()).is_none());
    }

    #[test]
    fn a_minted_token_verifies_into_the_same_actor() {
        let issuer = DevIssuer::random(ISS, AUD).unwrap();
        let token = issuer.mint(&partner(), now(), 600).unwrap();
        let actor = issuer
            .authenticator()
            .unwrap()
            .authenticate(Some(&format!("Bearer {token}")))
            .unwrap();
        assert_eq!(actor, partner());
    }

    #[test]
    fn an_expired_token_is_unauthenticated() {
        let issuer = DevIssuer::random(ISS, AUD).unwrap();
        let token = issuer.mint(&partner(), now() - 3600, 60).unwrap();
        let err = issuer
            .authenticator()
            .unwrap()
            .authenticate(Some(&format!("Bearer {token}")))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Unauthenticated);
        assert!(err.message.contains("expired"), "{}", err.message);
    }

    #[test]
    fn a_token_of_another_key_or_audience_is_refused() {
        let mine = DevIssuer::random(ISS, AUD).unwrap();
        let theirs = DevIssuer::random(ISS, AUD).unwrap();
        let other_audience = DevIssuer::with_secret(vec![7; 32], ISS, "elsewhere");
        let auth = mine.authenticator().unwrap();
        let forged = theirs.mint(&partner(), now(), 600).unwrap();
        let err = auth
            .authenticate(Some(&format!("Bearer {forged}")))
            .unwrap_err();
        assert!(err.message.contains("bad signature"), "{}", err.message);
        let same_key_wrong_aud = DevIssuer::with_secret(vec![7; 32], ISS, AUD)
            .authenticator()
            .unwrap()
            .authenticate(Some(&format!(
                "Bearer {}",
                other_audience.mint(&partner(), now(), 600).unwrap()
            )))
            .unwrap_err();
        assert!(
            same_key_wrong_aud.message.contains("audience"),
            "{}",
            same_key_wrong_aud.message
        );
    }

    #[test]
    fn a_missing_or_malformed_header_is_unauthenticated_naming_authorization() {
        let auth = DevIssuer::random(ISS, AUD)
            .unwrap()
            .authenticator()
            .unwrap();
        for header in [
            None,
            Some("Basic abc"),
            Some("Bearer "),
            Some("Bearer not.a.jwt"),
        ] {
            let err = auth.authenticate(header).unwrap_err();
            assert_eq!(err.code, ErrorCode::Unauthenticated, "{header:?}");
            assert_eq!(err.field.as_deref(), Some("authorization"));
        }
    }

    #[test]
    fn an_unsigned_alg_none_token_is_refused() {
        // header {"alg":"none","typ":"JWT"} . claims . empty signature
        let claims = serde_json::json!({"sub":"x","role":"city_cdc","iss":ISS,"aud":AUD,"iat":now(),"exp":now()+600});
        let b64 = |v: &serde_json::Value| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
        };
        let token = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg":"none","typ":"JWT"})),
            b64(&claims)
        );
        let auth = DevIssuer::random(ISS, AUD)
            .unwrap()
            .authenticator()
            .unwrap();
        assert_eq!(
            auth.authenticate(Some(&format!("Bearer {token}")))
                .unwrap_err()
                .code,
            ErrorCode::Unauthenticated
        );
    }

    #[test]
    fn a_short_hs256_secret_is_a_configuration_error() {
        assert!(Authenticator::hs256(b"short", ISS, AUD).is_err());
    }
}
