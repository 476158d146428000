//! Pure parsers of remote command outputs that more than one built-in plugin reads.
//!
//! One module per command or format:
//!
//! * [`ss`]: `ss -tulpn` and the `netstat -tulpn` fallback (listening sockets);
//! * [`docker_ps`]: `docker ps --format '{{json .}}'`, and the `Status`, `Ports`, `Labels`
//!   and `Size` texts docker prints in it and in its table;
//! * [`docker_network`]: `docker network ls --format '{{json .}}'` and `docker network
//!   inspect`;
//! * [`journal`]: `journalctl -o json` entries and journalctl's `--since` values;
//! * [`compose_ps`]: `docker compose ps --format json` (a JSON array or JSON lines) and the
//!   `docker compose ps` / `docker-compose ps` (v1) tables;
//! * [`nginx_conf`]: nginx configuration files, as a tree of directives with their lines;
//! * [`swag_conf`]: SWAG (linuxserver/swag) proxy confs and their samples: version, server
//!   names, listen ports, upstream, locations, enabled authentication (on [`nginx_conf`]);
//!
//! and the helpers they share: [`table`] (the column layout of the docker CLI's aligned
//! tables), [`docker_time`] (docker's timestamps), [`tokens`] (whitespace tokens with their
//! positions).
//!
//! Every parser is a plain function from the command's text to typed, serde-serialisable
//! structs, unit-tested natively on the real outputs in the repository's `tests/fixtures`.
//! A parser never panics on odd input and never answers an empty success for output it does
//! not understand: it returns a [`ParseError`] naming the command (and the line, where there
//! is one), e.g. `docker ps: line 3: no "ID"`. Output that is legitimately empty (no
//! containers, no networks) is an empty success. The configuration-file parsers
//! ([`nginx_conf`], [`swag_conf`]) are lenient instead, as a file is read for what it holds:
//! they always return what they could read, with a list of problems naming their lines.

pub mod compose_ps;
pub mod docker_network;
pub mod docker_ps;
pub mod docker_time;
pub mod journal;
mod json;
pub mod nginx_conf;
pub mod ss;
pub mod swag_conf;
pub mod table;
pub mod tokens;

pub use infrastructor_sdk::text::ParseError;

#[cfg(test)]
mod tests {
    use infrastructor_sdk::testing::{fixture, fixture_dir, mangled_variants, root};

    /// Every parser on prefixes and mangled copies of every docker fixture, of the system
    /// fixtures (where the `ss` outputs are) and of the SWAG confs: errors are fine, panics
    /// are not.
    #[test]
    fn no_parser_panics_on_mangled_input() {
        let mut texts: Vec<String> = Vec::new();
        for dir in ["docker", "system", "swag", "swag/defaults"] {
            for f in fixture_dir(dir) {
                if std::path::Path::new(&format!("{}/{dir}/{f}", root())).is_file() {
                    texts.push(fixture(&format!("{dir}/{f}")));
                }
            }
        }
        assert!(texts.len() >= 400, "{}", texts.len());
        let parsers: &[fn(&str)] = &[
            |t| drop(crate::ss::parse_ss(t)),
            |t| drop(crate::ss::parse_netstat(t)),
            |t| drop(crate::ss::parse_endpoint(t)),
            |t| drop(crate::ss::parse_users(t)),
            |t| drop(crate::tokens::spans(t)),
            |t| drop(crate::docker_ps::parse_ps(t)),
            |t| drop(crate::docker_ps::parse_ports(t)),
            |t| drop(crate::docker_ps::parse_labels(t)),
            |t| drop(crate::docker_ps::parse_status(t)),
            |t| drop(crate::docker_ps::parse_size(t)),
            |t| drop(crate::table::parse_table(t, "docker")),
            |t| drop(crate::docker_time::rfc3339_from_go_time(t)),
            |t| {
                let _ = crate::docker_time::is_rfc3339(t);
            },
            |t| drop(crate::docker_network::parse_network_ls(t)),
            |t| drop(crate::docker_network::parse_network_inspect(t)),
            |t| drop(crate::compose_ps::parse_compose_ps_json(t)),
            |t| drop(crate::compose_ps::parse_compose_ps_table(t, None)),
            |t| {
                drop(crate::compose_ps::parse_compose_ps_table(
                    t,
                    Some("compose_test"),
                ))
            },
            |t| drop(crate::compose_ps::published_ports(t)),
            |t| drop(crate::compose_ps::service_from_container_name(t, None)),
            |t| drop(crate::compose_ps::service_from_container_name(t, Some("a"))),
            |t| drop(crate::nginx_conf::parse_nginx_conf(t)),
            |t| drop(crate::swag_conf::parse_conf("x.subdomain.conf", t)),
            |t| drop(crate::swag_conf::parse_conf("x.subfolder.conf.sample", t)),
            |t| drop(crate::swag_conf::conf_name(t)),
        ];
        for text in &texts {
            let mut variants = mangled_variants(text, 8);
            variants.push(text.replace("->", "-"));
            variants.push(text.replace('"', ""));
            variants.push(text.replace('0', "99999"));
            variants.push(text.replace('#', ""));
            variants.push(text.replace('}', ""));
            variants.push(text.replace('{', ""));
            variants.push(text.replace(';', "{"));
            for v in &variants {
                for p in parsers {
                    p(v);
                }
            }
        }
    }
}

/// Property tests (`tests/props.rs`), compiled into this crate's unit-test binary: one test
/// binary per crate, and no second build of the library for an integration test.
#[cfg(test)]
#[path = "../tests/props.rs"]
mod props;
