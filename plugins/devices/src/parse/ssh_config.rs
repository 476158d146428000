//! ssh_config(5) for `POST /import`: every concrete `Host` alias with the `HostName`,
//! `Port`, `User` and `IdentityFile` ssh itself would use for it.
//!
//! A hand-written parser following OpenSSH's `readconf.c`: keywords are case-insensitive
//! and take `Keyword value` or `Keyword=value`; values may be quoted; a token starting with
//! `#` ends the line; CRLF is fine. Settings before the first `Host` apply to every host;
//! for each alias the whole file is read top to bottom and the first value obtained for a
//! keyword wins (`IdentityFile` accumulates), with `*`/`?` wildcards and `!negated`
//! patterns. Wildcard patterns are not imported as devices. `Match` blocks cannot be
//! evaluated without a connection: they are skipped with a warning. `Include` is resolved
//! through a caller-supplied loader (the caller decides what a path means, e.g. relative to
//! the import directory), in place and in the including block's context, as ssh does,
//! at most [`MAX_INCLUDE_DEPTH`] levels deep and [`MAX_INCLUDED_FILES`] files in all.

use std::fmt::Display;

use serde::Serialize;

use super::ParseError;

/// OpenSSH's `READCONF_MAX_DEPTH`.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// At most this many included files read in one import (counting each time a file is read
/// again): with [`MAX_INCLUDE_DEPTH`] levels, files that each include the next level a few
/// times would otherwise make an exponential number of reads.
pub const MAX_INCLUDED_FILES: usize = 1_000;

/// At most this many `Host` lines (across included files): resolving is aliases × blocks.
pub const MAX_HOST_LINES: usize = 10_000;

/// One concrete alias and what ssh would use to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshHost {
    /// The device hostname: the alias, lower-cased (valid: `[a-z0-9][a-z0-9._-]*`).
    pub hostname: String,
    /// The alias as written.
    pub alias: String,
    /// `HostName` (`%h` expanded); `None` without one (the alias itself is the address).
    pub address: Option<String>,
    /// `Port`.
    pub port: Option<u16>,
    /// `User`.
    pub user: Option<String>,
    /// Every `IdentityFile` that applies, in order, as written (`~` not expanded).
    pub identity_files: Vec<String>,
    /// The patterns of the `Host` line that declared the alias (`uk.gw.lan uk.lan`).
    pub host_line: String,
    /// Where that line is: `line 12`, or `config.d/work line 3` in an included file.
    pub declared_at: String,
    /// What about this host was not imported (ProxyJump, ProxyCommand, unexpanded tokens).
    pub warnings: Vec<String>,
}

/// An `Include` that was not resolved (no loader given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncludeDirective {
    /// The file it is in (`main` or the included file's name).
    pub file: String,
    /// Its line.
    pub line: usize,
    /// Its path arguments as written (`config.d/*`, `~/.ssh/extra`).
    pub paths: Vec<String>,
}

/// The result of reading a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshConfigImport {
    /// The concrete aliases, in the order they are declared.
    pub hosts: Vec<SshHost>,
    /// `Include`s left unresolved (only without a loader).
    pub includes: Vec<IncludeDirective>,
    /// What was skipped and why: `Match` blocks, wildcard-free but invalid aliases, hosts
    /// with a bad `Port`, unresolved includes.
    pub warnings: Vec<String>,
}

/// A file an `Include` path resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludedFile {
    /// Its name for messages (`config.d/work`).
    pub name: String,
    /// Its text.
    pub text: String,
}

#[derive(Debug, Clone)]
enum Cond {
    /// A `Host` line's patterns.
    Host(Vec<String>),
    /// A `Match` block: never applied.
    Match,
}

struct Directive {
    keyword: String,
    args: Vec<String>,
}

/// Consecutive directives under one condition (a `Host`/`Match` block, or the part of one
/// before or after an `Include`).
struct Block {
    cond: Vec<Cond>,
    directives: Vec<Directive>,
}

struct HostDecl {
    patterns: Vec<String>,
    cond: Vec<Cond>,
    at: String,
}

