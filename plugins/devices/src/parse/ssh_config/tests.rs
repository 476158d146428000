use std::collections::BTreeMap;

use super::*;
use crate::parse::{fixture, fixture_dir};

fn config(name: &str) -> String {
    fixture(&format!("system/ssh_config/{name}"))
}

fn parse(name: &str) -> SshConfigImport {
    parse_ssh_config(&config(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn host<'a>(import: &'a SshConfigImport, hostname: &str) -> &'a SshHost {
    import
        .hosts
        .iter()
        .find(|h| h.hostname == hostname)
        .unwrap_or_else(|| panic!("no host {hostname} in {:?}", names(import)))
}

fn names(import: &SshConfigImport) -> Vec<&str> {
    import.hosts.iter().map(|h| h.hostname.as_str()).collect()
}

/// The number of hosts each fixture yields; every file of the directory must be listed.
const HOST_COUNTS: &[(&str, usize)] = &[
    ("dotfiles_007_config", 10),
    ("dotfiles_0xmachos_config", 1),
    ("dotfiles_Aetf_config", 2),
    ("home-manager_match-blocks-attrs.conf", 3),
    ("home-manager_match-blocks-match-and-hosts.conf", 1),
    ("home-manager_settings-header.conf", 4),
    ("home-manager_settings.conf", 1),
    ("jc_ssh_config1", 6),
    ("jc_ssh_config2", 3),
    ("jc_ssh_config3", 6),
    ("jc_ssh_config4", 0),
    ("jc_ssh_config5", 1),
    ("kevinburke_anotherfile", 0),
    ("kevinburke_config-no-ending-newline", 1),
    ("kevinburke_config1", 7),
    ("kevinburke_config2", 0),
    ("kevinburke_config3", 0),
    ("kevinburke_config4", 1),
    ("kevinburke_dos-lines", 2),
    ("kevinburke_eol-comments", 1),
    ("kevinburke_eqsign", 1),
    ("kevinburke_extraspace", 1),
    ("kevinburke_identities", 3),
    ("kevinburke_include", 1),
    ("kevinburke_include-recursive", 1),
    ("kevinburke_include-shell", 1),
    ("kevinburke_match-all", 1),
    ("kevinburke_match-directive", 0),
    ("kevinburke_match-host", 0),
    ("kevinburke_match-host-negation", 0),
    ("kevinburke_match-mixed", 1),
    ("kevinburke_negated", 0),
    ("kevinburke_quoted-identities", 3),
];

#[test]
fn every_fixture() {
    let files = fixture_dir("system/ssh_config");
    for f in &files {
        let &(_, count) = HOST_COUNTS
            .iter()
            .find(|(n, _)| n == f)
            .unwrap_or_else(|| panic!("{f}: no expectation: add it to HOST_COUNTS"));
        let import = parse(f);
        assert_eq!(import.hosts.len(), count, "{f}: {:?}", names(&import));
        for h in &import.hosts {
            assert!(valid_hostname(&h.hostname), "{f}: {}", h.hostname);
        }
        serde_json::to_value(&import).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    assert_eq!(files.len(), HOST_COUNTS.len());
}

#[test]
fn jc_config1_defaults_from_host_star_and_several_patterns() {
    let c = parse("jc_ssh_config1");
    assert_eq!(
        names(&c),
        vec![
            "server1",
            "nas01",
            "aws.apache",
            "uk.gw.lan",
            "uk.lan",
            "proxyus"
        ]
    );
    let s = host(&c, "server1");
    assert_eq!(s.address.as_deref(), Some("server1.cyberciti.biz"));
    assert_eq!(s.port, Some(4242), "first match wins over Host * Port 22");
    assert_eq!(s.user.as_deref(), Some("nixcraft"));
    assert_eq!(
        s.identity_files,
        vec!["/nfs/shared/users/nixcraft/keys/server1/id_rsa"]
    );
    assert_eq!(s.declared_at, "line 2");
    let nas = host(&c, "nas01");
    assert_eq!(nas.port, Some(22), "from Host *");
    assert_eq!(nas.user.as_deref(), Some("root"));
    for alias in ["uk.gw.lan", "uk.lan"] {
        let h = host(&c, alias);
        assert_eq!(h.address.as_deref(), Some("192.168.0.251"));
        assert_eq!(h.host_line, "uk.gw.lan uk.lan");
        assert!(
            h.warnings[0].starts_with("ProxyCommand `ssh nixcraft@gateway"),
            "{:?}",
            h.warnings
        );
    }
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn jc_config2_wildcard_blocks_apply() {
    let c = parse("jc_ssh_config2");
    let t = host(&c, "targaryen");
    assert_eq!(
        (t.address.as_deref(), t.port, t.user.as_deref()),
        (Some("192.168.1.10"), Some(7654), Some("daenerys"))
    );
    assert_eq!(t.identity_files, vec!["~/.ssh/targaryen.key"]);
    // `Host *ell` comes before `Host *` and its lower-case `user` keyword counts.
    assert_eq!(host(&c, "tyrell").user.as_deref(), Some("oberyn"));
    assert_eq!(host(&c, "martell").user.as_deref(), Some("oberyn"));
    assert_eq!(host(&c, "martell").port, None);
}

#[test]
fn dotfiles_007_duplicate_blocks_first_wins() {
    let c = parse("dotfiles_007_config");
    let geek = host(&c, "geek");
    assert_eq!(geek.address.as_deref(), Some("geekportfolio.com"));
    assert_eq!(geek.declared_at, "line 6");
    assert_eq!(host(&c, "r2d5").port, Some(9019));
    assert_eq!(host(&c, "carnd-ipython").address, None);
    assert_eq!(host(&c, "carnd-ipython").user.as_deref(), Some("ubuntu"));
    assert_eq!(host(&c, "github.com").user.as_deref(), Some("git"));
    let v = host(&c, "vdesk-monitor");
    assert_eq!(v.address.as_deref(), Some("rmoore.vdesk.cloud.aurora.tech"));
}

#[test]
fn identity_files_accumulate_across_blocks() {
    let c = parse("dotfiles_0xmachos_config");
    let g = host(&c, "github.com");
    assert_eq!(
        g.identity_files,
        vec![
            "~/.ssh/id_ecdsa-sha2-nistp256_github.pub",
            "~/.ssh/id_ed25519"
        ]
    );
    assert_eq!(c.includes.len(), 1);
    assert_eq!(c.includes[0].paths, vec!["~/.ssh/.extra_ssh"]);
    assert_eq!(c.includes[0].line, 6);
    assert!(c.warnings[0].contains("Include ~/.ssh/.extra_ssh not resolved"));
    let c = parse("home-manager_match-blocks-attrs.conf");
    assert_eq!(names(&c), vec!["abc", "xyz", "ordered"]);
    let xyz = host(&c, "xyz");
    assert_eq!(xyz.identity_files, vec!["file1", "file2", "file"]);
    assert_eq!(xyz.port, Some(516));
    // `Host * !github.com` comes first, so its Port wins over `Host ordered`'s.
    assert_eq!(host(&c, "ordered").port, Some(516));
    assert!(host(&c, "abc").warnings[0].starts_with("ProxyJump `jump-host`"));
    let c = parse("kevinburke_identities");
    assert_eq!(host(&c, "has2identity").identity_files, vec!["f1", "f2"]);
}

#[test]
fn syntax_variants() {
    let c = parse("kevinburke_eqsign");
    assert_eq!(
        host(&c, "test.test").port,
        Some(1234),
        "Host=… and Port =1234"
    );
    assert_eq!(parse("kevinburke_extraspace").hosts[0].port, Some(1234));
    let c = parse("kevinburke_dos-lines");
    let wap = host(&c, "wap");
    assert_eq!(
        wap.address.as_deref(),
        Some("wap.example.org"),
        "CRLF and a tab"
    );
    assert_eq!((wap.port, wap.user.as_deref()), (Some(22), Some("root")));
    assert_eq!(host(&c, "wap2").user.as_deref(), Some("google"));
    let c = parse("kevinburke_eol-comments");
    let e = host(&c, "example");
    assert_eq!(
        (e.address.as_deref(), e.port),
        (Some("example.com"), Some(4242))
    );
    assert_eq!(e.host_line, "example", "comment after the Host patterns");
    let c = parse("kevinburke_config-no-ending-newline");
    assert_eq!(c.hosts[0].port, Some(4242));
    let c = parse("kevinburke_quoted-identities");
    assert_eq!(
        host(&c, "hasquotedidentity").identity_files,
        vec!["/Users/testuser/.ssh/quoted_key"]
    );
    assert_eq!(
        host(&c, "hasquotedhostname").address.as_deref(),
        Some("example.com")
    );
    let c = parse("kevinburke_config4");
    assert_eq!(host(&c, "wap").user.as_deref(), Some("root"));
    let c = parse("jc_ssh_config5");
    let svu = host(&c, "svu");
    assert_eq!(
        svu.address.as_deref(),
        Some("www.svuniversity.ac.in"),
        "`Hostname`"
    );
    assert_eq!(
        svu.user.as_deref(),
        Some("something"),
        "Host * above it comes first"
    );
}

#[test]
fn wildcards_and_odd_aliases() {
    let c = parse("kevinburke_config1");
    // `Host [some stuff behind a NAT]` is five literal patterns to ssh: three are valid
    // hostnames, two are not.
    assert_eq!(
        names(&c),
        vec![
            "localhost",
            "127.0.0.1",
            "wap",
            "stuff",
            "behind",
            "a",
            "wopr"
        ]
    );
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("alias `[some` skipped"))
    );
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("alias `NAT]` skipped"))
    );
    assert!(
        !c.warnings.iter().any(|w| w.contains("dhcp")),
        "wildcards silently skipped"
    );
    assert_eq!(host(&c, "wopr").user.as_deref(), Some("root"));
    assert!(parse("kevinburke_negated").hosts.is_empty());
    assert!(parse("kevinburke_config3").hosts.is_empty());
    let c = parse("home-manager_settings-header.conf");
    assert_eq!(names(&c), vec!["foo", "foo-tmux", "bar", "bar-tmux"]);
    assert!(c.warnings[0].contains("`Match exec"), "{:?}", c.warnings);
}

