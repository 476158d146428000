//! Host ports: each published host port of the selected services must lie in the port
//! range, be free on the device and be published only once in the file; one that is not is
//! moved to the next free port of the range.
//!
//! "Free" for a new port means: in the range, not in `used_ports`, not given to any entry of
//! this file in this run, and not published by any entry of the file as written (so a moved
//! port never lands on one another service still holds). Entries are handled in file
//! order, so of two services wanting the same host port the first keeps it. The same host
//! port published for TCP and UDP by one service (`53:53/tcp`, `53:53/udp`) stays one port
//! when moved.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_norway::Value;
use yaml_edit::{Mapping, YamlNode};

use super::verify::{Step, key, path, scalar_value};
use super::yaml::{ScalarText, Service};
use super::{PortAssignment, Run};

/// A port or a range of ports (`8000`, `8000-8010`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortSpan {
    /// The first port.
    pub start: u16,
    /// The last port (`== start` for a single port).
    pub end: u16,
}

impl PortSpan {
    /// A single port.
    pub fn single(port: u16) -> Self {
        Self {
            start: port,
            end: port,
        }
    }

    /// Reads `8080` or `8000-8010` (start ≤ end).
    pub fn parse(text: &str) -> Option<Self> {
        let number = |t: &str| {
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse::<u16>().ok())
                .flatten()
        };
        match text.split_once('-') {
            Some((a, b)) => {
                let (start, end) = (number(a)?, number(b)?);
                (start <= end).then_some(Self { start, end })
            }
            None => number(text).map(Self::single),
        }
    }

    /// How many ports.
    pub fn port_count(&self) -> u32 {
        u32::from(self.end) - u32::from(self.start) + 1
    }

    /// Whether this is a single port.
    pub fn is_single(&self) -> bool {
        self.start == self.end
    }

    /// The ports, in order.
    pub fn ports(&self) -> impl Iterator<Item = u16> + use<> {
        self.start..=self.end
    }

    /// The span of the same length starting at `start` (`None` past port 65535).
    fn moved_to(&self, start: u16) -> Option<Self> {
        let end = u32::from(start) + self.port_count() - 1;
        Some(Self {
            start,
            end: u16::try_from(end).ok()?,
        })
    }
}

impl fmt::Display for PortSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// A `ports:` entry in compose's short syntax, `[[ip:]host:]container[/protocol]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The host address as written (`127.0.0.1`, `[::1]`), if any.
    pub host_ip: Option<String>,
    /// The host port(s); `None` when the engine picks one (`"80"`, `"127.0.0.1::80"`).
    pub host: Option<PortSpan>,
    /// The container port(s).
    pub container: PortSpan,
    /// The protocol as written after `/`, if any.
    pub protocol: Option<String>,
}

