use super::*;
use http::HeaderValue as Value;

fn names(removed: &[String]) -> Vec<&str> {
    removed.iter().map(String::as_str).collect()
}

#[test]
fn a_pass_sets_what_the_caller_has_and_removes_every_other_identity_spelling() {
    let mut identity = HeaderMap::new();
    identity.insert("x-forwarded-user", Value::from_static("ursula"));
    identity.insert("x-portcullis-role", Value::from_static("untrusted"));
    let mut client = HeaderMap::new();
    client.insert("x-forwarded-user", Value::from_static("admin"));
    client.insert("x_portcullis_role", Value::from_static("admin"));
    client.insert("x-jwt_assertion", Value::from_static("forged"));
    client.insert("x-forwarded-for", Value::from_static("203.0.113.9"));
    let signed = HeaderName::from_static("x-jwt-assertion");
    let removed = to_remove(&identity, &client, Some(&signed));
    let removed = names(&removed);
    for gone in [
        "x_portcullis_role",
        "x-jwt_assertion",
        "x-jwt-assertion",
        "x-forwarded-groups",
        "x-portcullis-root",
    ] {
        assert!(removed.contains(&gone), "{gone} stays: {removed:?}");
    }
    for kept in ["x-forwarded-user", "x-portcullis-role", "x-forwarded-for"] {
        assert!(!removed.contains(&kept), "{kept} is removed: {removed:?}");
    }
}

#[test]
fn a_value_beyond_ascii_is_sent_as_text_which_envoy_copies() {
    // Envoy's gRPC client copies `value` and drops `raw_value`: a name
    // beyond ASCII sent as raw bytes would reach the app empty.
    let name = HeaderName::from_static("x-forwarded-user");
    let value = Value::from_bytes("José".as_bytes()).expect("obs-text");
    let option = option(&name, &value, HeaderAppendAction::OverwriteIfExistsOrAdd);
    let header = option.header.expect("header");
    assert_eq!(header.value, "José");
    assert!(header.raw_value.is_empty());
    assert_eq!(
        option.append_action,
        i32::from(HeaderAppendAction::OverwriteIfExistsOrAdd)
    );
}

#[test]
fn headers_that_reroute_the_request_or_speak_for_the_client_are_removed_but_envoys_own() {
    let mut client = HeaderMap::new();
    for name in [
        "x-original-url",
        "x-rewrite-url",
        "x-envoy-original-path",
        "forwarded",
        "x-real-ip",
        "x-forwarded-host",
        "x_forwarded_for",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-client-cert",
        "accept",
    ] {
        client.insert(HeaderName::from_static(name), Value::from_static("x"));
    }
    let removed = to_remove(&HeaderMap::new(), &client, None);
    let removed = names(&removed);
    for gone in [
        "x-original-url",
        "x-rewrite-url",
        "x-envoy-original-path",
        "forwarded",
        "x-real-ip",
        "x-forwarded-host",
        "x_forwarded_for",
    ] {
        assert!(removed.contains(&gone), "{gone} stays: {removed:?}");
    }
    for kept in [
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-client-cert",
        "accept",
    ] {
        assert!(!removed.contains(&kept), "{kept} is removed: {removed:?}");
    }
}

#[test]
fn a_refusal_carries_its_http_answer_under_the_grpc_code_that_says_why() {
    let mut headers = HeaderMap::new();
    headers.insert("location", Value::from_static("/auth/start?rd=%2F"));
    headers.append("set-cookie", Value::from_static("a=1"));
    headers.append("set-cookie", Value::from_static("b=2"));
    let answer = denied(StatusCode::SEE_OTHER, &headers, b"see other");
    assert_eq!(answer.status.as_ref().map(|status| status.code), Some(16));
    let Some(HttpResponse::DeniedResponse(denied_response)) = answer.http_response else {
        panic!("a refusal");
    };
    assert_eq!(denied_response.status.map(|status| status.code), Some(303));
    assert_eq!(denied_response.body, "see other");
    let appended = denied_response
        .headers
        .iter()
        .filter(|option| option.append_action == i32::from(HeaderAppendAction::AppendIfExistsOrAdd))
        .count();
    assert_eq!(appended, 2, "both cookies reach the client");
    for (status, code) in [
        (StatusCode::BAD_REQUEST, code::INVALID_ARGUMENT),
        (StatusCode::UNAUTHORIZED, code::UNAUTHENTICATED),
        (StatusCode::FORBIDDEN, code::PERMISSION_DENIED),
        (StatusCode::SERVICE_UNAVAILABLE, code::UNAVAILABLE),
        (StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL),
        (StatusCode::NOT_FOUND, code::PERMISSION_DENIED),
    ] {
        let answer = denied(status, &HeaderMap::new(), b"");
        assert_eq!(
            answer.status.map(|status| status.code),
            Some(code),
            "{status}"
        );
    }
}
