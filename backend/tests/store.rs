//! The store commits diagnoses behind the answer: every returned id must be
//! readable and accept feedback at once, and must survive a restart.

mod common;

use common::{get, offline_state, post_json, send};
use consoledx::app;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returned_ids_are_stored_and_survive_a_restart() {
    const REQUESTS: usize = 300;
    let dir = tempfile::tempdir().expect("tempdir");
    let body = json!({"context": common::seed1_context()});
    let ids: Vec<String> = {
        let router = app(offline_state(dir.path()).await);
        let calls = (0..REQUESTS).map(|_| {
            let router = router.clone();
            let body = body.clone();
            tokio::spawn(async move { send(&router, post_json("/v1/analyze", &body)).await })
        });
        let mut ids = Vec::new();
        for call in calls {
            let reply = call.await.expect("task");
            assert_eq!(reply.status, 200, "{}", reply.json);
            ids.push(reply.json["diagnosis_id"].as_str().expect("id").to_string());
        }
        // Feedback on the newest id, sent the moment it is known.
        let last = ids.last().expect("ids").clone();
        let feedback = json!({"diagnosis_id": last, "verdict": "helpful"});
        let reply = send(&router, post_json("/v1/feedback", &feedback)).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        ids
        // The router, and with it the store, is dropped here: the writer finishes its queue.
    };
    let router = app(offline_state(dir.path()).await);
    let mut missing = Vec::new();
    for id in &ids {
        let reply = send(&router, get(&format!("/v1/diagnoses/{id}"))).await;
        if reply.status != 200 || reply.json["rule"] != "s3.bucket_not_empty" {
            missing.push(id.clone());
        }
    }
    assert!(missing.is_empty(), "{} of {REQUESTS} lost", missing.len());
    let last = ids.last().expect("ids");
    let reply = send(&router, get(&format!("/v1/diagnoses/{last}"))).await;
    assert_eq!(
        reply.json["verdict"],
        Value::from("helpful"),
        "{}",
        reply.json
    );
}