#[derive(Default)]
struct Flat {
    blocks: Vec<Block>,
    decls: Vec<HostDecl>,
    includes: Vec<IncludeDirective>,
    warnings: Vec<String>,
    /// Included files read so far (see [`MAX_INCLUDED_FILES`]).
    files_read: usize,
}

type Loader<'a> = dyn FnMut(&str) -> Result<Vec<IncludedFile>, String> + 'a;

/// Splits a line's arguments like OpenSSH's `argv_split`: whitespace-separated, `"` or `'`
/// quotes group, `\` escapes a quote, a backslash or (unquoted) a space, and a token
/// starting with `#` ends the line.
fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None => return Ok(out),
            Some('#') => return Ok(out),
            _ => {}
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.peek() {
            match (c, quote) {
                (c, None) if c.is_whitespace() => break,
                ('\\', q) => {
                    chars.next();
                    match chars.peek() {
                        Some(&n)
                            if n == '\\' || n == '"' || n == '\'' || (q.is_none() && n == ' ') =>
                        {
                            arg.push(n);
                            chars.next();
                        }
                        _ => arg.push('\\'),
                    }
                    continue;
                }
                ('"' | '\'', None) => quote = Some(c),
                (c, Some(q)) if c == q => quote = None,
                (c, _) => arg.push(c),
            }
            chars.next();
        }
        if quote.is_some() {
            return Err("unterminated quote".into());
        }
        out.push(arg);
    }
}

/// `Keyword value`, `Keyword=value`, `Keyword = value`: the keyword (lower-cased) and the
/// rest. `None` for blank and comment lines.
fn keyword_and_rest(line: &str) -> Result<Option<(String, &str)>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = &line[..end];
    if keyword.is_empty() || !keyword.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("`{keyword}` is not a keyword"));
    }
    let rest = line[end..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
    Ok(Some((keyword.to_ascii_lowercase(), rest)))
}

fn read_file(
    text: &str,
    file: &str,
    outer: &[Cond],
    depth: usize,
    loader: &mut Option<&mut Loader<'_>>,
    flat: &mut Flat,
) -> Result<(), ParseError> {
    let command = if file == "main" {
        "ssh_config".to_string()
    } else {
        format!("ssh_config {file}")
    };
    let place = |line: usize| {
        if file == "main" {
            format!("line {line}")
        } else {
            format!("{file} line {line}")
        }
    };
    let mut current: Vec<Cond> = outer.to_vec();
    // The block directives of this file go to, once one is open.
    let mut block: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r');
        let Some((keyword, rest)) =
            keyword_and_rest(line).map_err(|m| ParseError::at(&command, line_no, m))?
        else {
            continue;
        };
        let args = split_args(rest).map_err(|m| ParseError::at(&command, line_no, m))?;
        if args.is_empty() {
            return Err(ParseError::at(
                &command,
                line_no,
                format!("`{keyword}` has no value"),
            ));
        }
        match keyword.as_str() {
            "host" => {
                if flat.decls.len() >= MAX_HOST_LINES {
                    return Err(ParseError::at(
                        &command,
                        line_no,
                        format!("more than {MAX_HOST_LINES} Host lines"),
                    ));
                }
                block = None;
                current = outer.to_vec();
                current.push(Cond::Host(args.clone()));
                flat.decls.push(HostDecl {
                    patterns: args,
                    cond: current.clone(),
                    at: place(line_no),
                });
            }
            "match" => {
                block = None;
                current = outer.to_vec();
                current.push(Cond::Match);
                flat.warnings.push(format!(
                    "{}: `{}` block skipped: Match conditions are not evaluated, its settings are not imported",
                    place(line_no),
                    line.trim()
                ));
            }
            "include" => {
                if current.iter().any(|c| matches!(c, Cond::Match)) {
                    flat.warnings.push(format!(
                        "{}: Include inside a Match block skipped",
                        place(line_no)
                    ));
                    continue;
                }
                let Some(load) = loader.as_mut() else {
                    flat.warnings.push(format!(
                        "{}: Include {} not resolved",
                        place(line_no),
                        args.join(" ")
                    ));
                    flat.includes.push(IncludeDirective {
                        file: file.to_string(),
                        line: line_no,
                        paths: args,
                    });
                    continue;
                };
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(ParseError::at(
                        &command,
                        line_no,
                        format!("Include nested more than {MAX_INCLUDE_DEPTH} levels deep"),
                    ));
                }
                let too_many = || {
                    ParseError::at(
                        &command,
                        line_no,
                        format!("more than {MAX_INCLUDED_FILES} included files read"),
                    )
                };
                let mut files = Vec::new();
                for path in &args {
                    if flat.files_read + files.len() >= MAX_INCLUDED_FILES {
                        return Err(too_many());
                    }
                    files.extend(load(path).map_err(|e| {
                        ParseError::at(&command, line_no, format!("Include `{path}`: {e}"))
                    })?);
                }
                for f in files {
                    flat.files_read += 1;
                    if flat.files_read > MAX_INCLUDED_FILES {
                        return Err(too_many());
                    }
                    read_file(&f.text, &f.name, &current, depth + 1, loader, flat)?;
                }
                block = None;
            }
            _ => {
                let index = *block.get_or_insert_with(|| {
                    flat.blocks.push(Block {
                        cond: current.clone(),
                        directives: Vec::new(),
                    });
                    flat.blocks.len() - 1
                });
                flat.blocks[index]
                    .directives
                    .push(Directive { keyword, args });
            }
        }
    }
    Ok(())
}

