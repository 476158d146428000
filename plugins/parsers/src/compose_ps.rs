//! `docker compose ps`: the containers of a compose project and their state, from
//!
//! * `docker compose ps --format json` (compose v2): one JSON array before v2.21, one JSON
//!   object per container and line since ([`parse_compose_ps_json`]);
//! * the tables ([`parse_compose_ps_table`]): compose v2's `NAME … SERVICE … STATUS  PORTS`
//!   (aligned by Go's tabwriter) and compose v1's `docker-compose ps` (`Name  Command  State
//!   Ports`, headers centred over a line of dashes);
//!
//! into one [`ComposeService`] type. [`published_ports`] reads the host ports out of its
//! `ports` text.

use infrastructor_sdk::text::ParseError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::docker_ps::{ContainerState, StatusInfo, parse_ports, parse_status};
use crate::json;
use crate::table::parse_table;

const CMD: &str = "docker compose ps";
const V1_CMD: &str = "docker-compose ps";

/// The column names of compose v1's `docker-compose ps` table, in order.
const V1_HEADERS: [&str; 4] = ["Name", "Command", "State", "Ports"];

/// One container of a compose project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComposeService {
    /// The container's name (`myapp-web-1`; `myapp_web_1` with compose v1).
    pub name: String,
    /// The compose service the container runs (`web`); `None` when the output does not say
    /// and the name does not tell (see [`service_from_container_name`]).
    pub service: Option<String>,
    /// The container's state.
    pub state: ContainerState,
    /// The status as compose printed it (`Up 2 minutes (healthy)`, `exited (0)`, v1's
    /// `Exit 137`). For JSON without `Status` (compose before 2.21), the status compose
    /// itself displayed from `State`, `Health` and `ExitCode` (`running (healthy)`,
    /// `exited (1)`).
    pub status: String,
    /// `healthy`, `unhealthy` or `starting`; `None` without a health check.
    pub health: Option<String>,
    /// The published and exposed ports in docker's form (`0.0.0.0:8080->80/tcp, 443/tcp`),
    /// empty when there are none; see [`published_ports`] and [`parse_ports`].
    pub ports: String,
    /// The exit code of an exited or dead container; `None` while it has not exited.
    pub exit_code: Option<i64>,
}

/// The host ports published in a docker `Ports` text (`0.0.0.0:8080->80/tcp,
/// :::8080->80/tcp, 443/tcp` → `[8080]`): every protocol and address, ranges expanded,
/// sorted, without duplicates. Exposed ports that are not published are left out, and so
/// are entries that are not in docker's forms (see [`parse_ports`]).
pub fn published_ports(ports: &str) -> Vec<u16> {
    let mut out: Vec<u16> = ports
        .split(',')
        .filter_map(|entry| parse_ports(entry).ok())
        .flatten()
        .filter_map(|m| {
            m.host_port
                .map(|first| (first, m.host_port_end.unwrap_or(first)))
        })
        .flat_map(|(first, last)| first..=last)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The service of a compose container from its name: `<project>_<service>_<n>` (compose v1)
/// or `<project>-<service>-<n>` (compose v2). With the project known, its prefix is
/// stripped (`myapp`, `my_app_db_main_1` → `db_main`). Without it, only a name of exactly
/// three parts is split (`myapp_web_1` → `web`), since project and service names may
/// themselves contain `_` and `-`. `None` for any other name (a custom `container_name`, a
/// one-off `run` container).
pub fn service_from_container_name(name: &str, project: Option<&str>) -> Option<String> {
    for sep in ['_', '-'] {
        let Some((stem, number)) = name.rsplit_once(sep) else {
            continue;
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let service = match project {
            Some(project) => stem
                .strip_prefix(project)
                .and_then(|rest| rest.strip_prefix(sep)),
            None => match stem.split_once(sep) {
                Some((project, service)) if !project.is_empty() && !service.contains(sep) => {
                    Some(service)
                }
                _ => None,
            },
        };
        if let Some(service) = service.filter(|s| !s.is_empty()) {
            return Some(service.to_string());
        }
    }
    None
}

/// Reads a compose status: docker's forms (see [`parse_status`]), compose v1's `Exit N`
/// and `Paused`, and the `running (healthy)`, `dead (1)`, `paused` forms compose v2 printed
/// before 2.21. Anything else is [`ContainerState::Unknown`].
fn compose_status(status: &str) -> StatusInfo {
    let info = parse_status(status);
    if info.state != ContainerState::Unknown {
        return info;
    }
    let lower = status.trim().to_ascii_lowercase();
    if let Some(code) = lower.strip_prefix("exit ") {
        return StatusInfo {
            state: ContainerState::Exited,
            exit_code: code.trim().parse().ok(),
            health: None,
        };
    }
    let word_end = lower.find([' ', '(']).unwrap_or(lower.len());
    let Some(state) = ContainerState::from_docker(&lower[..word_end]) else {
        return info;
    };
    let rest = lower[word_end..].trim();
    let group = rest
        .strip_prefix('(')
        .and_then(|g| g.strip_suffix(')'))
        .map(str::trim);
    if !rest.is_empty() && group.is_none() {
        return info;
    }
    let mut out = StatusInfo {
        state,
        exit_code: None,
        health: None,
    };
    match (state, group) {
        (ContainerState::Running, Some(g)) => {
            let health = g.strip_prefix("health:").map_or(g, str::trim);
            if matches!(health, "healthy" | "unhealthy" | "starting") {
                out.health = Some(health.to_string());
            }
        }
        (ContainerState::Exited | ContainerState::Dead, Some(g)) => {
            out.exit_code = g.parse().ok();
        }
        _ => {}
    }
    out
}

/// Whether a container in `state` has exited, so that its exit code means something.
fn has_exited(state: ContainerState) -> bool {
    matches!(state, ContainerState::Exited | ContainerState::Dead)
}

/// A service from a status text and the other cells of a table row.
fn service_from_status(
    name: String,
    service: Option<String>,
    status: String,
    ports: String,
) -> ComposeService {
    let info = compose_status(&status);
    ComposeService {
        name,
        service,
        state: info.state,
        exit_code: info
            .exit_code
            .map(i64::from)
            .filter(|_| has_exited(info.state)),
        health: info.health,
        status,
        ports,
    }
}

// ---------------------------------------------------------------------------------------
// JSON

/// Whether `line` is a warning compose prints (on stderr, which a caller may have merged)
/// rather than output: `WARN[0000] …` (v2), `WARNING: …` (v1), logrus' `time="…"
/// level=warning msg="…"`.
fn is_warning(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("WARN[")
        || line.starts_with("WARNING")
        || (line.starts_with("time=\"") && line.contains("level=warning"))
}

/// One port publisher of compose's JSON (`Publishers`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Publisher {
    #[serde(default, rename = "URL")]
    url: Option<String>,
    target_port: u16,
    #[serde(default)]
    published_port: u16,
    #[serde(default)]
    protocol: Option<String>,
}

/// Compose's `Publishers` in docker's `Ports` form, as `docker ps` prints them (one entry per
/// publisher, no range grouping): `0.0.0.0:8080->80/tcp`, `[::]:8080->80/tcp`, and
/// `80/tcp` for a port that is exposed but not published (no host address or port).
fn ports_from_publishers(value: Option<&Value>) -> Result<String, String> {
    let publishers: Vec<Publisher> = match value {
        None | Some(Value::Null) => return Ok(String::new()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("Publishers: {e}"))?,
    };
    let entries: Vec<String> = publishers
        .into_iter()
        .map(|p| {
            let protocol = p.protocol.filter(|s| !s.is_empty());
            let protocol = protocol.as_deref().unwrap_or("tcp");
            match p.url.filter(|u| !u.is_empty()) {
                Some(url) if p.published_port != 0 => {
                    let host = if url.contains(':') {
                        format!("[{url}]")
                    } else {
                        url
                    };
                    format!("{host}:{}->{}/{protocol}", p.published_port, p.target_port)
                }
                _ => format!("{}/{protocol}", p.target_port),
            }
        })
        .collect();
    Ok(entries.join(", "))
}

/// A text field of a JSON object: `None` when missing or null, an error when not a string.
fn text_field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("\"{key}\" is not a string: {other}")),
    }
}

