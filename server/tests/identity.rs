//! Identity modes and the permissions they bring, over HTTP: users file,
//! trusted proxy header, a portal's JWT, and the open and shared-token modes.

use std::sync::Arc;

use allocation_contract::{problem_type, Allocation};
use allocation_server::identity::users::add_user;
use allocation_server::identity::{JwtOptions, JwtVerifier, TrustedProxy, Users};
use allocation_server::{PgCommit, ServerConfig};
use allocation_testkit::{
    on_both_stores, problem, start, temp_dir, Backend, Reply, TestDb, TestServer,
};
use hyper::Method;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn as_user(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    server
        .connect()
        .await
        .send_as(token, method, path, body)
        .await
}

async fn me(server: &TestServer, headers: &[(&str, &str)]) -> Reply {
    server
        .connect()
        .await
        .send(Method::GET, "/api/v1/me", headers, None)
        .await
}

/// A users file with a non-admin `alice`, `bob` and an admin `root`.
struct Team {
    _db: TestDb,
    server: TestServer,
    alice: String,
    bob: String,
    root: String,
}

async fn team() -> Team {
    team_on(Backend::Sqlite, PgCommit::Group).await
}

async fn team_on(backend: Backend, pg_commit: PgCommit) -> Team {
    let db = backend.fresh();
    let users = db.path().join("users.toml");
    let alice = add_user(&users, "alice", false).unwrap();
    let bob = add_user(&users, "bob", false).unwrap();
    let root = add_user(&users, "root", true).unwrap();
    let server = start(ServerConfig {
        users: Arc::new(Users::load(&users).unwrap()),
        pg_commit,
        ..db.demo()
    })
    .await;
    Team {
        _db: db,
        server,
        alice,
        bob,
        root,
    }
}

#[tokio::test]
async fn users_file_tokens_name_the_caller_and_others_get_401() {
    let team = team().await;
    let reply = me(&team.server, &[("authorization", &bearer(&team.alice))]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json::<Value>(),
        json!({"name": "alice", "admin": false})
    );
    let reply = me(&team.server, &[("authorization", &bearer(&team.root))]).await;
    assert_eq!(
        reply.json::<Value>(),
        json!({"name": "root", "admin": true})
    );

    let missing = me(&team.server, &[]).await;
    assert!(problem(&missing, 401).is(problem_type::UNAUTHORIZED));
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"allocation-api\"")
    );
    let wrong = me(&team.server, &[("authorization", "Bearer not-a-token")]).await;
    problem(&wrong, 401);
    assert!(wrong
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
    let usage = team.server.connect().await.get("/api/v1/usage").await;
    problem(&usage, 401);
}

on_both_stores!(a_user_allocates_and_releases_for_themselves_only_and_an_admin_for_anyone);

async fn a_user_allocates_and_releases_for_themselves_only_and_an_admin_for_anyone(
    backend: Backend,
) {
    allocates_and_releases_for_themselves_only(team_on(backend, PgCommit::Group).await).await
}

/// The same on PostgreSQL's path of one write per transaction.
#[tokio::test]
async fn each_write_alone_on_postgres_releases_for_the_owner_or_an_admin_only() {
    allocates_and_releases_for_themselves_only(team_on(Backend::Postgres, PgCommit::Single).await)
        .await
}

async fn allocates_and_releases_for_themselves_only(team: Team) {
    let (own, bobs) = allocate_for_themselves_only(&team).await;
    release_their_own_only(&team, &own, &bobs).await;
}

const ALLOCATIONS: &str = "/api/v1/allocations";

async fn allocate(server: &TestServer, token: &str, body: Value) -> Reply {
    as_user(server, token, Method::POST, ALLOCATIONS, Some(body)).await
}

async fn release(server: &TestServer, token: &str, path: String) -> Reply {
    as_user(server, token, Method::DELETE, &path, None).await
}

