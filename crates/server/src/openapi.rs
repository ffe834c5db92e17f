//! Completes the generated OpenAPI document: every status each operation can answer (with the
//! error body schema), the constraints validation enforces on request bodies (name pattern and
//! length, provider ids, tag limits, interval range, token name), and links between operations
//! for stateful clients (create a service → read, change, delete it).
//!
//! The handlers' `#[utoipa::path]` attributes declare the success answers; the error answers
//! follow from what an operation has (a body, path parameters, admin-only) and are added here
//! in one place, so a new route gets them right without repeating them.

use serde_json::{Map, Value, json};

use crate::validate::{
    MAX_INTERVAL_SECS, MAX_TAG_CHARS, MAX_TAGS, MAX_TOKEN_NAME_CHARS, MIN_INTERVAL_SECS,
};

/// The service name rule as a pattern (core's `check_service_name`).
pub const NAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]*$";
/// No control characters (Unicode `Cc`).
const NO_CONTROL: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";
/// At least one non-space character and no control characters.
const VISIBLE: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$";

fn err(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// Adds the error answers, constraints and links to the generated document.
pub fn complete(doc: &mut Value, providers: &[&str]) {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                if !matches!(method.as_str(), "get" | "post" | "patch" | "put" | "delete") {
                    continue;
                }
                add_errors(path, method, op);
            }
        }
    }
    constrain(doc, providers);
    add_links(doc);
}

fn add_errors(path: &str, method: &str, op: &mut Value) {
    let has_body = op.get("requestBody").is_some();
    let params = op
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has_path = params.iter().any(|p| p["in"] == "path");
    let has_query = params.iter().any(|p| p["in"] == "query");
    let admin = method != "get" || path.starts_with("/tokens");
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| err(description));
    };
    add("401", "No token, or an unknown one (`unauthorized`).");
    if admin {
        add("403", "A read-only token on an admin route (`forbidden`).");
    }
    if has_path {
        add(
            "400",
            "A path parameter that cannot be decoded (`bad_request`).",
        );
        add("404", "No such resource (`not_found`).");
    }
    if has_query {
        add(
            "400",
            "A query parameter of the wrong type (`bad_request`).",
        );
    }
    if has_body {
        add(
            "400",
            "The body is not JSON (`malformed_json`) or cannot be read (`bad_request`).",
        );
        add(
            "408",
            "The body did not arrive within the body timeout (`request_timeout`).",
        );
        add(
            "413",
            "The body is larger than the limit (`payload_too_large`).",
        );
        add(
            "415",
            "The body was sent without `Content-Type: application/json` (`unsupported_media_type`).",
        );
        add(
            "422",
            "The body breaks a rule; `details` lists every problem (`invalid_body`, `invalid_config`, `unknown_provider`).",
        );
    }
    let retry = json!({
        "description": "Seconds until this address may try again.",
        "schema": {"type": "integer", "minimum": 1}
    });
    responses.entry("429".to_owned()).or_insert_with(|| {
        let mut e = err("Too many failed authentications from this address (`too_many_requests`).");
        e["headers"] = json!({"Retry-After": retry});
        e
    });
    responses.entry("500".to_owned()).or_insert_with(|| {
        err("A bug or a database failure; details are in the server log only (`internal`).")
    });
}

fn schema_mut<'a>(doc: &'a mut Value, name: &str) -> Option<&'a mut Map<String, Value>> {
    doc.pointer_mut(&format!("/components/schemas/{name}/properties"))
        .and_then(Value::as_object_mut)
}

fn tags_schema() -> Value {
    json!({
        "type": "array",
        "maxItems": MAX_TAGS,
        "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_CHARS, "pattern": NO_CONTROL},
        "description": format!("At most {MAX_TAGS} tags of 1 to {MAX_TAG_CHARS} characters, without control characters.")
    })
}

fn interval_schema() -> Value {
    json!({
        "type": ["integer", "null"],
        "format": "int64",
        "minimum": MIN_INTERVAL_SECS,
        "maximum": MAX_INTERVAL_SECS,
        "description": "Check interval in seconds (10 s to 7 days); null = the server default."
    })
}

fn name_schema(description: &str) -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "pattern": NAME_PATTERN,
        "description": description,
    })
}

fn constrain(doc: &mut Value, providers: &[&str]) {
    let provider = json!({"type": "string", "enum": providers, "description": "Provider id (GET /providers lists them)."});
    if let Some(p) = schema_mut(doc, "CreateService") {
        p.insert(
            "name".into(),
            name_schema("1-64 letters, digits, `-`, `_`, `.`, starting with a letter or digit."),
        );
        p.insert("provider".into(), provider.clone());
        p.insert("tags".into(), tags_schema());
        p.insert("interval_secs".into(), interval_schema());
    }
    if let Some(p) = schema_mut(doc, "PatchService") {
        let mut tags = tags_schema();
        tags["type"] = json!(["array", "null"]);
        p.insert("tags".into(), tags);
        p.insert("interval_secs".into(), interval_schema());
    }
    if let Some(p) = schema_mut(doc, "TestUnsaved") {
        p.insert("provider".into(), provider);
        let mut name = name_schema("Name used in messages (default `unsaved`).");
        name["type"] = json!(["string", "null"]);
        p.insert("name".into(), name);
    }
    if let Some(p) = schema_mut(doc, "CreateToken") {
        p.insert(
            "name".into(),
            json!({
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_TOKEN_NAME_CHARS,
                "pattern": VISIBLE,
                "description": "Label: 1 to 100 characters, not only spaces, no control characters."
            }),
        );
        p.insert(
            "role".into(),
            json!({"type": ["string", "null"], "enum": ["read", "admin", null], "description": "`read` (default) or `admin`."}),
        );
    }
}

fn add_links(doc: &mut Value) {
    let service_links = json!({
        "GetService": {"operationId": "get_service", "parameters": {"name": "$response.body#/name"}},
        "PatchService": {"operationId": "patch_service", "parameters": {"name": "$response.body#/name"}},
        "DeleteService": {"operationId": "delete_service", "parameters": {"name": "$response.body#/name"}},
        "GetServiceMetrics": {"operationId": "service_metrics", "parameters": {"name": "$response.body#/name"}}
    });
    if let Some(r) = doc.pointer_mut("/paths/~1services/post/responses/201") {
        r["links"] = service_links;
    }
    if let Some(r) = doc.pointer_mut("/paths/~1tokens/post/responses/201") {
        r["links"] = json!({
            "DeleteToken": {"operationId": "delete_token", "parameters": {"id": "$response.body#/id"}}
        });
    }
}