#[test]
fn match_blocks_are_skipped_with_a_warning() {
    let c = parse("kevinburke_match-all");
    let special = host(&c, "special");
    assert_eq!(special.port, Some(1111));
    assert_eq!(special.user, None, "Match all's User is not applied");
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].starts_with("line 4: `Match all` block skipped"));
    let c = parse("kevinburke_match-mixed");
    let b = host(&c, "bastion");
    assert_eq!((b.port, b.user.as_deref()), (Some(22), Some("root")));
    assert_eq!(c.warnings.len(), 3);
    let c = parse("home-manager_match-blocks-match-and-hosts.conf");
    assert_eq!(host(&c, "abc").port, Some(516));
    assert!(c.warnings[0].contains("Match host xyz canonical"));
    let c = parse("home-manager_settings.conf");
    let g = host(&c, "github");
    assert_eq!(g.address.as_deref(), Some("github.com"));
    assert_eq!(g.user.as_deref(), Some("git"));
    assert_eq!(g.identity_files, vec!["~/.ssh/github"]);
}

#[test]
fn unresolved_includes_are_listed() {
    let c = parse("jc_ssh_config4");
    assert_eq!(c.includes.len(), 2);
    assert_eq!(
        c.includes[0].paths,
        vec!["~/.ssh/config-extras", "~/foo/bar"]
    );
    let c = parse("dotfiles_Aetf_config");
    assert_eq!(c.includes.len(), 2);
    assert_eq!(c.includes[0].paths, vec!["config.d/*"]);
    assert_eq!(host(&c, "archvps").port, Some(59901));
    assert_eq!(host(&c, "github").address.as_deref(), Some("github.com"));
}

