//! Send and receive. `POST /{hostname}/snapshots/{snapshot}/send` is a job that pipes
//! `zfs send [-i base] snap` on the source device into `zfs receive [-F] target` on the
//! destination device through the server (`ssh::pipe`: bounded memory, flow-controlled, both
//! ends killed when either fails or the job is cancelled); progress is bytes sent against
//! `zfs send -nvP`'s estimate. `POST /{hostname}/receive` feeds the request body to
//! `zfs receive` as it arrives. A send never returns the stream itself.

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names;

/// Where to send a snapshot.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The receiving device (registered, or a raw host); may be the source device itself.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub destination_device: String,
    /// The dataset to receive into (created by the receive; with `force`, rolled back to
    /// the last common snapshot first).
    #[schemars(
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_:][A-Za-z0-9_.:-]*)*$"),
        length(max = 255)
    )]
    pub destination_dataset: String,
    /// Send only the changes since this snapshot of the same dataset (full name or the part
    /// after `@`); the destination must have it.
    #[schemars(regex(
        pattern = r"^([A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_:][A-Za-z0-9_.:-]*)*)?@?[A-Za-z0-9_:][A-Za-z0-9_.:-]*$"
    ))]
    pub incremental_from: Option<String>,
    /// `zfs receive -F`.
    #[serde(default)]
    pub force: bool,
}

/// What a send moved (the result of `POST /{hostname}/snapshots/{snapshot}/send`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct SendReport {
    /// The snapshot sent.
    pub snapshot: String,
    /// The sending device.
    pub source_device: String,
    /// The receiving device.
    pub destination_device: String,
    /// The dataset received into.
    pub destination_dataset: String,
    /// The incremental base (full snapshot name); `null` for a full stream.
    pub incremental_from: Option<String>,
    /// Bytes streamed.
    pub bytes: u64,
    /// The stream size `zfs send -nvP` estimated; `null` when it could not.
    pub estimated_bytes: Option<u64>,
    /// How long the transfer took, in milliseconds.
    pub duration_ms: u64,
    /// `zfs send`'s exit status.
    pub send_exit_code: i32,
    /// `zfs receive`'s exit status.
    pub receive_exit_code: i32,
}

/// The answer of `POST /{hostname}/receive`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Received {
    /// The dataset created from the stream.
    pub dataset_name: String,
    /// Always true (failures are errors).
    pub received: bool,
    /// How long the receive took, in milliseconds.
    pub duration_ms: u64,
}

/// The incremental base as a full snapshot name of `snapshot`'s dataset.
fn base_of(snapshot: &str, from: &str) -> Result<String, Error> {
    let dataset = snapshot.split('@').next().unwrap_or(snapshot);
    let full = match from.split_once('@') {
        Some(("", short)) => format!("{dataset}@{short}"),
        Some((ds, _)) if ds != dataset => {
            return Err(Error::bad_request(format!(
                "incremental_from `{from}` is not a snapshot of `{dataset}`"
            )));
        }
        Some(_) => from.to_owned(),
        None => format!("{dataset}@{from}"),
    };
    names::snapshot(&full)?;
    if full == snapshot {
        return Err(Error::bad_request(
            "incremental_from must be an older snapshot than the one sent",
        ));
    }
    Ok(full)
}

/// The argv of the send.
pub fn send_argv<'a>(snapshot: &'a str, base: Option<&'a str>) -> Vec<&'a str> {
    let mut argv = vec!["zfs", "send"];
    if let Some(b) = base {
        argv.extend(["-i", b]);
    }
    argv.push(snapshot);
    argv
}

/// The argv of the receive.
pub fn receive_argv(dataset: &str, force: bool) -> Vec<&str> {
    let mut argv = vec!["zfs", "receive"];
    if force {
        argv.push("-F");
    }
    argv.push(dataset);
    argv
}

/// The stream size `zfs send -nvP` estimates (`size\t123456` in its output), when the
/// device's zfs can estimate.
pub fn parse_estimate(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        (parts.next() == Some("size")).then(|| parts.next()?.parse().ok())?
    })
}