impl PortSpec {
    /// Reads a short-syntax entry. `None` for text that holds a variable (`${PORT}:80`) or is
    /// not a port entry (including unbracketed IPv6 addresses, which compose refuses too).
    pub fn parse(text: &str) -> Option<Self> {
        if text.contains('$') {
            return None;
        }
        let (body, protocol) = match text.split_once('/') {
            Some((body, proto)) => {
                let known = ["tcp", "udp", "sctp"].contains(&proto.to_ascii_lowercase().as_str());
                if !known {
                    return None;
                }
                (body, Some(proto.to_string()))
            }
            None => (text, None),
        };
        let (host_ip, rest) = match body.strip_prefix('[') {
            Some(bracketed) => {
                let (ip, rest) = bracketed.split_once("]:")?;
                (Some(format!("[{ip}]")), rest)
            }
            None => (None, body),
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let (host_ip, host, container) = match (host_ip, parts.as_slice()) {
            (None, [container]) => (None, None, *container),
            (None, [host, container]) => (None, Some(*host), *container),
            (None, [ip, host, container]) => (Some(ip.to_string()), Some(*host), *container),
            (Some(ip), [host, container]) => (Some(ip), Some(*host), *container),
            _ => return None,
        };
        if host_ip.as_deref().is_some_and(str::is_empty) {
            return None;
        }
        let host = match host {
            None | Some("") => None,
            Some(h) => Some(PortSpan::parse(h)?),
        };
        let spec = Self {
            host_ip,
            host,
            container: PortSpan::parse(container)?,
            protocol,
        };
        // Only entries written the way they would be rendered are understood (no `080`).
        (spec.render() == text).then_some(spec)
    }

    /// The protocol, `tcp` when none is written.
    pub fn protocol(&self) -> String {
        self.protocol
            .as_deref()
            .unwrap_or("tcp")
            .to_ascii_lowercase()
    }

    /// The entry in short syntax.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(ip) = &self.host_ip {
            out.push_str(ip);
            out.push(':');
        }
        match self.host {
            Some(host) => out.push_str(&format!("{host}:")),
            None if self.host_ip.is_some() => out.push(':'),
            None => {}
        }
        out.push_str(&self.container.to_string());
        if let Some(protocol) = &self.protocol {
            out.push('/');
            out.push_str(protocol);
        }
        out
    }

    /// The fixed host-to-container bindings of this entry, one per host port.
    pub fn bindings(&self) -> Vec<PortAssignment> {
        let Some(host) = self.host.filter(|h| h.start != 0) else {
            return Vec::new();
        };
        host.ports()
            .enumerate()
            .map(|(i, host_port)| {
                let container_port = if self.container.port_count() == host.port_count() {
                    self.container.start.saturating_add(i as u16)
                } else {
                    self.container.start
                };
                PortAssignment {
                    host_ip: self.host_ip.clone(),
                    host_port,
                    container_port,
                    protocol: self.protocol(),
                }
            })
            .collect()
    }

    fn with_host(&self, host: PortSpan) -> Self {
        Self {
            host: Some(host),
            ..self.clone()
        }
    }
}

/// What a `ports:` entry is.
enum Parsed {
    /// Understood.
    Spec(PortSpec),
    /// Set by a variable; `defaults` are the host ports its `${VAR:-default}`s give.
    Variable { defaults: Vec<u16> },
    /// Not understood (an alias, a malformed entry).
    Unknown,
}

/// How to write a new host port into an entry.
enum Editor {
    /// A short-syntax string.
    Short(ScalarText),
    /// A long-syntax mapping, with its `published` scalar when it has one.
    Long {
        entry: Mapping,
        published: Option<ScalarText>,
    },
}

/// One `ports:` entry of a service.
struct PortEntry {
    index: usize,
    /// The entry as written (long syntax: as short syntax), for messages.
    text: String,
    parsed: Parsed,
    /// `None` when the entry cannot be edited (it comes from a merged anchor, or it is not
    /// a plain scalar or mapping).
    editor: Option<Editor>,
}

/// The entries of a service's `ports`: from the editable tree when the service writes
/// `ports` itself, else (merged from an anchor) from the plain tree, not editable.
fn entries_of(service: &Service) -> Vec<PortEntry> {
    let plain_items = match service.plain.get("ports") {
        Some(Value::Sequence(items)) => items.as_slice(),
        _ => &[],
    };
    if let Some(list) = service.node.get_sequence("ports") {
        let in_flow = list.is_flow_style();
        return list
            .values()
            .enumerate()
            .map(|(index, item)| match plain_items.get(index) {
                // An alias (`- *port`) is read through, not edited.
                Some(plain) if item.is_alias() => plain_entry(index, plain),
                _ => editable_entry(index, &item, in_flow),
            })
            .collect();
    }
    plain_items
        .iter()
        .enumerate()
        .map(|(index, item)| plain_entry(index, item))
        .collect()
}

fn editable_entry(index: usize, item: &YamlNode, in_flow: bool) -> PortEntry {
    if let Some(scalar) = ScalarText::read(item, in_flow) {
        let (text, parsed) = read_short(&scalar.value);
        return PortEntry {
            index,
            text,
            parsed,
            editor: Some(Editor::Short(scalar)),
        };
    }
    if let Some(entry) = item.as_mapping() {
        let in_flow = in_flow || entry.is_flow_style();
        let field = |k: &str| {
            entry
                .get(k)
                .as_ref()
                .and_then(|v| ScalarText::read(v, in_flow))
        };
        let published = field("published");
        let (text, parsed) = read_long(
            field("target").map(|t| t.value),
            published.as_ref().map(|p| p.value.clone()),
            field("host_ip").map(|t| t.value),
            field("protocol").map(|t| t.value),
        );
        return PortEntry {
            index,
            text,
            parsed,
            editor: Some(Editor::Long {
                entry: entry.clone(),
                published,
            }),
        };
    }
    PortEntry {
        index,
        text: item.to_string().trim().to_string(),
        parsed: Parsed::Unknown,
        editor: None,
    }
}