/// ssh's wildcard match (`*`, `?`), case-insensitive, byte-wise like OpenSSH's
/// `match_pattern`. Iterative, backtracking only to the last `*`, so hostile patterns
/// (`*a*a*a*…`) stay O(pattern × name). Also used to expand `Include` globs.
pub fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(c) if *c == b'?' || c.eq_ignore_ascii_case(&name[n]) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|c| *c == b'*')
}

/// A `Host` pattern list: some positive pattern matches and no negated one does.
fn pattern_list_matches(patterns: &[String], host: &str) -> bool {
    let mut positive = false;
    for p in patterns {
        if let Some(negated) = p.strip_prefix('!') {
            if wildcard(negated.as_bytes(), host.as_bytes()) {
                return false;
            }
        } else if wildcard(p.as_bytes(), host.as_bytes()) {
            positive = true;
        }
    }
    positive
}

fn applies(cond: &[Cond], host: &str) -> bool {
    cond.iter().all(|c| match c {
        Cond::Host(p) => pattern_list_matches(p, host),
        Cond::Match => false,
    })
}

fn is_concrete(pattern: &str) -> bool {
    !pattern.starts_with('!') && !pattern.contains(['*', '?'])
}

fn valid_hostname(h: &str) -> bool {
    h.len() <= 255
        && h.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && h.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c))
}

/// Expands `%h` (the alias) and `%%` in a `HostName`; other tokens are left and reported.
fn expand_hostname(value: &str, alias: &str) -> (String, bool) {
    let mut out = String::new();
    let mut other_tokens = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(alias),
            Some('%') => out.push('%'),
            Some(t) => {
                other_tokens = true;
                out.push('%');
                out.push(t);
            }
            None => out.push('%'),
        }
    }
    (out, other_tokens)
}