/// One container of compose's JSON. `Name` and `State` are required, so another command's
/// JSON (`docker ps`, `docker network ls`) is not taken for compose's.
fn service_from_json(obj: &Map<String, Value>) -> Result<ComposeService, String> {
    let name = text_field(obj, "Name")?
        .filter(|n| !n.is_empty())
        .ok_or("no \"Name\"")?;
    let in_container = |m: String| format!("container {name}: {m}");
    let state_text = text_field(obj, "State")
        .map_err(in_container)?
        .ok_or_else(|| in_container("no \"State\"".into()))?;
    let exit_code = match obj.get("ExitCode") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .ok_or_else(|| in_container(format!("\"ExitCode\" {n} is not an integer")))?,
        ),
        Some(other) => {
            return Err(in_container(format!(
                "\"ExitCode\" is not a number: {other}"
            )));
        }
    };
    let health = text_field(obj, "Health")
        .map_err(in_container)?
        .filter(|h| !h.is_empty());
    let status = match text_field(obj, "Status").map_err(in_container)? {
        Some(s) if !s.is_empty() => s,
        _ => match (state_text.as_str(), &health, exit_code) {
            ("running", Some(h), _) => format!("running ({h})"),
            ("exited" | "dead", _, Some(code)) => format!("{state_text} ({code})"),
            _ => state_text.clone(),
        },
    };
    let from_status = compose_status(&status);
    let state = ContainerState::from_docker(&state_text).unwrap_or(from_status.state);
    let ports = match text_field(obj, "Ports").map_err(in_container)? {
        Some(ports) => ports,
        None => ports_from_publishers(obj.get("Publishers")).map_err(in_container)?,
    };
    let service = text_field(obj, "Service")
        .map_err(in_container)?
        .filter(|s| !s.is_empty());
    Ok(ComposeService {
        exit_code: exit_code
            .or(from_status.exit_code.map(i64::from))
            .filter(|_| has_exited(state)),
        health: health.or(from_status.health),
        name,
        service,
        state,
        status,
        ports,
    })
}