fn plain_entry(index: usize, item: &Value) -> PortEntry {
    let text_of = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let (text, parsed) = match item {
        Value::Mapping(m) => read_long(
            m.get("target").and_then(text_of),
            m.get("published").and_then(text_of),
            m.get("host_ip").and_then(text_of),
            m.get("protocol").and_then(text_of),
        ),
        other => match text_of(other) {
            Some(text) => read_short(&text),
            None => (format!("{other:?}"), Parsed::Unknown),
        },
    };
    PortEntry {
        index,
        text,
        parsed,
        editor: None,
    }
}

fn read_short(text: &str) -> (String, Parsed) {
    let parsed = if text.contains('$') {
        Parsed::Variable {
            defaults: variable_defaults(text),
        }
    } else {
        PortSpec::parse(text).map_or(Parsed::Unknown, Parsed::Spec)
    };
    (text.to_string(), parsed)
}

fn read_long(
    target: Option<String>,
    published: Option<String>,
    host_ip: Option<String>,
    protocol: Option<String>,
) -> (String, Parsed) {
    let text = {
        let spec = [
            host_ip.clone(),
            published.clone(),
            Some(target.clone().unwrap_or_default()),
        ];
        let mut text = spec.into_iter().flatten().collect::<Vec<_>>().join(":");
        if let Some(p) = &protocol {
            text.push('/');
            text.push_str(p);
        }
        text
    };
    let has_variable = [&target, &published, &host_ip, &protocol]
        .iter()
        .any(|v| v.as_deref().is_some_and(|t| t.contains('$')));
    if has_variable {
        let defaults = published
            .as_deref()
            .map(variable_defaults)
            .unwrap_or_default();
        return (text, Parsed::Variable { defaults });
    }
    let spec = (|| {
        let host = match published.as_deref() {
            None | Some("") => None,
            Some(p) => Some(PortSpan::parse(p)?),
        };
        Some(PortSpec {
            host_ip: host_ip.filter(|ip| !ip.is_empty()),
            host,
            container: PortSpan::parse(target.as_deref()?)?,
            protocol,
        })
    })();
    (text, spec.map_or(Parsed::Unknown, Parsed::Spec))
}

/// The host ports a variable entry publishes when its variables are unset:
/// `${HTTP_PORT:-9000}:9000` → `[9000]`; none when a variable has no default.
fn variable_defaults(text: &str) -> Vec<u16> {
    let mut resolved = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        resolved.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            return Vec::new();
        };
        let inner = &rest[start + 2..start + len];
        let default = inner
            .split_once(":-")
            .or_else(|| inner.split_once('-'))
            .map(|(_, d)| d);
        match default {
            Some(d) => resolved.push_str(d),
            None => return Vec::new(),
        }
        rest = &rest[start + len + 1..];
    }
    resolved.push_str(rest);
    PortSpec::parse(&resolved)
        .and_then(|s| s.host)
        .or_else(|| PortSpan::parse(&resolved))
        .map(|h| h.ports().collect())
        .unwrap_or_default()
}

/// The host ports of the file and who holds them.
struct PortBook<'a> {
    range: (u16, u16),
    used: &'a BTreeSet<u16>,
    /// Every host port some entry of the file publishes as written.
    published: BTreeSet<u16>,
    /// (port, protocol) → the service holding it in this run.
    claimed: BTreeMap<(u16, String), String>,
}

