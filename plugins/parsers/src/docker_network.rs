//! `docker network ls --format '{{json .}}'` (a host's networks, one JSON object per line)
//! and `docker network inspect ID…` (their details: one JSON array for all the ids asked
//! for, so a caller lists the networks, then inspects them all in one call).

use std::collections::BTreeMap;

use infrastructor_sdk::text::ParseError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::json;

const LS_CMD: &str = "docker network ls";
const INSPECT_CMD: &str = "docker network inspect";

/// One network of `docker network ls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSummary {
    /// Docker's `ID` (12 hex digits, or 64 with `--no-trunc`).
    pub id: String,
    /// The network's name (`bridge`, `myapp_default`).
    pub name: String,
    /// The driver (`bridge`, `host`, `null`, `overlay`, `macvlan`…).
    pub driver: String,
    /// `local`, `swarm` or `global`.
    pub scope: String,
}

/// A container attached to a network, from `docker network inspect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkContainer {
    /// The container's id (the key docker lists it under; `lb-<network>` for a swarm load
    /// balancer endpoint).
    pub id: String,
    /// The container's name.
    pub name: String,
    /// The container's IPv4 address on the network in CIDR form (`172.17.0.3/16`); `None`
    /// when it has none.
    pub ipv4_address: Option<String>,
}

/// One network of `docker network inspect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkDetail {
    /// The full network id (64 hex digits).
    pub id: String,
    /// The network's name.
    pub name: String,
    /// The driver (`bridge`, `host`, `overlay`…).
    pub driver: String,
    /// `local`, `swarm` or `global`.
    pub scope: String,
    /// Whether the network is internal (no route to the outside).
    pub internal: bool,
    /// Whether standalone containers may attach to it (swarm networks).
    pub attachable: bool,
    /// The subnets of its IPAM configuration (`172.17.0.0/16`, `fd00::/64`), as configured.
    pub subnets: Vec<String>,
    /// The gateways of its IPAM configuration (`172.17.0.1`), where configured.
    pub gateways: Vec<String>,
    /// The containers attached to it, ordered by id.
    pub containers: Vec<NetworkContainer>,
    /// The network's labels (`com.docker.compose.project`…).
    pub labels: BTreeMap<String, String>,
    /// The driver options (`com.docker.network.bridge.name`…).
    pub options: BTreeMap<String, String>,
}

/// Parses `docker network ls --format '{{json .}}'` (with or without `--no-trunc` or
/// filters). Blank lines are skipped; no output means no networks. Every other line must be
/// a JSON object with the string fields `ID`, `Name` (both non-empty), `Driver` and `Scope`;
/// anything else (another command's JSON, the table without `--format`) is an error naming
/// the line.
pub fn parse_network_ls(text: &str) -> Result<Vec<NetworkSummary>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        out.push(parse_ls_line(line).map_err(|m| ParseError::at(LS_CMD, i + 1, m))?);
    }
    Ok(out)
}

fn parse_ls_line(line: &str) -> Result<NetworkSummary, String> {
    let obj: Map<String, Value> =
        serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let text = |key: &str| -> Result<String, String> {
        match obj.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!("\"{key}\" is not a string: {other}")),
            None => Err(format!("no \"{key}\"")),
        }
    };
    let non_empty = |key: &str| -> Result<String, String> {
        text(key).and_then(|s| {
            if s.is_empty() {
                Err(format!("empty \"{key}\""))
            } else {
                Ok(s)
            }
        })
    };
    Ok(NetworkSummary {
        id: non_empty("ID")?,
        name: non_empty("Name")?,
        driver: text("Driver")?,
        scope: text("Scope")?,
    })
}

