//! Property tests of every parser of this crate: random text and mangled real fixtures
//! (truncated, bytes flipped, lines duplicated, dropped, shuffled, huge lines, CR, NUL,
//! U+FFFD, structurally mangled JSON) never panic, always return (within the watchdog's
//! deadline), and keep what each parser promises (record counts bounded by the input,
//! positions inside the input, round trips).

mod support;

use crate::{
    compose_ps, docker_network, docker_ps, docker_time, journal, nginx_conf, ss, swag_conf, table,
    tokens,
};
use proptest::prelude::*;
use support::{config, finishes, fixture_texts, inputs, json_mangled, line_count, noise};

/// `{` and `[` in `text`: no JSON parser finds more objects than that.
fn opens(text: &str) -> usize {
    text.matches(['{', '[']).count().max(1)
}

fn docker() -> Vec<String> {
    fixture_texts(&["docker"])
}

fn system() -> Vec<String> {
    fixture_texts(&["system"])
}

fn swag() -> Vec<String> {
    fixture_texts(&["swag", "swag/defaults"])
}

proptest! {
    #![proptest_config(config(192))]

    #[test]
    fn ss_and_netstat(text in inputs(system())) {
        let (a, b) = finishes(&text, |t| (ss::parse_ss(&t).map(|v| v.len()), ss::parse_netstat(&t).map(|v| v.len())));
        if let Ok(n) = a { prop_assert!(n <= line_count(&text)); }
        if let Ok(n) = b { prop_assert!(n <= line_count(&text)); }
    }

    #[test]
    fn ss_fields(text in noise()) {
        finishes(&text, |t| {
            let _ = ss::parse_endpoint(&t);
            let _ = ss::parse_users(&t);
        });
    }

    #[test]
    fn token_spans_point_into_the_line(text in noise()) {
        for (at, token) in tokens::spans(&text) {
            prop_assert_eq!(&text[at..at + token.len()], token);
            prop_assert!(!token.is_empty() && !token.contains(char::is_whitespace));
        }
    }

    #[test]
    fn docker_ps_and_its_fields(text in inputs(docker())) {
        let n = finishes(&text, |t| {
            for line in t.lines().take(50) {
                let _ = docker_ps::parse_ports(line);
                let _ = docker_ps::parse_labels(line);
                let _ = docker_ps::parse_status(line);
                let _ = docker_ps::parse_size(line);
            }
            docker_ps::parse_ps(&t).map(|v| v.len())
        });
        if let Ok(n) = n { prop_assert!(n <= line_count(&text)); }
    }

    #[test]
    fn docker_ps_json(text in json_mangled(docker())) {
        let n = finishes(&text, |t| docker_ps::parse_ps(&t).map(|v| v.len()));
        if let Ok(n) = n { prop_assert!(n <= opens(&text)); }
    }

    #[test]
    fn tables(text in inputs(docker())) {
        let t = finishes(&text, |t| table::parse_table(&t, "docker"));
        if let Ok(t) = t {
            prop_assert!(t.rows.len() <= line_count(&text));
            for row in &t.rows {
                prop_assert!(row.line >= 1 && row.line <= line_count(&text));
            }
        }
    }

    #[test]
    fn docker_times(text in noise()) {
        if let Some(out) = docker_time::rfc3339_from_go_time(&text) {
            prop_assert!(docker_time::is_rfc3339(&out), "{out:?} from {text:?}");
        }
    }

    #[test]
    fn docker_networks(text in inputs(docker())) {
        finishes(&text, |t| {
            let _ = docker_network::parse_network_ls(&t);
            let _ = docker_network::parse_network_inspect(&t);
        });
    }

    #[test]
    fn docker_networks_json(text in json_mangled(docker())) {
        let (a, b) = finishes(&text, |t| (
            docker_network::parse_network_ls(&t).map(|v| v.len()),
            docker_network::parse_network_inspect(&t).map(|v| v.len()),
        ));
        if let Ok(n) = a { prop_assert!(n <= opens(&text)); }
        if let Ok(n) = b { prop_assert!(n <= opens(&text)); }
    }

    #[test]
    fn journal_entries(text in prop_oneof![inputs(system()), json_mangled(system())]) {
        let n = finishes(&text, |t| journal::parse_journal_json(&t).map(|v| v.len()));
        if let Ok(n) = n { prop_assert!(n <= opens(&text)); }
    }

    /// A `since` that is accepted comes out as letters, digits, blanks, `:` and `-` only
    /// (it reaches `journalctl --since` as one argument).
    #[test]
    fn journal_since_is_plain(text in prop_oneof![noise(), "[0-9 a-z:T-]{0,24}"]) {
        if let Ok(out) = journal::journal_since(&text) {
            prop_assert!(out.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | ':' | '-')), "{out:?}");
        }
    }

    #[test]
    fn compose_ps(text in prop_oneof![inputs(docker()), json_mangled(docker())]) {
        let (a, b, c) = finishes(&text, |t| (
            compose_ps::parse_compose_ps_json(&t).map(|v| v.len()),
            compose_ps::parse_compose_ps_table(&t, None).map(|v| v.len()),
            compose_ps::parse_compose_ps_table(&t, Some("compose_test")).map(|v| v.len()),
        ));
        if let Ok(n) = a { prop_assert!(n <= opens(&text)); }
        if let Ok(n) = b { prop_assert!(n <= line_count(&text)); }
        if let Ok(n) = c { prop_assert!(n <= line_count(&text)); }
    }

    #[test]
    fn compose_names_and_ports(text in noise(), project in "[a-z_-]{0,8}") {
        let ports = compose_ps::published_ports(&text);
        prop_assert!(ports.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
        if let Some(service) = compose_ps::service_from_container_name(&text, Some(&project)) {
            prop_assert!(text.contains(&service));
        }
        if let Some(service) = compose_ps::service_from_container_name(&text, None) {
            prop_assert!(text.contains(&service));
        }
    }

    #[test]
    fn nginx_confs(text in inputs(swag())) {
        let conf = finishes(&text, |t| nginx_conf::parse_nginx_conf(&t));
        let lines = text.split('\n').count();
        for d in nginx_conf::flatten(&conf.directives) {
            prop_assert!(d.line >= 1 && d.line <= lines, "line {} of {}", d.line, lines);
        }
    }

    #[test]
    fn swag_confs(text in inputs(swag()), name in prop_oneof![
        Just("x.subdomain.conf".to_string()),
        Just("y.subfolder.conf.sample".to_string()),
        noise(),
    ]) {
        let (conf, sample) = finishes(&text, move |t| {
            let _ = swag_conf::header_version_date(&t);
            let _ = swag_conf::conf_name(&name);
            (swag_conf::parse_conf(&name, &t), swag_conf::parse_conf("_template.subdomain.conf.sample", &t))
        });
        prop_assert!(!(swag_conf::version_older(&conf, &sample) && swag_conf::version_older(&sample, &conf)));
        prop_assert!(!swag_conf::version_older(&conf, &conf));
    }
}

