//! What a hostile or careless client cannot do to the server: hold its connections with
//! slow headers (slowloris), hold a request with a slow body, starve keys with an
//! unauthenticated flood, or grow the database with cached reads.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use infrastructor::config::Scope;
use infrastructor_tests::testbed::{Sshd, SshdOptions};
use infrastructor_tests::{TestServer, remote_server};

use infrastructor_tests::api_key as key;

/// Many connections trickling their headers one byte at a time hold every connection slot;
/// the header timeout closes them, so a normal request still gets through, and the server
/// never holds more connections than its cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_client_cannot_keep_a_normal_request_out() {
    let s = TestServer::start(&[], |c| {
        c.server.max_connections = 32;
        c.server.header_read_timeout_secs = 2;
        c.rate_limit.enabled = false;
    })
    .await;
    let addr = s.addr;
    // 96 slow clients (three times the cap), each sending a byte every 500 ms.
    let slow: Vec<std::thread::JoinHandle<(bool, Duration)>> = (0..96)
        .map(|_| {
            std::thread::spawn(move || {
                let started = Instant::now();
                let Ok(mut tcp) = TcpStream::connect(addr) else {
                    return (false, started.elapsed());
                };
                let _ = tcp.set_read_timeout(Some(Duration::from_millis(100)));
                let head = b"GET /api/status HTTP/1.1\r\nHost: x\r\nX-Slow: ";
                for byte in head
                    .iter()
                    .chain(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
                {
                    if tcp.write_all(&[*byte]).is_err() {
                        return (true, started.elapsed());
                    }
                    let mut buf = [0u8; 64];
                    match tcp.read(&mut buf) {
                        // Closed by the server (EOF), or a 408 before closing.
                        Ok(_) => return (true, started.elapsed()),
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                            return (true, started.elapsed());
                        }
                        Err(_) => {}
                    }
                    std::thread::sleep(Duration::from_millis(400));
                    if started.elapsed() > Duration::from_secs(20) {
                        break;
                    }
                }
                (false, started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let normal = tokio::time::timeout(Duration::from_secs(15), s.get("/api/status")).await;
    let waited = started.elapsed();
    let (status, body) = normal.expect("a normal request gets through within 15 s");
    assert_eq!(status, 200, "{body}");
    eprintln!("a normal request got through after {waited:?} under 96 slow clients (cap 32)");
    let results: Vec<(bool, Duration)> = slow
        .into_iter()
        .map(|h| h.join().expect("slow client"))
        .collect();
    let closed = results.iter().filter(|(c, _)| *c).count();
    assert_eq!(closed, results.len(), "every slow connection was closed");
    s.stop().await;
}

/// A JSON body that does not arrive in time is 408 (not 413), and the server is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_is_408() {
    let s = TestServer::start(&["hello"], |c| {
        c.server.body_read_timeout_secs = 1;
        c.rate_limit.enabled = false;
    })
    .await;
    let mut tcp = TcpStream::connect(s.addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    tcp.write_all(
        b"POST /api/hello/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":",
    )
    .expect("write");
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no answer: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // A declared body over the limit is refused at once, before any byte of it is read.
    let mut tcp = TcpStream::connect(s.addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    tcp.write_all(
        b"POST /api/hello/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3145728\r\n\r\n",
    )
    .expect("write");
    let mut head = [0u8; 64];
    let n = tcp.read(&mut head).expect("an answer without the body");
    let text = String::from_utf8_lossy(&head[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert_eq!(s.get("/api/hello/ping").await.0, 200);
    s.stop().await;
}

/// Unauthenticated requests spend their address's own budget: a flood of bad credentials is
/// refused (429) while keys from the same address keep theirs, each key its own.
#[tokio::test]
async fn an_unauthenticated_flood_never_spends_a_keys_budget() {
    let s = TestServer::start(&["hello"], |c| {
        c.rate_limit.per_minute = 5;
        c.rate_limit.unauthenticated_per_minute = 3;
        c.auth.keys = vec![
            key("reader", "reader-key-0123456789", Scope::Read),
            key("other", "other-key-0123456789", Scope::Read),
        ];
    })
    .await;
    let ping = s.url("/api/hello/ping");
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let r = s
            .client
            .get(&ping)
            .bearer_auth("wrong-key-0123456789")
            .send()
            .await
            .expect("flood");
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses[..3], [401, 401, 401], "{statuses:?}");
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    for i in 0..5 {
        let r = s
            .client
            .get(&ping)
            .bearer_auth("reader-key-0123456789")
            .send()
            .await
            .expect("reader");
        assert_eq!(r.status(), 200, "reader request {i} after the flood");
    }
    let r = s
        .client
        .get(&ping)
        .bearer_auth("reader-key-0123456789")
        .send()
        .await
        .expect("reader");
    assert_eq!(r.status(), 429, "the key's own budget is spent");
    let r = s
        .client
        .get(&ping)
        .bearer_auth("other-key-0123456789")
        .send()
        .await
        .expect("other");
    assert_eq!(r.status(), 200, "another key keeps its budget");
    s.stop().await;
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// A flood of cached reads writes no audit row per read: hits are counted and written as
/// one aggregate row, and the periodic checkpoint truncates the WAL, so the database's
/// disk use stays flat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_cached_reads_leaves_disk_use_flat() {
    let d = Sshd::start(SshdOptions::default()).expect("sshd");
    let s = remote_server(&d, |c| c.database.checkpoint_secs = 1).await;
    let db = s.app_state().config.database.path.clone();
    let wal = db.with_extension("db-wal");
    let url = s.url("/api/remote/127.0.0.1/collect?max_age=3600");
    let (status, first) = s.send(s.client.get(&url)).await;
    assert_eq!(status, 200, "{first}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = file_size(&db) + file_size(&wal);
    const READS: usize = 5000;
    let client = s.client.clone();
    let reads = futures::future::join_all((0..8).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            for _ in 0..READS / 8 {
                let r = client.get(&url).send().await.expect("read");
                assert_eq!(r.status(), 200);
            }
        }
    }));
    reads.await;
    // One flush-and-checkpoint period later.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = file_size(&db) + file_size(&wal);
    let store = s.app_state().services.store.clone();
    let rows = infrastructor_tests::audit_rows(&store, "remote").await;
    assert_eq!(rows.len(), 1, "one row for the one remote run");
    let hits = infrastructor_tests::hit_total(&store, "remote").await;
    assert_eq!(hits, READS as u64, "every hit counted");
    eprintln!(
        "{READS} cached reads: database + WAL {before} → {after} bytes, WAL now {} bytes",
        file_size(&wal)
    );
    assert!(
        after <= before + 64 * 1024,
        "disk use grew from {before} to {after} bytes"
    );
    s.stop().await;
}
