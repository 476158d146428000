//! SWAG (linuxserver/swag) proxy confs: the nginx `server` and `location` files under
//! `/config/nginx/proxy-confs/` (`nextcloud.subdomain.conf`, `sonarr.subfolder.conf`) and
//! the `*.conf.sample` files they are copied from (linuxserver/reverse-proxy-confs).
//!
//! [`conf_name`] reads the service and kind from a file name; [`parse_conf`] reads a conf's
//! text (with [`parse_nginx_conf`]) into a [`SwagConf`]: its `## Version` header, server
//! names, listen ports, the upstream it proxies to (`set $upstream_app/_port/_proto`), its
//! locations and the authentication it enables (authelia, authentik, ldap, tinyauth
//! includes and `auth_basic`). Everything is read from the directives nginx would see:
//! commented-out lines, such as the auth includes every sample ships disabled, never count.
//! [`version_older`] tells a conf older than its sample.

use serde::{Deserialize, Serialize};

use crate::nginx_conf::{Directive, flatten, parse_nginx_conf};

/// What a proxy conf serves: a subdomain (`server` blocks), a subfolder (`location` blocks
/// included in the default server), or anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConfKind {
    /// `<service>.subdomain.conf`
    Subdomain,
    /// `<service>.subfolder.conf`
    Subfolder,
    /// Any other `<name>.conf`.
    Other,
}

impl ConfKind {
    /// `subdomain`, `subfolder` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfKind::Subdomain => "subdomain",
            ConfKind::Subfolder => "subfolder",
            ConfKind::Other => "other",
        }
    }
}

/// What a proxy conf's file name tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfName {
    /// The service (`nextcloud`; `_template` for the templates).
    pub service: String,
    /// Subdomain, subfolder or other.
    pub kind: ConfKind,
    /// Whether it is a `.conf.sample` (a disabled sample) rather than an active `.conf`.
    pub sample: bool,
}

/// The service, kind and sample flag of a proxy conf file name (a directory before it is
/// ignored): `nextcloud.subdomain.conf` → `nextcloud`, subdomain, not a sample;
/// `sonarr.subfolder.conf.sample` → `sonarr`, subfolder, a sample; `foo.conf` → `foo`,
/// other. `None` for a name that does not end in `.conf` or `.conf.sample`, or has nothing
/// before it.
pub fn conf_name(file_name: &str) -> Option<ConfName> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let (rest, sample) = match base.strip_suffix(".sample") {
        Some(rest) => (rest, true),
        None => (base, false),
    };
    let stem = rest.strip_suffix(".conf")?;
    let (service, kind) = if let Some(s) = stem.strip_suffix(".subdomain") {
        (s, ConfKind::Subdomain)
    } else if let Some(s) = stem.strip_suffix(".subfolder") {
        (s, ConfKind::Subfolder)
    } else {
        (stem, ConfKind::Other)
    };
    if service.is_empty() {
        return None;
    }
    Some(ConfName {
        service: service.to_string(),
        kind,
        sample,
    })
}

/// An authentication a conf enables.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// An `include` of SWAG's `authelia-server.conf` / `authelia-location.conf`.
    Authelia,
    /// An `include` of `authentik-*.conf`.
    Authentik,
    /// An `include` of `ldap-*.conf`.
    Ldap,
    /// An `include` of `tinyauth-*.conf`.
    Tinyauth,
    /// An `auth_basic` directive other than `auth_basic off`.
    Basic,
}

impl AuthMethod {
    /// `authelia`, `authentik`, `ldap`, `tinyauth` or `basic`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Authelia => "authelia",
            AuthMethod::Authentik => "authentik",
            AuthMethod::Ldap => "ldap",
            AuthMethod::Tinyauth => "tinyauth",
            AuthMethod::Basic => "basic",
        }
    }
}

/// The include file-name prefixes of SWAG's authentication snippets.
const AUTH_INCLUDES: [(&str, AuthMethod); 4] = [
    ("authelia-", AuthMethod::Authelia),
    ("authentik-", AuthMethod::Authentik),
    ("ldap-", AuthMethod::Ldap),
    ("tinyauth-", AuthMethod::Tinyauth),
];