/// A network as `docker network inspect` prints it: the fields read here, the others
/// ignored. `Id`, `Name`, `Driver` and `Scope` are required, so another object's JSON (a
/// container's `docker inspect`) is not taken for a network.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawNetwork {
    id: String,
    name: String,
    driver: String,
    scope: String,
    #[serde(default)]
    internal: bool,
    #[serde(default)]
    attachable: bool,
    #[serde(default, rename = "IPAM")]
    ipam: Option<RawIpam>,
    #[serde(default)]
    containers: Option<BTreeMap<String, RawEndpoint>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    options: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawIpam {
    #[serde(default)]
    config: Option<Vec<RawIpamConfig>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawIpamConfig {
    #[serde(default)]
    subnet: Option<String>,
    #[serde(default)]
    gateway: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawEndpoint {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "IPv4Address")]
    ipv4_address: Option<String>,
}

/// Parses `docker network inspect ID…`: one JSON array holding every network asked for (a
/// missing id is reported on stderr; the others are still printed). No output, or `[]`, means
/// no networks. Each element needs `Id`, `Name`, `Driver` and `Scope`; `IPAM`, `Containers`,
/// `Labels` and `Options` may be missing or null. Empty subnets, gateways and addresses are
/// dropped. Text that is not such an array is an error naming the line.
pub fn parse_network_inspect(text: &str) -> Result<Vec<NetworkDetail>, ParseError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<RawNetwork> =
        serde_json::from_str(text).map_err(|e| json::parse_error(INSPECT_CMD, 1, &e))?;
    Ok(raw.into_iter().map(NetworkDetail::from).collect())
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|s| !s.trim().is_empty())
}