impl PortBook<'_> {
    fn in_range(&self, port: u16) -> bool {
        (self.range.0..=self.range.1).contains(&port)
    }

    /// Whether `service` may keep (or take) `span` for `protocol`.
    fn can_hold(&self, span: PortSpan, protocol: &str) -> bool {
        span.ports().all(|p| {
            self.in_range(p)
                && !self.used.contains(&p)
                && !self.claimed.contains_key(&(p, protocol.to_string()))
        })
    }

    fn claim(&mut self, span: PortSpan, protocol: &str, service: &str) {
        for p in span.ports() {
            self.claimed
                .entry((p, protocol.to_string()))
                .or_insert_with(|| service.to_string());
        }
    }

    /// Who else holds `port` for `protocol`.
    fn holder(&self, port: u16, protocol: &str) -> Option<&str> {
        self.claimed
            .get(&(port, protocol.to_string()))
            .map(String::as_str)
    }

    /// The first free block of `len` ports in the range.
    fn next_free(&self, len: u32) -> Option<u16> {
        let taken = |p: u16| {
            self.used.contains(&p)
                || self.published.contains(&p)
                || self
                    .claimed
                    .range((p, String::new())..)
                    .next()
                    .is_some_and(|((q, _), _)| *q == p)
        };
        let (lo, hi) = (u32::from(self.range.0), u32::from(self.range.1));
        let mut start = lo;
        while start + len - 1 <= hi {
            match (start..start + len).find(|p| taken(*p as u16)) {
                None => return u16::try_from(start).ok(),
                Some(blocked) => start = blocked + 1,
            }
        }
        None
    }
}

/// Moves the host ports of the selected services that need it, and applies
/// `custom_port_mappings`.
pub(crate) fn apply(services: &[Service], run: &mut Run) {
    let opts = run.opts;
    let mut auto = opts.auto_assign_ports;
    let (lo, hi) = opts.port_range;
    if auto && (lo == 0 || lo > hi) {
        run.warn(format!(
            "port range {lo}-{hi} is empty or starts at 0; ports not reassigned"
        ));
        auto = false;
    }
    let mut customs = BTreeMap::new();
    for (name, port) in &opts.custom_port_mappings {
        if !services.iter().any(|s| &s.name == name) {
            run.warn(format!(
                "custom port mapping for `{name}` ignored: no such service"
            ));
        } else if !run.is_selected(name) {
            run.warn(format!(
                "custom port mapping for `{name}` ignored: not the selected service"
            ));
        } else if *port == 0 {
            run.warn(format!("custom port mapping for `{name}` ignored: port 0"));
        } else {
            customs.insert(name.as_str(), *port);
        }
    }
    if !auto && customs.is_empty() {
        return;
    }
    let entries: Vec<(&Service, Vec<PortEntry>)> =
        services.iter().map(|s| (s, entries_of(s))).collect();
    let mut book = PortBook {
        range: (lo, hi),
        used: &opts.used_ports,
        published: BTreeSet::new(),
        claimed: BTreeMap::new(),
    };
    for (service, list) in &entries {
        for entry in list {
            match &entry.parsed {
                Parsed::Spec(spec) => {
                    if let Some(host) = spec.host {
                        book.published.extend(host.ports());
                        if !run.is_selected(&service.name) {
                            book.claim(host, &spec.protocol(), &service.name);
                        }
                    }
                }
                Parsed::Variable { defaults } => book.published.extend(defaults),
                Parsed::Unknown => {}
            }
        }
    }
    for (service, list) in &entries {
        if let (Some(port), Some(first)) = (customs.get(service.name.as_str()), list.first()) {
            let protocol = match &first.parsed {
                Parsed::Spec(spec) => spec.protocol(),
                _ => "tcp".to_string(),
            };
            if let Some(other) = book.holder(*port, &protocol) {
                run.warn(format!(
                    "{}: custom port {port} is also published by {other}",
                    service.name
                ));
            }
            book.claim(PortSpan::single(*port), &protocol, &service.name);
        }
    }
    for (service, list) in &entries {
        if !run.is_selected(&service.name) {
            continue;
        }
        let custom = customs.get(service.name.as_str()).copied();
        let mut assigner = ServicePorts {
            service,
            book: &mut book,
            moved: BTreeMap::new(),
            changed: false,
            specs: Vec::new(),
        };
        for entry in list {
            match custom {
                Some(port) if entry.index == 0 => assigner.apply_custom(entry, port, run),
                _ if auto => assigner.check(entry, run),
                _ => assigner.keep(entry),
            }
        }
        if assigner.changed {
            let bindings = assigner.specs.iter().flat_map(PortSpec::bindings).collect();
            run.outcome
                .port_assignments
                .insert(service.name.clone(), bindings);
        }
    }
}

