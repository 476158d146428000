//! Capabilities: what a plugin declares it needs and what the operator grants it.
//!
//! Text form (the same in SDK declarations and in `plugins.<name>.grants`):
//! - `exec:PROGRAM ARG…`: run a remote program; each `ARG` is a literal, `*` (exactly one
//!   argument) or `**` (any number of further arguments, only last). `exec:docker ps **`.
//! - `collector`, `storage`, `registry-read`, `registry-write`, `clock`.
//! - `read-dir:KEY`: read (never write) the host directory the operator names in the
//!   plugin's config under `KEY`, preopened read-only at `/KEY` in the guest.
//!
//! A call is allowed only when it is both declared by the plugin and granted by the
//! operator: [`Grants::effective`] is that intersection.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One capability.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Run remote programs whose argv matches the pattern.
    Exec(ExecPattern),
    /// Use the unified collector.
    Collector,
    /// Plugin-scoped documents and the plugin's own snapshots.
    Storage,
    /// Read the device registry.
    RegistryRead,
    /// Create, change and delete devices (implies read).
    RegistryWrite,
    /// Real wall and monotonic clocks (otherwise the guest sees a frozen clock).
    Clock,
    /// Read-only access to the host directory named by the plugin config key.
    ReadDir(String),
}

/// An argv pattern of an `exec:` capability: a literal program and argument patterns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExecPattern {
    /// The program (`argv[0]`), always literal.
    pub program: String,
    /// The arguments, position by position.
    pub args: Vec<ArgPattern>,
}

/// One argument position of an [`ExecPattern`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArgPattern {
    /// Exactly this argument.
    Literal(String),
    /// Any one argument (`*`).
    Any,
    /// Any number of further arguments (`**`), only last.
    Rest,
}

/// True for a `read-dir:` key: 1–64 lower-case letters, digits and `_`.
fn is_config_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Capability {
    /// Parses the text form; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Capability, String> {
        let text = text.trim();
        if let Some(pattern) = text.strip_prefix("exec:") {
            return ExecPattern::parse(pattern).map(Capability::Exec);
        }
        if let Some(key) = text.strip_prefix("read-dir:") {
            return if is_config_key(key) {
                Ok(Capability::ReadDir(key.to_string()))
            } else {
                Err(format!(
                    "`read-dir:` needs a config key of lower-case letters, digits and `_`, not `{key}`"
                ))
            };
        }
        match text {
            "collector" => Ok(Capability::Collector),
            "storage" => Ok(Capability::Storage),
            "registry-read" => Ok(Capability::RegistryRead),
            "registry-write" => Ok(Capability::RegistryWrite),
            "clock" => Ok(Capability::Clock),
            other => Err(format!(
                "unknown capability `{other}` (expected `exec:PROGRAM ARGS`, `collector`, \
                 `storage`, `registry-read`, `registry-write`, `clock` or `read-dir:KEY`)"
            )),
        }
    }

    /// Checks a capability built from parts (the typed plugin API) as [`Capability::parse`]
    /// checks text: a literal, non-empty program without whitespace; literal arguments
    /// without whitespace; `rest` only last; a valid `read-dir` key.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Capability::Exec(p) => p.check(),
            Capability::ReadDir(key) if !is_config_key(key) => Err(format!(
                "`read-dir:` needs a config key of lower-case letters, digits and `_`, not `{key}`"
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Exec(p) => write!(f, "exec:{p}"),
            Capability::Collector => f.write_str("collector"),
            Capability::Storage => f.write_str("storage"),
            Capability::RegistryRead => f.write_str("registry-read"),
            Capability::RegistryWrite => f.write_str("registry-write"),
            Capability::Clock => f.write_str("clock"),
            Capability::ReadDir(key) => write!(f, "read-dir:{key}"),
        }
    }
}

impl Serialize for Capability {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Capability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Capability::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl ExecPattern {
    /// Parses `PROGRAM ARG…` (whitespace-separated).
    pub fn parse(text: &str) -> Result<ExecPattern, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let Some((program, args)) = words.split_first() else {
            return Err("`exec:` needs a program name".into());
        };
        let pattern = ExecPattern {
            program: (*program).to_string(),
            args: args
                .iter()
                .map(|w| match *w {
                    "*" => ArgPattern::Any,
                    "**" => ArgPattern::Rest,
                    literal => ArgPattern::Literal(literal.to_string()),
                })
                .collect(),
        };
        pattern.check()?;
        Ok(pattern)
    }