/// One `location` block of a conf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Location {
    /// What it matches (`/`, `/sonarr/api`, a regex such as `/auth-([0-9]+)`, `@name`).
    pub path: String,
    /// `=`, `~`, `~*` or `^~`; `None` for a plain prefix (or named) location.
    pub modifier: Option<String>,
    /// The 1-based line of the `location` directive.
    pub line: usize,
    /// `set $upstream_app …` in this location (its own directives and those of its `if`
    /// blocks, not those of nested locations).
    pub upstream_app: Option<String>,
    /// `set $upstream_port …` in this location.
    pub upstream_port: Option<String>,
    /// `set $upstream_proto …` in this location.
    pub upstream_proto: Option<String>,
    /// The first `proxy_pass` of this location, as written.
    pub proxy_pass: Option<String>,
    /// The authentication enabled in this location itself (not the server-level includes
    /// or `auth_basic` it inherits), sorted, without duplicates.
    pub auth: Vec<AuthMethod>,
}

/// A parsed SWAG proxy conf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SwagConf {
    /// The service, from the file name (see [`conf_name`]); the file name itself when it is
    /// not a conf's.
    pub service_name: String,
    /// Subdomain, subfolder or other, from the file name.
    pub kind: ConfKind,
    /// Whether the file name is a `.conf.sample`.
    pub sample: bool,
    /// The version of the `## Version 2023/05/31` header line, as written.
    pub version: Option<String>,
    /// That version's date as `2023-05-31`, so that versions compare as strings; `None`
    /// without a header or when it is not a `year/month/day` date.
    pub version_date: Option<String>,
    /// Every name of every `server_name` directive, in order, without duplicates.
    pub server_names: Vec<String>,
    /// The ports of every `listen` directive, sorted, without duplicates; a `listen`
    /// without a port listens on 443 with `ssl` (or `quic`) and on 80 otherwise.
    pub listen_ports: Vec<u16>,
    /// Whether it serves TLS: a `listen … ssl` (or `quic`), an `ssl_certificate` or an
    /// include of SWAG's `ssl.conf`.
    pub ssl_enabled: bool,
    /// The upstream's `$upstream_app` (a container name or address): that of the location
    /// proxying with `$upstream_*` variables, preferring the main location (`/` for a
    /// subdomain, `/<service>` for a subfolder); else the first `set` anywhere.
    pub upstream_app: Option<String>,
    /// The upstream's `$upstream_port`, found like [`SwagConf::upstream_app`].
    pub upstream_port: Option<String>,
    /// The upstream's `$upstream_proto` (`http`, `https`), found like
    /// [`SwagConf::upstream_app`].
    pub upstream_proto: Option<String>,
    /// The `proxy_pass` of the main location; else the first `proxy_pass` anywhere.
    pub proxy_pass: Option<String>,
    /// The authentication enabled anywhere in the conf, sorted, without duplicates.
    pub auth: Vec<AuthMethod>,
    /// [`SwagConf::auth`] in one word: `none`, the method (`authelia`), or the methods
    /// joined by `+` (`authelia+basic`).
    pub auth_method: String,
    /// The files it includes, in order, without duplicates.
    pub includes: Vec<String>,
    /// Every location of every server block, nested ones included (after their parent), in
    /// the order of the text.
    pub locations: Vec<Location>,
    /// How many `server` blocks it has (0 for a subfolder conf).
    pub server_blocks: usize,
    /// How many lines the text has.
    pub line_count: usize,
    /// What did not parse cleanly (see [`parse_nginx_conf`]); empty for a well-formed conf.
    pub problems: Vec<String>,
}

/// The method a directive enables, if it is an authentication include or `auth_basic`.
fn auth_of(d: &Directive) -> Option<AuthMethod> {
    match d.name.as_str() {
        "include" => {
            let file = file_name(d.arg(0)?);
            AUTH_INCLUDES
                .iter()
                .find(|(prefix, _)| file.starts_with(prefix))
                .map(|(_, method)| *method)
        }
        "auth_basic" => match d.arg(0)? {
            "off" => None,
            _ => Some(AuthMethod::Basic),
        },
        _ => None,
    }
}

