//! `GET /api/v1/openapi.json` (issue 15): a document that parses as OpenAPI
//! 3.1, whose references all resolve, whose every operation the node serves
//! with one of the statuses it documents, and whose paths refuse every
//! method it does not document. (That it lists exactly the registered routes
//! is a unit test beside the route table.)

use super::club_with;
use crate::helpers::Release;
use oas3::spec::{ObjectOrReference, ParameterIn};
use serde_json::Value;

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(s)) => out.push(s.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_describes_what_the_node_serves() {
    let c = club_with(|_| {}).await;
    let r = Release::new("braintree/crm", "1.0.0");
    c.app.publish(&c.bt, &r).await.ok(201);
    let resp = reqwest::get(format!("{}/api/v1/openapi.json", c.app.url))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let spec = oas3::from_json(&text).expect("an OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    assert_eq!(spec.info.version, env!("CARGO_PKG_VERSION"));

    // Every reference names a schema the document holds.
    let json: Value = serde_json::from_str(&text).unwrap();
    let mut all = Vec::new();
    refs(&json, &mut all);
    assert!(!all.is_empty());
    for r in &all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(
            json["components"]["schemas"][name].is_object(),
            "{r} does not resolve"
        );
    }

    let samples = [
        ("org", "braintree".to_string()),
        ("name", "crm".to_string()),
        ("version", "1.0.0".to_string()),
        ("digest", r.digest().to_string()),
        ("key_id", c.bt.key.key_id().to_string()),
        ("id", "0123456789abcdef".to_string()),
        ("tail", "0/000".to_string()),
        ("origin", "nowhere.example".to_string()),
    ];
    let paths = spec.paths.clone().unwrap_or_default();
    assert!(paths.len() >= 40, "only {} paths", paths.len());
    let client = reqwest::Client::new();
    for (path, item) in &paths {
        let mut url_path = path.clone();
        for (name, value) in &samples {
            url_path = url_path.replace(&format!("{{{name}}}"), value);
        }
        assert!(!url_path.contains('{'), "no sample for {path}");
        let documented: Vec<_> = item.methods().into_iter().collect();
        for (method, op) in &documented {
            let mut query = Vec::new();
            for p in &op.parameters {
                let ObjectOrReference::Object(p) = p else {
                    panic!("{method} {path}: a parameter by reference");
                };
                if p.location == ParameterIn::Query && p.required == Some(true) {
                    let value = if p.name == "q" { "crm" } else { "1" };
                    query.push((p.name.clone(), value.to_string()));
                }
            }
            // Anonymous: a secured operation must refuse (401) before it
            // changes anything; a public one answers.
            let resp = client
                .request(method.clone(), format!("{}{url_path}", c.app.url))
                .query(&query)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            let statuses: Vec<String> = op
                .responses
                .as_ref()
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default();
            assert!(
                statuses.contains(&status.to_string()),
                "{method} {url_path} answered {status} {body}, documented {statuses:?}"
            );
            assert_ne!(
                body["error"]["message"],
                format!("{method} {url_path}"),
                "{method} {path} is documented but not routed"
            );
            if !op.security.is_empty() {
                assert_eq!(status, 401, "{method} {path} is secured: {body}");
            }
        }
        // Methods the document does not give the path are refused.
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if documented.iter().any(|(m, _)| m.as_str() == method) {
                continue;
            }
            let resp = client
                .request(method.parse().unwrap(), format!("{}{url_path}", c.app.url))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 405, "{method} {path}");
        }
    }
}
