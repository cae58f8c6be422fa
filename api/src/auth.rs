//! Bearer JWT authentication: who calls, and in which role (`customer`, `admin`, `auditor`,
//! `analyst`). Tokens are verified with an HS256 shared secret or an RS256 public key from the
//! configuration; `shop token` mints HS256 tokens for development. Every failure is a 401 problem
//! with its own code (`unauthorized`, `token_malformed`, `token_expired`, `token_invalid`), and
//! says nothing about the key.

use std::fmt;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::problem::Problem;

/// The HS256 secret used when none is configured and the server runs on the embedded stores (a
/// development setup): `shop token` and `shop serve` agree on it, so the README's tour works
/// without configuration. A server on production stores refuses to start without a real key.
pub const DEV_SECRET: &str = "shop-development-secret-do-not-use-in-production";

/// The shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;
/// The longest token lifetime `shop token` mints, in seconds (30 days).
pub const MAX_TTL_SECONDS: u64 = 30 * 24 * 3600;
/// The longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 100;

/// What a caller may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Shops: their own carts, orders and payments.
    Customer,
    /// Manages catalog, inventory, promotions and fulfilment.
    Admin,
    /// Reads trails; never writes.
    Auditor,
    /// Reads the event feed and exports.
    Analyst,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Customer => "customer",
            Self::Admin => "admin",
            Self::Auditor => "auditor",
            Self::Analyst => "analyst",
        })
    }
}

/// A token's claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Who (a customer id, an operator's name).
    pub sub: String,
    /// In which role.
    pub role: Role,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Who.
    pub subject: String,
    /// In which role.
    pub role: Role,
}

/// Why a request is not authenticated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer …` header.
    #[error("a bearer token is required")]
    Missing,
    /// Not a JWT, or claims that do not parse (an unknown role, a missing subject).
    #[error("the token is malformed")]
    Malformed,
    /// Past its `exp`.
    #[error("the token has expired")]
    Expired,
    /// A signature that does not verify, or another algorithm than the configured one.
    #[error("the token's signature is not valid")]
    Invalid,
}

impl From<AuthError> for Problem {
    fn from(error: AuthError) -> Self {
        let code = match error {
            AuthError::Missing => "unauthorized",
            AuthError::Malformed => "token_malformed",
            AuthError::Expired => "token_expired",
            AuthError::Invalid => "token_invalid",
        };
        Problem::new(
            StatusCode::UNAUTHORIZED,
            code,
            "Unauthorized",
            error.to_string(),
        )
    }
}

/// Verifies tokens with the configured key.
#[derive(Clone)]
pub struct Auth {
    key: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

fn validation(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = 30;
    validation.set_required_spec_claims(&["exp", "sub"]);
    validation
}

fn check_secret(secret: &[u8]) -> anyhow::Result<()> {
    anyhow::ensure!(
        secret.len() >= MIN_SECRET_BYTES,
        "the JWT secret must be at least {MIN_SECRET_BYTES} bytes (it has {})",
        secret.len()
    );
    Ok(())
}

impl Auth {
    /// HS256 with a shared secret (at least [`MIN_SECRET_BYTES`]).
    pub fn hs256(secret: &[u8]) -> anyhow::Result<Self> {
        check_secret(secret)?;
        Ok(Self {
            key: DecodingKey::from_secret(secret),
            validation: validation(Algorithm::HS256),
        })
    }

    /// RS256 with an RSA public key in PEM.
    pub fn rs256(public_key_pem: &[u8]) -> anyhow::Result<Self> {
        let key = DecodingKey::from_rsa_pem(public_key_pem)
            .map_err(|e| anyhow::anyhow!("the RS256 public key is not a valid PEM RSA key: {e}"))?;
        Ok(Self {
            key,
            validation: validation(Algorithm::RS256),
        })
    }

    /// The caller a bearer token names.
    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature
                | ErrorKind::InvalidAlgorithm
                | ErrorKind::InvalidAlgorithmName
                | ErrorKind::InvalidKeyFormat => AuthError::Invalid,
                _ => AuthError::Malformed,
            },
        )?;
        let claims = data.claims;
        if claims.sub.trim().is_empty() || claims.sub.chars().count() > MAX_SUBJECT_CHARS {
            return Err(AuthError::Malformed);
        }
        Ok(Caller {
            subject: claims.sub,
            role: claims.role,
        })
    }

    /// The caller of a request, from its `Authorization: Bearer …` header.
    pub fn caller(&self, parts: &Parts) -> Result<Caller, AuthError> {
        // Verified once per request (by the first layer that asks), then read back.
        if let Some(Verified(result)) = parts.extensions.get::<Verified>() {
            return result.clone();
        }
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or(AuthError::Missing)?;
        let value = header.to_str().map_err(|_| AuthError::Malformed)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(AuthError::Missing)?;
        self.verify(token.trim())
    }
}

/// A request's verified bearer token (or why it is not one), kept in the request's extensions by
/// the first layer that verifies it, so the signature is checked once per request.
#[derive(Clone, Debug)]
pub struct Verified(pub Result<Caller, AuthError>);

impl<S> FromRequestParts<S> for Caller
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Auth::from_ref(state).caller(parts).map_err(Problem::from)
    }
}

/// Mints an HS256 token for `subject` in `role`, valid `ttl_seconds` from `now` (Unix seconds).
pub fn mint_hs256(
    secret: &[u8],
    subject: &str,
    role: Role,
    now: u64,
    ttl_seconds: u64,
) -> anyhow::Result<String> {
    check_secret(secret)?;
    anyhow::ensure!(
        !subject.trim().is_empty() && subject.chars().count() <= MAX_SUBJECT_CHARS,
        "the subject is 1 to {MAX_SUBJECT_CHARS} characters"
    );
    anyhow::ensure!(
        (1..=MAX_TTL_SECONDS).contains(&ttl_seconds),
        "the lifetime is 1 to {MAX_TTL_SECONDS} seconds"
    );
    let claims = Claims {
        sub: subject.to_owned(),
        role,
        iat: now,
        exp: now + ttl_seconds,
    };
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )?)
}

/// `shop token`: mints a development token with the secret in `SHOP_JWT_SECRET`.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// The role.
    #[arg(long, value_enum)]
    pub role: Role,
    /// The subject (a customer id, an operator's name).
    #[arg(long)]
    pub sub: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl: u64,
    /// The HS256 secret (at least 32 bytes); unset: the development secret an embedded
    /// `shop serve` accepts.
    #[arg(long, env = "SHOP_JWT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

/// Prints a token for `args`.
pub fn token(args: &TokenArgs) -> anyhow::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let secret = match &args.secret {
        Some(secret) => secret.as_str(),
        None => {
            eprintln!("shop: SHOP_JWT_SECRET is not set: signing with the development secret");
            DEV_SECRET
        }
    };
    println!(
        "{}",
        mint_hs256(secret.as_bytes(), &args.sub, args.role, now, args.ttl)?
    );
    Ok(())
}
