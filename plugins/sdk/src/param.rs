//! Path and query parameters of a route.

use infrastructor_manifest as model;

pub use model::{ParamKind, ParamLocation};

/// The pattern of a host in a path: a registered device's hostname or a raw host name or
/// address (no leading `-`, no spaces, no shell or URL syntax).
pub const HOSTNAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$";

/// The pattern of a journal `since` value as [`journalctl --since`] takes it and the
/// parsers' `journal_since` accepts it: `today`, `yesterday`, `now`, a relative time (`30m`,
/// `1h`, `2 days ago`, `-1w`) or a date from 1970 (`YYYY-MM-DD`, with ` HH:MM[:SS]` or
/// `THH:MM[:SS]`; February 29 aside, which the pattern leaves out rather than get leap years
/// wrong).
pub const JOURNAL_SINCE_PATTERN: &str = r"^(today|yesterday|now|-?[0-9]{1,6} ?(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|week|weeks)( ago)?|(19[7-9][0-9]|[2-9][0-9]{3})-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?)?)$";

/// A declared path or query parameter. The host validates it (type, bounds, length, pattern,
/// allowed values) and applies its default before the handler runs, and documents it in the
/// OpenAPI document.
#[derive(Debug, Clone, PartialEq)]
pub struct Param(pub(crate) model::Param);

impl Param {
    /// The `{hostname}` path parameter every device route takes, with
    /// [`HOSTNAME_PATTERN`] and `description`.
    pub fn hostname(description: &str) -> Self {
        Self::path("hostname")
            .pattern(HOSTNAME_PATTERN)
            .description(description)
    }

    /// A boolean query parameter `name` with a default.
    pub fn flag(name: &str, default: bool) -> Self {
        Self::query(name)
            .boolean()
            .default(if default { "true" } else { "false" })
    }

    /// An integer query parameter `name` in seconds, from 1 to `max`, with a default.
    pub fn seconds(name: &str, default: u32, max: u32) -> Self {
        Self::query(name)
            .integer()
            .min(1.0)
            .max(f64::from(max))
            .default(default.to_string())
    }

    /// The `timeout` query parameter of a route running remote commands: seconds, from 1
    /// to 600, with a default (read it with [`Request::timeout`](crate::Request::timeout)).
    pub fn timeout(default: u32) -> Self {
        Self::seconds("timeout", default, 600)
    }

    /// A path parameter (a `{name}` segment of the route's template); always required.
    pub fn path(name: &str) -> Self {
        Self(model::Param::new(name, ParamLocation::Path))
    }

    /// A query parameter; optional unless [`Param::required`] is called.
    pub fn query(name: &str) -> Self {
        Self(model::Param::new(name, ParamLocation::Query))
    }

    /// Sets the type to text (the default).
    pub fn string(mut self) -> Self {
        self.0.kind = ParamKind::String;
        self
    }

    /// Sets the type to integer.
    pub fn integer(mut self) -> Self {
        self.0.kind = ParamKind::Integer;
        self
    }

    /// Sets the type to number.
    pub fn number(mut self) -> Self {
        self.0.kind = ParamKind::Number;
        self
    }

    /// Sets the type to boolean.
    pub fn boolean(mut self) -> Self {
        self.0.kind = ParamKind::Boolean;
        self
    }

    /// Makes a query parameter required (path parameters always are).
    pub fn required(mut self) -> Self {
        self.0.required = true;
        self
    }

    /// The value used when a query parameter is absent, in its text form (`"1"`, `"false"`).
    pub fn default(mut self, value: impl Into<String>) -> Self {
        self.0.default = Some(value.into());
        self
    }

    /// The smallest allowed value of an integer or number parameter.
    pub fn min(mut self, minimum: f64) -> Self {
        self.0.minimum = Some(minimum);
        self
    }

    /// The largest allowed value of an integer or number parameter.
    pub fn max(mut self, maximum: f64) -> Self {
        self.0.maximum = Some(maximum);
        self
    }

    /// The shortest allowed text, in characters.
    pub fn min_len(mut self, min_length: u32) -> Self {
        self.0.min_length = Some(min_length);
        self
    }

    /// The longest allowed text, in characters.
    pub fn max_len(mut self, max_length: u32) -> Self {
        self.0.max_length = Some(max_length);
        self
    }

    /// A regular expression (Rust `regex` syntax) the whole value must match.
    pub fn pattern(mut self, pattern: &str) -> Self {
        self.0.pattern = Some(pattern.to_owned());
        self
    }

    /// Closes the set of allowed values.
    pub fn allowed(mut self, values: &[&str]) -> Self {
        self.0.allowed = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    /// A description for the API documentation.
    pub fn description(mut self, description: &str) -> Self {
        self.0.description = description.to_owned();
        self
    }

    /// The parameter's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Where the parameter comes from.
    pub fn location(&self) -> ParamLocation {
        self.0.location
    }

    /// The parameter's type.
    pub fn kind(&self) -> ParamKind {
        self.0.kind
    }

    /// Whether the parameter must be present.
    pub fn is_required(&self) -> bool {
        self.0.is_required()
    }

    /// The default, in text form.
    pub fn default_value(&self) -> Option<&str> {
        self.0.default.as_deref()
    }

    /// The parameter as the manifest model describes it.
    pub fn model(&self) -> &model::Param {
        &self.0
    }
}
