//! `make bench` (edge part): `GET /api/auth/me` through the edge beside the same request made
//! straight over NATS to the auth worker, in one run, so the edge's own cost shows as a ratio;
//! and login throughput at the configured bcrypt cost.
//!
//! Latency is timed with one call at a time, the two paths taking turns call by call; throughput
//! with `BENCH_CONCURRENCY` callers.
//!
//! Knobs: BENCH_REQUESTS (default 3000 per path), BENCH_CONCURRENCY (default 16),
//! BENCH_BCRYPT_COST (default 12), BENCH_LOGINS (default 24).

use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use common::subjects::{auth, headers};
use serde_json::Value;
use system_tests::bench::{env_or, percentile};
use system_tests::{Stack, StackOptions};

struct Figures {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

/// Latencies of `n` sequential calls of each path, the two paths taking turns call by call (in
/// alternating order), so that whatever the machine does meanwhile falls on both alike: this VM's
/// speed drifts by a quarter within minutes, and timing one path's calls after the other's
/// compared machine states as much as paths.
async fn latencies<A, AF, B, BF>(n: usize, a: A, b: B) -> (Vec<Duration>, Vec<Duration>)
where
    A: Fn() -> AF,
    AF: std::future::Future<Output = ()>,
    B: Fn() -> BF,
    BF: std::future::Future<Output = ()>,
{
    for _ in 0..50 {
        a().await;
        b().await;
    }
    let (mut la, mut lb) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let time_a = async {
            let t = Instant::now();
            a().await;
            la.push(t.elapsed());
        };
        if i % 2 == 0 {
            time_a.await;
            let t = Instant::now();
            b().await;
            lb.push(t.elapsed());
        } else {
            let t = Instant::now();
            b().await;
            lb.push(t.elapsed());
            time_a.await;
        }
    }
    la.sort();
    lb.sort();
    (la, lb)
}

/// Requests per second with `concurrency` callers making `n` calls in all.
async fn throughput<F, Fut>(n: usize, concurrency: usize, call: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let per_worker = n / concurrency;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                for _ in 0..per_worker {
                    call().await;
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("bench worker");
    }
    (per_worker * concurrency) as f64 / started.elapsed().as_secs_f64()
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_or("BENCH_REQUESTS", 3000);
    let concurrency = env_or("BENCH_CONCURRENCY", 16);
    let cost = env_or("BENCH_BCRYPT_COST", 12) as u32;
    let logins = env_or("BENCH_LOGINS", 24);
    let stack = Stack::start(StackOptions {
        bcrypt_cost: cost,
        login_max_failures: 1000,
        ..StackOptions::default()
    })
    .await;
    let store = stack.mongo.name();
    let user = stack.register("bench_user", "bench password").await;
    let tokens = stack.login("bench_user", "bench password").await;
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let user_id = user["id"].as_str().unwrap().to_owned();

    let http = reqwest::Client::new();
    let url = stack.url("/api/auth/me");
    let via_edge = {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        move || {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                let r = http
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("edge call");
                assert_eq!(r.status(), 200);
                let _: Value = r.json().await.expect("JSON");
            }
        }
    };
    let nats = stack.nats.client("edge").await;
    let direct = {
        let nats = nats.clone();
        move || {
            let nats = nats.clone();
            let user_id = user_id.clone();
            async move {
                let mut h = HeaderMap::new();
                h.insert(headers::REQUEST_ID, "bench");
                h.insert(headers::USER_ID, user_id.as_str());
                h.insert(headers::USER_ROLE, "user");
                let m = nats
                    .request_with_headers(auth::ME, h, "".into())
                    .await
                    .expect("nats call");
                let _: Value = serde_json::from_slice(&m.payload).expect("JSON");
            }
        }
    };
    let (direct_lat, edge_lat) = latencies(n, direct.clone(), via_edge.clone()).await;
    // Throughput in halves, alternated, for the same reason.
    let d1 = throughput(n / 2, concurrency, direct.clone()).await;
    let e1 = throughput(n / 2, concurrency, via_edge.clone()).await;
    let e2 = throughput(n / 2, concurrency, via_edge).await;
    let d2 = throughput(n / 2, concurrency, direct).await;
    let figures = |lat: &[Duration], rps: f64| Figures {
        rps,
        p50: percentile(lat, 0.5),
        p99: percentile(lat, 0.99),
    };
    let (edge, direct) = (
        figures(&edge_lat, (e1 + e2) / 2.0),
        figures(&direct_lat, (d1 + d2) / 2.0),
    );

    // Logins: `logins` calls, as many at once as there are cores.
    let cores = std::thread::available_parallelism().map_or(2, |c| c.get());
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..cores {
        let (http, url) = (http.clone(), stack.url("/api/auth/login"));
        let per = logins / cores;
        handles.push(tokio::spawn(async move {
            for _ in 0..per {
                let r = http
                    .post(&url)
                    .json(&serde_json::json!({"username": "bench_user", "password": "bench password"}))
                    .send()
                    .await
                    .expect("login");
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let login_rps = (logins / cores * cores) as f64 / started.elapsed().as_secs_f64();

    println!("\n## Edge: GET /api/auth/me (store: {store}; {n} calls per path, throughput with {concurrency} in flight)\n");
    println!("| path | req/s | p50 ms | p99 ms |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| straight over NATS | {:.0} | {} | {} |",
        direct.rps,
        ms(direct.p50),
        ms(direct.p99)
    );
    println!(
        "| through the edge (HTTP) | {:.0} | {} | {} |",
        edge.rps,
        ms(edge.p50),
        ms(edge.p99)
    );
    let ratio = edge.p50.as_secs_f64() / direct.p50.as_secs_f64();
    println!(
        "\nedge / NATS at p50: {ratio:.3} ({:+.1} %; target ≤ +25 %: {})",
        (ratio - 1.0) * 100.0,
        if ratio <= 1.25 { "met" } else { "NOT MET" }
    );
    println!(
        "edge adds {:.3} ms at p50",
        (edge.p50.as_secs_f64() - direct.p50.as_secs_f64()) * 1000.0
    );
    println!("\nlogin throughput at bcrypt cost {cost}: {login_rps:.1} logins/s ({cores} at once)\n");
}
