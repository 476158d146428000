//! `GET /api/devices/{hostname}/ports`: listening TCP/UDP sockets from `ss -tulpn` (netstat
//! when `ss` is missing), in one round trip, with process names and PIDs when visible.

use infrastructor_sdk::prelude::*;
use serde::Serialize;

use crate::facts::ParseError;

/// One socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Socket {
    /// `tcp`, `udp`, `tcp6`…
    pub protocol: String,
    /// `LISTEN`, `UNCONN`…
    pub state: String,
    /// Receive queue.
    pub recv_q: u64,
    /// Send queue.
    pub send_q: u64,
    /// Local address without brackets (`::`, `0.0.0.0`, `127.0.0.53%lo`).
    pub local_address: String,
    /// Local port (`None` for `*` or a service name).
    pub local_port: Option<u16>,
    /// Service name when ss printed one instead of a number (without `-n`).
    pub local_service: Option<String>,
    /// Peer address.
    pub peer_address: String,
    /// Peer port (`None` for `*` or a service name).
    pub peer_port: Option<u16>,
    /// Processes owning the socket.
    pub processes: Vec<Process>,
}

/// A process holding a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    /// Command name.
    pub name: String,
    /// PID.
    pub pid: u32,
}

fn err(message: impl std::fmt::Display) -> ParseError {
    ParseError(format!("ss: {message}"))
}

/// An endpoint: address, numeric port, service name.
pub type Endpoint = (String, Option<u16>, Option<String>);

/// Splits `addr:port`, `[v6]:port`, `*:port`, `addr%iface:port`, `addr:service`.
pub fn split_endpoint(s: &str) -> Result<Endpoint, ParseError> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| err(format!("endpoint `{s}` has no port")))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if port == "*" {
        return Ok((host, None, None));
    }
    match port.parse::<u16>() {
        Ok(p) => Ok((host, Some(p), None)),
        Err(_)
            if !port.is_empty()
                && port
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            Ok((host, None, Some(port.to_string())))
        }
        Err(_) => Err(err(format!("bad port in `{s}`"))),
    }
}

/// `users:(("sshd",pid=812,fd=3),("sshd",pid=900,fd=3))`.
fn parse_users(field: &str) -> Vec<Process> {
    let Some(inner) = field
        .strip_prefix("users:(")
        .and_then(|s| s.strip_suffix(')'))
    else {
        return Vec::new();
    };
    inner
        .split("),(")
        .filter_map(|p| {
            let p = p.trim_matches(|c| c == '(' || c == ')');
            let name = p.split('"').nth(1)?.to_string();
            let pid = p
                .split(',')
                .find_map(|kv| kv.strip_prefix("pid="))?
                .parse()
                .ok()?;
            Some(Process { name, pid })
        })
        .collect()
}

/// `ss -tulpn` (also `-e`, wide output); the header line is skipped.
pub fn parse_ss(text: &str) -> Result<Vec<Socket>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with("Netid") {
            continue;
        }
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 6 {
            return Err(err(format!("line {}: expected at least 6 columns", i + 1)));
        }
        let num = |s: &str| -> Result<u64, ParseError> {
            s.parse()
                .map_err(|_| err(format!("line {}: `{s}` is not a queue size", i + 1)))
        };
        let (local_address, local_port, local_service) = split_endpoint(w[4])?;
        let (peer_address, peer_port, _) = split_endpoint(w[5])?;
        let processes = w[6..]
            .iter()
            .find(|f| f.starts_with("users:"))
            .map(|f| parse_users(f))
            .unwrap_or_default();
        out.push(Socket {
            protocol: w[0].to_string(),
            state: w[1].to_string(),
            recv_q: num(w[2])?,
            send_q: num(w[3])?,
            local_address,
            local_port,
            local_service,
            peer_address,
            peer_port,
            processes,
        });
    }
    Ok(out)
}

/// `netstat -tulpn` (the fallback when `ss` is missing).
pub fn parse_netstat(text: &str) -> Result<Vec<Socket>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let Some(proto) = w
            .first()
            .filter(|p| p.starts_with("tcp") || p.starts_with("udp"))
        else {
            continue;
        };
        let udp = proto.starts_with("udp");
        let min = if udp { 5 } else { 6 };
        if w.len() < min {
            return Err(ParseError(format!(
                "netstat: line {}: too few columns",
                i + 1
            )));
        }
        let (local_address, local_port, local_service) = split_endpoint(w[3])?;
        let (peer_address, peer_port, _) = split_endpoint(w[4])?;
        let (state, rest) = if udp
            && !w
                .get(5)
                .is_some_and(|s| s.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        {
            ("UNCONN".to_string(), w.get(5..).unwrap_or(&[]))
        } else {
            (w[5].to_string(), w.get(6..).unwrap_or(&[]))
        };
        let processes = rest
            .first()
            .and_then(|pp| pp.split_once('/'))
            .and_then(|(pid, name)| {
                Some(Process {
                    name: name.to_string(),
                    pid: pid.parse().ok()?,
                })
            })
            .into_iter()
            .collect();
        out.push(Socket {
            protocol: proto.to_string(),
            state,
            recv_q: w[1].parse().unwrap_or(0),
            send_q: w[2].parse().unwrap_or(0),
            local_address,
            local_port,
            local_service,
            peer_address,
            peer_port,
            processes,
        });
    }
    Ok(out)
}