    /// Checks the parts (see [`Capability::check`]).
    pub fn check(&self) -> Result<(), String> {
        let plain = |s: &str| !s.is_empty() && !s.chars().any(char::is_whitespace);
        if self.program == "*" || self.program == "**" {
            return Err("the program of an `exec:` pattern must be a literal name".into());
        }
        if !plain(&self.program) {
            return Err(format!(
                "`exec:` needs a program name without spaces, not `{}`",
                self.program
            ));
        }
        for (i, arg) in self.args.iter().enumerate() {
            match arg {
                ArgPattern::Rest if i + 1 != self.args.len() => {
                    return Err("`**` may only be the last element of a pattern".into());
                }
                ArgPattern::Literal(l) if !plain(l) || l == "*" || l == "**" => {
                    return Err(format!(
                        "literal argument `{l}` of `exec:{}` must be non-empty, without spaces",
                        self.program
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The program name the pattern is for.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// True when `argv` (program included) matches the pattern exactly.
    pub fn matches<S: AsRef<str>>(&self, argv: &[S]) -> bool {
        let Some((program, args)) = argv.split_first() else {
            return false;
        };
        if program.as_ref() != self.program {
            return false;
        }
        let mut i = 0;
        for pattern in &self.args {
            match pattern {
                ArgPattern::Rest => return true,
                ArgPattern::Any if i >= args.len() => return false,
                ArgPattern::Any => {}
                ArgPattern::Literal(lit) => {
                    if args.get(i).map(AsRef::as_ref) != Some(lit.as_str()) {
                        return false;
                    }
                }
            }
            i += 1;
        }
        i == args.len()
    }

    /// True when every argv this pattern matches is also matched by `wider`.
    pub fn within(&self, wider: &ExecPattern) -> bool {
        if self.program != wider.program {
            return false;
        }
        let mut i = 0;
        for pattern in &wider.args {
            match pattern {
                ArgPattern::Rest => return true,
                ArgPattern::Any => match self.args.get(i) {
                    Some(ArgPattern::Literal(_)) | Some(ArgPattern::Any) => {}
                    _ => return false,
                },
                ArgPattern::Literal(lit) => match self.args.get(i) {
                    Some(ArgPattern::Literal(mine)) if mine == lit => {}
                    _ => return false,
                },
            }
            i += 1;
        }
        i == self.args.len()
    }
}

impl fmt::Display for ExecPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.program)?;
        for arg in &self.args {
            match arg {
                ArgPattern::Literal(s) => write!(f, " {s}")?,
                ArgPattern::Any => f.write_str(" *")?,
                ArgPattern::Rest => f.write_str(" **")?,
            }
        }
        Ok(())
    }
}

/// The capabilities in force for one plugin: declared ∩ granted.
///
/// This is the only place that decides whether something is allowed; the host's granter asks
/// it for every import, streamed response, collector step and poller run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    effective: Vec<Capability>,
}

impl Grants {
    /// Effective capabilities: a declared capability counts when a grant covers it
    /// (`exec:` patterns: the declared pattern lies within a granted one).
    pub fn effective(declared: &[Capability], granted: &[Capability]) -> Grants {
        let effective = declared
            .iter()
            .filter(|d| granted.iter().any(|g| covers(g, d)))
            .cloned()
            .collect();
        Grants { effective }
    }

    /// All of the declaration, for built-in plugins without an explicit grant.
    pub fn all(declared: &[Capability]) -> Grants {
        Grants {
            effective: declared.to_vec(),
        }
    }

    /// The capabilities in force.
    pub fn list(&self) -> &[Capability] {
        &self.effective
    }

    /// True when `cap` is in force (`registry-write` covers `registry-read`; an `exec`
    /// pattern is in force when it lies within one in force).
    pub fn has(&self, cap: &Capability) -> bool {
        self.effective.iter().any(|c| covers(c, cap))
    }

    /// True when running `argv` is in force.
    pub fn allows_exec<S: AsRef<str>>(&self, argv: &[S]) -> bool {
        self.effective.iter().any(|c| match c {
            Capability::Exec(p) => p.matches(argv),
            _ => false,
        })
    }

    /// True when some `exec:` capability in force is for `program`: a constant script's
    /// declared programs are checked by name, since its arguments are fixed text.
    pub fn allows_program(&self, program: &str) -> bool {
        self.effective.iter().any(|c| match c {
            Capability::Exec(p) => p.program == program,
            _ => false,
        })
    }

    /// The first of `programs` that [`Grants::allows_program`] refuses.
    pub fn first_refused_program<'a>(&self, programs: &'a [String]) -> Option<&'a str> {
        programs
            .iter()
            .find(|p| !self.allows_program(p))
            .map(String::as_str)
    }
}

