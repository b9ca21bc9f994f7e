//! The extension loads the runtime cut of the knowledge packs
//! (`KnowledgeBase::builtin_runtime`); in the browser it must analyse exactly
//! like the full packs the backend and the native tests load.

use consoledx_core::view::{DiagnosisView, Source};
use consoledx_core::{KnowledgeBase, Redactor, Snapshot, interpret};
use consoledx_wasm::Core;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Every fixture of the full packs as the page bridge would read it, and its
/// words reversed without URL or code, which most rules do not match (the
/// similarity path for unknown errors).
fn snapshots(full: &KnowledgeBase) -> Vec<Snapshot> {
    let mut snapshots = Vec::new();
    for rule in full.rules() {
        for fixture in rule.fixtures {
            let reversed: Vec<&str> = fixture.message.split(' ').rev().collect();
            snapshots.push(Snapshot {
                url: fixture.url.clone(),
                content: fixture.message.clone(),
                nav_user_label: fixture.role.clone(),
                ..Snapshot::default()
            });
            snapshots.push(Snapshot {
                content: reversed.join(" "),
                ..Snapshot::default()
            });
        }
    }
    snapshots
}

#[wasm_bindgen_test]
fn the_runtime_cut_analyses_like_the_full_packs() {
    let full = KnowledgeBase::builtin().expect("the full packs load");
    let runtime = KnowledgeBase::builtin_runtime().expect("the runtime cut loads");
    let snapshots = snapshots(&full);
    assert!(snapshots.len() > 100, "only {} snapshots", snapshots.len());
    for snapshot in &snapshots {
        let context = interpret(snapshot, &Redactor::default());
        assert_eq!(
            serde_json::to_string(&runtime.analyze(&context)).ok(),
            serde_json::to_string(&full.analyze(&context)).ok(),
            "{:?}",
            snapshot.content
        );
    }
}

/// A view as JSON, without the notice (it quotes the browser's fetch error).
fn comparable(mut view: Value) -> Value {
    if let Some(object) = view.as_object_mut() {
        object.remove("notice");
    }
    view
}

#[wasm_bindgen_test]
async fn the_core_diagnoses_offline_like_the_full_packs() {
    let full = KnowledgeBase::builtin().expect("the full packs load");
    let snapshots = snapshots(&full);
    let core = Core::new().expect("the core starts");
    let to_js = |v: &Value| {
        v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .expect("test JSON converts")
    };
    // Nothing listens on the discard port: every diagnosis is the local one.
    let settings = to_js(&serde_json::json!({"backendUrl": "http://127.0.0.1:9"}));
    let step = (snapshots.len() / 24).max(1);
    for snapshot in snapshots.iter().step_by(step) {
        let message = serde_json::json!({"type": "Diagnose", "snapshot": snapshot});
        let reply = JsFuture::from(core.handle_message(to_js(&message), settings.clone()))
            .await
            .expect("handleMessage never rejects");
        let reply: Value = serde_wasm_bindgen::from_value(reply).expect("replies are plain JSON");
        assert_eq!(reply["type"], "Diagnosis", "{reply}");
        let context = interpret(snapshot, &Redactor::default());
        let expected =
            DiagnosisView::new(&full.analyze(&context), &context, Source::Local, None, &[]);
        let expected: Value = serde_json::to_string(&expected)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .expect("views serialise");
        assert_eq!(comparable(reply["view"].clone()), comparable(expected));
    }
}