/// Parses `docker compose ps --format json` (with or without `--all`), in either form compose
/// prints it: one JSON array (before v2.21, possibly spread over several lines) or one JSON
/// object per line (v2.21 and later). Blank lines and compose's warning lines (`WARN[0000]
/// …`) are skipped; no output, or `[]`, means no containers. Every container needs `Name`
/// and `State`; `Status`, `Ports` and `ExitCode` are read where the version prints them
/// (without `Ports`, the ports come from `Publishers`). Anything else is an error naming the
/// line (or, in an array, the entry).
pub fn parse_compose_ps_json(text: &str) -> Result<Vec<ComposeService>, ParseError> {
    // The first line that is neither blank nor a warning: its number and byte offset.
    let mut offset = 0;
    let mut first = None;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if !line.trim().is_empty() && !is_warning(line) {
            first = Some((i + 1, line));
            break;
        }
        offset += line.len();
    }
    let Some((first_no, first_line)) = first else {
        return Ok(Vec::new());
    };
    if first_line.trim_start().starts_with('[') {
        let rest = text.get(offset..).unwrap_or_default();
        let entries: Vec<Map<String, Value>> =
            serde_json::from_str(rest).map_err(|e| json::parse_error(CMD, first_no, &e))?;
        return entries
            .iter()
            .enumerate()
            .map(|(i, obj)| {
                service_from_json(obj)
                    .map_err(|m| ParseError::new(CMD, format!("entry {}: {m}", i + 1)))
            })
            .collect();
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(first_no - 1) {
        let (no, line) = (i + 1, line.trim());
        if line.is_empty() || is_warning(line) {
            continue;
        }
        let obj: Map<String, Value> = serde_json::from_str(line)
            .map_err(|e| ParseError::at(CMD, no, format!("not a JSON object: {e}")))?;
        out.push(service_from_json(&obj).map_err(|m| ParseError::at(CMD, no, m))?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Tables

/// Whether `line` is the header of compose v2's table (`NAME  IMAGE  COMMAND  SERVICE …`).
fn is_v2_header(line: &str) -> bool {
    line.split_whitespace().next() == Some("NAME")
}

/// Whether `line` is the header of compose v1's table (`Name  Command  State  Ports`).
fn is_v1_header(line: &str) -> bool {
    line.split_whitespace().eq(V1_HEADERS)
}

/// Parses the table `docker compose ps` (v2) or `docker-compose ps` (v1) prints without
/// `--format`. Lines before the header (warnings such as `WARN[0000] … the attribute
/// `version` is obsolete`, which compose prints on stderr) are skipped; no output means no
/// containers, but text without a header is an error.
///
/// * v2 (`NAME  IMAGE  COMMAND  SERVICE  CREATED  STATUS  PORTS`; older versions print fewer
///   columns): cut at the header's column positions (see [`parse_table`]); `NAME` and
///   `STATUS` (or `STATE`) are required, `SERVICE` and `PORTS` read where present.
/// * v1 (`Name  Command  State  Ports` over a line of dashes): the headers are centred over
///   their columns, so a column starts where the last run of blanks (in every line) before
///   its header ends. A row whose `Name` is blank continues the row above (a cell wrapped by
///   a narrow terminal); its cells are appended to the row's.
///
/// `project`, when known, is used to tell the service from a container name where the table
/// has no `SERVICE` column (see [`service_from_container_name`]).
pub fn parse_compose_ps_table(
    text: &str,
    project: Option<&str>,
) -> Result<Vec<ComposeService>, ParseError> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(header_at) = lines
        .iter()
        .position(|l| is_v2_header(l) || is_v1_header(l))
    else {
        if lines.iter().all(|l| l.trim().is_empty()) {
            return Ok(Vec::new());
        }
        return Err(ParseError::new(
            CMD,
            "no table header (`NAME … STATUS …` or `Name  Command  State  Ports`)",
        ));
    };
    if is_v1_header(lines[header_at]) {
        parse_v1_table(&lines, header_at, project)
    } else {
        parse_v2_table(&lines, header_at, project)
    }
}

/// Compose v2's table, from its header line (index `header_at` of `lines`) on.
fn parse_v2_table(
    lines: &[&str],
    header_at: usize,
    project: Option<&str>,
) -> Result<Vec<ComposeService>, ParseError> {
    let rest = lines.get(header_at..).unwrap_or_default().join("\n");
    let shift = |mut e: ParseError| {
        e.line = e.line.map(|l| l + header_at);
        e
    };
    let table = parse_table(&rest, CMD).map_err(shift)?;
    let header_no = header_at + 1;
    let name_col = table
        .column("NAME")
        .ok_or_else(|| ParseError::at(CMD, header_no, "no NAME column"))?;
    let status_col = table
        .column("STATUS")
        .or_else(|| table.column("STATE"))
        .ok_or_else(|| ParseError::at(CMD, header_no, "no STATUS column"))?;
    let service_col = table.column("SERVICE");
    let ports_col = table.column("PORTS");
    let mut out = Vec::new();
    for row in &table.rows {
        let name = row.cell(name_col).to_string();
        if name.is_empty() {
            return Err(ParseError::at(CMD, row.line + header_at, "no NAME"));
        }
        let service = service_col
            .map(|c| row.cell(c).to_string())
            .filter(|s| !s.is_empty())
            .or_else(|| service_from_container_name(&name, project));
        let ports = ports_col
            .map(|c| row.cell(c).to_string())
            .unwrap_or_default();
        out.push(service_from_status(
            name,
            service,
            row.cell(status_col).to_string(),
            ports,
        ));
    }
    Ok(out)
}

/// The words of a line as (start, end) positions in characters.
fn char_words(chars: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in chars.iter().enumerate() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, chars.len()));
    }
    out
}

/// Where a column of a v1 table starts: the end of the last run of at least two positions
/// that are blank in the header and every row, between the end of the previous header
/// (`after`) and the column's own header (`header_start`). texttable pads every column to
/// its widest cell and separates columns with three spaces, so that run is the separator.
fn v1_column_start(
    header: &[char],
    rows: &[(usize, Vec<char>)],
    after: usize,
    header_start: usize,
) -> Option<usize> {
    let blank = |p: usize| {
        header.get(p).is_none_or(|c| c.is_whitespace())
            && rows
                .iter()
                .all(|(_, r)| r.get(p).is_none_or(|c| c.is_whitespace()))
    };
    (after + 2..=header_start)
        .rev()
        .find(|&p| blank(p - 1) && blank(p - 2))
}

