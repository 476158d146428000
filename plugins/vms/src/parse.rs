//! Pure parsers of `virsh list --all` and `virsh dominfo`, and the VM name rules.

use infrastructor_sdk::text::ParseError;
use serde::Serialize;

/// The pattern of a VM name in a path: libvirt's names minus what a path or a shell could
/// misread (no `/`, no spaces, not starting with `.` or `-`).
pub const VM_NAME_PATTERN: &str = r"^[A-Za-z0-9_][A-Za-z0-9_.+:-]{0,127}$";

/// Whether `name` is an acceptable VM name ([`VM_NAME_PATTERN`]).
pub fn is_vm_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.+:-".contains(c))
}

/// One VM of `virsh list --all`.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Vm {
    /// The running domain's id; none when it is not running.
    pub id: Option<u32>,
    /// The name.
    pub name: String,
    /// `running`, `shut off`, `paused`…
    pub state: String,
}

/// Parses `virsh list --all`: the header gives the columns' positions.
pub fn parse_list(text: &str) -> Result<Vec<Vm>, ParseError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Ok(Vec::new());
    };
    let (Some(name_at), Some(state_at)) = (header.find("Name"), header.find("State")) else {
        return Err(ParseError::at(
            "virsh list",
            1,
            "no `Name` and `State` header",
        ));
    };
    if state_at <= name_at {
        return Err(ParseError::at("virsh list", 1, "unexpected header"));
    }
    let mut vms = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.trim_start().starts_with('-') && line.trim().chars().all(|c| c == '-') {
            continue;
        }
        let cut = |from: usize, to: usize| line.get(from..to.min(line.len())).unwrap_or("").trim();
        let id = cut(0, name_at);
        let name = cut(name_at, state_at);
        let state = line.get(state_at..).unwrap_or("").trim();
        if name.is_empty() || state.is_empty() {
            return Err(ParseError::at(
                "virsh list",
                i + 3,
                "a row without a name or state",
            ));
        }
        vms.push(Vm {
            id: id.parse().ok(),
            name: name.to_owned(),
            state: state.to_owned(),
        });
    }
    Ok(vms)
}

/// `virsh dominfo`, parsed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, schemars::JsonSchema)]
pub struct DomInfo {
    /// Running id.
    pub id: Option<u32>,
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: Option<String>,
    /// `linux`, `hvm`…
    pub os_type: Option<String>,
    /// `running`, `shut off`…
    pub state: Option<String>,
    /// Virtual CPUs.
    pub cpus: Option<u32>,
    /// CPU time used, seconds.
    pub cpu_time_secs: Option<f64>,
    /// Maximum memory, bytes.
    pub max_memory_bytes: Option<u64>,
    /// Memory in use, bytes.
    pub used_memory_bytes: Option<u64>,
    /// Whether its definition persists.
    pub persistent: Option<bool>,
    /// Whether it starts with the host.
    pub autostart: Option<bool>,
    /// Whether a managed save image exists.
    pub managed_save: Option<bool>,
    /// The security model (`selinux`, `apparmor`, `none`…).
    pub security_model: Option<String>,
    /// The security label.
    pub security_label: Option<String>,
    /// Every field as virsh printed it.
    pub fields: std::collections::BTreeMap<String, String>,
}

fn kib(v: &str) -> Option<u64> {
    let n: u64 = v.strip_suffix("KiB")?.trim().parse().ok()?;
    n.checked_mul(1024)
}

fn yes(v: &str) -> Option<bool> {
    match v {
        "yes" | "enable" | "enabled" => Some(true),
        "no" | "disable" | "disabled" => Some(false),
        _ => None,
    }
}

/// Parses `virsh dominfo` (`Key:   value` lines).
pub fn parse_dominfo(text: &str) -> Result<DomInfo, ParseError> {
    let mut info = DomInfo::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        info.fields.insert(key.to_owned(), value.to_owned());
        match key {
            "Id" => info.id = value.parse().ok(),
            "Name" => info.name = value.to_owned(),
            "UUID" => info.uuid = Some(value.to_owned()),
            "OS Type" => info.os_type = Some(value.to_owned()),
            "State" => info.state = Some(value.to_owned()),
            "CPU(s)" => info.cpus = value.parse().ok(),
            "CPU time" => info.cpu_time_secs = value.trim_end_matches('s').parse().ok(),
            "Max memory" => info.max_memory_bytes = kib(value),
            "Used memory" => info.used_memory_bytes = kib(value),
            "Persistent" => info.persistent = yes(value),
            "Autostart" => info.autostart = yes(value),
            "Managed save" => info.managed_save = yes(value),
            "Security model" => {
                info.security_model = Some(value.to_owned()).filter(|v| !v.is_empty())
            }
            "Security label" => {
                info.security_label = Some(value.to_owned()).filter(|v| !v.is_empty())
            }
            _ => {}
        }
    }
    if info.name.is_empty() {
        return Err(ParseError::new("virsh dominfo", "no `Name:` line"));
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::{fixture, fixture_dir, mangled_variants};

    #[test]
    fn list_with_running_and_shut_off() {
        let text = " Id   Name         State\n-------------------------------\n 1    test         running\n -    my.vm-2      shut off\n";
        let vms = parse_list(text).expect("list");
        assert_eq!(vms.len(), 2);
        assert_eq!(
            vms[0],
            Vm {
                id: Some(1),
                name: "test".into(),
                state: "running".into()
            }
        );
        assert_eq!(vms[1].id, None);
        assert_eq!(vms[1].state, "shut off");
        let fx = fixture("vms/virsh-list_and_nodeinfo_libvirt-test.txt");
        let list_part = fx.split("\n\n").next().expect("list part");
        let vms = parse_list(list_part).expect("fixture");
        assert_eq!(
            vms,
            [Vm {
                id: Some(1),
                name: "test".into(),
                state: "running".into()
            }]
        );
        assert!(parse_list("").expect("empty").is_empty());
        assert!(parse_list("garbage\n").is_err());
    }

    #[test]
    fn dominfo_from_the_fixture() {
        let fx = fixture("vms/virsh-lifecycle-transcript_list_dominfo_libvirt-test.txt");
        let block: String = fx
            .lines()
            .skip_while(|l| !l.starts_with("Id:"))
            .take_while(|l| !l.is_empty())
            .map(|l| format!("{l}\n"))
            .collect();
        let info = parse_dominfo(&block).expect("dominfo");
        assert_eq!(info.name, "fc4");
        assert_eq!(info.id, Some(2));
        assert_eq!(info.cpus, Some(1));
        assert_eq!(info.max_memory_bytes, Some(261_072 * 1024));
        assert_eq!(info.used_memory_bytes, Some(131_072 * 1024));
        assert_eq!(info.persistent, Some(true));
        assert_eq!(info.autostart, Some(false));
        assert_eq!(info.security_model.as_deref(), Some("testSecurity"));
        assert!(parse_dominfo("error: failed to get domain 'x'\n").is_err());
    }

    #[test]
    fn names() {
        for ok in ["test", "fc4", "my.vm-2", "win_10+x", "a:b"] {
            assert!(is_vm_name(ok), "{ok}");
        }
        for bad in ["", "../x", "a/b", "..", ".x", "-x", "a b", "a;b", "$(id)"] {
            assert!(!is_vm_name(bad), "{bad}");
        }
    }

    #[test]
    fn no_panic_on_mangled_fixtures() {
        for f in fixture_dir("vms") {
            for v in mangled_variants(&fixture(&format!("vms/{f}")), 8) {
                let _ = parse_list(&v);
                let _ = parse_dominfo(&v);
            }
        }
    }
}
