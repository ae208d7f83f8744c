//! The `preStop` sleep the webhook gives the app's containers.
//!
//! When a pod is deleted, the kubelet sends SIGTERM at once while the
//! endpoint is still being removed from Services and ingresses, which take
//! a few seconds to stop sending; an app that exits at once on SIGTERM
//! drops the requests still routed to it. A short `preStop` sleep (the
//! kubelet's own `sleep` action: nothing needs to be in the app's image)
//! keeps the app serving until the endpoint is gone. A container with a
//! `preStop` of its own keeps it; the annotation
//! `portcullis.dev/app-pre-stop-sleep-seconds` sets the length per pod
//! (`0`: none). The sleep always ends before the pod's grace period does.

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use serde_json::{Value, json};

/// The pod annotation that sets the sleep, in seconds (`0`: none).
pub const PRE_STOP_ANNOTATION: &str = "portcullis.dev/app-pre-stop-sleep-seconds";
/// The longest sleep the annotation may ask for.
const MAX_SECONDS: i64 = 120;
/// Kubernetes' default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: i64 = 30;

/// One JSON Patch `add`: where (pointer tokens) and what.
pub type Addition = (Vec<String>, Value);

/// The additions that give each app container of `pod` without a `preStop`
/// a sleep of `default_seconds` (or the annotation's), or why the
/// annotation is refused.
pub fn pre_stop_additions(pod: &Pod, default_seconds: i64) -> Result<Vec<Addition>, String> {
    let seconds = match pod.annotations().get(PRE_STOP_ANNOTATION) {
        None => default_seconds,
        Some(value) => value
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|seconds| (0..=MAX_SECONDS).contains(seconds))
            .ok_or_else(|| {
                format!(
                    "annotation {PRE_STOP_ANNOTATION} is {value:?}: give whole seconds from 0 \
                     (no sleep) to {MAX_SECONDS}"
                )
            })?,
    };
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(Vec::new());
    };
    let grace = spec
        .termination_grace_period_seconds
        .unwrap_or(DEFAULT_GRACE_SECONDS);
    // Leave at least a second of the grace period for the app's own exit.
    let seconds = seconds.min(grace - 1);
    if seconds <= 0 {
        return Ok(Vec::new());
    }
    let sleep = json!({"sleep": {"seconds": seconds}});
    Ok(spec
        .containers
        .iter()
        .enumerate()
        .filter_map(|(index, container)| {
            let path = |tail: &[&str]| {
                ["spec", "containers", &index.to_string(), "lifecycle"]
                    .iter()
                    .chain(tail)
                    .map(|token| (*token).to_owned())
                    .collect::<Vec<_>>()
            };
            match &container.lifecycle {
                None => Some((path(&[]), json!({"preStop": sleep}))),
                Some(lifecycle) if lifecycle.pre_stop.is_none() => {
                    Some((path(&["preStop"]), sleep.clone()))
                }
                Some(_) => None,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ExecAction, Lifecycle, LifecycleHandler, PodSpec};
    use std::collections::BTreeMap;

    fn pod(containers: Vec<Container>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers,
                ..PodSpec::default()
            }),
            ..Pod::default()
        }
    }

    fn container(name: &str) -> Container {
        Container {
            name: name.into(),
            ..Container::default()
        }
    }

    fn paths(additions: &[Addition]) -> Vec<String> {
        additions.iter().map(|(path, _)| path.join("/")).collect()
    }

    #[test]
    fn each_app_container_without_a_pre_stop_gets_the_sleep() {
        let mut with_post_start = container("worker");
        with_post_start.lifecycle = Some(Lifecycle {
            post_start: Some(LifecycleHandler::default()),
            ..Lifecycle::default()
        });
        let mut with_own = container("own");
        with_own.lifecycle = Some(Lifecycle {
            pre_stop: Some(LifecycleHandler {
                exec: Some(ExecAction {
                    command: Some(vec!["/drain".into()]),
                }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        });
        let found = pre_stop_additions(&pod(vec![container("app"), with_post_start, with_own]), 5)
            .expect("additions");
        assert_eq!(
            paths(&found),
            [
                "spec/containers/0/lifecycle",
                "spec/containers/1/lifecycle/preStop"
            ]
        );
        assert_eq!(found[0].1, json!({"preStop": {"sleep": {"seconds": 5}}}));
        assert_eq!(found[1].1, json!({"sleep": {"seconds": 5}}));
    }

    #[test]
    fn the_annotation_sets_or_turns_off_the_sleep_and_a_bad_one_is_named() {
        let mut annotated = pod(vec![container("app")]);
        let mut annotate = |value: &str| {
            annotated.metadata.annotations =
                Some(BTreeMap::from([(PRE_STOP_ANNOTATION.into(), value.into())]));
            pre_stop_additions(&annotated, 5)
        };
        assert_eq!(annotate("0"), Ok(Vec::new()));
        let longer = annotate("12").expect("additions");
        assert_eq!(longer[0].1, json!({"preStop": {"sleep": {"seconds": 12}}}));
        for bad in ["-1", "121", "five", ""] {
            let error = annotate(bad).expect_err(bad);
            assert!(error.contains(PRE_STOP_ANNOTATION), "{error}");
        }
    }

    #[test]
    fn the_sleep_ends_before_the_grace_period() {
        let mut short = pod(vec![container("app")]);
        if let Some(spec) = short.spec.as_mut() {
            spec.termination_grace_period_seconds = Some(3);
        }
        let found = pre_stop_additions(&short, 5).expect("additions");
        assert_eq!(found[0].1, json!({"preStop": {"sleep": {"seconds": 2}}}));
        if let Some(spec) = short.spec.as_mut() {
            spec.termination_grace_period_seconds = Some(1);
        }
        assert_eq!(pre_stop_additions(&short, 5), Ok(Vec::new()));
        assert_eq!(
            pre_stop_additions(&pod(vec![container("app")]), 0),
            Ok(Vec::new())
        );
    }
}
