//! Pure parsers of remote command outputs that more than one built-in plugin reads.
//!
//! One module per command or format:
//!
//! * [`ss`]: `ss -tulpn` and the `netstat -tulpn` fallback (listening sockets);
//! * [`docker_ps`]: `docker ps --format '{{json .}}'`, and the `Status`, `Ports`, `Labels`
//!   and `Size` texts docker prints in it and in its table;
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
//! containers) is an empty success.

pub mod docker_ps;
pub mod docker_time;
pub mod ss;
pub mod table;
pub mod tokens;

pub use infrastructor_sdk::text::ParseError;
