//! The response cache through the LM: hits in memory and on disk, `rollout_id`, keys without
//! credentials, corrupt entries ignored and overwritten, and concurrent writers (tasks, LM
//! instances and processes sharing one directory).

mod lm_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dspy_core::lm::{Cache, CacheConfig, LM, LmBuilder, ModelType, cache_key, configure_cache};
use dspy_core::{LanguageModel, LmConfig, LmRequest, LmResponse, Message};
use lm_support::{Captured, MockServer, Reply, capture_subscriber, chat_completion};

fn ask(text: &str) -> LmRequest {
    LmRequest { messages: vec![Message::user(text)], ..LmRequest::default() }
}

fn disk_cache(dir: &Path) -> Arc<Cache> {
    Arc::new(Cache::new(CacheConfig::default().dir(dir)))
}

fn lm_with(server: &MockServer, cache: Arc<Cache>) -> LmBuilder {
    LM::builder("openai/gpt-4o-mini").api_base(server.v1()).api_key("sk-test").num_retries(0).cache_store(cache)
}

/// A server answering `answer <i>` to request `i`.
async fn counting_server() -> MockServer {
    MockServer::start(|i, _| Reply::Json(200, chat_completion(&format!("answer {i}")))).await
}

#[tokio::test]
async fn hits_in_memory_then_on_disk_with_zero_cost() {
    let dir = tempfile::tempdir().unwrap();
    let server = counting_server().await;
    let lm = lm_with(&server, disk_cache(dir.path())).build().unwrap();
    let first = lm.complete(ask("q")).await.unwrap();
    assert!(!first.cache_hit);
    assert!(first.usage.cost.unwrap() > 0.0);
    let again = lm.complete(ask("q")).await.unwrap();
    assert!(again.cache_hit);
    assert_eq!(again.outputs, first.outputs);
    assert_eq!((again.usage.total_tokens, again.usage.cost), (0, Some(0.0)), "a hit costs nothing");
    assert_eq!(server.count(), 1);

    // A new cache on the same directory (a new process, say) has an empty memory: disk hit.
    let lm2 = lm_with(&server, disk_cache(dir.path())).build().unwrap();
    let from_disk = lm2.complete(ask("q")).await.unwrap();
    assert!(from_disk.cache_hit);
    assert_eq!(from_disk.outputs[0].text, "answer 0");
    assert_eq!(server.count(), 1);

    // Streaming reads and fills the same cache.
    let events: Vec<_> = futures::StreamExt::collect::<Vec<_>>(lm2.stream(ask("q")).await.unwrap()).await;
    assert!(matches!(events.last(), Some(Ok(dspy_core::StreamEvent::Done(r))) if r.cache_hit));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn rollout_id_extends_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = counting_server().await;
    let lm = lm_with(&server, disk_cache(dir.path())).build().unwrap();
    let with = |id: Option<u64>| LmRequest { config: LmConfig { rollout_id: id, temperature: Some(1.0), ..LmConfig::default() }, ..ask("q") };
    let a = lm.complete(with(None)).await.unwrap();
    let b = lm.complete(with(Some(1))).await.unwrap();
    let c = lm.complete(with(Some(2))).await.unwrap();
    let b_again = lm.complete(with(Some(1))).await.unwrap();
    assert_eq!(server.count(), 3);
    assert_ne!(a.outputs, b.outputs);
    assert_ne!(b.outputs, c.outputs);
    assert!(b_again.cache_hit && b_again.outputs == b.outputs);
}

#[tokio::test]
async fn key_has_no_api_key_or_base_url() {
    let dir = tempfile::tempdir().unwrap();
    let cache = disk_cache(dir.path());
    let (s1, s2) = (counting_server().await, counting_server().await);
    let lm1 = lm_with(&s1, Arc::clone(&cache)).api_key("sk-one").build().unwrap();
    let lm2 = lm_with(&s2, Arc::clone(&cache)).api_key("sk-two").build().unwrap();
    lm1.complete(ask("q")).await.unwrap();
    assert!(lm2.complete(ask("q")).await.unwrap().cache_hit, "same request to a mirror: a hit");
    assert_eq!(s2.count(), 0);

    // But the model, messages, settings, response format and tools all are in it.
    let base = ask("q");
    let k = |m: &str, r: &LmRequest| cache_key(m, ModelType::Chat, r);
    let k0 = k("openai/gpt-4o-mini", &base);
    assert_ne!(k0, k("openai/gpt-4o", &base));
    assert_ne!(k0, cache_key("openai/gpt-4o-mini", ModelType::Text, &base));
    assert_ne!(k0, k("openai/gpt-4o-mini", &ask("q2")));
    assert_ne!(k0, k("openai/gpt-4o-mini", &LmRequest { config: LmConfig { temperature: Some(0.5), ..LmConfig::default() }, ..ask("q") }));
    assert_ne!(k0, k("openai/gpt-4o-mini", &LmRequest { response_format: Some(dspy_core::ResponseFormat::JsonObject), ..ask("q") }));
}

