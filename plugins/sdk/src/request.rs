//! The validated request a handler receives.

use std::str::FromStr;

use serde::de::DeserializeOwned;

use crate::bindings::exports::infrastructor::plugin::plugin as wit;
use crate::{Error, Method};

/// A request the host has already authenticated, rate-limited, routed and validated against
/// the route's declaration: path and query parameters have the declared types and query
/// defaults are applied, and the body matches the route's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    operation_id: String,
    method: Method,
    path: String,
    path_params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Option<String>,
    request_id: String,
    principal: Option<String>,
}

impl Request {
    /// A request for `operation_id`, for unit tests (the host builds the real ones).
    pub fn new(operation_id: &str, method: Method, path: &str) -> Self {
        Self {
            operation_id: operation_id.to_owned(),
            method,
            path: path.to_owned(),
            path_params: Vec::new(),
            query: Vec::new(),
            body: None,
            request_id: String::new(),
            principal: None,
        }
    }

    /// Adds a path parameter.
    pub fn with_path_param(mut self, name: &str, value: &str) -> Self {
        self.path_params.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a query parameter.
    pub fn with_query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the JSON body.
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets the request id.
    pub fn with_request_id(mut self, request_id: &str) -> Self {
        self.request_id = request_id.to_owned();
        self
    }

    /// Sets the principal (API key name).
    pub fn with_principal(mut self, principal: &str) -> Self {
        self.principal = Some(principal.to_owned());
        self
    }

    /// The same request with the host's validated parameters and body in place of the
    /// client's (the test host's [`crate::App::call`]).
    #[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
    pub(crate) fn validated(
        &self,
        path_params: Vec<(String, String)>,
        query: Vec<(String, String)>,
        body: Option<String>,
    ) -> Self {
        Self {
            path_params,
            query,
            body,
            ..self.clone()
        }
    }

    /// The path parameters as given.
    #[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
    pub(crate) fn path_pairs(&self) -> &[(String, String)] {
        &self.path_params
    }

    /// The operation id of the route that matched.
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }

    /// The HTTP method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The path as the client sent it, without the mount.
    pub fn uri_path(&self) -> &str {
        &self.path
    }

    /// A path parameter (percent-decoded). An error only if the route does not declare it.
    pub fn path(&self, name: &str) -> Result<&str, Error> {
        lookup(&self.path_params, name)
            .ok_or_else(|| Error::bad_request(format!("missing path parameter `{name}`")))
    }

    /// A path parameter converted with [`FromStr`].
    pub fn path_as<T: FromStr>(&self, name: &str) -> Result<T, Error> {
        let raw = self.path(name)?;
        raw.parse()
            .map_err(|_| Error::bad_request(format!("invalid path parameter `{name}`: `{raw}`")))
    }

    /// A query parameter, after the host applied its default; `None` when absent.
    pub fn query_str(&self, name: &str) -> Option<&str> {
        lookup(&self.query, name)
    }

    /// The validated query parameters as `T`, a struct whose fields are named like the
    /// declared parameters (declare them from the same type with
    /// [`Route::query`](crate::Route::query)). Values arrive in the host's canonical text
    /// (`true`/`false`, plain digits) and are parsed by serde; absent optional parameters
    /// are `None`. `bad_request` when they do not fit `T`.
    pub fn query<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let encoded = serde_urlencoded::to_string(&self.query)
            .map_err(|e| Error::bad_request(format!("query parameters: {e}")))?;
        serde_urlencoded::from_str(&encoded)
            .map_err(|e| Error::bad_request(format!("query parameters: {e}")))
    }

    /// A query parameter converted with [`FromStr`]; `bad_request` when absent or invalid.
    pub fn query_as<T: FromStr>(&self, name: &str) -> Result<T, Error> {
        self.query_opt_as(name)?
            .ok_or_else(|| Error::bad_request(format!("missing query parameter `{name}`")))
    }

    /// A query parameter converted with [`FromStr`]; `None` when absent, `bad_request` when
    /// invalid.
    pub fn query_opt_as<T: FromStr>(&self, name: &str) -> Result<Option<T>, Error> {
        match self.query_str(name) {
            None => Ok(None),
            Some(raw) => raw.parse().map(Some).map_err(|_| {
                Error::bad_request(format!("invalid query parameter `{name}`: `{raw}`"))
            }),
        }
    }

    /// A boolean query parameter: `true`/`1` or `false`/`0`; absent is `false`.
    pub fn query_bool(&self, name: &str) -> Result<bool, Error> {
        match self.query_str(name) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(raw) => Err(Error::bad_request(format!(
                "invalid query parameter `{name}`: `{raw}` is not a boolean"
            ))),
        }
    }

    /// The `timeout` query parameter ([`Param::timeout`](crate::Param::timeout)) as a
    /// duration; `default` when the route does not declare it.
    pub fn timeout(&self, default: std::time::Duration) -> Result<std::time::Duration, Error> {
        Ok(self
            .query_opt_as::<u64>("timeout")?
            .map(std::time::Duration::from_secs)
            .unwrap_or(default))
    }

    /// Every query parameter, in the order the host sent them.
    pub fn query_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.query.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The raw JSON body, if any.
    pub fn body_str(&self) -> Option<&str> {
        self.body.as_deref()
    }

    /// The JSON body as `T` (declare its schema from the same type with
    /// [`Route::body`](crate::Route::body)); `bad_request` when absent or not of type `T`.
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let body = self
            .body
            .as_deref()
            .ok_or_else(|| Error::bad_request("a JSON request body is required"))?;
        Ok(serde_json::from_str(body)?)
    }

    /// The request id (also in the host's log lines for this request).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The name of the API key used, when auth is on.
    pub fn principal(&self) -> Option<&str> {
        self.principal.as_deref()
    }
}