/// Alice allocates for herself (named or not) but not for bob; root for
/// bob. Alice's first and root's grant for bob.
async fn allocate_for_themselves_only(team: &Team) -> (Allocation, Allocation) {
    let server = &team.server;
    // Owner left out: the caller's own name.
    let own = allocate(
        server,
        &team.alice,
        json!({"pool": "vm-large", "amount": 1}),
    )
    .await;
    assert_eq!(own.status, 201, "{}", own.text());
    let own: Allocation = own.json();
    assert_eq!(own.owner, "alice");
    let named = allocate(
        server,
        &team.alice,
        json!({"pool": "vm-large", "amount": 1, "owner": "alice"}),
    )
    .await;
    assert_eq!(named.status, 201);

    let for_bob = allocate(
        server,
        &team.alice,
        json!({"pool": "vm-large", "amount": 1, "owner": "bob"}),
    )
    .await;
    assert!(problem(&for_bob, 403).is(problem_type::FORBIDDEN));

    let by_root = allocate(
        server,
        &team.root,
        json!({"pool": "vm-large", "amount": 2, "owner": "bob"}),
    )
    .await;
    assert_eq!(by_root.status, 201, "{}", by_root.text());
    let bobs: Allocation = by_root.json();
    assert_eq!(bobs.owner, "bob");
    (own, bobs)
}

/// Alice may not release bob's, before or after it ended; each releases
/// their own; root may release anyone's.
async fn release_their_own_only(team: &Team, own: &Allocation, bobs: &Allocation) {
    let server = &team.server;
    let others = format!("{ALLOCATIONS}/{}", bobs.id);
    // The same seq with another id: not bob's allocation, nobody's.
    let forged = format!("{ALLOCATIONS}/al_{}{}", "z".repeat(8), &bobs.id[11..]);
    problem(&release(server, &team.alice, forged).await, 404);
    let refused = release(server, &team.alice, others.clone()).await;
    let refusal = problem(&refused, 403);
    assert!(refusal.is(problem_type::FORBIDDEN));
    assert!(refusal.detail.unwrap().contains("bob"));
    assert_eq!(server.usage_as(&team.root).await, 4, "nothing was released");

    let mine = format!("{ALLOCATIONS}/{}", own.id);
    assert_eq!(release(server, &team.alice, mine.clone()).await.status, 204);
    assert_eq!(release(server, &team.bob, others.clone()).await.status, 204);
    assert_eq!(server.usage_as(&team.root).await, 1, "both were released");
    let ended = release(server, &team.alice, others).await;
    assert!(
        problem(&ended, 403).is(problem_type::FORBIDDEN),
        "someone else's allocation stays theirs once ended"
    );
    let root_releases = release(server, &team.root, mine).await;
    assert_eq!(
        root_releases.status, 204,
        "an admin may, and it is already released"
    );
    let unknown = release(server, &team.alice, format!("{ALLOCATIONS}/al_nothing1")).await;
    problem(&unknown, 404);
}

/// What this file's tests read as a user from the shared test server.
trait UsageAs {
    async fn usage_as(&self, token: &str) -> u64;
}

impl UsageAs for TestServer {
    /// `vm-large`'s allocated units, read with a token.
    async fn usage_as(&self, token: &str) -> u64 {
        let reply = self
            .connect()
            .await
            .send(
                Method::GET,
                "/api/v1/usage",
                &[("authorization", &bearer(token))],
                None,
            )
            .await;
        let usage: allocation_contract::Usage = reply.json();
        usage
            .pools
            .iter()
            .find(|p| p.id == "vm-large")
            .unwrap()
            .allocated
    }
}

#[tokio::test]
async fn idempotency_keys_belong_to_the_caller() {
    let team = team().await;
    let body = serde_json::to_vec(&json!({"pool": "vm-large", "amount": 1})).unwrap();
    let post = |token: &str| {
        let auth = bearer(token);
        let body = body.clone();
        let server = &team.server;
        async move {
            server
                .connect()
                .await
                .send(
                    Method::POST,
                    "/api/v1/allocations",
                    &[
                        ("authorization", &auth),
                        ("content-type", "application/json"),
                        ("idempotency-key", "same-key"),
                    ],
                    Some(body),
                )
                .await
        }
    };
    let alice = post(&team.alice).await;
    let bob = post(&team.bob).await;
    assert_eq!((alice.status, bob.status), (201, 201), "{}", bob.text());
    assert_eq!(
        bob.header("idempotent-replayed"),
        None,
        "not alice's answer"
    );
    let (alice, bob): (Allocation, Allocation) = (alice.json(), bob.json());
    assert_ne!(alice.id, bob.id);
    assert_eq!((alice.owner.as_str(), bob.owner.as_str()), ("alice", "bob"));
    let again = post(&team.alice).await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json::<Allocation>().id, alice.id);
}