/// `POST /{hostname}/snapshots/{snapshot}/send` (a job).
pub fn send(req: &Request) -> Result<Response, Error> {
    let source = req.path("hostname")?;
    let snapshot = names::path(req, "snapshot", names::snapshot)?;
    let body: SendRequest = req.body()?;
    names::dataset(&body.destination_dataset)?;
    let base = body
        .incremental_from
        .as_deref()
        .map(|f| base_of(snapshot, f))
        .transpose()?;
    let send = send_argv(snapshot, base.as_deref());

    jobs::progress(0, None, "bytes", "estimating the stream size");
    let mut estimate_argv = vec!["zfs", "send", "-nvP"];
    estimate_argv.extend_from_slice(&send[2..]);
    let estimate = match ssh::exec(source, &estimate_argv, None, Duration::from_secs(60))? {
        out if out.success() => {
            parse_estimate(&out.stdout_str()).or_else(|| parse_estimate(&out.stderr_str()))
        }
        out => {
            let stderr = out.stderr_str();
            // An old zfs without -nvP still sends; anything that says the snapshot is
            // missing fails now, before the destination is touched.
            let err = crate::run::failure("zfs send", out.exit_code, &stderr);
            if err.kind() == "not_found" {
                return Err(err);
            }
            jobs::log(log::Level::Info, "this zfs cannot estimate the stream size");
            None
        }
    };
    let receive = receive_argv(&body.destination_dataset, body.force);
    jobs::log(
        log::Level::Info,
        &format!(
            "{} on {source} → {} on {}",
            send.join(" "),
            receive.join(" "),
            body.destination_device
        ),
    );
    let out = ssh::pipe(
        ssh::PipeEnd::argv(source, &send),
        ssh::PipeEnd::argv(&body.destination_device, &receive),
        estimate,
        None,
    )?;
    let report = SendReport {
        snapshot: snapshot.to_owned(),
        source_device: source.to_owned(),
        destination_device: body.destination_device.clone(),
        destination_dataset: body.destination_dataset.clone(),
        incremental_from: base.clone(),
        bytes: out.bytes,
        estimated_bytes: estimate,
        duration_ms: u64::try_from(out.duration.as_millis()).unwrap_or(u64::MAX),
        send_exit_code: out.source.exit_code,
        receive_exit_code: out.sink.exit_code,
    };
    // The side that failed by itself is the cause: a send that exited non-zero ends the
    // receive's stream, a receive that refused gets the send killed (-1).
    let send_failure = || {
        crate::run::failure(
            &format!("zfs send on `{source}`"),
            out.source.exit_code,
            &String::from_utf8_lossy(&out.source.stderr_tail),
        )
    };
    if out.source.exit_code > 0 {
        return Err(send_failure());
    }
    if out.sink.exit_code != 0 {
        return Err(crate::run::failure(
            &format!("zfs receive on `{}`", body.destination_device),
            out.sink.exit_code,
            &String::from_utf8_lossy(&out.sink.stderr_tail),
        ));
    }
    if out.source.exit_code != 0 {
        return Err(send_failure());
    }
    Ok(Json(report).into())
}

/// What to receive into.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveQuery {
    /// The dataset to create from the stream.
    #[schemars(
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_:][A-Za-z0-9_.:-]*)*$"),
        length(max = 255)
    )]
    pub dataset_name: String,
    /// `zfs receive -F`.
    #[serde(default)]
    pub force: bool,
}

/// `POST /{hostname}/receive`: the body (a `zfs send` stream) into `zfs receive`.
pub fn receive(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let q: ReceiveQuery = req.query()?;
    names::dataset(&q.dataset_name)?;
    let argv: Vec<String> = receive_argv(&q.dataset_name, q.force)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let out = ssh::exec_with_body(host, Command::Argv(argv), None)?;
    if !out.success() {
        return Err(crate::run::failure(
            "zfs receive",
            out.exit_code,
            &out.stderr_str(),
        ));
    }
    Ok(Json(Received {
        dataset_name: q.dataset_name,
        received: true,
        duration_ms: u64::try_from(out.duration.as_millis()).unwrap_or(u64::MAX),
    })
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_and_bases() {
        assert_eq!(
            send_argv("t/a@2", Some("t/a@1")),
            ["zfs", "send", "-i", "t/a@1", "t/a@2"]
        );
        assert_eq!(receive_argv("b/x", true), ["zfs", "receive", "-F", "b/x"]);
        assert_eq!(base_of("t/a@2", "1").expect("short"), "t/a@1");
        assert_eq!(base_of("t/a@2", "@1").expect("at"), "t/a@1");
        assert_eq!(base_of("t/a@2", "t/a@1").expect("full"), "t/a@1");
        assert!(base_of("t/a@2", "t/b@1").is_err());
        assert!(base_of("t/a@2", "2").is_err());
        assert_eq!(
            parse_estimate("full\tt/a@1\t1234\nsize\t1234\n"),
            Some(1234)
        );
        assert_eq!(parse_estimate("garbage"), None);
    }
}