fn lookup<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl From<wit::Request> for Request {
    fn from(r: wit::Request) -> Self {
        let pairs = |ps: Vec<wit::Pair>| ps.into_iter().map(|p| (p.name, p.value)).collect();
        Self {
            operation_id: r.operation_id,
            method: r.method.into(),
            path: r.path,
            path_params: pairs(r.path_params),
            query: pairs(r.query),
            body: r.body,
            request_id: r.request_id,
            principal: r.principal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn req() -> Request {
        Request::new("greet", Method::Get, "/greet/bob")
            .with_path_param("name", "bob")
            .with_query("times", "3")
            .with_query("loud", "true")
            .with_query("ratio", "0.5")
            .with_query("bad", "x")
            .with_request_id("r1")
            .with_principal("ci")
    }

    #[test]
    fn params() {
        let r = req();
        assert_eq!(r.path("name"), Ok("bob"));
        assert_eq!(r.path("nope").expect_err("missing").kind(), "bad_request");
        assert_eq!(r.query_str("times"), Some("3"));
        assert_eq!(r.query_as::<i64>("times"), Ok(3));
        assert_eq!(r.query_opt_as::<f64>("ratio"), Ok(Some(0.5)));
        assert_eq!(r.query_opt_as::<f64>("absent"), Ok(None));
        assert!(r.query_as::<i64>("absent").is_err());
        assert!(r.query_as::<i64>("bad").is_err());
        assert_eq!(r.query_bool("loud"), Ok(true));
        assert_eq!(r.query_bool("absent"), Ok(false));
        assert!(r.query_bool("bad").is_err());
        assert_eq!(r.request_id(), "r1");
        assert_eq!(r.principal(), Some("ci"));
        assert_eq!(r.uri_path(), "/greet/bob");
        assert_eq!(r.method(), Method::Get);
    }

    #[test]
    fn the_query_as_a_struct() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Query {
            times: i64,
            loud: bool,
            ratio: Option<f64>,
            absent: Option<u32>,
        }
        assert_eq!(
            req().query::<Query>(),
            Ok(Query {
                times: 3,
                loud: true,
                ratio: Some(0.5),
                absent: None
            })
        );
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Wrong {
            bad: u32,
        }
        assert_eq!(
            req().query::<Wrong>().expect_err("not a number").kind(),
            "bad_request"
        );
    }

    #[test]
    fn bodies() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Item {
            name: String,
        }
        let r = Request::new("c", Method::Post, "/items").with_body(r#"{"name":"a"}"#);
        assert_eq!(r.body::<Item>(), Ok(Item { name: "a".into() }));
        let missing = Request::new("c", Method::Post, "/items").body::<Item>();
        assert_eq!(missing.expect_err("no body").kind(), "bad_request");
        let wrong = Request::new("c", Method::Post, "/items")
            .with_body("{}")
            .body::<Item>();
        assert_eq!(wrong.expect_err("no name").kind(), "bad_request");
    }
}