#[tokio::test]
async fn the_proxy_header_counts_from_trusted_addresses_only() {
    let dir = temp_dir();
    let users = dir.path().join("users.toml");
    add_user(&users, "ops", true).unwrap();
    let config = |from: &str| ServerConfig {
        users: Arc::new(Users::load(&users).unwrap()),
        trusted_proxy: Some(TrustedProxy::new("X-Forwarded-User", &[from.to_owned()]).unwrap()),
        ..ServerConfig::demo(dir.path().join(format!("{}.db", from.replace('/', "_"))))
    };
    // The test connects from 127.0.0.1: trusted here ...
    let trusted = start(config("127.0.0.1/32")).await;
    let reply = me(&trusted, &[("x-forwarded-user", "carol")]).await;
    assert_eq!(
        reply.json::<Value>(),
        json!({"name": "carol", "admin": false})
    );
    let reply = me(&trusted, &[("x-forwarded-user", "ops")]).await;
    assert_eq!(
        reply.json::<Value>(),
        json!({"name": "ops", "admin": true}),
        "admin from the users file"
    );
    let forged_name = me(&trusted, &[("x-forwarded-user", "ali\u{200b}ce")]).await;
    problem(&forged_name, 401);
    problem(&me(&trusted, &[]).await, 401);
    let granted = trusted
        .connect()
        .await
        .send(
            Method::POST,
            "/api/v1/allocations",
            &[
                ("x-forwarded-user", "carol"),
                ("content-type", "application/json"),
                ("idempotency-key", "p1"),
            ],
            Some(br#"{"pool":"ip-v4","amount":1}"#.to_vec()),
        )
        .await;
    assert_eq!(granted.json::<Allocation>().owner, "carol");

    // ... and not here: the same header from an untrusted peer is ignored.
    let untrusted = start(config("10.0.0.0/8")).await;
    let forged = me(&untrusted, &[("x-forwarded-user", "ops")]).await;
    assert!(problem(&forged, 401).is(problem_type::UNAUTHORIZED));
}

#[tokio::test]
async fn open_and_shared_token_modes_have_no_identity_and_no_restriction() {
    let dir = temp_dir();
    let open = start(ServerConfig::demo(dir.path().join("open.db"))).await;
    let reply = me(&open, &[]).await;
    assert_eq!(reply.json::<Value>(), json!({"name": null, "admin": true}));
    let shared = start(ServerConfig {
        token: Some("s3cret".into()),
        ..ServerConfig::demo(dir.path().join("shared.db"))
    })
    .await;
    problem(&me(&shared, &[]).await, 401);
    let reply = me(&shared, &[("authorization", "Bearer s3cret")]).await;
    assert_eq!(reply.json::<Value>(), json!({"name": null, "admin": true}));
}

/// A key pair made for this test run, as PEM.
struct Keys {
    private: String,
    public: String,
    algorithm: Algorithm,
}

fn rsa_keys() -> Keys {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let private = rsa::RsaPrivateKey::new(&mut rand08::thread_rng(), 2048).unwrap();
    Keys {
        private: private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        public: private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
        algorithm: Algorithm::RS256,
    }
}

fn p256_keys() -> Keys {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let secret = p256::SecretKey::random(&mut rand08::thread_rng());
    Keys {
        private: secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        public: secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
        algorithm: Algorithm::ES256,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sign(keys: &Keys, claims: &Value) -> String {
    let key = match keys.algorithm {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(keys.private.as_bytes()),
        _ => EncodingKey::from_ec_pem(keys.private.as_bytes()),
    }
    .unwrap();
    encode(&Header::new(keys.algorithm), claims, &key).unwrap()
}

fn claims(sub: &str, exp: u64) -> Value {
    json!({"sub": sub, "iss": "https://portal.example", "aud": "allocations", "exp": exp, "roles": ["staff"]})
}

async fn jwt_server(dir: &tempfile::TempDir, keys: &Keys) -> TestServer {
    let verifier = JwtVerifier::new(
        keys.public.as_bytes(),
        JwtOptions {
            issuer: "https://portal.example".into(),
            audience: "allocations".into(),
            user_claim: "sub".into(),
            admin_claim: "roles".into(),
            admin_value: Some("allocation-admin".into()),
        },
    )
    .unwrap();
    start(ServerConfig {
        jwt: Some(Arc::new(verifier)),
        ..ServerConfig::demo(dir.path().join(format!("{:?}.db", keys.algorithm)))
    })
    .await
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn refused(server: &TestServer, token: &str, words: &str) {
    let reply = me(server, &[("authorization", &bearer(token))]).await;
    let problem = problem(&reply, 401);
    let detail = problem.detail.unwrap_or_default();
    assert!(detail.contains(words), "{detail:?} should say {words:?}");
    assert!(!reply.text().contains(token), "the token is never echoed");
}

#[tokio::test]
async fn a_portals_jwt_names_the_user_and_bad_ones_are_refused() {
    let dir = temp_dir();
    for keys in [rsa_keys(), p256_keys()] {
        let server = jwt_server(&dir, &keys).await;
        let good = sign(&keys, &claims("dana", now() + 600));
        let reply = me(&server, &[("authorization", &bearer(&good))]).await;
        assert_eq!(reply.status, 200, "{:?}: {}", keys.algorithm, reply.text());
        assert_eq!(
            reply.json::<Value>(),
            json!({"name": "dana", "admin": false})
        );
        let mut admin = claims("erin", now() + 600);
        admin["roles"] = json!(["staff", "allocation-admin"]);
        let reply = me(&server, &[("authorization", &bearer(&sign(&keys, &admin)))]).await;
        assert_eq!(
            reply.json::<Value>(),
            json!({"name": "erin", "admin": true})
        );

        refused(
            &server,
            &sign(&keys, &claims("dana", now() - 3600)),
            "expired",
        )
        .await;
        let other = if keys.algorithm == Algorithm::RS256 {
            rsa_keys()
        } else {
            p256_keys()
        };
        refused(
            &server,
            &sign(&other, &claims("dana", now() + 600)),
            "signature",
        )
        .await;
        let mut foreign = claims("dana", now() + 600);
        foreign["aud"] = json!("another-service");
        refused(&server, &sign(&keys, &foreign), "aud").await;
        let mut elsewhere = claims("dana", now() + 600);
        elsewhere["iss"] = json!("https://evil.example");
        refused(&server, &sign(&keys, &elsewhere), "iss").await;
        let mut no_exp = claims("dana", 0);
        no_exp.as_object_mut().unwrap().remove("exp");
        refused(&server, &sign(&keys, &no_exp), "exp").await;

        // alg none: an unsigned token claiming to be anyone.
        let payload = b64(claims("root", now() + 600).to_string().as_bytes());
        let none = format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
        refused(&server, &none, "not a valid JWT").await;
        // HS256 "signed" with the public key as the shared secret.
        let confused = encode(
            &Header::new(Algorithm::HS256),
            &claims("root", now() + 600),
            &EncodingKey::from_secret(keys.public.as_bytes()),
        )
        .unwrap();
        refused(&server, &confused, "algorithm").await;
        // The other key type's algorithm.
        let cross = if keys.algorithm == Algorithm::RS256 {
            p256_keys()
        } else {
            rsa_keys()
        };
        refused(
            &server,
            &sign(&cross, &claims("root", now() + 600)),
            "algorithm",
        )
        .await;
    }
}

#[tokio::test]
async fn a_jwt_user_allocates_as_themselves() {
    let dir = temp_dir();
    let keys = p256_keys();
    let server = jwt_server(&dir, &keys).await;
    let token = sign(&keys, &claims("dana", now() + 600));
    let mine = as_user(
        &server,
        &token,
        Method::POST,
        "/api/v1/allocations",
        Some(json!({"pool": "ip-v4", "amount": 1})),
    )
    .await;
    assert_eq!(mine.json::<Allocation>().owner, "dana");
    let theirs = as_user(
        &server,
        &token,
        Method::POST,
        "/api/v1/allocations",
        Some(json!({"pool": "ip-v4", "amount": 1, "owner": "erin"})),
    )
    .await;
    problem(&theirs, 403);
}
