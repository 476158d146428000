//! The answer cache of `cacheable` routes over real HTTP and SSH: a replay is byte for byte
//! what the handler answered, never crosses a request that differs in path, query or key,
//! follows every new collection at once, counts its cache hits, and never happens for a call
//! that read anything but cached collections.

use std::time::Duration;

use infrastructor::config::Scope;
use infrastructor_tests::api_key;
use infrastructor_tests::testbed::{Docker, Sshd, SshdOptions};
use infrastructor_tests::{TestServer, hit_total, remote_server, server_with_device};
use serde_json::Value;

const READ: &str = "answer-cache-first-01234";
const OTHER: &str = "answer-cache-other-01234";

/// One GET: status, whether it was a replay, the raw body.
async fn fetch(s: &TestServer, path: &str, key: Option<&str>) -> (u16, bool, Vec<u8>) {
    let mut request = s.client.get(s.url(path));
    if let Some(k) = key {
        request = request.bearer_auth(k);
    }
    let r = request.send().await.expect("request");
    let status = r.status().as_u16();
    let replay = r
        .headers()
        .get("x-answer-cache")
        .is_some_and(|v| v == "replay");
    let body = r.bytes().await.expect("body").to_vec();
    (status, replay, body)
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).expect("json body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_are_exact_follow_new_collections_and_never_cross_requests() {
    let d = Sshd::start(SshdOptions::default()).expect("sshd");
    let s = remote_server(&d, |c| {
        c.auth.keys = ["reader", "other"]
            .iter()
            .zip([READ, OTHER])
            .map(|(name, key)| api_key(name, key, Scope::Write))
            .collect();
    })
    .await;
    let path = "/api/remote/127.0.0.1/cached";

    // A call that ran the collection is not stored (its answer says cache_hit false); the
    // first call served from the cache is, and the next is its replay, byte for byte.
    let (status, replay, ran) = fetch(&s, path, Some(READ)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&ran));
    assert!(!replay);
    assert_eq!(json(&ran)["collection_metadata"]["cache_hit"], false);
    let (_, replay, rendered) = fetch(&s, path, Some(READ)).await;
    assert!(!replay, "the first cached call runs the handler");
    assert_eq!(json(&rendered)["collection_metadata"]["cache_hit"], true);
    let (status, replay, replayed) = fetch(&s, path, Some(READ)).await;
    assert_eq!(status, 200);
    assert!(replay, "the second cached call is a replay");
    assert_eq!(
        replayed, rendered,
        "a replay is exactly what the handler answered"
    );

    // Another key, another query value, another path: each runs the handler first.
    let (_, replay, other_key) = fetch(&s, path, Some(OTHER)).await;
    assert!(!replay, "another key never gets this key's stored answer");
    assert_eq!(json(&other_key)["data"], json(&rendered)["data"]);
    let (_, replay, _) = fetch(&s, &format!("{path}?variant=a"), Some(READ)).await;
    assert!(
        replay,
        "an explicit default is the same validated request: it shares the answer"
    );
    let (_, replay, _) = fetch(&s, &format!("{path}?max_age=299"), Some(READ)).await;
    assert!(!replay, "another query value is another request");
    let (_, replay, _) = fetch(&s, "/api/remote/localhost/cached", Some(READ)).await;
    assert!(!replay, "another path is another request");

    // A forced collection replaces the cached result: the stored answer is dropped at once
    // and the next answer carries the new collection time.
    let before = json(&replayed)["collection_metadata"]["collected_at"].clone();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, replay, forced) = fetch(&s, &format!("{path}?force=true"), Some(READ)).await;
    assert!(!replay);
    let after = json(&forced)["collection_metadata"]["collected_at"].clone();
    assert_ne!(before, after, "a forced run collects anew");
    let (_, replay, next) = fetch(&s, path, Some(READ)).await;
    assert!(
        !replay,
        "the stored answer was built from the replaced result"
    );
    assert_eq!(json(&next)["collection_metadata"]["collected_at"], after);
    let (_, replay, again) = fetch(&s, path, Some(READ)).await;
    assert!(replay);
    assert_eq!(again, next);

    // Past the max age the handler asked for, the collector would run again: so no replay.
    let short = format!("{path}?max_age=1");
    fetch(&s, &short, Some(READ)).await;
    let (_, replay, _) = fetch(&s, &short, Some(READ)).await;
    assert!(replay);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, replay, expired) = fetch(&s, &short, Some(READ)).await;
    assert!(!replay, "an expired read is never replayed");
    assert_eq!(json(&expired)["collection_metadata"]["cache_hit"], false);

    // Replays count as cache hits like any cached collection. (The expired read above
    // collected anew: one call stores the answer built from that.)
    fetch(&s, path, Some(READ)).await;
    let store = s.app_state().services.store.clone();
    s.app_state().services.collector.flush_hits().await;
    let hits_before = hit_total(&store, "remote").await;
    for _ in 0..20 {
        let (_, replay, _) = fetch(&s, path, Some(READ)).await;
        assert!(replay);
    }
    s.app_state().services.collector.flush_hits().await;
    assert_eq!(hit_total(&store, "remote").await, hits_before + 20);

    // A route declared cacheable that also runs a command is never replayed: every answer
    // is the handler's own.
    let exec_path = "/api/remote/127.0.0.1/cached-exec";
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..4 {
        let (status, replay, body) = fetch(&s, exec_path, Some(READ)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert!(!replay, "a call that ran a command is never stored");
        seen.insert(json(&body)["now"].as_str().expect("now").to_owned());
    }
    assert_eq!(seen.len(), 4, "each answer ran its own command");
    let (entries, bytes) = s
        .app_state()
        .plugins()
        .get("remote")
        .expect("remote")
        .answers()
        .usage();
    assert!(entries > 0 && bytes > 0, "{entries} entries, {bytes} bytes");
    s.stop().await;
}

/// The containers list: a replay equals the handler's answer, and a container started on
/// the engine shows as soon as a forced list collected it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_lists_replay_until_the_engine_changes() {
    let docker = Docker::start().expect("dockerd");
    docker
        .build_busybox_image("tb-busybox:answers")
        .expect("image");
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    device.use_docker(&docker).expect("use_docker");
    let s = server_with_device(&device, "box", false, |_| {}).await;
    docker
        .run(&[
            "create",
            "--name",
            "first",
            "tb-busybox:answers",
            "sleep",
            "600",
        ])
        .expect("create");
    let path = "/api/containers/box?all_containers=true";
    fetch(&s, path, None).await;
    let (_, replay, rendered) = fetch(&s, path, None).await;
    assert!(!replay);
    let (_, replay, replayed) = fetch(&s, path, None).await;
    assert!(replay);
    assert_eq!(replayed, rendered);
    let names = |body: &[u8]| -> Vec<String> {
        let mut v: Vec<String> = json(body)["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&replayed), ["first"]);
    docker
        .run(&[
            "create",
            "--name",
            "second",
            "tb-busybox:answers",
            "sleep",
            "600",
        ])
        .expect("create");
    let (_, _, forced) = fetch(&s, &format!("{path}&live=true"), None).await;
    assert_eq!(names(&forced), ["first", "second"]);
    let (_, replay, listed) = fetch(&s, path, None).await;
    assert!(!replay, "the list was collected anew");
    assert_eq!(names(&listed), ["first", "second"]);
    // Filters are other requests with their own answers.
    let (_, replay, running) = fetch(&s, "/api/containers/box?status=running", None).await;
    assert!(!replay);
    assert_eq!(json(&running)["total_count"], 0);
    s.stop().await;
}
