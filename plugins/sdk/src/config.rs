//! The plugin's own configuration section, `plugins.<name>.config` (the `config` import).

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;
use crate::host::config as wit;

/// The section as raw JSON (`{}` when absent).
pub fn raw() -> String {
    wit::get()
}

/// The section deserialised as `T` (use `#[serde(default)]` for optional settings); an
/// [`Error::Internal`] naming the problem when the operator's config does not fit.
pub fn get<T: DeserializeOwned>() -> Result<T, Error> {
    parse(&raw())
}

/// The section as a JSON value.
pub fn value() -> Result<Value, Error> {
    get()
}

fn parse<T: DeserializeOwned>(raw: &str) -> Result<T, Error> {
    let raw = if raw.trim().is_empty() { "{}" } else { raw };
    serde_json::from_str(raw)
        .map_err(|e| Error::internal(format!("invalid plugin configuration: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq, Default)]
    #[serde(default)]
    struct Settings {
        port: u16,
    }

    #[test]
    fn parses_sections() {
        assert_eq!(parse::<Settings>(""), Ok(Settings { port: 0 }));
        assert_eq!(
            parse::<Settings>(r#"{"port":61208}"#),
            Ok(Settings { port: 61208 })
        );
        assert_eq!(
            parse::<Settings>(r#"{"port":"x"}"#)
                .expect_err("bad")
                .kind(),
            "internal"
        );
    }
}