/// The port assignment of one service.
struct ServicePorts<'s, 'b, 'u> {
    service: &'s Service,
    book: &'b mut PortBook<'u>,
    /// Original host port start → new start, so a TCP/UDP pair moves together.
    moved: BTreeMap<u16, u16>,
    changed: bool,
    /// The service's understood entries after the run.
    specs: Vec<PortSpec>,
}

impl ServicePorts<'_, '_, '_> {
    fn name(&self) -> &str {
        &self.service.name
    }

    /// Records an entry that stays as it is.
    fn keep(&mut self, entry: &PortEntry) {
        if let Parsed::Spec(spec) = &entry.parsed {
            self.specs.push(spec.clone());
        }
    }

    /// Keeps the entry's host port when it may, else moves it to a free one.
    fn check(&mut self, entry: &PortEntry, run: &mut Run) {
        let spec = match &entry.parsed {
            Parsed::Spec(spec) => spec,
            Parsed::Variable { .. } => {
                run.warn(format!(
                    "{}: host port of `{}` is set by a variable; left as it is",
                    self.name(),
                    entry.text
                ));
                return;
            }
            Parsed::Unknown => {
                run.warn(format!(
                    "{}: port entry `{}` not understood; left as it is",
                    self.name(),
                    entry.text
                ));
                return;
            }
        };
        let Some(host) = spec.host.filter(|h| h.start != 0) else {
            self.keep(entry);
            return;
        };
        let protocol = spec.protocol();
        if self.book.can_hold(host, &protocol) {
            self.book.claim(host, &protocol, &self.service.name);
            self.keep(entry);
            return;
        }
        let paired = self
            .moved
            .get(&host.start)
            .and_then(|start| host.moved_to(*start))
            .filter(|span| self.book.can_hold(*span, &protocol));
        let Some(new_host) = paired.or_else(|| {
            self.book
                .next_free(host.port_count())
                .and_then(|start| host.moved_to(start))
        }) else {
            run.warn(format!(
                "{}: no free port left in {}-{} for `{}`; left as it is",
                self.name(),
                self.book.range.0,
                self.book.range.1,
                entry.text
            ));
            self.keep(entry);
            return;
        };
        if self.write(entry, spec, new_host, run) {
            self.book.claim(new_host, &protocol, &self.service.name);
            self.moved.insert(host.start, new_host.start);
        }
    }

    /// Gives the entry (the service's first) the custom host port.
    fn apply_custom(&mut self, entry: &PortEntry, port: u16, run: &mut Run) {
        let spec = match &entry.parsed {
            Parsed::Spec(spec)
                if spec.container.is_single() && spec.host.is_none_or(|h| h.is_single()) =>
            {
                spec
            }
            _ => {
                run.warn(format!(
                    "{}: custom port {port} not applied: the first port entry `{}` is not a single port",
                    self.name(),
                    entry.text
                ));
                self.keep(entry);
                return;
            }
        };
        if self.book.used.contains(&port) {
            run.warn(format!(
                "{}: custom port {port} is in use on the device",
                self.name()
            ));
        }
        if spec.host == Some(PortSpan::single(port)) {
            self.keep(entry);
        } else {
            self.write(entry, spec, PortSpan::single(port), run);
        }
    }

    /// Writes `new_host` into the entry; false (with a warning) when it cannot be edited.
    fn write(
        &mut self,
        entry: &PortEntry,
        spec: &PortSpec,
        new_host: PortSpan,
        run: &mut Run,
    ) -> bool {
        let at = path([
            key("services"),
            key(&self.service.name),
            key("ports"),
            Step::Index(entry.index),
        ]);
        let new_spec = spec.with_host(new_host);
        let what = format!("{}: port {}", self.name(), entry.text);
        let editable = match &entry.editor {
            Some(Editor::Short(scalar))
            | Some(Editor::Long {
                published: Some(scalar),
                ..
            }) => run.may_edit(&scalar.node, &what),
            Some(Editor::Long { entry: mapping, .. }) => run.may_edit(mapping, &what),
            None => true,
        };
        if !editable {
            self.keep(entry);
            return false;
        }
        match &entry.editor {
            Some(Editor::Short(scalar)) => {
                let written = scalar.replace(&new_spec.render());
                run.expected.set(&at, scalar_value(&written));
            }
            Some(Editor::Long {
                published: Some(scalar),
                ..
            }) => {
                let written = scalar.replace(&new_host.to_string());
                let mut at = at;
                at.push(key("published"));
                run.expected.set(&at, scalar_value(&written));
            }
            Some(Editor::Long {
                entry: mapping,
                published: None,
            }) if new_host.is_single() => {
                mapping.set("published", new_host.start);
                let mut at = at;
                at.push(key("published"));
                run.expected.set(&at, Value::from(new_host.start));
            }
            _ => {
                run.warn(format!(
                    "{}: port entry `{}` needs host port {new_host} but comes from a merged anchor (<<) or cannot be edited; left as it is",
                    self.name(),
                    entry.text
                ));
                self.keep(entry);
                return false;
            }
        }
        run.change(format!(
            "{}: port {} -> {}",
            self.name(),
            entry.text,
            new_spec.render()
        ));
        self.changed = true;
        self.specs.push(new_spec);
        true
    }
}

