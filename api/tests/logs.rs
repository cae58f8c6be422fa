//! The `shop` binary as an operator runs it: `serve` on the embedded defaults with JSON logs
//! writes one JSON object per line, the access log line of a request carries its request and
//! correlation ids, and SIGTERM stops it cleanly (exit status 0, after draining and saving).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn next_line(
    lines: &mpsc::Receiver<serde_json::Value>,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if want(&line) => return line,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("no such log line within 60 s");
}

#[test]
fn json_logs_carry_request_ids_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shop"))
        .args([
            "--log-format",
            "json",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .env_remove("SHOP_JWT_SECRET")
        .env_remove("EVENTSTORE_URL")
        .env_remove("DATABASE_URL")
        .env_remove("MEILI_URL")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let line = line.expect("utf-8 log lines");
            let json: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
            let _ = tx.send(json);
        }
    });

    let serving = next_line(&lines, |l| l["fields"]["message"] == "shop is serving");
    let addr = serving["fields"]["addr"].as_str().unwrap().to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .write_all(
            b"GET /products HTTP/1.1\r\nHost: shop\r\nX-Request-Id: log-probe-1\r\n\
              X-Correlation-Id: 3f1c2b9a-8d7e-4c6b-a5f4-e3d2c1b0a987\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let access = next_line(&lines, |l| {
        l["fields"]["message"] == "answered" && l["span"]["request_id"] == "log-probe-1"
    });
    assert_eq!(
        access["span"]["correlation_id"],
        "3f1c2b9a-8d7e-4c6b-a5f4-e3d2c1b0a987"
    );
    assert_eq!(access["fields"]["route"], "/products");
    assert_eq!(access["fields"]["status"], 200);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    next_line(&lines, |l| {
        l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("stopping"))
    });
    let exit = child.wait().unwrap();
    assert!(exit.success(), "shop exited with {exit}");
    reader.join().unwrap();
}
