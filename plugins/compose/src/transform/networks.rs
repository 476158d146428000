//! Joining services to a shared network (the reverse proxy's): the network is added to each
//! selected service next to the networks it already has, and declared external at the top
//! level.
//!
//! A service without `networks` is on the project's `default` network; it gets
//! `networks: [default, <network>]`, so it keeps reaching the services it reached before.
//! Services with `network_mode` (host, `service:…`, `container:…`) cannot join networks and
//! are left alone.

use serde_norway::Value;
use yaml_edit::{Mapping, Sequence};

use super::Run;
use super::verify::{Step, key, path, scalar_value};
use super::yaml::{ComposeFile, Service, key_text};

/// Whether `name` is a network name this transform writes: docker's
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*` that YAML reads as a string (not `1234` or `true`), and not
/// one of the names with a special meaning (`default`, `host`, `none`, `bridge`).
fn is_joinable_network(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && name.len() <= 128
        && scalar_value(name) == Value::String(name.to_string())
        && !["default", "host", "none", "bridge"].contains(&name)
}

/// The networks a service is on, by name (list or mapping form).
fn network_names(networks: Option<&Value>) -> Vec<String> {
    match networks {
        Some(Value::Sequence(items)) => items.iter().map(key_text).collect(),
        Some(Value::Mapping(map)) => map.keys().map(key_text).collect(),
        _ => Vec::new(),
    }
}

/// Adds `network` to the selected services and declares it at the top level.
pub(crate) fn apply(file: &ComposeFile, services: &[Service], network: &str, run: &mut Run) {
    if !is_joinable_network(network) {
        run.warn(format!(
            "network `{network}` is not a name services can join here; networks left as they are"
        ));
        return;
    }
    let mut in_use = false;
    for service in services {
        let before = network_names(service.plain.get("networks"));
        if before.iter().any(|n| n == network) {
            in_use = true;
            continue;
        }
        if !run.is_selected(&service.name) {
            continue;
        }
        if service.plain.get("network_mode").is_some() {
            run.warn(format!(
                "{}: uses network_mode, cannot join {network}; left as it is",
                service.name
            ));
            continue;
        }
        if let Some(after) = join(service, network, &before, run) {
            in_use = true;
            run.change(format!("{}: joined network {network}", service.name));
            run.outcome
                .network_configs
                .insert(service.name.clone(), after);
        }
    }
    if in_use {
        declare(file, network, run);
    }
}

/// Adds `network` to one service; the service's networks afterwards, or `None` (with a
/// warning) when its `networks` cannot be edited.
fn join(service: &Service, network: &str, before: &[String], run: &mut Run) -> Option<Vec<String>> {
    let at = path([key("services"), key(&service.name), key("networks")]);
    let mut after = before.to_vec();
    after.push(network.to_string());
    let own = service.node.get("networks");
    let what = format!("{}: networks", service.name);
    let editable = match own.as_ref().filter(|n| !n.is_scalar()) {
        Some(list_or_map) => run.may_edit(list_or_map, &what),
        None => run.may_edit(&service.node, &what),
    };
    if !editable {
        return None;
    }
    match own {
        Some(own) if own.as_sequence().is_some() => {
            own.as_sequence()?.push(network);
            run.expected.push(&at, Value::from(network));
        }
        Some(own) if own.as_mapping().is_some() => {
            own.as_mapping()?.set(network, Mapping::new());
            let mut entry = at.clone();
            entry.push(Step::Key(network.to_string()));
            run.expected
                .set(&entry, Value::Mapping(serde_norway::Mapping::new()));
        }
        Some(own) if own.as_scalar().is_some_and(|s| s.is_null()) => {
            after = set_list(service, &["default", network], &at, run);
        }
        Some(_) => return cannot_edit(service, network, run),
        None => match service.plain.get("networks") {
            // Merged in from an anchor: the service gets its own list, the merged names
            // plus the new one.
            Some(Value::Sequence(_)) => {
                let names: Vec<&str> = after.iter().map(String::as_str).collect();
                after = set_list(service, &names, &at, run);
            }
            Some(_) => return cannot_edit(service, network, run),
            None => after = set_list(service, &["default", network], &at, run),
        },
    }
    Some(after)
}

/// Sets the service's `networks` to a new block list of `names`.
fn set_list(service: &Service, names: &[&str], at: &[Step], run: &mut Run) -> Vec<String> {
    let list = Sequence::new();
    for name in names {
        list.push(*name);
    }
    service.node.set("networks", list);
    run.expected.set(
        at,
        Value::Sequence(names.iter().map(|n| Value::from(*n)).collect()),
    );
    names.iter().map(|n| n.to_string()).collect()
}

fn cannot_edit(service: &Service, network: &str, run: &mut Run) -> Option<Vec<String>> {
    run.warn(format!(
        "{}: its networks (an alias or merged mapping) cannot be edited; not joined to {network}",
        service.name
    ));
    None
}

/// Declares `network` as external at the top level unless some definition exists.
fn declare(file: &ComposeFile, network: &str, run: &mut Run) {
    let external = || {
        let definition = Mapping::new();
        definition.set("external", true);
        definition
    };
    let external_value = || {
        let mut definition = serde_norway::Mapping::new();
        definition.insert(Value::from("external"), Value::Bool(true));
        Value::Mapping(definition)
    };
    match file.root.get("networks") {
        Some(top) if top.as_mapping().is_some() => {
            let Some(top) = top.as_mapping() else { return };
            if top.contains_key(network) || !run.may_edit(top, "top-level networks") {
                return;
            }
            top.set(network, external());
            run.expected
                .set(&path([key("networks"), key(network)]), external_value());
        }
        None => set_top_level(file, network, external(), external_value(), run),
        Some(top) if top.as_scalar().is_some_and(|s| s.is_null()) => {
            set_top_level(file, network, external(), external_value(), run);
        }
        Some(_) => {
            run.warn(format!(
                "top-level networks cannot be edited (not a mapping); declare {network} as external yourself"
            ));
            return;
        }
    }
    run.change(format!("networks: declared {network} as external"));
}

fn set_top_level(
    file: &ComposeFile,
    network: &str,
    definition: Mapping,
    definition_value: Value,
    run: &mut Run,
) {
    let networks = Mapping::new();
    networks.set(network, definition);
    file.root.set("networks", networks);
    let mut plain = serde_norway::Mapping::new();
    plain.insert(Value::from(network), definition_value);
    run.expected
        .set(&path([key("networks")]), Value::Mapping(plain));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joinable_network_names() {
        for ok in ["proxy", "swag_net", "a.b-c", "Proxy1"] {
            assert!(is_joinable_network(ok), "{ok}");
        }
        for bad in [
            "", "-x", "a b", "a:b", "1234", "true", "null", "default", "host", "none", "bridge",
            "x{", "ü",
        ] {
            assert!(!is_joinable_network(bad), "{bad}");
        }
    }
}