/// The last component of a path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The methods enabled by `directives`, sorted, without duplicates.
fn auth_methods<'a>(directives: impl IntoIterator<Item = &'a Directive>) -> Vec<AuthMethod> {
    let mut out: Vec<AuthMethod> = directives.into_iter().filter_map(auth_of).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The value `d` sets `var` to, if it is `set <var> <value>` (several words, as in the
/// template's `<http or https>`, are joined by a space).
fn set_value(d: &Directive, var: &str) -> Option<String> {
    (d.name == "set" && d.arg(0) == Some(var) && d.args.len() > 1).then(|| d.args[1..].join(" "))
}

/// The directives in effect in a block: its own and, recursively, those of its blocks other
/// than nested `location`s (`if`, `limit_except`).
fn scope<'a>(children: &'a [Directive], out: &mut Vec<&'a Directive>) {
    for d in children {
        out.push(d);
        if d.block.is_some() && d.name != "location" {
            scope(d.children(), out);
        }
    }
}

/// A location's modifier and path from its arguments, as nginx reads them (`= /x`, `=/x`,
/// `~* \.php$`, `~\.php$`, `^~ /x/`, `/x`, `@name`).
fn location_match(args: &[String]) -> (Option<String>, String) {
    match args {
        [m, path, ..] if matches!(m.as_str(), "=" | "~" | "~*" | "^~") => {
            (Some(m.clone()), path.clone())
        }
        [path, ..] => {
            for m in ["=", "~*", "~"] {
                if let Some(rest) = path.strip_prefix(m)
                    && !rest.is_empty()
                {
                    return (Some(m.to_string()), rest.to_string());
                }
            }
            (None, path.clone())
        }
        [] => (None, String::new()),
    }
}

/// The locations in `directives` and their blocks, depth first.
fn collect_locations(directives: &[Directive], out: &mut Vec<Location>) {
    for d in directives {
        if d.name == "location" && d.block.is_some() {
            let (modifier, path) = location_match(&d.args);
            let mut own = Vec::new();
            scope(d.children(), &mut own);
            let first_set = |var: &str| own.iter().find_map(|d| set_value(d, var));
            out.push(Location {
                path,
                modifier,
                line: d.line,
                upstream_app: first_set("$upstream_app"),
                upstream_port: first_set("$upstream_port"),
                upstream_proto: first_set("$upstream_proto"),
                proxy_pass: own
                    .iter()
                    .find(|d| d.name == "proxy_pass")
                    .and_then(|d| d.arg(0))
                    .map(str::to_string),
                auth: auth_methods(own.iter().copied()),
            });
        }
        collect_locations(d.children(), out);
    }
}

/// The port of a `listen` directive's arguments (`443 ssl`, `[::]:443`, `0.0.0.0:80`,
/// `443 quic`, `localhost`); `None` for a unix socket or a port that is not a number.
fn listen_port(args: &[String]) -> Option<u16> {
    let address = args.first()?;
    let tls = args[1..].iter().any(|a| a == "ssl" || a == "quic");
    let default = if tls { 443 } else { 80 };
    if address.starts_with("unix:") {
        return None;
    }
    let port = if let Some(rest) = address.strip_prefix('[') {
        let (_, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(port) => port,
            None if after.is_empty() => return Some(default),
            None => return None,
        }
    } else if address.bytes().all(|b| b.is_ascii_digit()) {
        address
    } else {
        match address.rsplit_once(':') {
            Some((_, port)) => port,
            None => return Some(default),
        }
    };
    port.parse().ok()
}

/// The `## Version …` header of a conf, as written.
/// The date of a conf's `## Version 2023/05/31` header line (the first such line of `text`)
/// as `2023-05-31`; `None` without a header or when it is not a date.
pub fn header_version_date(text: &str) -> Option<String> {
    version_header(text).as_deref().and_then(version_date)
}

fn version_header(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line
            .trim()
            .strip_prefix('#')?
            .trim_start_matches('#')
            .trim();
        let version = rest.strip_prefix("Version")?.trim();
        (!version.is_empty()).then(|| version.to_string())
    })
}

/// A `2023/05/31` version (also with `-` or `.`, or one-digit month and day) as
/// `2023-05-31`; `None` when it is not such a date.
fn version_date(version: &str) -> Option<String> {
    let date = version.split_whitespace().next()?;
    let mut parts = date.split(['/', '-', '.']);
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if parts.next().is_some() || !digits(year, 4, 4) || !digits(month, 1, 2) || !digits(day, 1, 2) {
        return None;
    }
    let (month, day): (u8, u8) = (month.parse().ok()?, day.parse().ok()?);
    ((1..=12).contains(&month) && (1..=31).contains(&day))
        .then(|| format!("{year}-{month:02}-{day:02}"))
}

/// Whether `loc` is the conf's main location: `/` (for a subdomain or other conf) or
/// `/<service>` with or without a trailing `/` (for a subfolder conf); never a regex.
fn is_main(loc: &Location, kind: ConfKind, service: &str) -> bool {
    if matches!(loc.modifier.as_deref(), Some("~" | "~*")) {
        return false;
    }
    match kind {
        ConfKind::Subfolder => loc
            .path
            .trim_end_matches('/')
            .strip_prefix('/')
            .is_some_and(|p| p.eq_ignore_ascii_case(service)),
        ConfKind::Subdomain | ConfKind::Other => loc.path == "/",
    }
}