fn files(map: &BTreeMap<&str, Vec<(&str, &str)>>, path: &str) -> Result<Vec<IncludedFile>, String> {
    match map.get(path) {
        Some(f) => Ok(f
            .iter()
            .map(|(name, text)| IncludedFile {
                name: (*name).to_string(),
                text: (*text).to_string(),
            })
            .collect()),
        None if path.contains('*') => Ok(Vec::new()),
        None => Err(format!("{path}: not in the import directory")),
    }
}

#[test]
fn includes_resolved_in_place() {
    let map = BTreeMap::from([(
        "config.d/*",
        vec![
            (
                "config.d/a",
                "User shared\nHost work1\n  HostName 10.0.0.1\n",
            ),
            ("config.d/b", "Host work2 github\n  Port 2222\n"),
        ],
    )]);
    let c = parse_ssh_config_with_includes(&config("dotfiles_Aetf_config"), |p| files(&map, p))
        .expect("Aetf with includes");
    assert!(c.includes.is_empty());
    assert_eq!(names(&c), vec!["work1", "work2", "github", "archvps"]);
    // The included lines come first, so they win: that is what ssh does.
    let g = host(&c, "github");
    assert_eq!(g.user.as_deref(), Some("shared"));
    assert_eq!(g.port, Some(2222));
    assert_eq!(g.declared_at, "config.d/b line 1");
    assert_eq!(host(&c, "work1").address.as_deref(), Some("10.0.0.1"));
    assert_eq!(host(&c, "work1").declared_at, "config.d/a line 2");

    // An Include inside a Host block: its lines apply in that block's context only, and a
    // Host inside it can only apply to hosts matching both.
    let map = BTreeMap::from([(
        "kevinburke-ssh-config-*-file",
        vec![("inc", "Port 4567\nHost other\n  HostName 1.2.3.4\n")],
    )]);
    let c = parse_ssh_config_with_includes(&config("kevinburke_include"), |p| files(&map, p))
        .expect("include in a Host block");
    assert_eq!(names(&c), vec!["kevinburke.ssh_config.test.example.com"]);
    assert_eq!(c.hosts[0].port, Some(4567));
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("alias `other` skipped"))
    );
}

