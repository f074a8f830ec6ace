//! Fan-out benchmark for `aioproto::pubsub` rooms.
//!
//! ```text
//! pubsub_bench [--members N] [--messages M] [--rate R] [--redis URL]
//! ```
//!
//! * **local**: N members (default 100) in one local room; M messages
//!   (default 20000) published round-robin as fast as possible; deliveries/s
//!   and send→delivery latency.
//! * **redis, burst**: the same N members split over 3 room instances (each
//!   with its own Redis connections) on one Redis; M messages as fast as
//!   possible; deliveries/s once every delivery has arrived.
//! * **redis, paced**: R messages/s (default 2000) for 2 s, so latency is not
//!   queueing behind a burst; p50/p99 for local and cross-server deliveries.
//!
//! Without `--redis`, a `redis-server` is started on a free port (and killed
//! at the end) if one is installed; otherwise the Redis rows are skipped.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aioproto::pubsub::{Member, RedisOptions, Room, RoomEvent};
use tokio::sync::Notify;

/// The same allocator as the example binaries it is measured against (see
/// `aioproto_examples`' docs), so allocator differences stay out of the ratios.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

struct Args {
    members: usize,
    messages: usize,
    rate: usize,
    redis: Option<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        members: 100,
        messages: 20_000,
        rate: 2000,
        redis: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        let number = || {
            value.parse::<usize>().unwrap_or_else(|_| {
                eprintln!("error: {} needs a number", argv[i]);
                std::process::exit(2)
            })
        };
        match argv[i].as_str() {
            "--members" => args.members = number().max(2),
            "--messages" => args.messages = number().max(1),
            "--rate" => args.rate = number().max(1),
            "--redis" => args.redis = Some(value.clone()),
            other => {
                eprintln!("error: unknown argument {other}");
                std::process::exit(2)
            }
        }
        i += 2;
    }
    args
}

/// Shared by every sink of one measurement.
struct Tally {
    epoch: Instant,
    delivered: AtomicU64,
    expected: AtomicU64,
    done: Notify,
    /// Each sink's latency samples in ns: (local, cross-server).
    buffers: Mutex<Vec<Arc<Mutex<Samples>>>>,
}

type Samples = (Vec<u64>, Vec<u64>);