#[tokio::test]
async fn cache_off_per_lm_and_globally() {
    let server = counting_server().await;
    let lm = LM::builder("openai/m").api_base(server.v1()).cache(false).build().unwrap();
    lm.complete(ask("q")).await.unwrap();
    lm.complete(ask("q")).await.unwrap();
    assert_eq!(server.count(), 2);

    // The process-wide switch (DSPy's configure_cache) — this test binary's other tests use
    // their own caches, so turning the global one off here affects only this LM.
    configure_cache(CacheConfig::disabled());
    let lm = LM::builder("openai/m").api_base(server.v1()).build().unwrap();
    lm.complete(ask("q")).await.unwrap();
    lm.complete(ask("q")).await.unwrap();
    assert_eq!(server.count(), 4);
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn corrupt_or_truncated_entries_are_ignored_reported_once_and_overwritten() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(capture_subscriber(&captured, tracing::Level::WARN));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let server = counting_server().await;
        let lm = lm_with(&server, disk_cache(dir.path())).build().unwrap();
        lm.complete(ask("a")).await.unwrap();
        lm.complete(ask("b")).await.unwrap();

        // Damage every content file: one truncated, one replaced by garbage.
        let mut content = Vec::new();
        files_under(&dir.path().join("content-v2"), &mut content);
        assert_eq!(content.len(), 2);
        let bytes = std::fs::read(&content[0]).unwrap();
        std::fs::write(&content[0], &bytes[..bytes.len() / 2]).unwrap();
        std::fs::write(&content[1], b"\x00\xffnot json at all").unwrap();

        // A fresh cache (empty memory): both entries are misses, not crashes.
        let lm = lm_with(&server, disk_cache(dir.path())).build().unwrap();
        let a = lm.complete(ask("a")).await.unwrap();
        let b = lm.complete(ask("b")).await.unwrap();
        assert!(!a.cache_hit && !b.cache_hit);
        assert_eq!(server.count(), 4);
        let warnings = captured.text().matches("ignoring an unreadable LM disk cache entry").count();
        assert_eq!(warnings, 1, "reported once per cache:\n{}", captured.text());

        // Overwritten: yet another fresh cache reads them back from disk.
        let lm = lm_with(&server, disk_cache(dir.path())).build().unwrap();
        assert_eq!(lm.complete(ask("a")).await.unwrap().outputs[0].text, a.outputs[0].text);
        assert!(lm.complete(ask("b")).await.unwrap().cache_hit);
        assert_eq!(server.count(), 4);

        // A torn index (a half-written line, garbage) is skipped too.
        let mut index = Vec::new();
        files_under(&dir.path().join("index-v5"), &mut index);
        for f in &index {
            let mut text = std::fs::read(f).unwrap();
            text.truncate(text.len() - 7);
            text.extend_from_slice(b"\n\xde\xad garbage\tline\n");
            std::fs::write(f, text).unwrap();
        }
        let lm = lm_with(&server, disk_cache(dir.path())).build().unwrap();
        lm.complete(ask("a")).await.unwrap();
        lm.complete(ask("b")).await.unwrap();
        let lm = lm_with(&server, disk_cache(dir.path())).build().unwrap();
        assert!(lm.complete(ask("a")).await.unwrap().cache_hit);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_tasks_and_two_lms_sharing_a_dir() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start(|_, req| {
        let q = req.body["messages"][0]["content"].as_str().unwrap().to_string();
        Reply::After(Duration::from_millis(5), Box::new(Reply::Json(200, chat_completion(&format!("answer to {q}")))))
    })
    .await;
    let lm_a = lm_with(&server, disk_cache(dir.path())).build().unwrap();
    let lm_b = lm_with(&server, disk_cache(dir.path())).build().unwrap();
    let mut tasks = Vec::new();
    for i in 0..96 {
        let lm = if i % 2 == 0 { lm_a.clone() } else { lm_b.clone() };
        tasks.push(tokio::spawn(async move {
            let q = format!("q{}", i % 16);
            let r = lm.complete(ask(&q)).await.unwrap();
            assert_eq!(r.outputs[0].text, format!("answer to {q}"));
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Every key reads back whole from disk through a third, fresh cache.
    let fresh = disk_cache(dir.path());
    for i in 0..16 {
        let q = format!("q{i}");
        let key = cache_key("openai/gpt-4o-mini", ModelType::Chat, &ask(&q));
        let hit = fresh.get(&key).await.expect("entry on disk");
        assert_eq!(hit.outputs[0].text, format!("answer to {q}"));
    }
}

const CHILD_ENV: &str = "DSPY_TEST_CACHE_CHILD_DIR";

fn response(writer: &str, i: usize) -> LmResponse {
    LmResponse::from_texts("m", [format!("{writer} wrote entry {i} {}", "x".repeat(i * 37))])
}

async fn hammer(dir: &Path, writer: &str) {
    let cache = Cache::new(CacheConfig::default().dir(dir));
    for round in 0..3 {
        for i in 0..60 {
            cache.put(&format!("key-{i}"), &response(writer, i)).await;
            if round > 0 {
                cache.clear_memory();
                let got = cache.get(&format!("key-{}", (i * 7) % 60)).await.expect("a whole entry");
                assert!(got.outputs[0].text.contains(&format!("wrote entry {}", (i * 7) % 60)), "{got:?}");
            }
        }
    }
}

/// The other process of `concurrent_writers_across_processes` (does nothing when run alone).
#[test]
fn cross_process_child() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
            hammer(Path::new(&dir), "child").await;
            let marker = format!("child-done-{}", std::process::id());
            Cache::new(CacheConfig::default().dir(&dir)).put(&marker, &response("child", 0)).await;
        });
    }
}

#[test]
fn concurrent_writers_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "cross_process_child", "--nocapture", "--test-threads=1"])
                .env(CHILD_ENV, dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(hammer(dir.path(), "parent"));
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    for c in &mut children {
        assert!(c.wait().unwrap().success(), "a child process failed");
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let fresh = Cache::new(CacheConfig::default().dir(dir.path()));
    for pid in pids {
        assert!(rt.block_on(fresh.get(&format!("child-done-{pid}"))).is_some(), "child {pid} ran");
    }
    for i in 0..60 {
        let got = rt.block_on(fresh.get(&format!("key-{i}"))).expect("every key readable");
        let text = &got.outputs[0].text;
        assert!(text == &response("parent", i).outputs[0].text || text == &response("child", i).outputs[0].text, "{text}");
    }
}