fn resolve(flat: Flat) -> SshConfigImport {
    let Flat {
        blocks,
        decls,
        includes,
        mut warnings,
        files_read: _,
    } = flat;
    let mut hosts: Vec<SshHost> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for decl in &decls {
        for alias in decl.patterns.iter().filter(|p| is_concrete(p)) {
            let hostname = alias.to_ascii_lowercase();
            if !seen.insert(hostname.clone()) {
                continue;
            }
            if !applies(&decl.cond, alias) {
                warnings.push(format!(
                    "{}: alias `{alias}` skipped: the block declaring it can never apply to it",
                    decl.at
                ));
                continue;
            }
            if !valid_hostname(&hostname) {
                warnings.push(format!(
                    "{}: alias `{alias}` skipped: not a valid device hostname",
                    decl.at
                ));
                continue;
            }
            let mut host = SshHost {
                hostname,
                alias: alias.clone(),
                address: None,
                port: None,
                user: None,
                identity_files: Vec::new(),
                host_line: decl.patterns.join(" "),
                declared_at: decl.at.clone(),
                warnings: Vec::new(),
            };
            let mut port: Option<&str> = None;
            let mut address: Option<&str> = None;
            let mut proxy: Option<(&str, String)> = None;
            let applying = blocks
                .iter()
                .filter(|b| applies(&b.cond, alias))
                .flat_map(|b| &b.directives);
            for d in applying {
                let first = d.args[0].as_str();
                match d.keyword.as_str() {
                    "hostname" => {
                        address.get_or_insert(first);
                    }
                    "port" => {
                        port.get_or_insert(first);
                    }
                    "user" => {
                        host.user.get_or_insert_with(|| first.to_string());
                    }
                    "identityfile" => host.identity_files.push(first.to_string()),
                    "proxyjump" => {
                        proxy.get_or_insert_with(|| ("ProxyJump", d.args.join(" ")));
                    }
                    "proxycommand" => {
                        proxy.get_or_insert_with(|| ("ProxyCommand", d.args.join(" ")));
                    }
                    _ => {}
                }
            }
            if let Some(p) = port {
                match p.parse::<u16>() {
                    Ok(p) if p > 0 => host.port = Some(p),
                    _ => {
                        warnings.push(format!(
                            "{}: host `{alias}` skipped: Port `{p}` is not a port number",
                            decl.at
                        ));
                        continue;
                    }
                }
            }
            if let Some(a) = address {
                let (expanded, other_tokens) = expand_hostname(a, alias);
                if other_tokens {
                    host.warnings
                        .push(format!("HostName `{a}` has % tokens other than %h"));
                }
                if expanded.is_empty()
                    || !expanded
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".:-_%[]".contains(c))
                {
                    host.warnings.push(format!(
                        "HostName `{a}` is not a host name or address: ignored"
                    ));
                } else {
                    host.address = Some(expanded);
                }
            }
            if let Some((kind, value)) = proxy.filter(|(_, v)| !v.eq_ignore_ascii_case("none")) {
                host.warnings.push(format!(
                    "{kind} `{value}` is not imported: the server connects to the host directly"
                ));
            }
            if host.user.as_deref().is_some_and(|u| u.contains('%')) {
                host.warnings
                    .push("User has % tokens, which are not expanded".to_string());
            }
            hosts.push(host);
        }
    }
    SshConfigImport {
        hosts,
        includes,
        warnings,
    }
}

/// Reads an ssh_config without resolving `Include`s: they are listed in
/// [`SshConfigImport::includes`] (and warned about), for the caller to resolve or refuse.
pub fn parse_ssh_config(text: &str) -> Result<SshConfigImport, ParseError> {
    let mut flat = Flat::default();
    read_file(text, "main", &[], 0, &mut None, &mut flat)?;
    Ok(resolve(flat))
}

/// Reads an ssh_config, resolving each `Include` path through `load`, which returns the
/// files the path names (none for a glob matching nothing, as ssh ignores those; several
/// for a glob) or an error that fails the import. `load` sees the path exactly as written
/// (`config.d/*`, `~/.ssh/extra`): resolving it, e.g. inside an import directory, and
/// refusing anything outside is the caller's job. Included files are read in place, in the
/// context of the block the `Include` is in; more than [`MAX_INCLUDE_DEPTH`] levels (an
/// include cycle) is an error.
pub fn parse_ssh_config_with_includes<E: Display>(
    text: &str,
    mut load: impl FnMut(&str) -> Result<Vec<IncludedFile>, E>,
) -> Result<SshConfigImport, ParseError> {
    let mut flat = Flat::default();
    let mut adapter = |path: &str| load(path).map_err(|e| e.to_string());
    let mut loader: Option<&mut Loader<'_>> = Some(&mut adapter);
    read_file(text, "main", &[], 0, &mut loader, &mut flat)?;
    Ok(resolve(flat))
}

#[cfg(test)]
mod tests;