/// Appends a wrapped cell's continuation: after a space, unless the cell was broken after a
/// `-` (texttable breaks words on hyphens, as in `…:5000-` / `>5000/tcp`).
fn append_continuation(cell: &mut String, more: &str) {
    if more.is_empty() {
        return;
    }
    if !cell.is_empty() && !cell.ends_with('-') {
        cell.push(' ');
    }
    cell.push_str(more);
}

/// Compose v1's table, from its header line (index `header_at` of `lines`) on.
fn parse_v1_table(
    lines: &[&str],
    header_at: usize,
    project: Option<&str>,
) -> Result<Vec<ComposeService>, ParseError> {
    let header_no = header_at + 1;
    let header: Vec<char> = lines[header_at].chars().collect();
    let mut body = lines
        .iter()
        .enumerate()
        .skip(header_at + 1)
        .map(|(i, l)| (i + 1, *l))
        .filter(|(_, l)| !l.trim().is_empty());
    match body.next() {
        Some((_, dashes)) if dashes.trim().chars().all(|c| c == '-') => {}
        Some((no, _)) => {
            return Err(ParseError::at(
                V1_CMD,
                no,
                "expected a line of dashes under the header",
            ));
        }
        None => {
            return Err(ParseError::at(
                V1_CMD,
                header_no,
                "no line of dashes under the header",
            ));
        }
    }
    let rows: Vec<(usize, Vec<char>)> = body.map(|(no, l)| (no, l.chars().collect())).collect();
    let words = char_words(&header);
    let mut starts = vec![0];
    for k in 1..words.len() {
        let start =
            v1_column_start(&header, &rows, words[k - 1].1, words[k].0).ok_or_else(|| {
                ParseError::at(
                    V1_CMD,
                    header_no,
                    format!("cannot tell where column `{}` starts", V1_HEADERS[k]),
                )
            })?;
        starts.push(start);
    }
    // The cells of a row: Name, Command, State, Ports.
    let cut = |chars: &[char]| -> [String; 4] {
        std::array::from_fn(|k| {
            let start = starts.get(k).copied().unwrap_or(chars.len());
            let end = starts.get(k + 1).copied().unwrap_or(chars.len());
            chars
                .get(start.min(chars.len())..end.min(chars.len()))
                .unwrap_or_default()
                .iter()
                .collect::<String>()
                .trim()
                .to_string()
        })
    };
    let mut cells_by_row: Vec<[String; 4]> = Vec::new();
    for (no, chars) in &rows {
        let cells = cut(chars);
        if !cells[0].is_empty() {
            cells_by_row.push(cells);
            continue;
        }
        let Some(previous) = cells_by_row.last_mut() else {
            return Err(ParseError::at(V1_CMD, *no, "row without a Name"));
        };
        for (cell, more) in previous.iter_mut().zip(&cells) {
            append_continuation(cell, more);
        }
    }
    Ok(cells_by_row
        .into_iter()
        .map(|[name, _command, status, ports]| {
            let service = service_from_container_name(&name, project);
            service_from_status(name, service, status, ports)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::fixture;

    fn service(
        name: &str,
        service: Option<&str>,
        state: ContainerState,
        status: &str,
        ports: &str,
        exit_code: Option<i64>,
    ) -> ComposeService {
        ComposeService {
            name: name.into(),
            service: service.map(Into::into),
            state,
            status: status.into(),
            health: None,
            ports: ports.into(),
            exit_code,
        }
    }

    // -- JSON ------------------------------------------------------------------------------

    fn docs_json_expected() -> Vec<ComposeService> {
        vec![
            service(
                "example-bar-1",
                Some("bar"),
                ContainerState::Exited,
                "exited (0)",
                "",
                Some(0),
            ),
            service(
                "example-foo-1",
                Some("foo"),
                ContainerState::Running,
                "running",
                "0.0.0.0:8080->80/tcp",
                None,
            ),
        ]
    }

    #[test]
    fn json_lines_docs_fixture() {
        let s = parse_compose_ps_json(&fixture("docker/docker-compose-ps_format-json_docs.jsonl"))
            .expect("compose ps json");
        assert_eq!(s, docs_json_expected());
        assert_eq!(published_ports(&s[1].ports), [8080]);
        let json = serde_json::to_value(&s[0]).expect("serialise");
        assert_eq!(json["state"], "exited");
        assert_eq!(json["exit_code"], 0);
        let back: ComposeService = serde_json::from_value(json).expect("deserialise");
        assert_eq!(back, s[0]);
    }

    /// Compose before 2.21 prints the same objects as one array, compact or indented.
    #[test]
    fn json_array_form() {
        let text = fixture("docker/docker-compose-ps_format-json_docs.jsonl");
        let objects: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let compact = format!("[{}]\n", objects.join(","));
        assert_eq!(parse_compose_ps_json(&compact), Ok(docs_json_expected()));
        let values: Vec<Value> = objects
            .iter()
            .map(|o| serde_json::from_str(o).expect("object"))
            .collect();
        let pretty = serde_json::to_string_pretty(&values).expect("pretty");
        assert_eq!(
            parse_compose_ps_json(&format!("\n{pretty}\n")),
            Ok(docs_json_expected())
        );
        assert_eq!(parse_compose_ps_json("[]"), Ok(vec![]));
        assert_eq!(parse_compose_ps_json(" [ ]\n"), Ok(vec![]));
        let e = parse_compose_ps_json(
            "[\n{\"Name\":\"a\",\"State\":\"running\"},\n{\"Name\":\"b\"}\n]",
        )
        .expect_err("no State");
        assert_eq!(
            e.to_string(),
            "docker compose ps: entry 2: container b: no \"State\""
        );
        let e = parse_compose_ps_json("WARN[0000] x\n[\n{\"Name\":\"a\",}\n]").expect_err("bad");
        assert_eq!(e.line, Some(3));
    }

    /// Compose 2.21+ prints `Status`, `Ports` and more next to `State` and `Publishers`.
    #[test]
    fn json_lines_with_status_and_ports() {
        let line = r#"{"Command":"\"/docker-entrypoint.…\"","CreatedAt":"2024-01-01 12:00:00 +0000 UTC","ExitCode":0,"Health":"healthy","ID":"f02a","Image":"nginx","Labels":"","LocalVolumes":"0","Mounts":"","Name":"web-nginx-1","Names":"web-nginx-1","Networks":"web_default","Ports":"0.0.0.0:8080->80/tcp, [::]:8080->80/tcp","Project":"web","Publishers":[{"URL":"0.0.0.0","TargetPort":80,"PublishedPort":8080,"Protocol":"tcp"},{"URL":"::","TargetPort":80,"PublishedPort":8080,"Protocol":"tcp"}],"RunningFor":"2 minutes ago","Service":"nginx","Size":"0B","State":"running","Status":"Up 2 minutes (healthy)"}"#;
        let exited = r#"{"ExitCode":137,"Health":"","Name":"web-job-1","Ports":"","Service":"job","State":"exited","Status":"Exited (137) 5 seconds ago"}"#;
        let s = parse_compose_ps_json(&format!("{line}\n\n{exited}\n")).expect("json");
        assert_eq!(s[0].status, "Up 2 minutes (healthy)");
        assert_eq!(s[0].health.as_deref(), Some("healthy"));
        assert_eq!(s[0].ports, "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp");
        assert_eq!(published_ports(&s[0].ports), [8080]);
        assert_eq!(s[0].exit_code, None, "running: ExitCode 0 means nothing");
        assert_eq!(
            (s[1].state, s[1].exit_code, s[1].health.as_deref()),
            (ContainerState::Exited, Some(137), None)
        );
    }

    #[test]
    fn json_legacy_status_and_publishers() {
        let line = |state: &str, health: &str, code: i64, publishers: &str| {
            format!(
                r#"{{"ID":"x","Name":"p-s-1","Project":"p","Service":"s","State":"{state}","Health":"{health}","ExitCode":{code},"Publishers":{publishers}}}"#
            )
        };
        let one = |text: String| parse_compose_ps_json(&text).expect("json").remove(0);
        let s = one(line("running", "starting", 0, "null"));
        assert_eq!(
            (s.status.as_str(), s.health.as_deref()),
            ("running (starting)", Some("starting"))
        );
        let s = one(line("dead", "", 1, "[]"));
        assert_eq!(
            (s.state, s.status.as_str(), s.exit_code),
            (ContainerState::Dead, "dead (1)", Some(1))
        );
        let s = one(line("paused", "", 0, "[]"));
        assert_eq!((s.state, s.exit_code), (ContainerState::Paused, None));
        let s = one(line("frozen", "", 0, "[]"));
        assert_eq!(
            (s.state, s.status.as_str()),
            (ContainerState::Unknown, "frozen")
        );
        let s = one(line(
            "running",
            "",
            0,
            &r#"[{"URL":"0.0.0.0","TargetPort":80,"PublishedPort":8080,"Protocol":"tcp"},
                {"URL":"::","TargetPort":80,"PublishedPort":8080,"Protocol":"tcp"},
                {"URL":"","TargetPort":443,"PublishedPort":0,"Protocol":"tcp"},
                {"URL":"127.0.0.1","TargetPort":53,"PublishedPort":5353,"Protocol":"udp"}]"#
                .replace('\n', " "),
        ));
        assert_eq!(
            s.ports,
            "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 443/tcp, 127.0.0.1:5353->53/udp"
        );
        assert_eq!(published_ports(&s.ports), [5353, 8080]);
        assert_eq!(
            parse_ports(&s.ports).map(|p| p.len()),
            Ok(4),
            "docker's own Ports grammar"
        );
    }

    #[test]
    fn json_odd_input() {
        assert_eq!(parse_compose_ps_json(""), Ok(vec![]));
        assert_eq!(parse_compose_ps_json("\n \r\n"), Ok(vec![]));
        let ok = r#"{"Name":"a-b-1","State":"running"}"#;
        let s = parse_compose_ps_json(&format!(
            "WARN[0000] /srv/docker-compose.yml: the attribute `version` is obsolete\n{ok}\r\n"
        ))
        .expect("warning skipped");
        assert_eq!(s[0].service, None);
        let err = |t: &str| parse_compose_ps_json(t).expect_err(t).to_string();
        assert_eq!(
            err(&format!("{ok}\nnot json")),
            "docker compose ps: line 2: not a JSON object: expected ident at line 1 column 2"
        );
        assert_eq!(
            err(r#"{"State":"running"}"#),
            "docker compose ps: line 1: no \"Name\""
        );
        assert_eq!(
            err(r#"{"Name":"a","State":"running","ExitCode":"0"}"#),
            "docker compose ps: line 1: container a: \"ExitCode\" is not a number: \"0\""
        );
        assert_eq!(
            err(r#"{"Name":"a","State":"running","ExitCode":1.5}"#),
            "docker compose ps: line 1: container a: \"ExitCode\" 1.5 is not an integer"
        );
        assert_eq!(
            err(r#"{"Name":"a","State":1}"#),
            "docker compose ps: line 1: container a: \"State\" is not a string: 1"
        );
        assert!(
            err(r#"{"Name":"a","State":"running","Publishers":[{"TargetPort":"80"}]}"#)
                .starts_with("docker compose ps: line 1: container a: Publishers: invalid type")
        );
        // Other commands' JSON and the tables are not compose's JSON.
        for f in [
            "docker-ps_format-json_docs.jsonl",
            "docker-network-ls_format-json_docs.jsonl",
            "docker-stats_no-stream_format-json_docs.jsonl",
            "docker-compose-ps-all_docs.txt",
            "docker-compose-ps_with-version-warning.txt",
        ] {
            assert!(
                parse_compose_ps_json(&fixture(&format!("docker/{f}"))).is_err(),
                "{f}"
            );
        }
        // Truncated output is an error, not fewer containers.
        let full = fixture("docker/docker-compose-ps_format-json_docs.jsonl");
        assert!(parse_compose_ps_json(&full[..full.len() / 2]).is_err());
        assert!(parse_compose_ps_json(&format!("[{}", full.lines().next().unwrap_or(""))).is_err());
    }

    // -- v2 tables -------------------------------------------------------------------------

    #[test]
    fn v2_table_docs_fixture() {
        let s = parse_compose_ps_table(&fixture("docker/docker-compose-ps-all_docs.txt"), None)
            .expect("table");
        assert_eq!(
            s,
            [
                service(
                    "example-foo-1",
                    Some("foo"),
                    ContainerState::Running,
                    "Up 2 seconds",
                    "0.0.0.0:8080->80/tcp",
                    None,
                ),
                service(
                    "example-bar-1",
                    Some("bar"),
                    ContainerState::Exited,
                    "exited (0)",
                    "",
                    Some(0),
                ),
            ]
        );
    }

    #[test]
    fn v2_table_after_a_warning() {
        let s = parse_compose_ps_table(
            &fixture("docker/docker-compose-ps_with-version-warning.txt"),
            None,
        )
        .expect("table");
        let expected = |name: &str, svc: &str| {
            service(
                name,
                Some(svc),
                ContainerState::Running,
                "Up About a minute",
                "",
                None,
            )
        };
        assert_eq!(
            s,
            [
                expected("compose_test-conteneur_flopesque-1", "conteneur_flopesque"),
                expected("compose_test-conteneur_nul-1", "conteneur_nul"),
            ]
        );
    }

    /// Compose 2.0–2.20 printed `NAME  COMMAND  SERVICE  STATUS  PORTS` with statuses built
    /// from the state (from laravel/sail pull request #331).
    #[test]
    fn v2_table_old_columns() {
        let text = "NAME                                      COMMAND                  SERVICE             STATUS              PORTS\nwwwsomewebsitenamedotcom-laravel.test-1   \"start-container\"        laravel.test        exited (137)\n";
        let s = parse_compose_ps_table(text, None).expect("table");
        assert_eq!(
            s,
            [service(
                "wwwsomewebsitenamedotcom-laravel.test-1",
                Some("laravel.test"),
                ContainerState::Exited,
                "exited (137)",
                "",
                Some(137),
            )]
        );
        let text = "NAME        SERVICE   STATUS              PORTS\napp-web-1   web       running (healthy)   0.0.0.0:80->80/tcp\n";
        let s = parse_compose_ps_table(text, None).expect("table");
        assert_eq!(
            (s[0].state, s[0].health.as_deref()),
            (ContainerState::Running, Some("healthy"))
        );
        // No SERVICE column: the service comes from the name.
        let text = "NAME            STATUS\nshop-db-1       Up 1 hour\nshop-my-api-1   Up 1 hour\n";
        let s = parse_compose_ps_table(text, None).expect("table");
        assert_eq!(s[0].service.as_deref(), Some("db"));
        assert_eq!(s[1].service, None, "ambiguous without the project");
        let s = parse_compose_ps_table(text, Some("shop")).expect("table");
        assert_eq!(s[1].service.as_deref(), Some("my-api"));
    }

    // -- v1 tables -------------------------------------------------------------------------

    /// `docker-compose -p composetest ps` (compose v1) from the docker docs' Get Started
    /// example, as quoted in macagua/example.dockercompose.getstarted's README.rst (the
    /// reStructuredText indentation removed).
    const V1_GETSTARTED: &str = "       Name                      Command               State           Ports         \n-------------------------------------------------------------------------------------\ncomposetest_redis_1   docker-entrypoint.sh redis ...   Up      6379/tcp              \ncomposetest_web_1     flask run                        Up      0.0.0.0:5000->5000/tcp\n";

    /// `docker-compose ps` (compose v1) with `container_name`s, health checks and ports
    /// published on both stacks, from U-Alberta/ADaPT-ML's README.md (step 6).
    const V1_ADAPT_ML: &str = "         Name                        Command                  State                                  Ports                            \n--------------------------------------------------------------------------------------------------------------------------------------\ncrate-db                  /docker-entrypoint.sh crat ...   Up             0.0.0.0:4200->4200/tcp,:::4200->4200/tcp, 4300/tcp, 5432/tcp\ndp-mlflow                 /bin/bash                        Up                                                                         \ndp-mlflow-db              /entrypoint.sh mysqld            Up (healthy)   3306/tcp, 33060/tcp, 33061/tcp                              \ndp-mlflow-server          mlflow server --backend-st ...   Up             0.0.0.0:5000->5000/tcp,:::5000->5000/tcp                    \nlabel-studio-dev          /bin/bash                        Up                                                                         \nlabel-studio-web          ./deploy/docker-entrypoint ...   Up             0.0.0.0:8080->8080/tcp,:::8080->8080/tcp                    \nmodelling-mlflow          /bin/bash                        Up                                                                         \nmodelling-mlflow-db       /entrypoint.sh mysqld            Up (healthy)   3306/tcp, 33060/tcp, 33061/tcp                              \nmodelling-mlflow-deploy   /start.sh                        Up             0.0.0.0:80->80/tcp,:::80->80/tcp                            \nmodelling-mlflow-server   mlflow server --backend-st ...   Up             0.0.0.0:5001->5000/tcp,:::5001->5000/tcp \n";

    /// `docker-compose ps` (compose v1) with an exited container, from laravel/sail pull
    /// request #331.
    const V1_EXITED: &str = "     Name                   Command                State     Ports\n------------------------------------------------------------------\nsite_app_1       start-container                  Exit 137\n";

    #[test]
    fn v1_getstarted() {
        let s = parse_compose_ps_table(V1_GETSTARTED, None).expect("v1");
        assert_eq!(
            s,
            [
                service(
                    "composetest_redis_1",
                    Some("redis"),
                    ContainerState::Running,
                    "Up",
                    "6379/tcp",
                    None,
                ),
                service(
                    "composetest_web_1",
                    Some("web"),
                    ContainerState::Running,
                    "Up",
                    "0.0.0.0:5000->5000/tcp",
                    None,
                ),
            ]
        );
        // A warning before the header, as docker-compose prints on stderr.
        let warned = format!(
            "WARNING: The HOME variable is not set. Defaulting to a blank string.\n{V1_GETSTARTED}"
        );
        assert_eq!(parse_compose_ps_table(&warned, None), Ok(s));
    }

    #[test]
    fn v1_container_names_health_and_ports() {
        let s = parse_compose_ps_table(V1_ADAPT_ML, Some("adapt-ml")).expect("v1");
        assert_eq!(s.len(), 10);
        assert!(s.iter().all(|c| c.service.is_none()), "container_name set");
        assert!(s.iter().all(|c| c.state == ContainerState::Running));
        assert_eq!(s[0].name, "crate-db");
        assert_eq!(
            s[0].ports,
            "0.0.0.0:4200->4200/tcp,:::4200->4200/tcp, 4300/tcp, 5432/tcp"
        );
        assert_eq!(published_ports(&s[0].ports), [4200]);
        assert_eq!(s[1].ports, "");
        assert_eq!(
            (s[2].status.as_str(), s[2].health.as_deref()),
            ("Up (healthy)", Some("healthy"))
        );
        assert_eq!(s[2].ports, "3306/tcp, 33060/tcp, 33061/tcp");
        assert!(published_ports(&s[2].ports).is_empty());
        assert_eq!(s[9].name, "modelling-mlflow-server");
        assert_eq!(published_ports(&s[9].ports), [5001]);
    }

    #[test]
    fn v1_exited() {
        let s = parse_compose_ps_table(V1_EXITED, None).expect("v1");
        assert_eq!(
            s,
            [service(
                "site_app_1",
                Some("app"),
                ContainerState::Exited,
                "Exit 137",
                "",
                Some(137),
            )]
        );
    }

    /// A row wrapped by a narrow terminal (texttable breaks cells at spaces and after `-`),
    /// and v1's other states; written to texttable's layout.
    #[test]
    fn v1_wrapped_rows_and_states() {
        let text =
            "       Name                      Command                 State                   Ports
---------------------------------------------------------------------------------------------------
composetest_redis_1   docker-entrypoint.sh redis ...   Up           6379/tcp
composetest_web_1     python app.py                    Up           0.0.0.0:5000->5000/tcp,:::5000-
                                                                    >5000/tcp
composetest_job_1     sh -c exit                       Exit 0
composetest_db_1      docker-entrypoint.sh mysqld      Paused       3306/tcp,
                                                                    33060/tcp
composetest_q_1       celery worker                    Restarting
";
        let s = parse_compose_ps_table(text, Some("composetest")).expect("v1");
        assert_eq!(s.len(), 5);
        assert_eq!(s[1].ports, "0.0.0.0:5000->5000/tcp,:::5000->5000/tcp");
        assert_eq!(published_ports(&s[1].ports), [5000]);
        assert_eq!(
            (s[2].state, s[2].exit_code),
            (ContainerState::Exited, Some(0))
        );
        assert_eq!(s[3].state, ContainerState::Paused);
        assert_eq!(s[3].ports, "3306/tcp, 33060/tcp");
        assert_eq!(
            (s[4].service.as_deref(), s[4].state),
            (Some("q"), ContainerState::Restarting)
        );
    }

    #[test]
    fn table_odd_input() {
        assert_eq!(parse_compose_ps_table("", None), Ok(vec![]));
        assert_eq!(parse_compose_ps_table(" \n\n", None), Ok(vec![]));
        let v2_header = "NAME      IMAGE     COMMAND   SERVICE   CREATED   STATUS    PORTS\n";
        assert_eq!(parse_compose_ps_table(v2_header, None), Ok(vec![]));
        let v1_empty = "Name   Command   State   Ports\n------------------------------\n";
        assert_eq!(parse_compose_ps_table(v1_empty, None), Ok(vec![]));
        let err = |t: &str| parse_compose_ps_table(t, None).expect_err(t).to_string();
        assert_eq!(
            err("no configuration file provided: not found\n"),
            "docker compose ps: no table header (`NAME … STATUS …` or `Name  Command  State  Ports`)"
        );
        assert_eq!(
            err("Name   Command   State   Ports\n"),
            "docker-compose ps: line 1: no line of dashes under the header"
        );
        assert_eq!(
            err("Name   Command   State   Ports\nx   y   Up   \n"),
            "docker-compose ps: line 2: expected a line of dashes under the header"
        );
        assert_eq!(
            err("Name   Command   State   Ports\n------\n       y         Up\n"),
            "docker-compose ps: line 3: row without a Name"
        );
        assert_eq!(
            err("Name Command State Ports\n------\nabc def ghi jkl\n"),
            "docker-compose ps: line 1: cannot tell where column `Command` starts"
        );
        assert_eq!(
            err("WARN[0000] x\nNAME   SERVICE   STATUS\nlonger-name-1 x\n"),
            "docker compose ps: line 3: row is not aligned with the header at column `SERVICE`"
        );
        assert_eq!(
            err("NAME   SERVICE\na      b\n"),
            "docker compose ps: line 1: no STATUS column"
        );
        // Other commands' tables and JSON are not compose's tables.
        for f in [
            "docker-ps_single.txt",
            "docker-network-ls.txt",
            "docker-compose-ps_format-json_docs.jsonl",
        ] {
            assert!(
                parse_compose_ps_table(&fixture(&format!("docker/{f}")), None).is_err(),
                "{f}"
            );
        }
    }

    /// The table parser on prefixes and mangled copies of the v1 samples: errors are fine,
    /// panics are not.
    #[test]
    fn v1_table_never_panics() {
        for text in [V1_GETSTARTED, V1_ADAPT_ML, V1_EXITED] {
            let mut variants = infrastructor_sdk::testing::mangled_variants(text, 32);
            variants.push(text.replace('-', ""));
            variants.push(text.replace("   ", " "));
            variants.push(text.replace(' ', "\t"));
            variants.push(text.replace("Up", "Üp"));
            for v in &variants {
                let _ = parse_compose_ps_table(v, None);
                let _ = parse_compose_ps_table(v, Some("composetest"));
            }
        }
    }

    // -- helpers ---------------------------------------------------------------------------

    #[test]
    fn published_ports_forms() {
        assert!(published_ports("").is_empty());
        assert_eq!(
            published_ports("0.0.0.0:8080->80/tcp, :::8080->80/tcp"),
            [8080]
        );
        assert_eq!(
            published_ports("0.0.0.0:8080->80/tcp,:::8080->80/tcp, 0.0.0.0:53->53/udp, 443/tcp"),
            [53, 8080]
        );
        assert_eq!(
            published_ports("0.0.0.0:1000-1002->2000-2002/tcp"),
            [1000, 1001, 1002]
        );
        assert_eq!(published_ports("0.0.0.0:1-65535->1-65535/tcp").len(), 65535);
        assert_eq!(
            published_ports("garbage, 0.0.0.0:81->80/tcp, :::x->80/tcp"),
            [81],
            "bad entries are skipped"
        );
    }

    #[test]
    fn services_from_names() {
        let s = |name: &str, project: Option<&str>| service_from_container_name(name, project);
        assert_eq!(s("proj_web_1", None).as_deref(), Some("web"));
        assert_eq!(s("proj-web-1", None).as_deref(), Some("web"));
        assert_eq!(s("proj_web_12", None).as_deref(), Some("web"));
        assert_eq!(s("my-proj_web_1", None).as_deref(), Some("web"));
        assert_eq!(
            s("compose_test-conteneur_nul-1", None).as_deref(),
            Some("conteneur_nul")
        );
        assert_eq!(s("my_app_web_1", None), None, "ambiguous");
        assert_eq!(s("my_app_web_1", Some("my_app")).as_deref(), Some("web"));
        assert_eq!(
            s("my_app_db_main_1", Some("my_app")).as_deref(),
            Some("db_main")
        );
        assert_eq!(s("my_app_web_1", Some("other")), None);
        assert_eq!(s("proj_web_run_8f3a2c", None), None);
        assert_eq!(s("crate-db", None), None);
        assert_eq!(s("nginx", None), None);
        assert_eq!(s("proj__1", None), None);
        assert_eq!(s("_web_1", None), None);
        assert_eq!(s("proj_1", Some("proj")), None);
        assert_eq!(s("", None), None);
    }

    #[test]
    fn compose_statuses() {
        let st = |t: &str| {
            let i = compose_status(t);
            (i.state, i.exit_code, i.health)
        };
        use ContainerState::*;
        assert_eq!(st("Up"), (Running, None, None));
        assert_eq!(
            st("Up (health: starting)"),
            (Running, None, Some("starting".into()))
        );
        assert_eq!(st("Exit 0"), (Exited, Some(0), None));
        assert_eq!(st("Exit -1"), (Exited, Some(-1), None));
        assert_eq!(st("Exit x"), (Exited, None, None));
        assert_eq!(st("Paused"), (Paused, None, None));
        assert_eq!(st("Restarting"), (Restarting, None, None));
        assert_eq!(st("Ghost"), (Unknown, None, None));
        assert_eq!(st("running"), (Running, None, None));
        assert_eq!(
            st("running (unhealthy)"),
            (Running, None, Some("unhealthy".into()))
        );
        assert_eq!(st("running (weird)"), (Running, None, None));
        assert_eq!(st("running late"), (Unknown, None, None));
        assert_eq!(st("dead (2)"), (Dead, Some(2), None));
        assert_eq!(st("exited (1)"), (Exited, Some(1), None));
        assert_eq!(st("created"), (Created, None, None));
        assert_eq!(st(""), (Unknown, None, None));
        assert_eq!(st("(("), (Unknown, None, None));
    }
}