fn covers(grant: &Capability, wanted: &Capability) -> bool {
    match (grant, wanted) {
        (Capability::Exec(g), Capability::Exec(w)) => w.within(g),
        (Capability::RegistryWrite, Capability::RegistryRead) => true,
        (g, w) => g == w,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(s: &str) -> Capability {
        Capability::parse(s).expect(s)
    }

    fn pat(s: &str) -> ExecPattern {
        ExecPattern::parse(s).expect(s)
    }

    #[test]
    fn parses_and_prints() {
        for s in [
            "exec:docker ps **",
            "exec:zfs list -H *",
            "collector",
            "storage",
            "registry-read",
            "registry-write",
            "clock",
            "read-dir:import_dir",
        ] {
            assert_eq!(cap(s).to_string(), s);
            let json = serde_json::to_string(&cap(s)).expect("json");
            assert_eq!(
                serde_json::from_str::<Capability>(&json).expect("back"),
                cap(s)
            );
        }
        for bad in [
            "exec:",
            "exec:* ps",
            "exec:zfs ** list",
            "network",
            "",
            "read-dir:",
            "read-dir:../etc",
            "read-dir:/etc",
        ] {
            assert!(Capability::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn typed_capabilities_are_checked_like_text() {
        let bad = [
            Capability::Exec(ExecPattern {
                program: String::new(),
                args: vec![],
            }),
            Capability::Exec(ExecPattern {
                program: "docker ps".into(),
                args: vec![],
            }),
            Capability::Exec(ExecPattern {
                program: "zfs".into(),
                args: vec![ArgPattern::Rest, ArgPattern::Any],
            }),
            Capability::Exec(ExecPattern {
                program: "zfs".into(),
                args: vec![ArgPattern::Literal("a b".into())],
            }),
            Capability::ReadDir("../x".into()),
        ];
        for c in bad {
            assert!(c.check().is_err(), "{c:?}");
        }
        assert!(cap("exec:docker ps *").check().is_ok());
    }

    #[test]
    fn exec_patterns_match_argv() {
        let p = pat("docker ps *");
        assert!(p.matches(&["docker", "ps", "-a"]));
        assert!(!p.matches(&["docker", "ps"]));
        assert!(!p.matches(&["docker", "ps", "-a", "-q"]));
        assert!(!p.matches(&["docker", "rm", "-a"]));
        assert!(!p.matches::<&str>(&[]));
        let rest = pat("zfs **");
        assert!(rest.matches(&["zfs"]));
        assert!(rest.matches(&["zfs", "list", "-H", "tank/a b"]));
        assert!(!rest.matches(&["zpool", "list"]));
        assert!(!pat("cat /proc/stat").matches(&["cat", "/etc/shadow"]));
        assert!(pat("uptime").matches(&["uptime"]));
        assert!(!pat("uptime").matches(&["uptime", "-p"]));
    }

    #[test]
    fn declared_must_lie_within_granted() {
        assert!(pat("docker ps *").within(&pat("docker **")));
        assert!(pat("docker ps **").within(&pat("docker **")));
        assert!(!pat("docker **").within(&pat("docker ps **")));
        assert!(!pat("docker ps **").within(&pat("docker ps *")));
        assert!(pat("docker ps -a").within(&pat("docker ps *")));
        assert!(!pat("zfs list").within(&pat("zpool **")));
    }

    #[test]
    fn effective_is_declared_intersect_granted() {
        let declared = vec![
            cap("exec:docker ps **"),
            cap("storage"),
            cap("registry-read"),
        ];
        let granted = vec![cap("exec:docker **"), cap("registry-write")];
        let g = Grants::effective(&declared, &granted);
        assert!(g.allows_exec(&["docker", "ps", "-a"]));
        assert!(
            !g.allows_exec(&["docker", "rm", "x"]),
            "granted but not declared"
        );
        assert!(!g.has(&Capability::Storage), "declared but not granted");
        assert!(g.has(&Capability::RegistryRead), "write covers read");
        assert!(!g.has(&Capability::RegistryWrite), "not declared");
        let none = Grants::effective(&declared, &[]);
        assert!(none.list().is_empty());
    }

    #[test]
    fn scripts_are_allowed_by_program_name_only_when_an_exec_grant_names_it() {
        let declared = vec![cap("exec:cat /proc/*"), cap("exec:df -P"), cap("storage")];
        let partial = Grants::effective(&declared, &[cap("exec:cat **"), cap("storage")]);
        assert!(partial.allows_program("cat"));
        assert!(!partial.allows_program("df"), "declared, not granted");
        assert!(!partial.allows_program("rm"), "neither");
        assert!(!partial.allows_program("storage"), "a non-exec capability");
        let programs = vec!["cat".to_string(), "df".to_string()];
        assert_eq!(partial.first_refused_program(&programs), Some("df"));
        assert_eq!(
            Grants::all(&declared).first_refused_program(&programs),
            None
        );
    }

    fn grants(declared: &[&str], granted: &[&str]) -> Grants {
        let declared: Vec<Capability> = declared.iter().map(|s| cap(s)).collect();
        let granted: Vec<Capability> = granted.iter().map(|s| cap(s)).collect();
        Grants::effective(&declared, &granted)
    }

    #[test]
    fn allows_program_needs_an_exec_pattern_in_force_for_that_program() {
        // The test plugin `remote`'s declaration (tests/plugins/remote).
        let declared = [
            "exec:printf **",
            "exec:sh -c * sh **",
            "exec:cat",
            "exec:sleep *",
            "exec:hostname",
            "collector",
        ];
        let full = grants(&declared, &declared);
        for program in ["printf", "sh", "cat", "sleep", "hostname"] {
            assert!(full.allows_program(program), "{program}");
        }
        // A pattern of any shape counts for its program: literal arguments, `*`, `**`, none.
        assert!(full.allows_program("sleep"), "`sleep *`");
        assert!(full.allows_program("cat"), "bare `cat`");
        // Never declared, so never in force, whatever else is.
        assert!(!full.allows_program("tee"));
        // Exact names only: no prefixes, suffixes, paths or case folding.
        for other in [
            "ca", "cats", "catalog", "/bin/cat", "./cat", "CAT", "cat ", " cat", "", "*", "**",
            "bash", "shh",
        ] {
            assert!(!full.allows_program(other), "{other:?}");
        }
        // Non-exec capabilities never allow a program, even one named like them.
        let only_collector = grants(&declared, &["collector"]);
        assert!(only_collector.has(&Capability::Collector));
        for program in ["printf", "sh", "cat", "collector"] {
            assert!(!only_collector.allows_program(program), "{program}");
        }
        // Partial grants: exactly the granted programs.
        let partial = grants(&declared, &["exec:printf **", "exec:hostname", "collector"]);
        assert!(partial.allows_program("printf"));
        assert!(partial.allows_program("hostname"));
        for program in ["sh", "cat", "sleep"] {
            assert!(!partial.allows_program(program), "{program} is not granted");
        }
        // Granted but not declared: not in force.
        let undeclared = grants(&declared, &["exec:tee **", "exec:cat"]);
        assert!(!undeclared.allows_program("tee"));
        assert!(undeclared.allows_program("cat"));
        // A grant narrower than the declaration covers nothing.
        let narrower = grants(&["exec:docker **"], &["exec:docker ps **"]);
        assert!(!narrower.allows_program("docker"));
        // A wider grant covers the declaration; the program is then allowed.
        let wider = grants(&["exec:docker ps **"], &["exec:docker **"]);
        assert!(wider.allows_program("docker"));
        assert!(!wider.allows_program("dockerd"));
        // Nothing declared or nothing granted: nothing at all.
        assert!(!grants(&declared, &[]).allows_program("printf"));
        assert!(!grants(&[], &declared).allows_program("printf"));
        assert!(!Grants::default().allows_program("printf"));
        // Built-ins get their declaration.
        let all = Grants::all(&[cap("exec:zfs list **"), cap("storage")]);
        assert!(all.allows_program("zfs"));
        assert!(!all.allows_program("zpool"));
    }

    #[test]
    fn argv_patterns_literal_one_and_rest() {
        // A bare program: exactly that argv, no arguments.
        let bare = pat("hostname");
        assert!(bare.matches(&["hostname"]));
        assert!(!bare.matches(&["hostname", "-f"]));
        assert!(!bare.matches::<&str>(&[]));
        assert!(!bare.matches(&["hostnamectl"]));
        assert_eq!(bare.program(), "hostname");

        // `*` is exactly one argument, whatever it holds (empty, spaces, `*`, `**`).
        let one = pat("sleep *");
        for arg in ["5", "", "a b", "*", "**", ";rm -rf /", "--help"] {
            assert!(one.matches(&["sleep", arg]), "{arg:?}");
        }
        assert!(!one.matches(&["sleep"]));
        assert!(!one.matches(&["sleep", "1", "2"]));

        // `*` in the middle and `**` at the end.
        let sh = pat("sh -c * sh **");
        assert!(sh.matches(&["sh", "-c", "echo hi", "sh"]));
        assert!(sh.matches(&["sh", "-c", "echo $1", "sh", "a", "b", "c"]));
        assert!(
            !sh.matches(&["sh", "-c", "echo hi"]),
            "the literal `sh` is required"
        );
        assert!(!sh.matches(&["sh", "-x", "echo hi", "sh"]));
        assert!(!sh.matches(&["sh", "-c", "echo hi", "bash"]));
        assert!(!sh.matches(&["bash", "-c", "echo hi", "sh"]));

        // `**` is zero or more arguments.
        let rest = pat("printf **");
        assert!(rest.matches(&["printf"]));
        assert!(rest.matches(&["printf", "%s", "a", "b"]));
        assert!(!rest.matches(&["print"]));

        // Literals compare exactly (case, whitespace, no globbing).
        let lit = pat("docker ps -a");
        assert!(lit.matches(&["docker", "ps", "-a"]));
        assert!(!lit.matches(&["docker", "ps", "-A"]));
        assert!(!lit.matches(&["docker", "ps", "-a "]));
        assert!(!lit.matches(&["docker", "ps"]));
        assert!(!lit.matches(&["docker", "ps", "-a", "-q"]));
        assert!(!lit.matches(&["Docker", "ps", "-a"]));
        assert!(!pat("docker p*").matches(&["docker", "ps"]), "no globbing");

        // Whitespace between words is only a separator.
        assert_eq!(pat("  docker   ps\t**  ").to_string(), "docker ps **");

        // `**` only last; the program is never a wildcard.
        assert!(ExecPattern::parse("zfs ** list").is_err());
        assert!(ExecPattern::parse("** list").is_err());
        assert!(ExecPattern::parse("* list").is_err());
        assert!(ExecPattern::parse("   ").is_err());
    }

    #[test]
    fn allows_exec_follows_the_patterns_in_force() {
        let g = grants(
            &["exec:sleep *", "exec:sh -c * sh **", "exec:cat"],
            &["exec:sleep *", "exec:sh **"],
        );
        assert!(g.allows_exec(&["sleep", "1"]));
        assert!(!g.allows_exec(&["sleep"]));
        assert!(g.allows_exec(&["sh", "-c", "x", "sh"]));
        assert!(
            !g.allows_exec(&["sh", "-x", "y"]),
            "the declared pattern bounds the wider grant"
        );
        assert!(!g.allows_exec(&["cat"]), "declared, not granted");
        assert!(!g.allows_exec::<&str>(&[]));
    }
}