/// Whether `loc` proxies to the `$upstream_*` variables it sets.
fn proxies_upstream(loc: &Location) -> bool {
    loc.proxy_pass
        .as_deref()
        .is_some_and(|p| p.contains("$upstream_"))
        && (loc.upstream_app.is_some()
            || loc.upstream_port.is_some()
            || loc.upstream_proto.is_some())
}

/// Parses a SWAG proxy conf: `file_name` gives the service and kind (see [`conf_name`]),
/// `text` the rest (see [`SwagConf`]). Never fails: what does not parse cleanly is in
/// [`SwagConf::problems`].
pub fn parse_conf(file_name: &str, text: &str) -> SwagConf {
    let name = conf_name(file_name).unwrap_or_else(|| ConfName {
        service: self::file_name(file_name).to_string(),
        kind: ConfKind::Other,
        sample: false,
    });
    let conf = parse_nginx_conf(text);
    let all = flatten(&conf.directives);

    let mut server_names: Vec<String> = Vec::new();
    for d in all.iter().filter(|d| d.name == "server_name") {
        for n in &d.args {
            if !server_names.contains(n) {
                server_names.push(n.clone());
            }
        }
    }
    let listens: Vec<&&Directive> = all.iter().filter(|d| d.name == "listen").collect();
    let mut listen_ports: Vec<u16> = listens
        .iter()
        .filter_map(|d| listen_port(&d.args))
        .collect();
    listen_ports.sort_unstable();
    listen_ports.dedup();
    let mut includes: Vec<String> = Vec::new();
    for path in all
        .iter()
        .filter(|d| d.name == "include")
        .filter_map(|d| d.arg(0))
    {
        if !includes.iter().any(|i| i == path) {
            includes.push(path.to_string());
        }
    }
    let ssl_enabled = listens
        .iter()
        .any(|d| d.args.iter().skip(1).any(|a| a == "ssl" || a == "quic"))
        || all.iter().any(|d| d.name == "ssl_certificate")
        || includes.iter().any(|i| self::file_name(i) == "ssl.conf");

    let mut locations = Vec::new();
    collect_locations(&conf.directives, &mut locations);
    let mains: Vec<&Location> = locations
        .iter()
        .filter(|l| is_main(l, name.kind, &name.service))
        .collect();
    let main = mains
        .iter()
        .find(|l| l.proxy_pass.is_some())
        .or(mains.first())
        .copied();
    let upstream = main
        .filter(|l| proxies_upstream(l))
        .or_else(|| locations.iter().find(|l| proxies_upstream(l)));
    let anywhere = |var: &str| all.iter().find_map(|d| set_value(d, var));
    let upstream_app = upstream
        .and_then(|l| l.upstream_app.clone())
        .or_else(|| anywhere("$upstream_app"));
    let upstream_port = upstream
        .and_then(|l| l.upstream_port.clone())
        .or_else(|| anywhere("$upstream_port"));
    let upstream_proto = upstream
        .and_then(|l| l.upstream_proto.clone())
        .or_else(|| anywhere("$upstream_proto"));
    let proxy_pass = main.and_then(|l| l.proxy_pass.clone()).or_else(|| {
        all.iter()
            .find(|d| d.name == "proxy_pass")
            .and_then(|d| d.arg(0))
            .map(str::to_string)
    });

    let auth = auth_methods(all.iter().copied());
    let auth_method = if auth.is_empty() {
        "none".to_string()
    } else {
        auth.iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join("+")
    };
    let version = version_header(text);
    SwagConf {
        service_name: name.service,
        kind: name.kind,
        sample: name.sample,
        version_date: version.as_deref().and_then(version_date),
        version,
        server_names,
        listen_ports,
        ssl_enabled,
        upstream_app,
        upstream_port,
        upstream_proto,
        proxy_pass,
        auth,
        auth_method,
        includes,
        server_blocks: all
            .iter()
            .filter(|d| d.name == "server" && d.block.is_some())
            .count(),
        locations,
        line_count: text.lines().count(),
        problems: conf.problems,
    }
}