/// A random nginx directive tree, at most `depth` blocks deep.
fn directive_tree(depth: u32) -> impl Strategy<Value = Vec<nginx_conf::Directive>> {
    let word = prop_oneof!["[a-z_]{1,12}", any::<String>(), noise(),];
    let leaf =
        (word.clone(), prop::collection::vec(word.clone(), 0..4)).prop_map(|(name, args)| {
            nginx_conf::Directive {
                name,
                args,
                line: 0,
                block: None,
            }
        });
    let tree = leaf.prop_recursive(depth, 48, 6, move |inner| {
        (
            "[a-z_]{1,12}",
            prop::collection::vec(word.clone(), 0..3),
            prop::collection::vec(inner, 0..6),
        )
            .prop_map(|(name, args, children)| nginx_conf::Directive {
                name,
                args,
                line: 0,
                block: Some(children),
            })
    });
    prop::collection::vec(tree, 0..8)
}

/// An nginx word as a double-quoted string: `"` and `\` escaped, the rest as is.
fn quote(word: &str) -> String {
    let mut out = String::from("\"");
    for c in word.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn render(directives: &[nginx_conf::Directive], indent: usize, out: &mut String) {
    for d in directives {
        out.push_str(&" ".repeat(indent));
        out.push_str(&quote(&d.name));
        for a in &d.args {
            out.push(' ');
            out.push_str(&quote(a));
        }
        match &d.block {
            None => out.push_str(";\n"),
            Some(children) => {
                out.push_str(" {\n");
                render(children, indent + 4, out);
                out.push_str(&" ".repeat(indent));
                out.push_str("}\n");
            }
        }
    }
}

fn without_lines(directives: &mut [nginx_conf::Directive]) {
    for d in directives {
        d.line = 0;
        if let Some(children) = &mut d.block {
            without_lines(children);
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// parse(render(tree)) == tree, with no problems: every word survives quoting,
    /// whatever characters it holds.
    #[test]
    fn nginx_round_trip(tree in directive_tree(4)) {
        let mut text = String::new();
        render(&tree, 0, &mut text);
        let mut conf = nginx_conf::parse_nginx_conf(&text);
        prop_assert!(conf.problems.is_empty(), "{:?} in {text:?}", conf.problems);
        without_lines(&mut conf.directives);
        prop_assert_eq!(conf.directives, tree);
    }
}