#[test]
fn include_errors() {
    let text = config("kevinburke_include-recursive");
    let e = parse_ssh_config_with_includes(&text, |_| {
        Ok::<_, String>(vec![IncludedFile {
            name: "self".into(),
            text: text.clone(),
        }])
    })
    .expect_err("recursive");
    assert!(e.to_string().contains("nested more than 16 levels"), "{e}");
    let e = parse_ssh_config_with_includes(&config("kevinburke_include-shell"), |p| {
        Err::<Vec<IncludedFile>, _>(format!("{p} is outside the import directory"))
    })
    .expect_err("refused path");
    assert_eq!(
        e.to_string(),
        "ssh_config: line 2: Include `~/kevinburke-ssh-config-shell-include`: ~/kevinburke-ssh-config-shell-include is outside the import directory"
    );
    let e = parse_ssh_config_with_includes("Include x\n", |_| {
        Ok::<_, String>(vec![IncludedFile {
            name: "x".into(),
            text: "Host a\n  Port \"22\n".into(),
        }])
    })
    .expect_err("bad included file");
    assert_eq!(e.to_string(), "ssh_config x: line 2: unterminated quote");
    let c = parse_ssh_config_with_includes("Match all\n  Include x\nHost a\n", |_| {
        Err::<Vec<IncludedFile>, _>("must not be called")
    })
    .expect("include in Match is skipped");
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("Include inside a Match block"))
    );
}

#[test]
fn hostname_tokens_ports_and_validation() {
    let c = parse_ssh_config(
        "Host Web1 db_2\n  HostName %h.example.com\n  Port 2200\nHost bad\n  Port ssh\nHost zero\n  Port 0\nHost tok\n  HostName %h-%p\nHost evil\n  HostName a$(reboot)\n",
    )
    .expect("tokens");
    assert_eq!(names(&c), vec!["web1", "db_2", "tok", "evil"]);
    let w = host(&c, "web1");
    assert_eq!(w.alias, "Web1");
    assert_eq!(w.address.as_deref(), Some("Web1.example.com"));
    assert_eq!(
        host(&c, "db_2").address.as_deref(),
        Some("db_2.example.com")
    );
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("host `bad` skipped: Port `ssh`"))
    );
    assert!(c.warnings.iter().any(|w| w.contains("host `zero` skipped")));
    assert!(host(&c, "tok").warnings[0].contains("% tokens"));
    assert_eq!(host(&c, "evil").address, None);
    assert!(host(&c, "evil").warnings[0].contains("not a host name"));
}