/// The script's name.
pub const SCRIPT: &str = "ports";

/// `ss` when present, else `netstat`; the first line says which.
pub const SCRIPT_BODY: &str = r#"
if command -v ss >/dev/null 2>&1; then echo ss; exec ss -tulpn
elif command -v netstat >/dev/null 2>&1; then echo netstat; exec netstat -tulpn
else echo none; fi
"#;

/// Programs the script may run.
pub const SCRIPT_PROGRAMS: &[&str] = &["ss", "netstat"];

/// `GET /{hostname}/ports`.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let hostname = req.path("hostname")?;
    let timeout: u64 = req.query_as("timeout")?;
    let out = ssh::run_script(hostname, SCRIPT, &[], None, Duration::from_secs(timeout))?;
    let text = out.stdout_str();
    let (tool, rest) = text.split_once('\n').unwrap_or((text.as_ref(), ""));
    if tool == "none" {
        return Err(Error::upstream(
            "neither ss nor netstat is installed on the device",
        ));
    }
    if out.exit_code != 0 {
        return Err(Error::upstream(format!(
            "{tool} exited {}: {}",
            out.exit_code,
            out.stderr_str().trim()
        )));
    }
    let sockets = if tool == "ss" {
        parse_ss(rest)
    } else {
        parse_netstat(rest)
    }
    .map_err(|e| Error::upstream(e.to_string()))?;
    Ok(Json(json!({
        "hostname": hostname,
        "source": tool,
        "ports": sockets,
        "port_count": sockets.len(),
    }))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../../shared/fixtures/system/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
    }

    #[test]
    fn ss_fixtures() {
        let s = parse_ss(&fixture("ss-tulpen_ubuntu-18.04.out")).expect("ss -tulpen");
        assert!(s.len() > 5);
        let avahi = s.iter().find(|x| x.local_port == Some(5353)).expect("5353");
        assert_eq!(
            avahi.processes,
            vec![Process {
                name: "avahi-daemon".into(),
                pid: 1510
            }]
        );
        let wide = parse_ss(&fixture("ss-wide.out")).expect("wide");
        assert!(
            wide.iter()
                .all(|x| x.protocol == "udp" || x.protocol == "tcp")
        );
        for f in ["ss-a_ubuntu-18.04.out", "ss-a_centos-7.7.out"] {
            let text = fixture(f);
            let inet: String = text
                .lines()
                .filter(|l| l.starts_with("Netid") || l.starts_with("tcp") || l.starts_with("udp"))
                .map(|l| format!("{l}\n"))
                .collect();
            assert!(!parse_ss(&inet).expect(f).is_empty(), "{f}");
        }
    }

    #[test]
    fn endpoints_and_odd_lines() {
        assert_eq!(
            split_endpoint("[::]:22").expect("v6"),
            ("::".into(), Some(22), None)
        );
        assert_eq!(
            split_endpoint("[::ffff:1.2.3.4]:80").expect("mapped"),
            ("::ffff:1.2.3.4".into(), Some(80), None)
        );
        assert_eq!(
            split_endpoint("127.0.0.53%lo:53").expect("scope"),
            ("127.0.0.53%lo".into(), Some(53), None)
        );
        assert_eq!(
            split_endpoint("*:*").expect("any"),
            ("*".into(), None, None)
        );
        assert_eq!(
            split_endpoint("0.0.0.0:ssh").expect("named"),
            ("0.0.0.0".into(), None, Some("ssh".into()))
        );
        assert!(split_endpoint("1.2.3.4:$(x)").is_err());
        let two = parse_users(r#"users:(("nginx",pid=10,fd=6),("nginx",pid=11,fd=6))"#);
        assert_eq!(two.len(), 2);
        assert!(parse_ss("tcp LISTEN 0\n").is_err());
        assert!(parse_ss("tcp LISTEN x 0 0.0.0.0:22 0.0.0.0:*\n").is_err());
    }

    #[test]
    fn netstat_fallback() {
        let text = "Active Internet connections (only servers)\nProto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name\ntcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN      812/sshd\ntcp6       0      0 :::80                   :::*                    LISTEN      1000/nginx: master\nudp        0      0 0.0.0.0:68              0.0.0.0:*                           700/dhclient\n";
        let s = parse_netstat(text).expect("netstat");
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[0].processes[0],
            Process {
                name: "sshd".into(),
                pid: 812
            }
        );
        assert_eq!(s[1].local_port, Some(80));
        assert_eq!(s[2].state, "UNCONN");
    }
}
