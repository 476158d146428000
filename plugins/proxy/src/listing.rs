//! One remote run that lists a confs directory for a sync: each conf's size, mtime and type,
//! `sha256sum` over all of them at once, the `## Version` of each conf's sample, and the
//! content of only the confs whose hash the plugin does not already have (the known
//! `sha256  name` lines go in on stdin). Unchanged files are never read again.

use sha2::{Digest, Sha256};

/// Largest conf read, in bytes; bigger ones are listed with an error.
pub const MAX_CONF_BYTES: u64 = 1024 * 1024;

/// The listing script. `$1` the confs directory; `$2…` the file names to list (default every
/// `*.conf`); stdin the known `sha256  name` lines. Exit 3 when the directory is missing.
pub const LIST: &str = r#"cd -- "$1" 2>/dev/null || { echo "no such directory" >&2; exit 3; }
shift
known="
$(cat)
"
[ $# -gt 0 ] || set -- *.conf
echo '#stat'
stat -c '%n|%s|%Y|%F' -- "$@" 2>/dev/null
echo '#sha256'
sums=$(sha256sum -- "$@" 2>/dev/null)
printf '%s\n' "$sums"
echo '#versions'
for f in "$@"; do [ -f "$f.sample" ] && grep -m1 -H '^## Version' -- "$f.sample"; done
echo '#content'
printf '%s\n' "$sums" | while read -r sum name; do
  case "$name" in ''|*[!A-Za-z0-9._-]*) continue;; esac
  case "$known" in *"
$sum  $name
"*) continue;; esac
  [ -f "$name" ] && [ ! -L "$name" ] || continue
  n=$(stat -c %s -- "$name")
  if [ "$n" -gt 1048576 ]; then printf '#big %s %s\n' "$n" "$name"; continue; fi
  printf '#file %s %s\n' "$n" "$name"
  head -c "$n" -- "$name"
  printf '\n#end\n'
done
exit 0
"#;

/// One listed file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListedFile {
    /// Its file name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Whether it is a regular file (not a symlink, directory…).
    pub regular: bool,
    /// Its sha256 from the listing.
    pub sha256: Option<String>,
    /// Its content, when it was sent (new or changed).
    pub content: Option<Vec<u8>>,
    /// Whether the content sent hashes to something else than the listing said (the file
    /// changed in between); [`ListedFile::sha256`] is then the content's hash.
    pub changed_while_read: bool,
    /// Why its content could not be read.
    pub error: Option<String>,
}

/// The listing, parsed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listing {
    /// Every file listed, by name.
    pub files: Vec<ListedFile>,
    /// `sample file name → "## Version …" line`.
    pub sample_versions: Vec<(String, String)>,
}

impl Listing {
    /// The file named `name`.
    pub fn file(&self, name: &str) -> Option<&ListedFile> {
        self.files.iter().find(|f| f.name == name)
    }

