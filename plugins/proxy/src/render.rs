//! Line edits of a conf's text that keep everything else byte for byte: the upstream
//! (`set $upstream_app/port/proto` lines that are not commented out) and the auth method
//! (SWAG's include lines for Authelia, Authentik, LDAP and Tinyauth and the two basic-auth
//! lines, commented in or out). A sample or the template becomes a conf this way, and an
//! existing conf is changed this way.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The upstream protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// `http`.
    Http,
    /// `https`.
    Https,
}

impl Proto {
    /// `http` / `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Http => "http",
            Proto::Https => "https",
        }
    }
}

/// How SWAG authenticates requests to a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Auth {
    /// No authentication in front of the service.
    None,
    /// Authelia (`authelia-server.conf` + `authelia-location.conf`).
    Authelia,
    /// Authentik.
    Authentik,
    /// LDAP.
    Ldap,
    /// Tinyauth.
    Tinyauth,
    /// HTTP basic auth (`auth_basic` + `auth_basic_user_file`).
    Basic,
}

impl Auth {
    const INCLUDED: [Auth; 4] = [Auth::Authelia, Auth::Authentik, Auth::Ldap, Auth::Tinyauth];

    fn prefix(self) -> &'static str {
        match self {
            Auth::Authelia => "authelia-",
            Auth::Authentik => "authentik-",
            Auth::Ldap => "ldap-",
            Auth::Tinyauth => "tinyauth-",
            Auth::None | Auth::Basic => "",
        }
    }
}

/// The new upstream values; `None` keeps a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upstream {
    /// `set $upstream_app`.
    pub app: Option<String>,
    /// `set $upstream_port`.
    pub port: Option<u16>,
    /// `set $upstream_proto`.
    pub proto: Option<Proto>,
}

/// Whether `app` is a host name or IPv4 address nginx accepts as a bare word.
pub fn is_upstream_app(app: &str) -> bool {
    let mut chars = app.chars();
    app.len() <= 253
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Splits a line (with its end, as `split_inclusive` gives it) into its indentation, its
/// text and its line end.
fn indent(line: &str) -> (&str, &str, &str) {
    let text = line.trim_end_matches(['\n', '\r']);
    let end = &line[text.len()..];
    let body = text.trim_start();
    (&text[..text.len() - body.len()], body, end)
}

/// The directive of a line without its comment marker, and whether it was commented.
fn uncommented(body: &str) -> (bool, &str) {
    match body.strip_prefix('#') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, body),
    }
}

/// Replaces the value of every active `set $upstream_<what> VALUE;` line. Errors when the
/// text has none to change.
fn set_var(text: &str, var: &str, value: &str) -> Result<String, String> {
    let needle = format!("set $upstream_{var}");
    let mut changed = 0;
    let out: Vec<String> = text
        .split_inclusive('\n')
        .map(|line| {
            let (ws, body, end) = indent(line);
            let Some(rest) = body.strip_prefix(&needle) else {
                return line.to_owned();
            };
            if !rest.starts_with([' ', '\t']) {
                return line.to_owned();
            }
            let Some(semi) = rest.find(';') else {
                return line.to_owned();
            };
            changed += 1;
            format!("{ws}{needle} {value}{}{end}", &rest[semi..])
        })
        .collect();
    if changed == 0 {
        return Err(format!(
            "the conf has no active `set $upstream_{var}` line to change"
        ));
    }
    Ok(out.concat())
}

/// Sets the upstream values given. Errors name what cannot be changed.
pub fn set_upstream(text: &str, upstream: &Upstream) -> Result<String, String> {
    let mut text = text.to_owned();
    if let Some(app) = &upstream.app {
        if !is_upstream_app(app) {
            return Err(format!("`{app}` is not a host name or IPv4 address"));
        }
        text = set_var(&text, "app", app)?;
    }
    if let Some(port) = upstream.port {
        if port == 0 {
            return Err("the upstream port must be 1-65535".to_owned());
        }
        text = set_var(&text, "port", &port.to_string())?;
    }
    if let Some(proto) = upstream.proto {
        text = set_var(&text, "proto", proto.as_str())?;
    }
    Ok(text)
}

/// Which auth method a line belongs to (commented or not).
fn auth_of(directive: &str) -> Option<Auth> {
    if directive.starts_with("auth_basic ") || directive.starts_with("auth_basic_user_file ") {
        return Some(Auth::Basic);
    }
    let path = directive.strip_prefix("include ")?.trim_start();
    let file = path.trim_end_matches(';').rsplit('/').next()?;
    Auth::INCLUDED
        .into_iter()
        .find(|a| file.starts_with(a.prefix()) && file.ends_with(".conf"))
}