#[test]
fn odd_input() {
    assert!(parse_ssh_config("").expect("empty").hosts.is_empty());
    assert!(
        parse_ssh_config("# only comments\n\n")
            .expect("comments")
            .hosts
            .is_empty()
    );
    let e = parse_ssh_config("Host a\n  Port\n").expect_err("no value");
    assert_eq!(e.to_string(), "ssh_config: line 2: `port` has no value");
    let e = parse_ssh_config("Host\n").expect_err("bare Host");
    assert_eq!(e.line, Some(1));
    let e = parse_ssh_config("Host a\n  IdentityFile \"unterminated\n").expect_err("quote");
    assert_eq!(e.to_string(), "ssh_config: line 2: unterminated quote");
    let e = parse_ssh_config("{\"json\": true}\n").expect_err("json");
    assert!(e.to_string().contains("is not a keyword"), "{e}");
    assert!(parse_ssh_config("<html><body>\n").is_err());
    assert!(parse_ssh_config("Host a\n\u{0}\u{1}garbage\n").is_err());
    // Escapes and quotes as OpenSSH splits them.
    assert_eq!(
        split_args(r#"a "b c" 'd e' f\ g "h\"i" # comment"#).expect("split"),
        vec!["a", "b c", "d e", "f g", "h\"i"]
    );
    assert_eq!(split_args("x#y").expect("hash inside"), vec!["x#y"]);
}

#[test]
fn wildcard_matching() {
    assert!(wildcard(b"*.example.com", b"a.example.com"));
    assert!(wildcard(b"dhcp-??", b"DHCP-12"));
    assert!(!wildcard(b"dhcp-??", b"dhcp-1"));
    assert!(wildcard(b"*", b""));
    assert!(pattern_list_matches(
        &["*".into(), "!bastion".into()],
        "web"
    ));
    assert!(!pattern_list_matches(
        &["*".into(), "!bastion".into()],
        "bastion"
    ));
    assert!(
        !pattern_list_matches(&["!bastion".into()], "web"),
        "negation alone never matches"
    );
    assert!(wildcard(b"a*b*c", b"axxbyyc"));
    assert!(!wildcard(b"a*b*c", b"axxbyy"));
    assert!(wildcard(b"**", b"x"));
    assert!(!wildcard(b"", b"x"));
    // A hostile pattern finishes at once.
    let hostile = "*a".repeat(200) + "b";
    assert!(!wildcard(hostile.as_bytes(), "a".repeat(300).as_bytes()));
    let many = "Host h\n".repeat(MAX_HOST_LINES + 1);
    assert!(parse_ssh_config(&many).is_err());
}

/// Regression (property tests): files that each include the next level twice, 15 levels
/// deep, were read 2^15 times; more than [`MAX_INCLUDED_FILES`] reads is now an error.
#[test]
fn include_bombs_are_refused() {
    let mut reads = 0usize;
    let out = parse_ssh_config_with_includes("Host a\nInclude 0 0\n", |path: &str| {
        reads += 1;
        let k: usize = path.parse().map_err(|_| format!("no file {path}"))?;
        let text = if k >= 15 {
            "User leaf\n".to_string()
        } else {
            format!("Include {0} {0}\n", k + 1)
        };
        Ok::<_, String>(vec![IncludedFile {
            name: path.to_string(),
            text,
        }])
    });
    let err = out.expect_err("an include bomb").to_string();
    assert!(err.contains("included files read"), "{err}");
    // A file loaded at each level may still wait to be read when the limit is hit.
    assert!(
        reads <= MAX_INCLUDED_FILES + MAX_INCLUDE_DEPTH,
        "{reads} reads"
    );
}