/// Whether `conf` is older than `sample` (the sample it was copied from, in its newer
/// version): both have a version date and `conf`'s is earlier.
pub fn version_older(conf: &SwagConf, sample: &SwagConf) -> bool {
    matches!(
        (&conf.version_date, &sample.version_date),
        (Some(a), Some(b)) if a < b
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::{fixture, fixture_dir};
    use std::collections::BTreeMap;

    fn name(service: &str, kind: ConfKind, sample: bool) -> Option<ConfName> {
        Some(ConfName {
            service: service.into(),
            kind,
            sample,
        })
    }

    #[test]
    fn conf_names() {
        use ConfKind::*;
        assert_eq!(
            conf_name("nextcloud.subdomain.conf"),
            name("nextcloud", Subdomain, false)
        );
        assert_eq!(
            conf_name("nextcloud.subfolder.conf.sample"),
            name("nextcloud", Subfolder, true)
        );
        assert_eq!(conf_name("foo.conf"), name("foo", Other, false));
        assert_eq!(
            conf_name("_template.subdomain.conf.sample"),
            name("_template", Subdomain, true)
        );
        assert_eq!(
            conf_name("/config/nginx/proxy-confs/a.b.subdomain.conf"),
            name("a.b", Subdomain, false)
        );
        assert_eq!(conf_name("subdomain.conf"), name("subdomain", Other, false));
        for bad in [
            "",
            ".conf",
            ".subdomain.conf",
            "foo.conf.bak",
            "foo.sample",
            "foo.subdomain.conf.sample.old",
            "README.md",
            "proxy-confs/",
        ] {
            assert_eq!(conf_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn nextcloud_subdomain_sample() {
        let c = parse_conf(
            "nextcloud.subdomain.conf.sample",
            &fixture("swag/nextcloud.subdomain.conf.sample"),
        );
        assert_eq!(c.problems, Vec::<String>::new());
        assert_eq!(
            (c.service_name.as_str(), c.kind, c.sample),
            ("nextcloud", ConfKind::Subdomain, true)
        );
        assert_eq!(c.version.as_deref(), Some("2025/07/18"));
        assert_eq!(c.version_date.as_deref(), Some("2025-07-18"));
        assert_eq!(c.server_names, ["nextcloud.*"]);
        assert_eq!(c.listen_ports, [443]);
        assert!(c.ssl_enabled);
        assert_eq!(c.upstream_app.as_deref(), Some("nextcloud"));
        assert_eq!(c.upstream_port.as_deref(), Some("443"));
        assert_eq!(c.upstream_proto.as_deref(), Some("https"));
        assert_eq!(
            c.proxy_pass.as_deref(),
            Some("$upstream_proto://$upstream_app:$upstream_port")
        );
        assert_eq!(c.auth, []);
        assert_eq!(c.auth_method, "none");
        assert_eq!(
            c.includes,
            [
                "/config/nginx/ssl.conf",
                "/config/nginx/proxy.conf",
                "/config/nginx/resolver.conf"
            ]
        );
        assert_eq!(c.server_blocks, 1);
        assert_eq!(c.locations.len(), 1);
        assert_eq!(
            c.locations[0],
            Location {
                path: "/".into(),
                modifier: None,
                line: 29,
                upstream_app: Some("nextcloud".into()),
                upstream_port: Some("443".into()),
                upstream_proto: Some("https".into()),
                proxy_pass: c.proxy_pass.clone(),
                auth: vec![],
            }
        );
        assert_eq!(c.line_count, 47);
        assert!(serde_json::to_string(&c).is_ok_and(|j| j.contains("\"kind\":\"subdomain\"")));
    }

    #[test]
    fn subfolder_sample_and_template() {
        let c = parse_conf(
            "sonarr.subfolder.conf.sample",
            &fixture("swag/sonarr.subfolder.conf.sample"),
        );
        assert_eq!(c.kind, ConfKind::Subfolder);
        assert_eq!(c.server_blocks, 0);
        assert_eq!(c.server_names, Vec::<String>::new());
        assert_eq!(c.listen_ports, Vec::<u16>::new());
        assert!(!c.ssl_enabled);
        let paths: Vec<(Option<&str>, &str)> = c
            .locations
            .iter()
            .map(|l| (l.modifier.as_deref(), l.path.as_str()))
            .collect();
        assert_eq!(
            paths,
            [(Some("^~"), "/sonarr"), (Some("^~"), "/sonarr/api")]
        );
        assert_eq!(
            (
                c.upstream_app.as_deref(),
                c.upstream_port.as_deref(),
                c.upstream_proto.as_deref()
            ),
            (Some("sonarr"), Some("8989"), Some("http"))
        );

        let t = parse_conf(
            "_template.subfolder.conf.sample",
            &fixture("swag/_template.subfolder.conf.sample"),
        );
        assert_eq!(t.service_name, "_template");
        assert_eq!(t.upstream_app.as_deref(), Some("<container_name>"));
        assert_eq!(t.upstream_proto.as_deref(), Some("<http or https>"));
        assert_eq!(
            t.locations.len(),
            2,
            "the commented-out api location is not one"
        );
        assert_eq!(t.locations[0].proxy_pass, None);

        // The redirect `/boinc` comes first; the main location is the proxying `/boinc/`.
        let c = parse_conf(
            "boinc.subfolder.conf.sample",
            &fixture("swag/boinc.subfolder.conf.sample"),
        );
        assert_eq!(c.locations[0].path, "/boinc");
        assert_eq!(c.upstream_port.as_deref(), Some("8080"));
        assert_eq!(
            c.locations.last().map(|l| l.upstream_port.as_deref()),
            Some(Some("6901"))
        );
    }

    #[test]
    fn several_server_blocks() {
        let c = parse_conf(
            "kasm.subdomain.conf.sample",
            &fixture("swag/kasm.subdomain.conf.sample"),
        );
        assert_eq!(c.server_blocks, 2);
        assert_eq!(c.server_names, ["kasm.*", "kasm-wizard.*"]);
        assert_eq!(c.upstream_port.as_deref(), Some("8443"));
        assert_eq!(c.locations.len(), 2);
        assert_eq!(c.locations[1].upstream_port.as_deref(), Some("3000"));

        let c = parse_conf(
            "openvscode-server.subdomain.conf.sample",
            &fixture("swag/openvscode-server.subdomain.conf.sample"),
        );
        assert_eq!(c.server_blocks, 3);
        assert_eq!(c.server_names.len(), 3);
        assert_eq!(
            c.server_names[1],
            "~^(?<upstream_port>[0-9]{1,10})\\.openvscode-server\\..*$"
        );
        assert_eq!(c.upstream_port.as_deref(), Some("3000"));
        assert_eq!(c.locations[1].upstream_port, None);
    }

    #[test]
    fn auth_from_uncommented_directives_only() {
        let conf = |body: &str| {
            parse_conf(
                "x.subdomain.conf",
                &format!(
                    "server {{\n  listen 443 ssl;\n  server_name x.*;\n{body}\n  location / {{\n    \
                     #include /config/nginx/authentik-location.conf;\n    # auth_basic \"a\";\n    \
                     set $upstream_app x;\n    proxy_pass http://$upstream_app;\n  }}\n}}\n"
                ),
            )
        };
        let c = conf("");
        assert_eq!(
            (c.auth.as_slice(), c.auth_method.as_str()),
            (&[][..], "none")
        );
        let c = conf("  include /config/nginx/authelia-server.conf;");
        assert_eq!(c.auth, [AuthMethod::Authelia]);
        assert_eq!(c.auth_method, "authelia");
        assert_eq!(c.locations[0].auth, []);
        assert_eq!(conf("  auth_basic \"x\";").auth_method, "basic");
        assert_eq!(conf("  auth_basic off;").auth_method, "none");
        assert_eq!(conf("  auth_basic;").auth_method, "none");
        let c = conf(
            "  auth_basic \"Restricted\";\n  include /config/nginx/tinyauth-server.conf;\n  \
             include /config/nginx/authelia-server.conf;\n  include /config/nginx/ldap-server.conf;",
        );
        assert_eq!(c.auth_method, "authelia+ldap+tinyauth+basic");

        let c = parse_conf(
            "x.subfolder.conf",
            "location ^~ /x/ {\n  include /config/nginx/authentik-location.conf;\n  \
             include /config/nginx/ldap-location.conf;\n  include authentik-location.conf;\n}\n",
        );
        assert_eq!(
            c.locations[0].auth,
            [AuthMethod::Authentik, AuthMethod::Ldap]
        );
        assert_eq!(c.auth_method, "authentik+ldap");
    }

    #[test]
    fn listen_forms() {
        let c = parse_conf(
            "x.conf",
            "server {\n listen 443 quic;\n listen [::]:8443 ssl;\n listen 0.0.0.0:80;\n \
             listen *:81;\n listen [::];\n listen localhost ssl;\n listen unix:/run/x.sock;\n \
             listen 8080 default_server;\n listen x:notaport;\n listen;\n}\n",
        );
        assert_eq!(c.problems, Vec::<String>::new());
        assert_eq!(c.listen_ports, [80, 81, 443, 8080, 8443]);
        assert!(c.ssl_enabled);
        let c = parse_conf("x.conf", "server { listen 80; listen [::]:80; }");
        assert_eq!(
            (c.listen_ports.as_slice(), c.ssl_enabled),
            (&[80][..], false)
        );
        let c = parse_conf("x.conf", "server { listen 80; ssl_certificate /a.pem; }");
        assert!(c.ssl_enabled);
    }

    #[test]
    fn location_modifiers() {
        let c = parse_conf(
            "app.subfolder.conf",
            "location = /a { }\nlocation =/b { }\nlocation ~* \\.php$ { }\nlocation ~/c { }\n\
             location @named { }\nlocation /app {\n  location ~ /app/x { proxy_pass http://x; }\n  \
             set $upstream_app app;\n  proxy_pass http://$upstream_app;\n}\nlocation { }\n",
        );
        assert_eq!(c.problems, Vec::<String>::new());
        let got: Vec<(Option<&str>, &str, usize)> = c
            .locations
            .iter()
            .map(|l| (l.modifier.as_deref(), l.path.as_str(), l.line))
            .collect();
        assert_eq!(
            got,
            [
                (Some("="), "/a", 1),
                (Some("="), "/b", 2),
                (Some("~*"), "\\.php$", 3),
                (Some("~"), "/c", 4),
                (None, "@named", 5),
                (None, "/app", 6),
                (Some("~"), "/app/x", 7),
                (None, "", 11),
            ]
        );
        assert_eq!(c.proxy_pass.as_deref(), Some("http://$upstream_app"));
        assert_eq!(c.upstream_app.as_deref(), Some("app"));
        assert_eq!(c.locations[6].upstream_app, None);
    }

    #[test]
    fn upstream_prefers_the_main_location() {
        let text = "server {\n  location /api { set $upstream_app api; proxy_pass \
                    http://$upstream_app; }\n  location / { set $upstream_app web; \
                    set $upstream_port 1; proxy_pass http://$upstream_app:$upstream_port; }\n}\n";
        let c = parse_conf("web.subdomain.conf", text);
        assert_eq!(c.upstream_app.as_deref(), Some("web"));
        assert_eq!(
            c.proxy_pass.as_deref(),
            Some("http://$upstream_app:$upstream_port")
        );
        // No main location: the first that proxies to its upstream.
        let c = parse_conf("web.subfolder.conf", text);
        assert_eq!(c.upstream_app.as_deref(), Some("api"));
        assert_eq!(c.upstream_port.as_deref(), Some("1"), "first set anywhere");
        assert_eq!(c.proxy_pass.as_deref(), Some("http://$upstream_app"));
        // Sets outside any location.
        let c = parse_conf(
            "x.conf",
            "set $upstream_app a;\n#set $upstream_app b;\nlocation / { proxy_pass http://h; }",
        );
        assert_eq!(c.upstream_app.as_deref(), Some("a"));
        assert_eq!(c.proxy_pass.as_deref(), Some("http://h"));
    }

    #[test]
    fn versions() {
        assert_eq!(version_date("2023/05/31").as_deref(), Some("2023-05-31"));
        assert_eq!(version_date("2023-5-1 (x)").as_deref(), Some("2023-05-01"));
        for bad in [
            "",
            "v2",
            "2023/13/01",
            "2023/01/32",
            "23/01/01",
            "2023/01/01/01",
            "2023/0a/01",
        ] {
            assert_eq!(version_date(bad), None, "{bad}");
        }
        let at = |v: &str| parse_conf("a.subdomain.conf", &format!("## Version {v}\nx;"));
        assert!(version_older(&at("2023/02/05"), &at("2025/07/18")));
        assert!(!version_older(&at("2025/07/18"), &at("2023/02/05")));
        assert!(!version_older(&at("2025/07/18"), &at("2025/07/18")));
        assert!(!version_older(&at("junk"), &at("2025/07/18")));
        assert!(!version_older(&parse_conf("a.conf", ""), &at("2025/07/18")));
        assert_eq!(at("junk").version.as_deref(), Some("junk"));
    }

    #[test]
    fn empty_odd_and_hostile_texts() {
        let c = parse_conf("nothing.subdomain.conf", "");
        assert_eq!(c.problems, Vec::<String>::new());
        assert_eq!(
            (c.line_count, c.server_blocks, c.locations.len()),
            (0, 0, 0)
        );
        assert_eq!(
            (c.version, c.upstream_app, c.proxy_pass),
            (None, None, None)
        );
        assert_eq!(c.auth_method, "none");

        let c = parse_conf("README.md", "server { location / { proxy_pass \"a;#{\";");
        assert_eq!(
            (c.service_name.as_str(), c.kind),
            ("README.md", ConfKind::Other)
        );
        assert_eq!(c.proxy_pass.as_deref(), Some("a;#{"));
        assert_eq!(c.problems.len(), 2, "{:?}", c.problems);

        let c = parse_conf("x.conf", "}}} server { listen 443 ssl } }\nlocation / {");
        assert!(!c.problems.is_empty());
        assert_eq!(c.listen_ports, [443]);

        let deep = format!(
            "{}set $upstream_app deep;{}",
            "location / {".repeat(10_000),
            "}".repeat(10_000)
        );
        let c = parse_conf("x.subdomain.conf", &deep);
        assert_eq!(c.problems.len(), 1);
        assert_eq!(c.locations.len(), crate::nginx_conf::MAX_DEPTH + 1);
    }

    /// The value of the first uncommented `set $upstream_app` line, by a plain line scan.
    fn scanned_upstream_app(text: &str) -> Option<String> {
        text.lines().find_map(|l| {
            let rest = l.trim().strip_prefix("set $upstream_app")?;
            if !rest.starts_with([' ', '\t']) {
                return None;
            }
            let value = rest.split(';').next()?.trim();
            Some(value.to_string())
        })
    }

    #[test]
    fn every_swag_sample() {
        let files: Vec<String> = fixture_dir("swag")
            .into_iter()
            .filter(|f| f.ends_with(".conf.sample"))
            .collect();
        assert!(files.len() >= 370, "{}", files.len());
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        let mut auths: BTreeMap<String, usize> = BTreeMap::new();
        let (mut with_upstream, mut commented_auth) = (0, 0);
        let mut odd: Vec<String> = Vec::new();
        for f in &files {
            let text = fixture(&format!("swag/{f}"));
            let c = parse_conf(f, &text);
            assert_eq!(c.problems, Vec::<String>::new(), "{f}");
            let kind = if f.ends_with(".subdomain.conf.sample") {
                ConfKind::Subdomain
            } else if f.ends_with(".subfolder.conf.sample") {
                ConfKind::Subfolder
            } else {
                ConfKind::Other
            };
            assert_eq!(c.kind, kind, "{f}");
            assert!(c.sample, "{f}");
            assert!(c.version_date.is_some(), "{f}: {:?}", c.version);
            assert_eq!(c.line_count, text.lines().count(), "{f}");
            if let Some(app) = scanned_upstream_app(&text) {
                with_upstream += 1;
                assert_eq!(c.upstream_app.as_deref(), Some(app.as_str()), "{f}");
                if c.proxy_pass.is_none() {
                    odd.push(format!("{f}: no proxy_pass"));
                }
            }
            if kind == ConfKind::Subdomain {
                assert!(c.server_blocks >= 1, "{f}");
                assert!(c.ssl_enabled, "{f}");
                assert!(!c.server_names.is_empty(), "{f}");
                if !c.locations.iter().any(|l| l.path == "/") {
                    odd.push(format!("{f}: no / location"));
                }
            } else {
                assert_eq!(c.server_blocks, 0, "{f}");
            }
            let has_commented_auth = text.lines().any(|l| {
                let l = l.trim();
                l.starts_with('#')
                    && (l.contains("auth_basic ")
                        || AUTH_INCLUDES
                            .iter()
                            .any(|(p, _)| l.contains(&format!("/{p}"))))
            });
            if has_commented_auth {
                commented_auth += 1;
                assert_eq!(c.auth_method, "none", "{f}: commented auth counted");
            }
            *kinds.entry(c.kind.as_str()).or_default() += 1;
            *auths.entry(c.auth_method).or_default() += 1;
        }
        eprintln!(
            "{} samples: kinds {kinds:?}, auth {auths:?}, {with_upstream} with an upstream, \
             {commented_auth} with commented-out auth",
            files.len()
        );

        assert_eq!(kinds.get("subdomain"), Some(&261));
        assert_eq!(kinds.get("subfolder"), Some(&110));
        assert_eq!(kinds.get("other"), None);
        assert_eq!(with_upstream, files.len() - 1, "all but organizr-auth");
        assert!(commented_auth >= 350, "{commented_auth}");
        assert_eq!(
            odd,
            [
                "dnsdist.subdomain.conf.sample: no proxy_pass",
                "dnsdist.subdomain.conf.sample: no / location"
            ],
            "dnsdist proxies with grpc_pass from /dns-query"
        );
        assert_eq!(auths.get("none"), Some(&files.len()), "{auths:?}");
    }
}