/// Turns `auth` on (its lines uncommented) and every other method off (commented out).
/// Errors when the text has no lines for `auth`.
pub fn set_auth(text: &str, auth: Auth) -> Result<String, String> {
    let mut found = false;
    let out: Vec<String> = text
        .split_inclusive('\n')
        .map(|line| {
            let (ws, body, end) = indent(line);
            let (commented, directive) = uncommented(body);
            let Some(method) = auth_of(directive) else {
                return line.to_owned();
            };
            // `auth_basic off;` is not a way to turn basic auth on.
            if directive.starts_with("auth_basic off") {
                return line.to_owned();
            }
            let want = method == auth;
            found |= want;
            match (want, commented) {
                (true, true) => format!("{ws}{directive}{end}"),
                (false, false) => format!("{ws}#{directive}{end}"),
                _ => line.to_owned(),
            }
        })
        .collect();
    if auth != Auth::None && !found {
        return Err(format!(
            "the conf has no {} lines to enable",
            serde_json::to_value(auth)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ));
    }
    Ok(out.concat())
}

/// The template made a conf for `service`: its `<container_name>` placeholders replaced.
/// The upstream lines then still say `<port_number>`/`<http or https>`, so a conf from the
/// template must get a full [`Upstream`].
pub fn from_template(template: &str, service: &str) -> String {
    template.replace("<container_name>", service)
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::{fixture, fixture_dir};

    const CONF: &str = "server {\n    server_name x.*;\n    #include /config/nginx/authelia-server.conf;\n    location / {\n        #auth_basic \"Restricted\";\n        #auth_basic_user_file /config/nginx/.htpasswd;\n        #include /config/nginx/authelia-location.conf;\n        set $upstream_app x;\n        set $upstream_port 80;\n        set $upstream_proto http;\n        #set $upstream_app commented;\n        proxy_pass $upstream_proto://$upstream_app:$upstream_port;\n    }\n}\n";

    #[test]
    fn upstream_lines_change_and_nothing_else() {
        let up = Upstream {
            app: Some("10.0.0.5".into()),
            port: Some(8443),
            proto: Some(Proto::Https),
        };
        let out = set_upstream(CONF, &up).expect("set");
        assert!(out.contains("        set $upstream_app 10.0.0.5;\n"));
        assert!(out.contains("set $upstream_port 8443;"));
        assert!(out.contains("set $upstream_proto https;"));
        assert!(out.contains("#set $upstream_app commented;"));
        assert_eq!(out.lines().count(), CONF.lines().count());
        for bad in ["a;b", "x y", "$host", "", "-x"] {
            let e = set_upstream(
                CONF,
                &Upstream {
                    app: Some(bad.into()),
                    ..Upstream::default()
                },
            );
            assert!(e.is_err(), "{bad}");
        }
        assert!(set_upstream("server {}\n", &up).is_err());
    }

    #[test]
    fn auth_switches_lines_in_and_out() {
        let authelia = set_auth(CONF, Auth::Authelia).expect("authelia");
        assert!(authelia.contains("    include /config/nginx/authelia-server.conf;\n"));
        assert!(authelia.contains("        include /config/nginx/authelia-location.conf;\n"));
        assert!(authelia.contains("#auth_basic \"Restricted\";"));
        let basic = set_auth(&authelia, Auth::Basic).expect("basic");
        assert!(basic.contains("        auth_basic \"Restricted\";\n"));
        assert!(basic.contains("#include /config/nginx/authelia-server.conf;"));
        assert_eq!(set_auth(&basic, Auth::None).expect("none"), CONF);
        assert!(set_auth(CONF, Auth::Tinyauth).is_err());
    }

    #[test]
    fn every_sample_takes_an_upstream_and_each_auth_it_offers() {
        let mut with_upstream = 0;
        for name in fixture_dir("swag") {
            if !name.ends_with(".conf.sample") {
                continue;
            }
            let text = fixture(&format!("swag/{name}"));
            let text = from_template(&text, "svc");
            let has_set = text
                .lines()
                .any(|l| l.trim_start().starts_with("set $upstream_app "));
            let up = Upstream {
                app: Some("192.168.1.9".into()),
                port: Some(8080),
                proto: Some(Proto::Http),
            };
            let set = text
                .lines()
                .any(|l| l.trim_start().starts_with("set $upstream_port "));
            let outcome = set_upstream(&text, &up);
            if has_set && set {
                let out = outcome.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(out.contains("set $upstream_app 192.168.1.9;"), "{name}");
                with_upstream += 1;
            }
            for auth in [
                Auth::Authelia,
                Auth::Authentik,
                Auth::Ldap,
                Auth::Tinyauth,
                Auth::Basic,
            ] {
                if let Ok(on) = set_auth(&text, auth) {
                    assert_eq!(
                        set_auth(&on, Auth::None).expect("off"),
                        set_auth(&text, Auth::None).expect("off"),
                        "{name}"
                    );
                }
            }
        }
        assert!(with_upstream > 300, "{with_upstream}");
    }
}
