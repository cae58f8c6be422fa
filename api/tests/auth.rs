//! Bearer JWT authentication: HS256 and RS256 tokens verify to a caller and a role; a missing,
//! malformed, expired, wrongly signed or other-algorithm token is a 401 problem with its own
//! code; `shop token` mints a token the server accepts.

use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use shop_api::auth::{Auth, AuthError, Caller, Claims, Role, mint_hs256};

const SECRET: &[u8] = b"a development secret of 32+ bytes!!";
const NOW: u64 = 4_000_000_000;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn hs256_tokens_name_the_caller_and_role() {
    let auth = Auth::hs256(SECRET).unwrap();
    for role in [Role::Customer, Role::Admin, Role::Auditor, Role::Analyst] {
        let token = mint_hs256(SECRET, "alice", role, now(), 60).unwrap();
        assert_eq!(
            auth.verify(&token),
            Ok(Caller {
                subject: "alice".into(),
                role
            })
        );
    }
}

#[test]
fn bad_tokens_are_refused_each_with_its_reason() {
    let auth = Auth::hs256(SECRET).unwrap();
    // Expired (beyond the 30 s leeway).
    let old = mint_hs256(SECRET, "alice", Role::Admin, now() - 7_200, 3_600).unwrap();
    assert_eq!(auth.verify(&old), Err(AuthError::Expired));
    // Another secret.
    let other = mint_hs256(
        b"another secret that is 32 bytes long",
        "alice",
        Role::Admin,
        now(),
        60,
    )
    .unwrap();
    assert_eq!(auth.verify(&other), Err(AuthError::Invalid));
    // Tampered payload (the role raised) under the original signature.
    let token = mint_hs256(SECRET, "alice", Role::Customer, now(), 60).unwrap();
    let forged = mint_hs256(SECRET, "alice", Role::Admin, now(), 60).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        forged.split('.').nth(1).unwrap(),
        parts[2]
    );
    assert_eq!(auth.verify(&tampered), Err(AuthError::Invalid));
    assert_eq!(
        auth.verify(&format!("{}.{}.AAAA", parts[0], parts[1])),
        Err(AuthError::Invalid)
    );
    // Not a JWT at all.
    assert_eq!(auth.verify("not-a-token"), Err(AuthError::Malformed));
    // A role that does not exist, properly signed.
    #[derive(serde::Serialize)]
    struct Root<'a> {
        sub: &'a str,
        role: &'a str,
        exp: u64,
    }
    let root = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &Root {
            sub: "mallory",
            role: "root",
            exp: now() + 60,
        },
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(auth.verify(&root), Err(AuthError::Malformed));
    // No expiry at all.
    #[derive(serde::Serialize)]
    struct Forever<'a> {
        sub: &'a str,
        role: &'a str,
    }
    let forever = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &Forever {
            sub: "mallory",
            role: "admin",
        },
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(auth.verify(&forever), Err(AuthError::Malformed));
}

#[test]
fn rs256_tokens_verify_with_the_public_key_and_no_algorithm_confusion() {
    let private = include_bytes!("keys/test_rs256_private.pem");
    let public = include_bytes!("keys/test_rs256_public.pem");
    let auth = Auth::rs256(public).unwrap();
    let claims = Claims {
        sub: "ops-7".into(),
        role: Role::Auditor,
        iat: now(),
        exp: now() + 60,
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(private).unwrap(),
    )
    .unwrap();
    assert_eq!(
        auth.verify(&token),
        Ok(Caller {
            subject: "ops-7".into(),
            role: Role::Auditor
        })
    );
    // An HS256 token signed with the public key's bytes (the classic confusion) is refused.
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(public),
    )
    .unwrap();
    assert_eq!(auth.verify(&confused), Err(AuthError::Invalid));
    assert!(Auth::rs256(b"not a key").is_err());
}

#[test]
fn weak_secrets_and_bad_token_requests_are_refused() {
    assert!(Auth::hs256(b"short").is_err());
    assert!(mint_hs256(b"short", "alice", Role::Admin, NOW, 60).is_err());
    assert!(mint_hs256(SECRET, " ", Role::Admin, NOW, 60).is_err());
    assert!(mint_hs256(SECRET, "alice", Role::Admin, NOW, 0).is_err());
    assert!(mint_hs256(SECRET, "alice", Role::Admin, NOW, 40 * 24 * 3600).is_err());
}

async fn whoami(caller: Caller) -> String {
    format!("{} {}", caller.subject, caller.role)
}

#[tokio::test]
async fn the_caller_extractor_answers_401_problems() {
    use tower::ServiceExt;
    let auth = Auth::hs256(SECRET).unwrap();
    let app = axum::Router::new()
        .route("/whoami", get(whoami))
        .with_state(auth);
    let token = mint_hs256(SECRET, "alice", Role::Customer, now(), 60).unwrap();
    let call = |authorization: Option<String>| {
        let app = app.clone();
        async move {
            let mut request = Request::builder().uri("/whoami");
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            let response = app
                .oneshot(request.body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            (status, kind, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let (status, _, body) = call(Some(format!("Bearer {token}"))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "alice customer"));
    for (header, code) in [
        (None, "unauthorized"),
        (Some(format!("Basic {token}")), "unauthorized"),
        (Some("Bearer nonsense".into()), "token_malformed"),
        (
            Some(format!(
                "Bearer {}",
                mint_hs256(SECRET, "alice", Role::Customer, now() - 7_200, 60).unwrap()
            )),
            "token_expired",
        ),
    ] {
        let (status, kind, body) = call(header.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header:?}");
        assert_eq!(kind.as_deref(), Some("application/problem+json"));
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["code"], code, "{header:?}: {body}");
        assert_eq!(json["status"], 401);
    }
}

#[test]
fn shop_token_mints_a_token_the_server_accepts() {
    let output = Command::new(env!("CARGO_BIN_EXE_shop"))
        .args(["token", "--role", "admin", "--sub", "ops-1", "--ttl", "600"])
        .env("SHOP_JWT_SECRET", std::str::from_utf8(SECRET).unwrap())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap();
    let caller = Auth::hs256(SECRET).unwrap().verify(token.trim()).unwrap();
    assert_eq!(
        (caller.subject.as_str(), caller.role),
        ("ops-1", Role::Admin)
    );
    // A short secret and an unknown role get readable refusals.
    let short = Command::new(env!("CARGO_BIN_EXE_shop"))
        .args(["token", "--role", "admin", "--sub", "ops-1"])
        .env("SHOP_JWT_SECRET", "short")
        .output()
        .unwrap();
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 32 bytes"));
    let root = Command::new(env!("CARGO_BIN_EXE_shop"))
        .args(["token", "--role", "root", "--sub", "ops-1"])
        .env("SHOP_JWT_SECRET", std::str::from_utf8(SECRET).unwrap())
        .output()
        .unwrap();
    assert!(!root.status.success());
    assert!(String::from_utf8_lossy(&root.stderr).contains("root"));
}