/// The understood `ports` entries of a service as they are now (after any edit).
pub(crate) fn current_specs(service: &Service) -> Vec<PortSpec> {
    entries_of(service)
        .into_iter()
        .filter_map(|e| match e.parsed {
            Parsed::Spec(spec) => Some(spec),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_syntax_parses_and_renders_back() {
        let cases = [
            "80",
            "8080:80",
            "8080:80/udp",
            "5000:5000/tcp",
            "127.0.0.1:8080:80",
            "127.0.0.1::80",
            "[::1]:8080:80",
            "[::1]::80",
            "8000-8010:80-90",
            "9090-9091:8080",
            "0.0.0.0:53:53/udp",
        ];
        for text in cases {
            let spec = PortSpec::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(spec.render(), text);
        }
        let spec = PortSpec::parse("127.0.0.1:8080:80/udp").expect("spec");
        assert_eq!(spec.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(spec.host, Some(PortSpan::single(8080)));
        assert_eq!(spec.container, PortSpan::single(80));
        assert_eq!(spec.protocol(), "udp");
        for bad in [
            "${PORT}:80",
            "::1:8080:80",
            "80:",
            "a:80",
            "70000:80",
            "8010-8000:80",
            "8080:80/http",
            "080:80",
            "",
        ] {
            assert_eq!(PortSpec::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn bindings_expand_ranges() {
        let spec = PortSpec::parse("8000-8002:80-82").expect("spec");
        let pairs: Vec<(u16, u16)> = spec
            .bindings()
            .iter()
            .map(|b| (b.host_port, b.container_port))
            .collect();
        assert_eq!(pairs, [(8000, 80), (8001, 81), (8002, 82)]);
        let spec = PortSpec::parse("9090-9091:8080").expect("spec");
        assert_eq!(spec.bindings().len(), 2);
        assert!(PortSpec::parse("80").expect("spec").bindings().is_empty());
    }

    #[test]
    fn variable_defaults_are_found() {
        assert_eq!(variable_defaults("${COMPOSE_PORT_HTTP:-9000}:9000"), [9000]);
        assert_eq!(variable_defaults("${P-7000}:80/udp"), [7000]);
        assert_eq!(variable_defaults("${PORT}:80"), Vec::<u16>::new());
        assert_eq!(
            variable_defaults("${EXPOSE_PORT-:2283:2283}"),
            Vec::<u16>::new()
        );
        assert_eq!(variable_defaults("${BIND:-127.0.0.1}:8080:80"), [8080]);
    }

    #[test]
    fn next_free_skips_used_published_and_claimed() {
        let used = BTreeSet::from([8000, 8002]);
        let mut book = PortBook {
            range: (8000, 8006),
            used: &used,
            published: BTreeSet::from([8003]),
            claimed: BTreeMap::new(),
        };
        book.claim(PortSpan::single(8001), "udp", "a");
        assert_eq!(book.next_free(1), Some(8004));
        assert_eq!(book.next_free(2), Some(8004));
        assert_eq!(book.next_free(3), Some(8004));
        assert_eq!(book.next_free(4), None);
        assert!(book.can_hold(PortSpan::single(8001), "tcp"));
        assert!(!book.can_hold(PortSpan::single(8001), "udp"));
        assert!(!book.can_hold(PortSpan::single(9000), "tcp"));
    }
}