    /// The version line of the sample `name` (`x.subdomain.conf.sample`).
    pub fn sample_version(&self, name: &str) -> Option<&str> {
        self.sample_versions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses the listing script's output. Never panics; a truncated content frame marks that
/// file with an error and ends the parse.
pub fn parse_listing(out: &[u8]) -> Listing {
    let mut listing = Listing::default();
    let content_at = find(out, b"#content\n");
    let head = String::from_utf8_lossy(&out[..content_at.unwrap_or(out.len())]);
    let mut section = "";
    for line in head.lines() {
        if matches!(line, "#stat" | "#sha256" | "#versions") {
            section = if line == "#stat" {
                "stat"
            } else if line == "#sha256" {
                "sha"
            } else {
                "versions"
            };
            continue;
        }
        match section {
            "stat" => {
                let mut parts = line.rsplitn(4, '|');
                let (Some(kind), Some(mtime), Some(size), Some(name)) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let (Ok(size), Ok(mtime)) = (size.parse(), mtime.parse()) else {
                    continue;
                };
                listing.files.push(ListedFile {
                    name: name.to_owned(),
                    size,
                    mtime,
                    regular: kind.starts_with("regular"),
                    ..ListedFile::default()
                });
            }
            "sha" => {
                let Some((sum, name)) = line.split_once("  ") else {
                    continue;
                };
                if sum.len() == 64
                    && sum.bytes().all(|b| b.is_ascii_hexdigit())
                    && let Some(f) = listing.files.iter_mut().find(|f| f.name == name)
                {
                    f.sha256 = Some(sum.to_ascii_lowercase());
                }
            }
            "versions" => {
                // `x.subdomain.conf.sample:## Version 2024/01/01`
                if let Some((file, version)) = line.split_once(":## Version") {
                    listing
                        .sample_versions
                        .push((file.to_owned(), format!("## Version{version}")));
                }
            }
            _ => {}
        }
    }
    if let Some(at) = content_at {
        parse_frames(&out[at + b"#content\n".len()..], &mut listing);
    }
    listing
}

fn parse_frames(mut rest: &[u8], listing: &mut Listing) {
    while !rest.is_empty() {
        let Some(eol) = rest.iter().position(|&b| b == b'\n') else {
            return;
        };
        let header = String::from_utf8_lossy(&rest[..eol]).into_owned();
        rest = &rest[eol + 1..];
        let mut words = header.splitn(3, ' ');
        let (Some(tag), Some(size), Some(name)) = (words.next(), words.next(), words.next()) else {
            return;
        };
        let Ok(size) = size.parse::<usize>() else {
            return;
        };
        let Some(file) = listing.files.iter_mut().find(|f| f.name == name) else {
            return;
        };
        match tag {
            "#big" => {
                file.error = Some(format!(
                    "{size} bytes: larger than the {MAX_CONF_BYTES} bytes read"
                ));
            }
            "#file" => {
                const END: &[u8] = b"\n#end\n";
                let complete = size
                    .checked_add(END.len())
                    .is_some_and(|end| rest.len() >= end && &rest[size..end] == END);
                if !complete {
                    file.error = Some("its content changed size while it was read".to_owned());
                    return;
                }
                let content = rest[..size].to_vec();
                let actual = sha256_hex(&content);
                if file.sha256.as_deref() != Some(actual.as_str()) {
                    file.changed_while_read = true;
                    file.sha256 = Some(actual);
                }
                file.content = Some(content);
                rest = &rest[size + END.len()..];
            }
            _ => return,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if haystack.starts_with(needle) {
        return Some(0);
    }
    haystack
        .windows(needle.len() + 1)
        .position(|w| w[0] == b'\n' && &w[1..] == needle)
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(files: &[(&str, &str)], send: &[&str]) -> Vec<u8> {
        let mut out = String::from("#stat\n");
        for (n, c) in files {
            out.push_str(&format!("{n}|{}|1700000000|regular file\n", c.len()));
        }
        out.push_str("#stat-noise\n#sha256\n");
        for (n, c) in files {
            out.push_str(&format!("{}  {n}\n", sha256_hex(c.as_bytes())));
        }
        out.push_str("#versions\na.subdomain.conf.sample:## Version 2024/05/01\n#content\n");
        for (n, c) in files.iter().filter(|(n, _)| send.contains(n)) {
            out.push_str(&format!("#file {} {n}\n{c}\n#end\n", c.len()));
        }
        out.into_bytes()
    }

    #[test]
    fn listing_with_hashes_versions_and_sent_content() {
        let files = [
            ("a.subdomain.conf", "server {}\n#content\n"),
            ("b.subfolder.conf", "location /b {}"),
        ];
        let listing = parse_listing(&output(&files, &["a.subdomain.conf"]));
        assert_eq!(listing.files.len(), 2);
        let a = listing.file("a.subdomain.conf").expect("a");
        assert_eq!(a.content.as_deref(), Some(files[0].1.as_bytes()));
        assert_eq!(
            a.sha256.as_deref(),
            Some(sha256_hex(files[0].1.as_bytes()).as_str())
        );
        assert!(!a.changed_while_read && a.regular && a.mtime == 1_700_000_000);
        let b = listing.file("b.subfolder.conf").expect("b");
        assert!(b.content.is_none() && b.sha256.is_some());
        assert_eq!(
            listing.sample_version("a.subdomain.conf.sample"),
            Some("## Version 2024/05/01")
        );
    }

    #[test]
    fn a_file_changed_while_read_and_truncated_frames() {
        let mut out = output(&[("a.conf", "one")], &[]);
        out.extend_from_slice(b"#file 3 a.conf\ntwo\n#end\n");
        let listing = parse_listing(&out);
        let a = listing.file("a.conf").expect("a");
        assert!(a.changed_while_read);
        assert_eq!(a.sha256.as_deref(), Some(sha256_hex(b"two").as_str()));

        let mut out = output(&[("a.conf", "one")], &[]);
        out.extend_from_slice(b"#file 30 a.conf\nshort\n#end\n");
        let listing = parse_listing(&out);
        assert!(listing.file("a.conf").expect("a").error.is_some());

        let mut out = output(&[("big.conf", "x")], &[]);
        out.extend_from_slice(b"#big 99999999 big.conf\n");
        assert!(
            parse_listing(&out)
                .file("big.conf")
                .expect("big")
                .error
                .is_some()
        );
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            &b""[..],
            b"#content\n",
            b"#content\n#file",
            b"#content\n#file x y\n",
            b"#stat\na|b|c\n|||\n#sha256\nzz  a\n#content\n#file 99999999999999999999 a\n",
            b"\xff\xfe#stat\n\xff|1|2|regular file\n",
        ] {
            let _ = parse_listing(text);
        }
    }
}
