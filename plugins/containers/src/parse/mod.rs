//! Pure parsers of the docker CLI outputs the containers plugin collects over SSH.
//!
//! One module per command: [`ps`] (`docker ps --format '{{json .}}'`), [`stats`]
//! (`docker stats --no-stream`, JSON lines or the table), [`logs`] (`docker logs
//! [--timestamps]`), [`inspect`] (`docker inspect`), plus [`names`] (validation of container
//! references and shell-word splitting of exec command lines) and [`table`] (the column
//! layout of the CLI's aligned tables). [`ps`], [`table`] and the timestamp helpers are
//! shared with other plugins: they live in `infrastructor-parsers` and are re-exported here.
//! Every parser is a plain function from the command's
//! text to typed, serde-serialisable structs, unit-tested natively on the real outputs in
//! `tests/fixtures/docker`. A parser never panics on odd input and never answers an empty
//! success for output it does not understand: it returns a [`ParseError`] naming the command
//! (and the line, where there is one), e.g. `docker ps: line 3: no "ID"`. Output that is
//! legitimately empty (no containers, no log lines) is an empty success.

pub mod inspect;
pub mod logs;
pub mod names;
pub mod stats;

// The `docker ps` parser, the CLI table layout and docker's timestamps are shared with other
// plugins and live in `infrastructor-parsers`; re-exported so `parse::ps::parse_ps`,
// `super::table::parse_table` etc. keep working.
pub use infrastructor_parsers::docker_ps as ps;
pub use infrastructor_parsers::docker_time::{is_rfc3339, rfc3339_from_go_time};
pub use infrastructor_parsers::table;
pub use infrastructor_sdk::text::ParseError;

#[cfg(test)]
pub(crate) use infrastructor_sdk::testing::{fixture, fixture_dir};

#[cfg(test)]
mod tests {
    use super::*;

    /// Every parser on prefixes and mangled copies of every docker fixture: errors are
    /// fine, panics are not.
    #[test]
    fn no_parser_panics_on_mangled_input() {
        let texts: Vec<String> = fixture_dir("docker")
            .iter()
            .map(|f| fixture(&format!("docker/{f}")))
            .collect();
        assert!(texts.len() >= 19);
        let parsers: &[fn(&str)] = &[
            |t| drop(ps::parse_ps(t)),
            |t| drop(ps::parse_ports(t)),
            |t| drop(ps::parse_labels(t)),
            |t| drop(ps::parse_status(t)),
            |t| drop(ps::parse_size(t)),
            |t| drop(stats::parse_stats(t)),
            |t| drop(stats::parse_stats_table(t)),
            |t| drop(logs::parse_logs(t, true)),
            |t| drop(logs::parse_logs(t, false)),
            |t| drop(inspect::parse_inspect(t)),
            |t| drop(names::validate_container_ref(t)),
            |t| drop(names::split_command(t)),
            |t| drop(table::parse_table(t, "docker")),
            |t| drop(rfc3339_from_go_time(t)),
            |t| {
                let _ = is_rfc3339(t);
            },
        ];
        for text in &texts {
            let mut variants = infrastructor_sdk::testing::mangled_variants(text, 16);
            variants.push(text.replace('/', ""));
            variants.push(text.replace("->", "-"));
            variants.push(text.replace('"', ""));
            variants.push(text.replace('0', "99999"));
            for v in &variants {
                for p in parsers {
                    p(v);
                }
            }
        }
    }
}
