//! A native test host for plugin unit tests (feature `testing`, enabled as a
//! dev-dependency feature): a [`MockHost`] answering every host import from canned data,
//! [`App::call`](crate::App::call) serving a request with the server's validation, defaults
//! and error envelope, and readers of the repository's real command outputs
//! ([`fixture`]).
//!
//! Natively, the SDK's host calls go to the mock installed on the current thread; with none
//! installed they panic saying so. Guest (`wasm32`) builds call the real imports and contain
//! none of this.
//!
//! ```
//! use infrastructor_sdk::prelude::*;
//! use infrastructor_sdk::testing::{Canned, MockHost};
//!
//! fn app() -> App {
//!     App::new("hello", "0.1.0").capability("exec:uname *").route(
//!         Route::get("/uname/{device}", "uname")
//!             .summary("Kernel name")
//!             .param(Param::path("device").pattern("^[a-z0-9-]+$"))
//!             .param(Param::query("times").integer().min(1.0).max(5.0).default("1")),
//!         |req: &Request| {
//!             let out = ssh::exec(req.path("device")?, &["uname", "-s"], None, Duration::from_secs(5))?
//!                 .check("uname")?;
//!             let times: i64 = req.query_as("times")?;
//!             Ok(Json(json!({"kernel": out.stdout_str().trim(), "times": times})))
//!         },
//!     )
//! }
//!
//! let host = MockHost::new()
//!     .exec(&["uname", "-s"], Canned::stdout("Linux\n"))
//!     .install();
//! let app = app();
//! let ok = app
//!     .call(&Request::new("uname", Method::Get, "/uname/web1").with_path_param("device", "web1"))
//!     .expect("served");
//! assert_eq!(ok.json::<Value>().expect("json"), json!({"kernel": "Linux", "times": 1}));
//! assert_eq!(host.ran(), [["uname", "-s"]]);
//!
//! let refused = app
//!     .call(
//!         &Request::new("uname", Method::Get, "/uname/web1")
//!             .with_path_param("device", "web1")
//!             .with_query("times", "99"),
//!     )
//!     .expect_err("out of range");
//! assert_eq!((refused.status, refused.field()), (422, Some("times")));
//! assert!(!refused.reached_handler);
//! assert_eq!(refused.envelope()["error"]["code"], "VALIDATION_ERROR");
//! assert_eq!(host.ran().len(), 1);
//! ```

mod call;
mod fixtures;
mod mock;

pub use call::{Rejection, code_for_status};
pub use fixtures::{fixture, fixture_dir, mangled_variants, root};
pub use mock::{Canned, HostCall, LogLine, MockGuard, MockHost};

#[cfg(test)]
mod tests;