impl From<RawNetwork> for NetworkDetail {
    fn from(raw: RawNetwork) -> Self {
        let config = raw.ipam.and_then(|i| i.config).unwrap_or_default();
        let subnets = config
            .iter()
            .filter_map(|c| non_empty(c.subnet.clone()))
            .collect();
        let gateways = config
            .into_iter()
            .filter_map(|c| non_empty(c.gateway))
            .collect();
        let containers = raw
            .containers
            .unwrap_or_default()
            .into_iter()
            .map(|(id, endpoint)| NetworkContainer {
                id,
                name: endpoint.name,
                ipv4_address: non_empty(endpoint.ipv4_address),
            })
            .collect();
        NetworkDetail {
            id: raw.id,
            name: raw.name,
            driver: raw.driver,
            scope: raw.scope,
            internal: raw.internal,
            attachable: raw.attachable,
            subnets,
            gateways,
            containers,
            labels: raw.labels.unwrap_or_default(),
            options: raw.options.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::fixture;

    fn summary(id: &str, name: &str, driver: &str) -> NetworkSummary {
        NetworkSummary {
            id: id.into(),
            name: name.into(),
            driver: driver.into(),
            scope: "local".into(),
        }
    }

    #[test]
    fn ls_json_docs_fixture() {
        let n = parse_network_ls(&fixture("docker/docker-network-ls_format-json_docs.jsonl"))
            .expect("network ls");
        assert_eq!(
            n,
            [
                summary("f33ba176dd8e", "bridge", "bridge"),
                summary("caf47bb3ac70", "host", "host"),
                summary("9d096c122066", "none", "null"),
            ]
        );
        let json = serde_json::to_value(&n[0]).expect("serialise");
        assert_eq!(json["driver"], "bridge");
        let back: NetworkSummary = serde_json::from_value(json).expect("deserialise");
        assert_eq!(back, n[0]);
    }

    #[test]
    fn ls_odd_input() {
        assert_eq!(parse_network_ls(""), Ok(vec![]));
        assert_eq!(parse_network_ls("\n \r\n"), Ok(vec![]));
        let ok = r#"{"ID":"a1","Name":"web","Driver":"bridge","Scope":"local"}"#;
        assert_eq!(
            parse_network_ls(&format!("\r\n{ok}\r\n\n")),
            Ok(vec![summary("a1", "web", "bridge")])
        );
        let err = |t: &str| parse_network_ls(t).expect_err(t).to_string();
        assert_eq!(
            err(&format!("{ok}\nnot json")),
            "docker network ls: line 2: not a JSON object: expected ident at line 1 column 2"
        );
        assert_eq!(
            err(r#"{"Name":"web","Driver":"bridge","Scope":"local"}"#),
            "docker network ls: line 1: no \"ID\""
        );
        assert_eq!(
            err(r#"{"ID":"","Name":"web","Driver":"bridge","Scope":"local"}"#),
            "docker network ls: line 1: empty \"ID\""
        );
        assert_eq!(
            err(r#"{"ID":"a","Name":"web","Driver":3,"Scope":"local"}"#),
            "docker network ls: line 1: \"Driver\" is not a string: 3"
        );
        assert!(err("[]").starts_with("docker network ls: line 1: not a JSON object"));
        // Other commands' JSON lines and the table are not taken for networks.
        for f in [
            "docker-ps_format-json_docs.jsonl",
            "docker-compose-ps_format-json_docs.jsonl",
            "docker-stats_no-stream_format-json_docs.jsonl",
            "docker-network-ls.txt",
            "docker-network-ls_docs.txt",
        ] {
            assert!(
                parse_network_ls(&fixture(&format!("docker/{f}"))).is_err(),
                "{f}"
            );
        }
    }

    #[test]
    fn inspect_bridge_fixture() {
        let n = parse_network_inspect(&fixture("docker/docker-network-inspect_bridge.json"))
            .expect("inspect bridge");
        assert_eq!(n.len(), 1);
        let b = &n[0];
        assert_eq!(
            b.id,
            "6eef1bc6ffc530537c94652428cc80a295102845a84eb9ab18e40e8b6d666ee2"
        );
        assert_eq!(
            (b.name.as_str(), b.driver.as_str(), b.scope.as_str()),
            ("bridge", "bridge", "local")
        );
        assert!(!b.internal && !b.attachable);
        assert_eq!(b.subnets, ["172.17.0.0/16"]);
        assert!(b.gateways.is_empty(), "the fixture configures none");
        assert_eq!(
            b.containers,
            [
                NetworkContainer {
                    id: "3dca544da1ce64d8c5a970b38a8ab340e958b86ee36bc2ee4aa0b44035ec21d0".into(),
                    name: "mjpg-streamer".into(),
                    ipv4_address: Some("172.17.0.3/16".into()),
                },
                NetworkContainer {
                    id: "bf42b1b5a4f78204a307323c514e22c402950f695e1d51e8c5df0c407dc66f98".into(),
                    name: "portainer".into(),
                    ipv4_address: Some("172.17.0.2/16".into()),
                },
            ]
        );
        assert!(b.labels.is_empty());
        assert_eq!(b.options.len(), 6);
        assert_eq!(b.options["com.docker.network.bridge.name"], "docker0");
        assert_eq!(b.options["com.docker.network.driver.mtu"], "1500");
        let json = serde_json::to_value(b).expect("serialise");
        assert_eq!(json["containers"][1]["ipv4_address"], "172.17.0.2/16");
        let back: NetworkDetail = serde_json::from_value(json).expect("deserialise");
        assert_eq!(&back, b);
    }

    #[test]
    fn inspect_host_fixture() {
        let n = parse_network_inspect(&fixture("docker/docker-network-inspect_host.json"))
            .expect("inspect host");
        assert_eq!(n.len(), 1);
        let h = &n[0];
        assert_eq!((h.name.as_str(), h.driver.as_str()), ("host", "host"));
        assert!(h.subnets.is_empty() && h.gateways.is_empty());
        assert!(h.containers.is_empty() && h.options.is_empty() && h.labels.is_empty());
    }

    /// One `docker network inspect bridge host` call: one array with both networks, in the
    /// order asked for.
    #[test]
    fn inspect_several_networks_in_one_call() {
        let inner = |f: &str| {
            let text = fixture(&format!("docker/{f}"));
            let t = text.trim();
            t[1..t.len() - 1].trim().to_string()
        };
        let both = format!(
            "[\n{},\n{}\n]\n",
            inner("docker-network-inspect_bridge.json"),
            inner("docker-network-inspect_host.json")
        );
        let n = parse_network_inspect(&both).expect("both");
        let names: Vec<&str> = n.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["bridge", "host"]);
        assert_eq!(n[0].containers.len(), 2);
    }

    #[test]
    fn inspect_compose_network_with_gateways_labels_and_nulls() {
        let text = r#"[{"Name":"paperless_default","Id":"9a8b","Scope":"local","Driver":"bridge",
            "Internal":true,"Attachable":true,
            "IPAM":{"Driver":"default","Options":null,"Config":[
                {"Subnet":"172.20.0.0/16","Gateway":"172.20.0.1"},
                {"Subnet":"fd00:1::/64","Gateway":""},
                {"IPRange":"10.0.0.0/24"}]},
            "Containers":{"c2":{"Name":"paperless-web-1","IPv4Address":"172.20.0.3/16","IPv6Address":""},
                          "c1":{"Name":"paperless-db-1","IPv4Address":""}},
            "Options":null,
            "Labels":{"com.docker.compose.network":"default","com.docker.compose.project":"paperless"}},
           {"Name":"old","Id":"77","Scope":"local","Driver":"bridge","IPAM":null,"Containers":null,"Labels":null}]"#;
        let n = parse_network_inspect(text).expect("inspect");
        let p = &n[0];
        assert!(p.internal && p.attachable);
        assert_eq!(p.subnets, ["172.20.0.0/16", "fd00:1::/64"]);
        assert_eq!(p.gateways, ["172.20.0.1"]);
        assert_eq!(p.containers[0].id, "c1");
        assert_eq!(p.containers[0].ipv4_address, None);
        assert_eq!(p.containers[1].name, "paperless-web-1");
        assert_eq!(p.labels["com.docker.compose.project"], "paperless");
        assert!(p.options.is_empty());
        let old = &n[1];
        assert!(!old.internal && !old.attachable);
        assert!(old.subnets.is_empty() && old.containers.is_empty() && old.labels.is_empty());
    }

    #[test]
    fn inspect_odd_input() {
        assert_eq!(parse_network_inspect(""), Ok(vec![]));
        assert_eq!(parse_network_inspect(" \n"), Ok(vec![]));
        assert_eq!(parse_network_inspect("[]\n"), Ok(vec![]));
        let err = |t: &str| parse_network_inspect(t).expect_err(t).to_string();
        assert_eq!(
            err("[\n{\"Name\":\"x\",\"Id\":\"1\",\"Driver\":\"bridge\"}\n]"),
            "docker network inspect: line 2: missing field `Scope` (column 39)"
        );
        assert_eq!(
            err(
                "[\n{\"Name\":\"x\",\"Id\":\"1\",\"Driver\":\"bridge\",\"Scope\":\"local\",\"Options\":{\"a\":1}}]"
            ),
            "docker network inspect: line 2: invalid type: integer `1`, expected a string (column 71)"
        );
        assert!(err("Error: No such network: x").starts_with("docker network inspect: line 1:"));
        assert!(err("{}").starts_with("docker network inspect: line 1: invalid type: map"));
        // A container's `docker inspect` is not a network.
        assert!(
            parse_network_inspect(&fixture("docker/docker-inspect_container_flask.json")).is_err()
        );
        // Truncated output is an error, not fewer networks.
        let full = fixture("docker/docker-network-inspect_bridge.json");
        assert!(parse_network_inspect(&full[..full.len() / 2]).is_err());
        // Two arrays (two calls' outputs run together) are not one.
        assert!(parse_network_inspect("[]\n[]").is_err());
    }
}