impl Tally {
    fn new() -> Arc<Tally> {
        Arc::new(Tally {
            epoch: Instant::now(),
            delivered: AtomicU64::new(0),
            expected: AtomicU64::new(u64::MAX),
            done: Notify::new(),
            buffers: Mutex::new(Vec::new()),
        })
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Payload: send time (ns since epoch, 8 bytes LE) + origin server index.
    fn payload(&self, server: u8) -> Vec<u8> {
        let mut p = self.now_ns().to_le_bytes().to_vec();
        p.push(server);
        p
    }

    fn reset(&self, expected: u64) {
        self.delivered.store(0, Ordering::SeqCst);
        self.take_samples();
        self.expected.store(expected, Ordering::SeqCst);
    }

    /// Every sink's samples so far, moved out.
    fn take_samples(&self) -> Samples {
        let mut all = (Vec::new(), Vec::new());
        for buffer in self.buffers.lock().unwrap().iter() {
            let mut b = buffer.lock().unwrap();
            all.0.append(&mut b.0);
            all.1.append(&mut b.1);
        }
        all
    }
}

/// A sink for a member on server `server`: counts, and keeps one latency
/// sample per delivery in its own buffer (uncontended: one sender thread at a
/// time in practice).
fn sink(tally: Arc<Tally>, server: u8) -> impl Fn(&RoomEvent) + Send + Sync + 'static {
    let buffer = Arc::new(Mutex::new((Vec::new(), Vec::new())));
    tally.buffers.lock().unwrap().push(buffer.clone());
    move |event: &RoomEvent| {
        let RoomEvent::Message { payload, .. } = event else {
            return;
        };
        let (Some(sent), Some(&origin)) = (payload.get(..8), payload.get(8)) else {
            return;
        };
        let sent = u64::from_le_bytes(sent.try_into().unwrap_or_default());
        let latency = tally.now_ns().saturating_sub(sent);
        {
            let mut buf = buffer.lock().unwrap();
            if origin == server {
                buf.0.push(latency);
            } else {
                buf.1.push(latency);
            }
        }
        let n = tally.delivered.fetch_add(1, Ordering::AcqRel) + 1;
        if n == tally.expected.load(Ordering::Acquire) {
            tally.done.notify_one();
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn latency_line(label: &str, samples: &mut [u64]) -> String {
    samples.sort_unstable();
    format!(
        "{label}: p50 {:.1} µs, p99 {:.1} µs ({} samples)",
        percentile(samples, 0.50),
        percentile(samples, 0.99),
        samples.len()
    )
}

/// Waits for every expected delivery; returns how long since `start` and
/// how many arrived.
async fn wait_all(
    tally: &Tally,
    expected: u64,
    start: Instant,
    limit: Duration,
) -> (Duration, u64) {
    let _ = tokio::time::timeout(limit, async {
        while tally.delivered.load(Ordering::Acquire) < expected {
            tally.done.notified().await;
        }
    })
    .await;
    (start.elapsed(), tally.delivered.load(Ordering::Acquire))
}

async fn join_all(rooms: &[Room], members: usize, tally: &Arc<Tally>) -> Vec<Member> {
    let mut handles = Vec::with_capacity(members);
    for i in 0..members {
        let server = i % rooms.len();
        let m = rooms[server]
            .join(&format!("m{i}"), sink(tally.clone(), server as u8))
            .await
            .expect("join");
        handles.push(m);
    }
    handles
}

async fn bench_local(args: &Args) {
    let tally = Tally::new();
    let room = Room::local("bench");
    let members = join_all(std::slice::from_ref(&room), args.members, &tally).await;
    let expected = (args.messages * (args.members - 1)) as u64;
    tally.reset(expected);
    let start = Instant::now();
    for i in 0..args.messages {
        members[i % members.len()].publish(tally.payload(0));
    }
    let (took, got) = wait_all(&tally, expected, start, Duration::from_secs(60)).await;
    let mut samples = tally.take_samples().0;
    println!(
        "local, {} members, 1 instance: {} messages, {got}/{expected} deliveries in {:.3} s = {:.0} deliveries/s",
        args.members,
        args.messages,
        took.as_secs_f64(),
        got as f64 / took.as_secs_f64()
    );
    println!("  {}", latency_line("send→delivery", &mut samples));
}

async fn bench_redis(args: &Args, url: &str) {
    let mut options = RedisOptions::new(url);
    options.queue_capacity(args.messages.max(16 * 1024));
    let mut rooms = Vec::new();
    for _ in 0..3 {
        rooms.push(
            Room::connect_redis("bench", &options)
                .await
                .expect("connect to redis"),
        );
    }
    let tally = Tally::new();
    let members = join_all(&rooms, args.members, &tally).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while rooms.iter().any(|r| r.members().len() < args.members) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Burst.
    let expected = (args.messages * (args.members - 1)) as u64;
    tally.reset(expected);
    let start = Instant::now();
    for i in 0..args.messages {
        let m = &members[i % members.len()];
        m.publish(tally.payload((i % members.len() % 3) as u8));
    }
    let publish_took = start.elapsed();
    let (took, got) = wait_all(&tally, expected, start, Duration::from_secs(120)).await;
    let dropped: u64 = rooms.iter().map(|r| r.stats().dropped).sum();
    let (mut local, mut remote) = tally.take_samples();
    println!(
        "redis, {} members over 3 instances, burst: {} messages (published in {:.3} s), \
         {got}/{expected} deliveries in {:.3} s = {:.0} deliveries/s, {dropped} dropped",
        args.members,
        args.messages,
        publish_took.as_secs_f64(),
        took.as_secs_f64(),
        got as f64 / took.as_secs_f64()
    );
    println!(
        "  {}",
        latency_line("local send→delivery (burst)", &mut local)
    );
    println!(
        "  {}",
        latency_line(
            "cross-server send→delivery (burst, includes queueing)",
            &mut remote
        )
    );

    // Paced.
    let count = args.rate * 2;
    let expected = (count * (args.members - 1)) as u64;
    tally.reset(expected);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate as f64 * 10.0));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut sent = 0;
    while sent < count {
        tick.tick().await;
        for _ in 0..10.min(count - sent) {
            let m = &members[sent % members.len()];
            m.publish(tally.payload((sent % members.len() % 3) as u8));
            sent += 1;
        }
    }
    let (took, got) = wait_all(&tally, expected, start, Duration::from_secs(60)).await;
    let (mut local, mut remote) = tally.take_samples();
    println!(
        "redis, paced at {} messages/s for 2 s: {got}/{expected} deliveries in {:.3} s",
        args.rate,
        took.as_secs_f64()
    );
    println!("  {}", latency_line("local send→delivery", &mut local));
    println!(
        "  {}",
        latency_line("cross-server send→delivery", &mut remote)
    );
    drop(members);
    for room in &rooms {
        room.close().await;
    }
}

/// Starts a throwaway redis-server on a free port; `None` if not installed.
fn spawn_redis() -> Option<(Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--dir"])
        .arg(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some((child, format!("redis://127.0.0.1:{port}")))
}

fn main() {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        bench_local(&args).await;
        let mut child = None;
        let url = match &args.redis {
            Some(url) => Some(url.clone()),
            None => spawn_redis().map(|(c, url)| {
                child = Some(c);
                url
            }),
        };
        match url {
            Some(url) => {
                // A spawned server needs a moment before it accepts.
                let deadline = Instant::now() + Duration::from_secs(10);
                while std::net::TcpStream::connect(url.trim_start_matches("redis://")).is_err()
                    && Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                bench_redis(&args, &url).await;
            }
            None => println!("redis: skipped (no --redis URL and no redis-server installed)"),
        }
        if let Some(mut c) = child {
            let _ = c.kill();
            let _ = c.wait();
        }
    });
}
